"""Heartbeats, ``<run>/workers/<tuner_id>.json``: how the chief and workers tell who is alive."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from houses_tune.errors import WriteError
from houses_tune.run import write_json_atomic
from houses_tune.tuner.distributed.environment import CHIEF_ID, CHIEF_PID_ENV, parse_address

#: Folder of the run that holds heartbeats and local workers' logs.
WORKERS_DIR = "workers"
#: Seconds between heartbeats.
HEARTBEAT_S = 2.0
#: A process whose heartbeat has not moved for this long is taken for dead.
STALE_AFTER_S = 120.0
#: Seconds a worker may linger after the chief ended before it leaves by itself.
CHIEF_GRACE_S = 30.0


def workers_dir(run_dir: Path) -> Path:
    """``<run>/workers``, created if needed."""
    folder = Path(run_dir) / WORKERS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read_heartbeat(run_dir: Path, tuner_id: str) -> dict | None:
    """The last heartbeat of ``tuner_id``, or None if it never wrote one."""
    try:
        return json.loads((Path(run_dir) / WORKERS_DIR / f"{tuner_id}.json").read_text())
    except (OSError, ValueError):
        return None


class Heartbeat:
    """A daemon thread that rewrites ``<run>/workers/<tuner_id>.json`` every few seconds.

    The file holds a counter (``beat``) rather than a time, so that a reader on
    another machine judges liveness by its own clock. With ``watch_chief`` the
    thread also ends this process when the chief's heartbeat stops (exit code 3)
    or says it ended more than ``CHIEF_GRACE_S`` ago (0 if it finished, else 3): a
    worker would otherwise block in a gRPC call for up to an hour.

    Args:
        run_dir: The shared run folder.
        tuner_id: This process's id ("chief" for the chief).
        info: Extra JSON-able fields (devices, host, ...).
        interval: Seconds between beats.
        watch_chief: The chief's ``HOST:PORT`` when this is a worker: exit when that
            chief is gone (or replaced by another), None for the chief itself.
        stale_after: Seconds without a chief beat before giving up on it.
    """

    def __init__(
        self,
        run_dir: Path,
        tuner_id: str,
        info: Mapping | None = None,
        interval: float = HEARTBEAT_S,
        watch_chief: str | None = None,
        stale_after: float = STALE_AFTER_S,
    ) -> None:
        self.path = workers_dir(run_dir) / f"{tuner_id}.json"
        self.run_dir = Path(run_dir)
        self.data = {
            "tuner_id": tuner_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "state": "running",
            "beat": 0,
            **(info or {}),
        }
        self.interval = interval
        self.watch_chief = watch_chief
        self._chief = _Liveness(stale_after)
        self._chief_ended: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{tuner_id}", daemon=True)

    def start(self) -> Heartbeat:
        """Write the first beat and start beating."""
        self._beat()
        self._thread.start()
        return self

    def stop(self, state: str = "finished") -> None:
        """Stop beating and record the final ``state`` (finished, failed, interrupted)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.data["state"] = state
        self._write()

    def _beat(self) -> None:
        self.data["beat"] += 1
        self._write()

    def _write(self) -> None:
        try:
            write_json_atomic(self.path, self.data)
        except (OSError, WriteError):
            pass  # a full or flaky shared disk must not kill training; staleness will tell

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._beat()
            gone = self._chief_gone() if self.watch_chief else None
            if gone:
                tuner_id = self.data["tuner_id"]
                print(f"houses-tune worker {tuner_id}: the chief {gone}; stopping", file=sys.stderr)
                self.data["state"] = "orphaned"
                self._write()
                os._exit(0 if gone == "finished" else 3)  # main thread may be stuck in gRPC

    def _chief_gone(self) -> str | None:
        """Why the chief is gone ("finished", "stopped beating", ...), or None."""
        parent = os.environ.get(CHIEF_PID_ENV)
        if parent and os.getppid() != int(parent):
            return "process died"  # a local worker: its chief is its parent
        beat = read_heartbeat(self.run_dir, CHIEF_ID)
        now = time.monotonic()
        if beat is None:
            return None  # chief not started yet (workers may start first)
        if parse_address(beat.get("address", "x:1"))[1] != parse_address(self.watch_chief)[1]:
            return "was replaced by another"  # e.g. a resumed search on a new port
        if beat.get("state") not in (None, "running"):
            # Give a worker that was told to stop the time to leave on its own.
            self._chief_ended = self._chief_ended or now
            return beat["state"] if now - self._chief_ended > CHIEF_GRACE_S else None
        self._chief_ended = None
        return "stopped beating" if self._chief.is_stale(CHIEF_ID, beat.get("beat"), now) else None


class _Liveness:
    """Tells which heartbeats stopped moving, by this process's own clock."""

    def __init__(self, stale_after: float) -> None:
        self.stale_after = stale_after
        self._seen: dict[str, tuple[object, float]] = {}

    def is_stale(self, key: str, beat: object, now: float) -> bool:
        last = self._seen.get(key)
        if last is None or last[0] != beat:
            self._seen[key] = (beat, now)
            return False
        return now - last[1] > self.stale_after

    def forget(self, key: str) -> None:
        self._seen.pop(key, None)
