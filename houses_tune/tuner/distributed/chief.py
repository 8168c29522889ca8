"""The chief: serves the oracle over gRPC and supervises the workers until the search ends."""

from __future__ import annotations

import collections
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from houses_tune.errors import SearchError
from houses_tune.tuner.distributed.environment import CHIEF_ID, advertised_host
from houses_tune.tuner.distributed.heartbeat import (
    STALE_AFTER_S,
    WORKERS_DIR,
    Heartbeat,
    _Liveness,
    read_heartbeat,
    workers_dir,
)
from houses_tune.tuner.distributed.local import LocalWorker
from houses_tune.tuner.distributed.oracle import lose_worker
from houses_tune.tuner.internals import oracle_lock, retry_queue, start_oracle_server

#: Restarts allowed per local worker.
MAX_RESTARTS = 3


@dataclass
class ChiefReport:
    """What a distributed search did, for run.json.

    Attributes:
        address: ``HOST:PORT`` workers dial.
        workers: Last heartbeat of every worker (tuner id, host, pid, devices, state).
        lost: One line per worker lost (died or silent).
        time_up: The time budget ended the search.
    """

    address: str
    workers: list[dict] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    time_up: bool = False

    def to_dict(self) -> dict:
        """JSON-able view."""
        return {"chief": self.address, "workers": self.workers, "lost": self.lost}


