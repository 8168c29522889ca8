"""Distributed search through KerasTuner's own chief/worker protocol.

KerasTuner distributes a search like this: one *chief* process holds the Oracle
and serves it over gRPC; *workers* are ordinary tuners whose oracle is an
``OracleClient``. Each process learns its role from three environment variables:
``KERASTUNER_TUNER_ID`` ("chief", or a worker id such as "tuner0"),
``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT``. All of them must share
the run folder: workers save checkpoints there and Hyperband's promoted trials
load them.

What this module adds around it:

* the chief serves KerasTuner's ``OracleServicer`` itself (instead of
  ``tuner.search``'s loop, which polls every 20 s and waits forever for a
  worker that died) and supervises its workers;
* ``search --workers N`` spawns N local worker processes, one GPU each;
* every worker writes a heartbeat file, ``<run>/workers/<tuner_id>.json``;
* a worker that dies (its process exits, or its heartbeat stops) loses its
  trial: the trial goes back to the oracle's retry queue once, and is marked
  failed if it takes a worker down a second time. Local workers are restarted
  under the same tuner id. The chief finishes when the oracle has no more
  trials to hand out and no trial is running;
* workers leave when the chief's heartbeat stops, instead of blocking on
  gRPC for KerasTuner's hour-long timeout.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from houses_tune.errors import SearchError
from houses_tune.results.run_dir import write_json_atomic

#: Folder of the run that holds heartbeats and local workers' logs.
WORKERS_DIR = "workers"
CHIEF_ID = "chief"
#: Seconds between heartbeats.
HEARTBEAT_S = 2.0
#: A process whose heartbeat has not moved for this long is taken for dead.
STALE_AFTER_S = 120.0
#: Times a trial may lose its worker before it is marked failed.
MAX_TRIAL_LOSSES = 2
#: Seconds a worker may linger after the chief ended before it leaves by itself.
CHIEF_GRACE_S = 30.0
#: Restarts allowed per local worker.
MAX_RESTARTS = 3
#: Set in a local worker's environment: the chief's pid (the worker leaves when it dies).
CHIEF_PID_ENV = "HOUSES_TUNE_CHIEF_PID"
#: Seconds a worker waits before asking again when the oracle says IDLE (KerasTuner asks
#: again at once, which keeps a core busy while Hyperband waits for a round to end).
IDLE_WAIT_S = 1.0

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


def silence_condition_print() -> None:
    """Mute the stray ``print`` in keras-tuner's ``Parent.to_proto`` (1.4.8).

    Every gRPC message carrying a conditional hyperparameter prints the condition's
    first value to stdout, on the chief and the workers. Shadowing ``print`` in that
    one module (it has no other print) keeps the terminal clean.
    """
    from keras_tuner.src.engine import conditions

    conditions.print = lambda *args, **kwargs: None


def clear_distributed_environment(env=None) -> None:
    """Drop KerasTuner's distribution variables (the chief serves the oracle itself)."""
    env = os.environ if env is None else env
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        env.pop(name, None)


# --- Heartbeats -------------------------------------------------------------------------


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
        except OSError:
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


# --- The chief ---------------------------------------------------------------------------


def _servicer_class():
    """KerasTuner's OracleServicer, plus a time limit and a guard against lost workers."""
    from keras_tuner.src.distribute import oracle_chief
    from keras_tuner.src.engine import trial as trial_module

    service = oracle_chief.protos.get_service()

    class GuardedServicer(oracle_chief.OracleServicer):
        def __init__(self, oracle, deadline: float | None = None) -> None:
            super().__init__(oracle)
            self.deadline = deadline  # time.monotonic() after which no trial starts

        def CreateTrial(self, request, context):  # noqa: N802 (gRPC method name)
            if self.deadline is not None and time.monotonic() >= self.deadline:
                # The chief keeps the time budget for every worker, wherever it runs.
                self.stop_triggered = True
                lose_worker(self.oracle, request.tuner_id, "time budget reached", None)
                stopped = trial_module.Trial(self.oracle.get_space(), status="STOPPED")
                return service.CreateTrialResponse(trial=stopped.to_proto())
            return super().CreateTrial(request, context)

        # A worker declared lost may still be alive (a slow shared disk, a network
        # hiccup). Its trial went back to the queue, so its late reports are dropped:
        # each trial is recorded once.
        def _running(self, trial_id: str) -> bool:
            ongoing = _locked(self.oracle, lambda: list(self.oracle.ongoing_trials.values()))
            return any(t.trial_id == trial_id for t in ongoing)

        def UpdateTrial(self, request, context):  # noqa: N802
            if not self._running(request.trial_id):
                trial = self.oracle.get_trial(request.trial_id)
                return service.UpdateTrialResponse(trial=trial.to_proto())
            return super().UpdateTrial(request, context)

        def EndTrial(self, request, context):  # noqa: N802
            if not self._running(request.trial.trial_id):
                return service.EndTrialResponse()
            return super().EndTrial(request, context)

    return GuardedServicer


