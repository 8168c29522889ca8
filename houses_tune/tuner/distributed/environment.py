"""Who a process is in a distributed search and how it reaches the chief.

Addresses, tuner ids, and the environment variables that give a KerasTuner tuner its role.
"""

from __future__ import annotations

import os
import re
import socket

from houses_tune.errors import SearchError

#: The chief's tuner id (KerasTuner takes any id that contains it for the chief).
CHIEF_ID = "chief"
#: Set in a local worker's environment: the chief's pid (the worker leaves when it dies).
CHIEF_PID_ENV = "HOUSES_TUNE_CHIEF_PID"

_TUNER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def parse_address(text: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[::1]:8000`` for IPv6).

    Raises:
        SearchError: Not of that form, or the port is not 1-65535.
    """
    host, sep, port = str(text).strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SearchError(f"address {text!r}: expected HOST:PORT, e.g. 10.0.0.5:8000")
    return host, int(port)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for the chief's gRPC server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def check_tuner_id(tuner_id: str) -> str:
    """Return ``tuner_id`` if usable as a worker id and a file name.

    KerasTuner treats any id containing "chief" as the chief, so those are refused.

    Raises:
        SearchError: Empty, too long, odd characters, or contains "chief".
    """
    if not _TUNER_ID.match(tuner_id) or CHIEF_ID in tuner_id:
        raise SearchError(
            f"--tuner-id {tuner_id!r}: use letters, digits, '.', '_' or '-' "
            "(at most 64, and not the word 'chief')"
        )
    return tuner_id


def default_tuner_id() -> str:
    """An id for a worker started by hand: ``<host>-<pid>``, made safe."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname())[:40] or "worker"
    return check_tuner_id(f"{host.replace(CHIEF_ID, 'chf')}-{os.getpid()}")


def advertised_host(bind_host: str) -> str:
    """The host name workers should dial when the chief listens on ``bind_host``."""
    if bind_host in ("0.0.0.0", "::", ""):
        return socket.getfqdn()
    return bind_host


def set_worker_environment(tuner_id: str, chief: tuple[str, int], env=None) -> None:
    """Set KerasTuner's variables that make a tuner a worker of ``chief``."""
    env = os.environ if env is None else env
    env["KERASTUNER_TUNER_ID"] = tuner_id
    env["KERASTUNER_ORACLE_IP"] = chief[0]
    env["KERASTUNER_ORACLE_PORT"] = str(chief[1])


def clear_distributed_environment(env=None) -> None:
    """Drop KerasTuner's distribution variables (the chief serves the oracle itself)."""
    env = os.environ if env is None else env
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        env.pop(name, None)


def dial_address(bind: tuple[str, int]) -> str:
    """``HOST:PORT`` for workers on this machine to reach a chief bound to ``bind``."""
    host = "127.0.0.1" if bind[0] in ("0.0.0.0", "::", "") else bind[0]
    return f"[{host}]:{bind[1]}" if ":" in host else f"{host}:{bind[1]}"