class Chief:
    """Serves a KerasTuner oracle over gRPC and supervises the workers until the search ends.

    Args:
        oracle: The oracle of the chief's tuner (already built, holding the space).
        run_dir: The shared run folder.
        bind: (host, port) the gRPC server listens on.
        local_workers: Worker processes to start and supervise (may be empty:
            workers then join from elsewhere with ``houses-tune worker``).
        deadline: ``time.monotonic()`` after which no new trial starts, or None.
        on_poll: Called at every check with the trials the oracle ended since the
            last one (progress, TensorBoard); runs holding the oracle's lock.
        log: Prints one line (to stderr by default).
        stale_after: Seconds without a heartbeat before a worker counts as dead.
        max_restarts: Restarts per local worker.
        poll: Seconds between checks.
    """

    def __init__(
        self,
        oracle,
        run_dir: Path,
        bind: tuple[str, int],
        local_workers: list[LocalWorker] = (),
        deadline: float | None = None,
        on_poll: Callable[[list], None] | None = None,
        log: Callable[[str], None] | None = None,
        stale_after: float = STALE_AFTER_S,
        max_restarts: int = MAX_RESTARTS,
        poll: float = 0.5,
    ) -> None:
        self.oracle = oracle
        self.run_dir = Path(run_dir)
        self.bind = bind
        self.local = list(local_workers)
        self.deadline = deadline
        self.on_poll = on_poll
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.stale_after = stale_after
        self.max_restarts = max_restarts
        self.poll = poll
        self.losses: collections.Counter = collections.Counter()
        self.report = ChiefReport(address=f"{advertised_host(bind[0])}:{bind[1]}")
        self._liveness = _Liveness(stale_after)
        self._ended = 0
        self.max_failures = oracle.failure_limit

    def serve(self) -> ChiefReport:
        """Run the search to its end.

        Returns:
            The report (workers, lost workers, whether time ran out).

        Raises:
            SearchError: The address cannot be bound, or every local worker died for good.
            TooManyFailedTrials: The last trials to end all failed.
        """
        folder = workers_dir(self.run_dir)
        for old in folder.glob("*.json"):
            old.unlink()  # heartbeats of an earlier session would look alive
        host, port = self.bind
        started = start_oracle_server(self.oracle, host, port)
        if started is None:
            raise SearchError(f"cannot listen on {host}:{port} (port in use or address not local)")
        server, servicer = started
        heartbeat = Heartbeat(self.run_dir, CHIEF_ID, {"address": self.report.address}).start()
        self._ended = len(self.oracle.end_order)
        # The chief counts failures in a row in its own loop: counted in the gRPC handler,
        # the oracle's error would go to the worker that reported the trial.
        self.oracle.failure_limit = None
        self.oracle.deadline = self.deadline  # the oracle keeps the time budget for all
        state = "failed"
        try:
            for worker in self.local:
                worker.start()
            self.log(
                f"Chief listening on {self.report.address} with {len(self.local)} local worker(s)"
            )
            while not self._locked(lambda: self._finished(servicer)):
                time.sleep(self.poll)
                self._check_local()
                self._check_heartbeats()
                self._locked(self._trials_ended)
            self._locked(self._trials_ended)
            state = "finished"
        except KeyboardInterrupt:
            state = "interrupted"
            raise
        finally:
            self.oracle.failure_limit = self.max_failures
            # KerasTuner's end_trial saves before it forgets the trial, and workers never
            # save the oracle: without this, a resume would run the last trial again.
            self._locked(self.oracle.save)
            heartbeat.stop(state)
            for worker in self.local:
                worker.stop(timeout=15 if state == "finished" else 5)
            server.stop(grace=1)
            self.report.workers = self._worker_summaries()
        self.report.time_up = self._time_up()
        return self.report

    def _locked(self, call: Callable):
        """``call()`` holding the oracle's lock (the gRPC thread changes the oracle)."""
        with oracle_lock(self.oracle):
            return call()

    def _time_up(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _finished(self, servicer) -> bool:
        oracle = self.oracle
        if oracle.ongoing_trials:
            return False
        if servicer.stop_triggered and not oracle.tuner_ids:
            return True  # KerasTuner's own rule: the oracle is done, every worker told so
        if self._time_up() and not oracle.tuner_ids:
            return True
        if not self.local or any(w.state == "running" for w in self.local):
            return False
        if oracle.tuner_ids - {w.tuner_id for w in self.local}:
            return False  # workers from elsewhere are still at it
        # Every local worker has ended: fine if nothing is left to run, else an error.
        if not retry_queue(oracle) and all(w.state == "exited" for w in self.local):
            return True
        logs = ", ".join(str(w.log) for w in self.local if w.state == "dead")
        raise SearchError(f"the workers died and trials are left unfinished; see {logs}")

    def _check_local(self) -> None:
        for worker in self.local:
            code = worker.poll() if worker.state == "running" else None
            if code is None:
                continue
            if code == 0:
                worker.state = "exited"
                self._liveness.forget(worker.tuner_id)
                lose_worker(self.oracle, worker.tuner_id, "exited", self.losses)
                continue
            self._lost(worker.tuner_id, f"worker {worker.tuner_id} died (exit code {code})")
            if worker.restarts >= self.max_restarts:
                worker.state = "dead"
                continue
            worker.restarts += 1
            self.log(f"Restarting worker {worker.tuner_id} ({worker.restarts}/{self.max_restarts})")
            worker.start()

    def _check_heartbeats(self) -> None:
        now = time.monotonic()
        local = {w.tuner_id: w for w in self.local}
        for tuner_id in list(self.oracle.tuner_ids):
            beat = read_heartbeat(self.run_dir, tuner_id)
            if tuner_id not in local and beat and beat.get("state") not in (None, "running"):
                # A remote worker that left (e.g. its own time check) never asks again.
                self._liveness.forget(tuner_id)
                lose_worker(self.oracle, tuner_id, f"worker {tuner_id} left", self.losses)
                continue
            if not self._liveness.is_stale(tuner_id, beat and beat.get("beat"), now):
                continue
            if tuner_id in local:
                # Alive but silent: hung. Stopping it lets _check_local restart it.
                self.log(f"Worker {tuner_id} stopped beating; stopping it")
                local[tuner_id].stop(timeout=5)
            else:
                reason = f"worker {tuner_id} sent no heartbeat for {self.stale_after:.0f} s"
                self._lost(tuner_id, reason)

    def _lost(self, tuner_id: str, reason: str) -> None:
        self._liveness.forget(tuner_id)
        outcome = lose_worker(self.oracle, tuner_id, reason, self.losses)
        self.report.lost.append(reason)
        self.log(reason + (f"; {outcome}" if outcome else ""))

    def _trials_ended(self) -> None:
        """Report trials the oracle ended since the last look (holding the oracle lock)."""
        ended = self.oracle.end_order
        new = [self.oracle.trials[trial_id] for trial_id in ended[self._ended :]]
        self._ended = len(ended)
        if self.on_poll is not None:
            self.on_poll(new)
        if new and self.max_failures:
            self.oracle.check_failures(self.max_failures)

    def _worker_summaries(self) -> list[dict]:
        summaries = []
        for path in sorted((self.run_dir / WORKERS_DIR).glob("*.json")):
            beat = read_heartbeat(self.run_dir, path.stem)
            if beat is None or path.stem == CHIEF_ID:
                continue
            beat.pop("beat", None)
            local = next((w for w in self.local if w.tuner_id == path.stem), None)
            if local is not None:
                beat.update(restarts=local.restarts, log=str(local.log))
            summaries.append(beat)
        return summaries
