"""Every use of KerasTuner's (and one of Keras') private parts, in one place.

houses-tune uses KerasTuner and Keras through their public APIs, except for what is here:
each function or class names the private part it touches and has a contract test in
``tests/tuner/test_internals.py`` that fails loudly when a release changes it. The tested
KerasTuner range is pinned in pyproject.toml.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator
from pathlib import Path

from houses_tune.run import write_json_atomic


def set_min_epochs(oracle, min_epochs: int) -> None:
    """Make a new ``HyperbandOracle`` start no bracket below ``min_epochs`` epochs.

    KerasTuner's ``HyperbandOracle.__init__`` sets ``min_epochs = 1`` (no argument for it)
    and opens its most aggressive bracket from it (``_current_bracket``, ``_brackets``,
    ``_start_new_bracket``); ``_get_num_brackets`` reads it later and the oracle's state
    (oracle.json) keeps it, so a resumed search plans the same brackets. Call before the
    first trial.
    """
    oracle.min_epochs = int(min_epochs)
    oracle._current_bracket = oracle._get_num_brackets() - 1
    oracle._brackets = []
    oracle._start_new_bracket()


class AtomicStateFiles:
    """Oracle mixin: oracle.json and every trial.json are written whole or not at all.

    KerasTuner writes them in place (``Oracle.save`` to ``_get_oracle_fname()``,
    ``Oracle._save_trial`` to ``_get_trial_dir(id)/trial.json``), so a kill or a full disk
    in the middle of a write leaves a torn file, and reloading the project then fails.
    """

    def save(self) -> None:
        write_json_atomic(Path(self._get_oracle_fname()), self.get_state())

    def _save_trial(self, trial) -> None:
        path = Path(self._get_trial_dir(trial.trial_id)) / "trial.json"
        write_json_atomic(path, trial.get_state())


def retry_queue(oracle) -> list[str]:
    """The ids of the trials ``oracle`` hands out again before any new one.

    ``Oracle._retry_queue``: ``reload`` puts the trials that were running there, and
    ``create_trial`` pops from it first. The list itself, to change in place.
    """
    return oracle._retry_queue


@contextlib.contextmanager
def oracle_lock(oracle) -> Iterator[None]:
    """Hold the lock ``keras_tuner.synchronized`` takes for ``oracle``'s methods.

    The lock and its owner are ``keras_tuner.src.engine.oracle.LOCKS`` and ``THREADS``;
    oracle methods called inside see this thread owns it and do not take it again, and
    neither does a nested ``oracle_lock``. Unlike ``synchronized``, the lock is released
    when the block raises.
    """
    from keras_tuner.src.engine.oracle import LOCKS, THREADS

    name = threading.current_thread().name
    if THREADS[oracle] == name:
        yield
        return
    with LOCKS[oracle]:
        THREADS[oracle] = name
        try:
            yield
        finally:
            THREADS[oracle] = None


def show_trial_tracebacks(show: bool) -> None:
    """Whether KerasTuner prints the traceback of every failed trial
    (``keras_tuner.src.config.DEBUG``); the trial's message keeps it either way."""
    from keras_tuner.src import config

    config.DEBUG = bool(show)


def silence_condition_print() -> None:
    """Mute the stray ``print`` in ``keras_tuner.src.engine.conditions.Parent.to_proto``.

    Every gRPC message carrying a conditional hyperparameter prints the condition's first
    value to stdout, on the chief and the workers. Shadowing ``print`` in that one module
    (it has no other print) keeps the terminal clean.
    """
    from keras_tuner.src.engine import conditions

    conditions.print = lambda *args, **kwargs: None


def start_oracle_server(oracle, host: str, port: int):
    """Serve ``oracle`` to workers over gRPC with KerasTuner's own ``OracleServicer``.

    ``keras_tuner.src.distribute.oracle_chief.start_server`` builds the same server but binds
    only the address of its environment variables, cannot report a failed bind, cannot be
    stopped and waits forever for a worker that died (KerasTuner issue 915), so the chief
    supervises this one itself. One handler thread, as there, and no ``SO_REUSEPORT``
    (gRPC's default), so a port another process listens on is refused, not shared.

    Returns:
        ``(server, servicer)`` (``servicer.stop_triggered``: the oracle said STOPPED to a
        worker), or None when the address cannot be bound.
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=1), options=[("grpc.so_reuseport", 0)]
    )
    servicer = oracle_chief.OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        return None
    server.start()
    return server, servicer


class _InMemoryWeights(io.BytesIO):
    # ``Model.save_weights`` checks that ``str(filepath)`` ends in ``.weights.h5``.
    def __str__(self) -> str:
        return "in-memory.weights.h5"


def weights_file_bytes(model) -> bytes:
    """The ``.weights.h5`` file of ``model`` (weights and optimizer state), made in memory.

    HDF5 writing to a disk that fails (full, over a size limit) raises, then crashes the
    process when its file objects are freed (a segmentation fault), so the file is made in
    memory and written by Python. Keras' ``saving_lib.H5IOStore``, which ``save_weights``
    uses, takes an ``io.BytesIO`` in place of a path.
    """
    buffer = _InMemoryWeights()
    model.save_weights(buffer)
    return buffer.getvalue()
