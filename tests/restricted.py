"""Python under a restriction: ``python tests/restricted.py WHAT ARGS...`` applies WHAT,
then becomes ``python ARGS...`` (exec).

WHAT is ``fsize=N`` (files cannot grow past N bytes: writes fail with EFBIG, "File too
large", as writes on a full disk fail with ENOSPC) or ``plain-user`` (root's file
capabilities dropped, so a read-only folder is read-only for root too).

The tests start such children through this script rather than with a ``preexec_fn``: a
``preexec_fn`` forks the multithreaded test process and runs Python between fork and
exec, where fork handlers run. Once in CI such a child died before exec with SIGABRT and
only gRPC's "epoll_wait error: Bad file descriptor" on stderr (TensorFlow, JAX and
KerasTuner load gRPC, whose fork handlers can restart a poller thread; the fds closed
before exec would explain the error). Without a ``preexec_fn`` subprocess starts the
child without running them.
"""

import ctypes
import os
import resource
import signal
import sys


def _without_root_overrides() -> None:
    # The capabilities that let root ignore file permissions.
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def main() -> None:
    what, args = sys.argv[1], sys.argv[2:]
    if what.startswith("fsize="):
        limit = int(what.removeprefix("fsize="))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the writer
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    elif what == "plain-user":
        _without_root_overrides()
    else:
        raise SystemExit(f"unknown restriction {what!r}")
    os.execv(sys.executable, [sys.executable, *args])


if __name__ == "__main__":
    main()
