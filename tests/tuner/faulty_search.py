"""``houses-tune search`` with a fault the moment a run-folder file is replaced.

    python faulty_search.py FAULT TAIL KEY=VALUE search ARGS...
    python faulty_search.py full-at-start search ARGS...

Runs the CLI with ARGS; right after the first atomic write (``os.replace``) of a file whose
path ends with TAIL and whose JSON has KEY equal to VALUE (or holding it, for a list or the
values of a mapping), FAULT happens:

- ``kill``: SIGKILL, as a power cut or ``kill -9`` between two state writes;
- ``full``: no file may grow any more (RLIMIT_FSIZE 0: writes fail with EFBIG, as they fail
  with ENOSPC on a full disk), so the next write fails.

``full-at-start`` makes no file grow from the start, once Keras is imported (TensorFlow's
import writes a probe file in the temporary folder; here only the search's writes fail).
"""

import json
import os
import resource
import signal
import sys


def _holds(data: dict, key: str, value: str) -> bool:
    found = data.get(key)
    if isinstance(found, dict):
        found = list(found.values())
    return str(found) == value or (isinstance(found, list) and value in found)


def _no_file_may_grow() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the writer
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))


def main() -> None:
    from houses_tune.cli import main as houses_tune

    fault, *argv = sys.argv[1:]
    if fault == "full-at-start":
        from houses_tune.backend import import_keras, use_backend

        use_backend("auto")
        import_keras()
        _no_file_may_grow()
        houses_tune(argv)
        return
    tail, condition, *argv = argv
    key, value = condition.split("=", 1)
    replace = os.replace
    done = []

    def replace_then_fault(src, dst, *args, **kwargs):
        replace(src, dst, *args, **kwargs)
        if done or not str(dst).endswith(tail):
            return
        with open(dst) as handle:
            if not _holds(json.load(handle), key, value):
                return
        done.append(dst)
        if fault == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        _no_file_may_grow()

    os.replace = replace_then_fault
    houses_tune(argv)


if __name__ == "__main__":
    main()
