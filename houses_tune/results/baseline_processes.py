"""Train tutorial baselines side by side, one worker process per group of cores.

A tutorial network trains with fixed hyperparameters for 200 epochs, and an export needs
many of them (3 networks x 3 seeds on the split, 3 more per cross-validation fold). They
are independent, so when the machine has cores for more than one they train in worker
processes, each pinned to its own ``CORES_PER_TRAINING`` cores (TensorFlow and XLA size
their thread pools by the cores a process may use). The parent reads and writes the
baseline cache; workers only train and return predictions.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence

import numpy as np

#: Cores one tutorial training gets: on 2 cores, two one-core workers beat one training
#: on both cores by 1.11x (benchmarks/baseline_speed.py).
CORES_PER_TRAINING = 1


def usable_cores() -> list[int]:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def worker_count(trainings: int, cores: int | None = None) -> int:
    """Worker processes for ``trainings`` tutorial networks on ``cores`` cores (1 = train
    them in this process)."""
    cores = len(usable_cores()) if cores is None else cores
    return max(1, min(trainings, cores // CORES_PER_TRAINING))


def _pin(queue) -> None:
    cores = queue.get()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)


def _train(task) -> tuple[int, np.ndarray]:
    from houses_tune.backend import import_keras
    from houses_tune.results.baselines import tutorial_prices

    index, houses, job, epochs = task
    import_keras()  # the parent's backend (KERAS_BACKEND is inherited) and JAX cache
    return index, tutorial_prices(houses, job, epochs)


def train_in_processes(houses, jobs: Sequence, epochs: int, workers: int) -> Iterator:
    """Train ``jobs`` (``TutorialJob``) in ``workers`` processes.

    Yields:
        ``(index into jobs, predicted prices)`` as each training ends.

    Raises:
        Whatever a training raised; the other workers are stopped first (also on an
        interrupt), so nothing trains on after the export has ended.
    """
    context = multiprocessing.get_context("spawn")  # fork is unsafe once a backend is loaded
    cores = usable_cores()
    queue = context.Queue()
    for worker in range(workers):
        share = cores[worker::workers] or cores
        queue.put(share)
    pool = context.Pool(workers, initializer=_pin, initargs=(queue,))
    try:
        tasks = [(index, houses, job, epochs) for index, job in enumerate(jobs)]
        yield from pool.imap_unordered(_train, tasks)
        pool.close()
    finally:
        pool.terminate()
        pool.join()
