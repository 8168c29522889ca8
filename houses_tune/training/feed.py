"""What ``model.fit`` is fed: the arrays, or on TensorFlow a cached ``tf.data`` pipeline.

Given NumPy arrays, Keras on TensorFlow slices and gathers every batch anew each epoch,
for the training rows and again for the validation rows; for the small networks here that
is most of an epoch (``benchmarks/trial_cost.py``, batch 8: an attributes-MLP epoch took
177 ms from arrays and 33 ms from this pipeline, a montage-CNN epoch 573 and 356-402 ms). The
pipeline keeps the rows once and reshuffles them every epoch, so a model trains as it
would on the arrays: every row once per epoch, in a new order. On JAX Keras's own
array feed is cheap, and the arrays go in as they are.

The validation rows go in batches of up to ``VALIDATION_BATCH_SIZE``, whatever the
training batch: every epoch's validation pass then takes one step for a few hundred rows
instead of one per training batch (``trial_cost.py``'s plain ``fit`` of the attributes
MLP on JAX: 3.6 instead of 4.1 ms per epoch). Scores do not depend on it: the metrics are
means over rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Most validation rows per step (a bound on memory for photo networks).
VALIDATION_BATCH_SIZE = 256


def fit_arguments(
    x: dict[str, np.ndarray],
    y: np.ndarray,
    batch_size: int,
    validation: tuple[dict[str, np.ndarray], np.ndarray] | None,
    seed: int,
) -> dict[str, Any]:
    """The data arguments of ``model.fit`` (``x``, ``y``, ``batch_size``, ``validation_data``,
    ``validation_batch_size``, ``shuffle``; on TensorFlow the pipelines hold the batches).

    Args:
        x, y: Training inputs and targets.
        batch_size: Training rows per step.
        validation: Validation inputs and targets, or None.
        seed: Seed of the shuffling (TensorFlow; on JAX Keras shuffles with its own).
    """
    import keras

    held_out = min(len(validation[1]), VALIDATION_BATCH_SIZE) if validation else None
    if keras.config.backend() != "tensorflow":
        return {"x": x, "y": y, "batch_size": batch_size, "validation_data": validation,
                "validation_batch_size": held_out}  # fmt: skip
    import tensorflow as tf

    def pipeline(inputs, targets, batch: int, shuffle: bool):
        rows = tf.data.Dataset.from_tensor_slices((inputs, targets)).cache()
        if shuffle:
            rows = rows.shuffle(len(targets), seed=seed, reshuffle_each_iteration=True)
        return rows.batch(batch).prefetch(tf.data.AUTOTUNE)

    return {
        "x": pipeline(x, y, batch_size, shuffle=True),
        "validation_data": pipeline(*validation, held_out, shuffle=False) if validation else None,
        "shuffle": False,  # the pipeline shuffles (Keras warns when asked to shuffle one)
    }
