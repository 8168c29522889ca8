"""``houses-tune board``: TensorBoard on a run's logs, in a child process that ends with it.

TensorBoard imports TensorFlow, whose C++ runtime logs its start-up (oneDNN, "could not
find cuda drivers", a failed ``cuInit`` on a machine without a GPU) before any setting can
quiet it; those lines are dropped from the child's stderr, everything else is passed on.
"""

from __future__ import annotations

import errno
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from houses_tune.errors import RunError

#: Lines of TensorFlow's native start-up log: absl's prefix (``I0000 00:00:1796120418.4
#: 27308 port.cc:153]``), the notice absl prints before it, and the second line of the
#: CPU-instructions notice.
_NATIVE_NOISE = re.compile(
    r"^([IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\]"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|To enable the following instructions: )"
)
#: Seconds TensorBoard gets to stop before it is killed.
STOP_TIMEOUT_S = 10


def check_port_free(host: str, port: int) -> None:
    """Refuse, before TensorBoard starts, an address it could not listen on.

    Raises:
        RunError: The port is in use, or ``host`` is not an address of this machine.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            # As TensorBoard's server does, so a port left in TIME_WAIT counts as free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise RunError(
                f"port {port} on {host} is in use (another TensorBoard?); choose another "
                "with --port"
            ) from None
        reason = getattr(error, "strerror", None) or error
        raise RunError(f"cannot listen on {host}:{port}: {reason}") from None


def serve_board(logdir: Path, host: str, port: int, on_start: Callable[[], None]) -> None:
    """Run TensorBoard on ``logdir`` until it exits or this process is interrupted.

    Args:
        logdir: The run's TensorBoard folder.
        host: Address to listen on.
        port: Port to listen on.
        on_start: Called once TensorBoard is started (to say where it serves).

    Raises:
        RunError: The address cannot be used, or TensorBoard stopped with an error.
        KeyboardInterrupt: Ctrl-C or SIGTERM; TensorBoard is stopped first.
    """
    check_port_free(host, port)
    command = [
        sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir),
        "--host", host, "--port", str(port),
    ]  # fmt: skip
    # Its own session: Ctrl-C reaches only this process, which then stops TensorBoard.
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    last: list[str] = []
    forward = threading.Thread(target=_forward_stderr, args=(process.stderr, last), daemon=True)
    forward.start()
    try:
        on_start()
        code = process.wait()
    finally:
        _stop(process)
    forward.join(timeout=5)
    if code:
        said = f": {last[-1]}" if last else ""
        raise RunError(f"TensorBoard exited with code {code}{said}")


def _forward_stderr(stream, last: list[str]) -> None:
    for line in stream:
        if _NATIVE_NOISE.match(line) or not line.strip():
            continue
        sys.stderr.write(line)
        sys.stderr.flush()
        last[:] = [line.strip()]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
