"""Worker processes the chief starts on its own machine (``search --workers N``)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from houses_tune.tuner.distributed.environment import CHIEF_PID_ENV, clear_distributed_environment
from houses_tune.tuner.distributed.heartbeat import workers_dir


@dataclass
class LocalWorker:
    """A worker process the chief started on this machine."""

    tuner_id: str
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None
    restarts: int = 0
    returncode: int | None = None
    #: running, exited (cleanly), or dead (crashed with no restarts left).
    state: str = "running"

    def start(self) -> None:
        """Start (or restart) the process, appending to its log."""
        with open(self.log, "ab") as log:
            # Own session: Ctrl-C in the terminal reaches only the chief, which then
            # stops its workers in order (a worker killed by it mid-trial would be restarted).
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.returncode = None
        self.state = "running"

    def poll(self) -> int | None:
        """The exit code once the process ended, else None."""
        if self.process is not None and self.returncode is None:
            self.returncode = self.process.poll()
        return self.returncode

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate, then kill, this worker if it still runs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def local_worker_command(
    run_dir: Path, chief: str, tuner_id: str, device: str, verbose: bool = False
) -> list[str]:
    """The command line of a local worker process."""
    command = [sys.executable, "-m", "houses_tune", "worker", "--chief", chief]
    command += ["--run-dir", str(run_dir), "--tuner-id", tuner_id, "--device", device]
    return command + (["--verbose"] if verbose else [])


def local_workers(
    run_dir: Path,
    chief: str,
    count: int,
    device: str,
    gpus: list[str | None],
    verbose: bool = False,
) -> list[LocalWorker]:
    """The local workers of ``search --workers N``: ids tuner0..tunerN-1, one GPU each.

    Args:
        run_dir: The shared run folder (workers log to ``<run>/workers/<id>.log``).
        chief: ``HOST:PORT`` of the chief.
        count: Number of workers.
        device: ``--device`` for the workers.
        gpus: ``CUDA_VISIBLE_DEVICES`` per worker (None: inherit), see ``devices.worker_gpus``.
        verbose: Per-epoch Keras output in the workers' logs.
    """
    from houses_tune.tuner.devices import prepare_environment

    folder = workers_dir(run_dir)
    workers = []
    for index in range(count):
        tuner_id = f"tuner{index}"
        env = dict(os.environ)
        env[CHIEF_PID_ENV] = str(os.getpid())
        clear_distributed_environment(env)
        prepare_environment(device, env)
        if gpus[index] is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpus[index]
        workers.append(
            LocalWorker(
                tuner_id=tuner_id,
                command=local_worker_command(run_dir, chief, tuner_id, device, verbose),
                env=env,
                log=folder / f"{tuner_id}.log",
            )
        )
    return workers
