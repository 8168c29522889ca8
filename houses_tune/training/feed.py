"""What ``model.fit`` is fed: the arrays, or on TensorFlow a cached ``tf.data`` pipeline.

Given NumPy arrays, Keras on TensorFlow slices and gathers every batch anew each epoch,
for the training rows and again for the validation rows; for the small networks here that
is most of an epoch (``benchmarks/trial_cost.py``, batch 8: an attributes-MLP epoch took
177 ms from arrays and 33 ms from this pipeline, a montage-CNN epoch 573 and 356-402 ms). The
pipeline keeps the rows once and reshuffles them every epoch, so a model trains as it
would on the arrays: every row once per epoch, in a new order. On JAX Keras's own
array feed is cheap, and the arrays go in as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def fit_arguments(
    x: dict[str, np.ndarray],
    y: np.ndarray,
    batch_size: int,
    validation: tuple[dict[str, np.ndarray], np.ndarray] | None,
    seed: int,
) -> dict[str, Any]:
    """The data arguments of ``model.fit`` (``x``, ``y``, ``batch_size``, ``validation_data``,
    ``shuffle``).

    Args:
        x, y: Training inputs and targets.
        batch_size: Rows per step (for the validation rows too, as Keras does).
        validation: Validation inputs and targets, or None.
        seed: Seed of the shuffling (TensorFlow; on JAX Keras shuffles with its own).
    """
    import keras

    if keras.config.backend() != "tensorflow":
        return {"x": x, "y": y, "batch_size": batch_size, "validation_data": validation}
    import tensorflow as tf

    def pipeline(inputs, targets, shuffle: bool):
        rows = tf.data.Dataset.from_tensor_slices((inputs, targets)).cache()
        if shuffle:
            rows = rows.shuffle(len(targets), seed=seed, reshuffle_each_iteration=True)
        return rows.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    return {
        "x": pipeline(x, y, shuffle=True),
        "validation_data": pipeline(*validation, shuffle=False) if validation else None,
        "shuffle": False,  # the pipeline shuffles (Keras warns when asked to shuffle one)
    }
