"""``RunLock``: one search per run folder at a time."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from houses_tune.errors import SearchError, cannot_write
from houses_tune.run.layout import LOCK_FILE


class RunLock:
    """An exclusive ``flock`` on ``<run>/.lock``.

    The OS releases the lock when the process dies, even on kill -9, so a stale lock file
    never blocks a resume.
    """

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_FILE
        self._handle = None

    def acquire(self) -> RunLock:
        """Take the lock.

        Raises:
            SearchError: Another process holds it.
            WriteError: The lock file cannot be written (a full disk, a read-only folder).
        """
        try:
            handle = open(self.path, "a+")  # kept open while the lock is held
        except OSError as error:
            raise cannot_write(self.path, error) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip()
            handle.close()
            raise _in_use(self.path.parent, owner) from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
        except OSError as error:
            with contextlib.suppress(OSError):  # its unwritten pid fails the flush again
                handle.close()  # also drops the lock
            raise cannot_write(self.path, error) from None
        self._handle = handle
        return self

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    @staticmethod
    def check_free(folder: Path) -> None:
        """Refuse early, writing nothing, a folder whose lock another process holds.

        Raises:
            SearchError: Another process holds the lock.
        """
        if RunLock.is_held(folder):
            owner = (Path(folder) / LOCK_FILE).read_text().strip()
            raise _in_use(Path(folder), owner)

    @staticmethod
    def is_held(folder: Path) -> bool:
        """Whether some process holds the lock of ``folder`` right now."""
        path = Path(folder) / LOCK_FILE
        if not path.exists():
            return False
        with open(path) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False


def _in_use(folder: Path, owner: str) -> SearchError:
    return SearchError(
        f"{folder} is in use by another search (pid {owner or 'another process'}); "
        "wait for it to finish or stop it first"
    )