def _locked(oracle, call: Callable):
    """Run ``call()`` holding the oracle's lock, as ``keras_tuner.synchronized`` does.

    The gRPC thread changes the oracle meanwhile. Unlike ``synchronized``, the lock is
    released when ``call`` raises.
    """
    from keras_tuner.src.engine.oracle import LOCKS, THREADS

    with LOCKS[oracle]:
        # Oracle methods called inside see this thread holds the lock and do not retake it.
        THREADS[oracle] = threading.current_thread().name
        try:
            return call()
        finally:
            THREADS[oracle] = None


def lose_worker(
    oracle, tuner_id: str, reason: str, losses: collections.Counter | None
) -> str | None:
    """Forget a dead worker; requeue its running trial, or fail it after repeated losses.

    Args:
        oracle: The chief's KerasTuner oracle.
        tuner_id: The worker that is gone.
        reason: Why, for the trial's message.
        losses: Trial id -> times it lost its worker (updated); None to requeue the
            trial without counting (the worker stopped for the time budget).

    Returns:
        What happened, for the log (None if the worker held no trial).
    """
    from keras_tuner.src.engine import trial as trial_module

    def _lose():
        oracle.tuner_ids.discard(tuner_id)
        trial = oracle.ongoing_trials.get(tuner_id)
        if trial is None:
            return None
        lost = MAX_TRIAL_LOSSES - 1 if losses is None else losses[trial.trial_id] + 1
        if losses is not None:
            losses[trial.trial_id] = lost
        if lost < MAX_TRIAL_LOSSES:
            # KerasTuner's own retry path: the next worker to ask gets this trial.
            del oracle.ongoing_trials[tuner_id]
            oracle._retry_queue.append(trial.trial_id)
            oracle.save()
            return f"trial {trial.trial_id} goes back to the queue"
        trial.status = trial_module.TrialStatus.FAILED
        trial.message = f"{reason} (the trial lost its worker {lost} times)"
        oracle.end_trial(trial)  # records it once and pops it from ongoing_trials
        return f"trial {trial.trial_id} marked failed"

    return _locked(oracle, _lose)


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
        self.max_failures = oracle.max_consecutive_failed_trials

    def serve(self) -> ChiefReport:
        """Run the search to its end.

        Returns:
            The report (workers, lost workers, whether time ran out).

        Raises:
            SearchError: The address cannot be bound, or every local worker died for good.
        """
        from concurrent import futures

        import grpc
        from keras_tuner.src import protos

        folder = workers_dir(self.run_dir)
        for old in folder.glob("*.json"):
            old.unlink()  # heartbeats of an earlier session would look alive
        # One handler thread, as in KerasTuner's server: reads of the oracle are not locked.
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
        servicer = _servicer_class()(self.oracle, self.deadline)
        protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
        host, port = self.bind
        try:
            bound = server.add_insecure_port(
                f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            )
        except RuntimeError:
            bound = 0
        if not bound:
            raise SearchError(f"cannot listen on {host}:{port} (port in use or address not local)")
        server.start()
        heartbeat = Heartbeat(self.run_dir, CHIEF_ID, {"address": self.report.address}).start()
        self._ended = len(self.oracle.end_order)
        # The chief counts failures in a row itself: the oracle's own check raises inside
        # the gRPC handler, where it would leave the oracle's lock taken.
        self.oracle.max_consecutive_failed_trials = None
        state = "failed"
        try:
            for worker in self.local:
                worker.start()
            self.log(
                f"Chief listening on {self.report.address} with {len(self.local)} local worker(s)"
            )
            while not _locked(self.oracle, lambda: self._finished(servicer)):
                time.sleep(self.poll)
                self._check_local()
                self._check_heartbeats()
                _locked(self.oracle, self._trials_ended)
            _locked(self.oracle, self._trials_ended)
            state = "finished"
        except KeyboardInterrupt:
            state = "interrupted"
            raise
        finally:
            self.oracle.max_consecutive_failed_trials = self.max_failures
            # KerasTuner's end_trial saves before it forgets the trial, and workers never
            # save the oracle: without this, a resume would run the last trial again.
            _locked(self.oracle, self.oracle.save)
            heartbeat.stop(state)
            for worker in self.local:
                worker.stop(timeout=15 if state == "finished" else 5)
            server.stop(grace=1)
            self.report.workers = self._worker_summaries()
        self.report.time_up = self._time_up()
        return self.report

    def _time_up(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _finished(self, servicer) -> bool:
        from keras_tuner.src.distribute import oracle_chief

        oracle = self.oracle
        if oracle.ongoing_trials:
            return False
        if servicer.stop_triggered and oracle_chief.exit_chief(oracle):
            return True  # KerasTuner's own rule: the oracle is done, every worker told so
        if self._time_up() and not oracle.tuner_ids:
            return True
        if not self.local or any(w.state == "running" for w in self.local):
            return False
        if oracle.tuner_ids - {w.tuner_id for w in self.local}:
            return False  # workers from elsewhere are still at it
        # Every local worker has ended: fine if nothing is left to run, else an error.
        if not oracle._retry_queue and all(w.state == "exited" for w in self.local):
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
        if not new or not self.max_failures:
            return
        failed_in_a_row = 0
        for trial_id in ended:
            failed = self.oracle.trials[trial_id].status == "FAILED"
            failed_in_a_row = failed_in_a_row + 1 if failed else 0
        if failed_in_a_row >= self.max_failures:
            # KerasTuner's own message, which the search turns into a one-line error.
            raise RuntimeError(
                f"Number of consecutive failures exceeded the limit of {self.max_failures}.\n"
                + (new[-1].message or "")
            )

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


# --- Workers ----------------------------------------------------------------------------


def throttle_idle(tuner, wait: float = IDLE_WAIT_S) -> None:
    """Make a worker's tuner wait ``wait`` seconds after each IDLE answer from the chief."""
    client = tuner.oracle
    create_trial = client.create_trial

    def create_trial_and_wait(tuner_id):
        trial = create_trial(tuner_id)
        if trial.status == "IDLE":
            time.sleep(wait)
        return trial

    client.create_trial = create_trial_and_wait


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


def dial_address(bind: tuple[str, int]) -> str:
    """``HOST:PORT`` for workers on this machine to reach a chief bound to ``bind``."""
    host = "127.0.0.1" if bind[0] in ("0.0.0.0", "::", "") else bind[0]
    return f"[{host}]:{bind[1]}" if ":" in host else f"{host}:{bind[1]}"


class _ChiefProgress:
    """Feeds the search's progress line and run-level TensorBoard series from the chief.

    In a distributed search the tuner hooks run in the workers; the chief sees trials
    end in its oracle and counts their epochs from the history.json the worker writes
    just after (so a trial may wait a moment in ``pending``).
    """

    def __init__(self, run_dir: Path, monitor, verbose: bool) -> None:
        self.tuner_dir = Path(run_dir) / "tuner"
        self.monitor = monitor
        self.verbose = verbose
        self.pending: dict[str, float] = {}

    def __call__(self, ended: list) -> None:
        if self.monitor is not None:
            self.monitor.check_interrupt()  # Ctrl-C only sets a flag during a search
        for trial in ended:
            self._ended(trial)
        now = time.monotonic()
        for trial_id, since in list(self.pending.items()):
            history = self.tuner_dir / f"trial_{trial_id}" / "history.json"
            if history.is_file() or now - since > 60:
                self._count_epochs(history)
                del self.pending[trial_id]

    def _ended(self, trial) -> None:
        from houses_tune.tuner.monitor import OBJECTIVE

        completed = str(trial.status) == "COMPLETED"
        score = trial.score if completed and trial.score is not None else None
        if score is not None and not score == score:  # NaN
            score = None
        self.pending[trial.trial_id] = time.monotonic()
        if self.monitor is None:
            return
        if self.monitor.tensorboard is not None:
            # No trial writers are open in the chief: this writes the run-level series only.
            self.monitor.tensorboard.trial_end(trial.trial_id, completed, score, 0)
        self.monitor.trials[trial.trial_id] = str(trial.status)
        if self.monitor.progress is not None:
            self.monitor.progress.trial_end(score)
            if self.verbose:
                what = f"{OBJECTIVE} {score:.2f}%" if score is not None else str(trial.status)
                self.monitor.progress.log(f"trial {trial.trial_id}: {what.lower()}")

    def _count_epochs(self, history: Path) -> None:
        try:
            epochs = int(json.loads(history.read_text()).get("epochs_trained", 0))
        except (OSError, ValueError):
            return
        if self.monitor is None:
            return
        self.monitor.epochs += epochs
        for _ in range(epochs if self.monitor.progress is not None else 0):
            self.monitor.progress.epoch_end()


def serve_search(
    tuner,
    run,
    *,
    workers: int,
    listen: str | None = None,
    device: str = "auto",
    gpu_count: int = 0,
    monitor=None,
    deadline: float | None = None,
    verbose: bool = False,
) -> ChiefReport:
    """Be the chief of a distributed search: serve ``tuner``'s oracle until the search ends.

    Called by ``run_search`` in place of ``tuner.search`` when ``--workers`` or
    ``--listen`` is given. Records ``distributed`` in run.json (the address workers
    dial, then the workers and the faults seen).

    Args:
        tuner: The chief's tuner, built as for a single-process search.
        run: The ``RunDir``.
        workers: Local worker processes to start (0: only workers from elsewhere).
        listen: ``HOST:PORT`` to listen on (``0.0.0.0:PORT`` for other machines);
            default 127.0.0.1 on a free port.
        device: ``--device`` for the local workers.
        gpu_count: GPUs on this machine; local workers get one card each, in turn.
        monitor: The search's ``SearchMonitor`` (progress line, TensorBoard), or None.
        deadline: ``time.monotonic()`` at which a duration budget ends, or None.
        verbose: One line per trial, per-epoch output in the workers' logs.

    Returns:
        The chief's report; ``time_up`` says the duration budget ended the search.
    """
    from houses_tune.tuner.devices import worker_gpus

    bind = parse_address(listen) if listen else ("127.0.0.1", free_port())
    gpus = worker_gpus(workers, gpu_count, os.environ.get("CUDA_VISIBLE_DEVICES"))
    local = local_workers(run.path, dial_address(bind), workers, device, gpus, verbose)
    tuner.oracle.verbose = 0  # the chief prints its own lines, not KerasTuner's tables
    silence_condition_print()
    tuner.oracle.save()
    progress = monitor.progress if monitor is not None else None
    chief = Chief(
        tuner.oracle,
        run.path,
        bind,
        local,
        deadline=deadline,
        on_poll=_ChiefProgress(run.path, monitor, verbose),
        log=progress.log if progress is not None else None,
    )
    info = {"chief": chief.report.address, "local_workers": workers}
    if deadline is not None:
        # Workers stop training at the same moment (wall clock: they may be elsewhere).
        info["deadline_unix"] = time.time() + deadline - time.monotonic()
    run.update(distributed=info)
    try:
        report = chief.serve()
    finally:
        run.update(distributed={**info, **chief.report.to_dict()})
    return report


class _TrialLogsOnly:
    """Wraps a worker's ``TensorBoardLogger`` so that it writes per-trial logs only.

    The run-level series (best so far against trials) needs the order in which
    trials end across all workers, which only the chief knows; it writes them.
    """

    def __init__(self, logger) -> None:
        self._logger = logger

    def __getattr__(self, name):
        return getattr(self._logger, name)

    def trial_end(self, trial_id: str, completed: bool, score, step: int) -> None:
        logger = self._logger
        root, logger._root = logger._root, _NullWriter()
        try:
            logger.trial_end(trial_id, completed, score, step)
        finally:
            logger._root = root


class _NullWriter:
    def add_scalar(self, *args, **kwargs) -> None:
        pass

    def flush(self) -> None:
        pass


def find_run(results_dir: Path, chief: str | None) -> Path:
    """The running distributed run in ``results_dir`` (whose chief is ``chief`` if given).

    Raises:
        SearchError: None or several match; the message lists them.
    """
    port = parse_address(chief)[1] if chief else None
    found = []
    for run_json in sorted(Path(results_dir).glob("*/run.json")):
        try:
            info = json.loads(run_json.read_text())
        except (OSError, ValueError):
            continue
        address = (info.get("distributed") or {}).get("chief")
        if info.get("status") != "running" or not address:
            continue
        if port is None or parse_address(address)[1] == port:
            found.append(run_json.parent)
    if len(found) != 1:
        what = "no" if not found else f"{len(found)} ({', '.join(str(f) for f in found)})"
        raise SearchError(
            f"{what} running distributed search in {results_dir}"
            + (f" with chief port {port}" if port else "")
            + "; give --run-dir"
        )
    return found[0]


def run_worker(
    run_dir: Path,
    chief: str | None = None,
    tuner_id: str | None = None,
    device_plan=None,
    verbose: bool = False,
) -> dict:
    """Be a worker of the distributed search in ``run_dir`` until the chief has no more trials.

    The settings (dataset, splits, space, plan, seed, precision) come from the run's
    run.json, so every worker builds the same hypermodel and tuner as the chief.
    Call ``devices.prepare_environment`` and ``select_devices`` first.

    Args:
        run_dir: The shared run folder (same path or a mount of it).
        chief: ``HOST:PORT`` of the chief; default: the address in run.json.
        tuner_id: This worker's id; default ``<host>-<pid>``.
        device_plan: The ``DevicePlan`` of this process (recorded in its heartbeat).
        verbose: Per-epoch Keras output.

    Returns:
        This worker's last heartbeat (tuner id, host, devices, state).

    Raises:
        RunError, SearchError: Not a distributed run, no chief address, bad tuner id.
    """
    import keras

    from houses_tune.data import ModelData
    from houses_tune.results.run_dir import RunDir
    from houses_tune.search_spaces import HousesHyperModel
    from houses_tune.tuner.budget import parse_budget, plan_search
    from houses_tune.tuner.build import build_tuner, space_hparams
    from houses_tune.tuner.monitor import SearchMonitor, TimeBudgetReached
    from houses_tune.tuner.tensorboard import TensorBoardLogger

    run = RunDir(run_dir)
    info = run.settings.get("distributed") or {}
    chief = chief or info.get("chief")
    if not chief:
        raise SearchError(
            f"{run.path} is not a distributed search (no chief address); give --chief"
        )
    recorded = info.get("chief")
    if recorded and parse_address(recorded)[1] != parse_address(chief)[1]:
        raise SearchError(f"{run.path}'s chief listens on {recorded}, not {chief}")
    tuner_id = check_tuner_id(tuner_id) if tuner_id else default_tuner_id()
    set_worker_environment(tuner_id, parse_address(chief))

    search = run.settings["search"]
    plan = plan_search(
        parse_budget(search["budget"]), search["tuner"], search["max_epochs"], search["factor"]
    )
    deadline = None
    if info.get("deadline_unix") is not None:
        deadline = time.monotonic() + float(info["deadline_unix"]) - time.time()
    splits = run.splits
    keras.utils.set_random_seed(search["seed"])
    data = ModelData(run.load_houses(), splits.train)
    hypermodel = HousesHyperModel(run.space(), data, splits.train, splits.val, seed=search["seed"])

    devices = device_plan.to_dict() if device_plan is not None else None
    heartbeat = Heartbeat(run.path, tuner_id, {"devices": devices}, watch_chief=chief).start()
    monitor = SearchMonitor(run.tuner_dir, None, None, deadline, verbose)
    state = "failed"
    with contextlib.redirect_stdout(sys.stderr):  # KerasTuner prints to stdout
        try:
            tuner = build_tuner(plan, hypermodel, run.path, search["seed"], monitor=monitor)
            logger = TensorBoardLogger(run.tensorboard_dir, space_hparams(tuner))
            monitor.tensorboard = _TrialLogsOnly(logger)
            throttle_idle(tuner)
            silence_condition_print()
            tuner.search(epochs=plan.max_epochs, callbacks=[], verbose=2 if verbose else 0)
            state = "finished"
        except TimeBudgetReached:
            state = "finished"
        except KeyboardInterrupt:
            state = "interrupted"
            raise
        finally:
            monitor.close()
            heartbeat.data["trials"] = len(monitor.trials)
            heartbeat.stop(state)
    return heartbeat.data
