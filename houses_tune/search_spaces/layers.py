"""Layers shared by the networks and the serving model, without the search's losses and
metrics (a shipped model loads with only these registered; no ``Lambda``, so safe_mode)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers, ops

# ImageNet channel means in BGR order, as keras.applications' "caffe" preprocessing.
_CAFFE_MEANS = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="houses_tune")
class BackbonePreprocess(layers.Layer):
    """uint8 RGB photos -> what a ``keras.applications`` backbone expects, as float32.

    Args:
        mode: ``"tf"`` (pixels scaled to -1..1), ``"caffe"`` (RGB -> BGR, ImageNet channel
            means subtracted) or ``"none"`` (cast only: the network rescales itself).
    """

    def __init__(self, mode: str, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("tf", "caffe", "none"):
            raise ValueError(f"unknown preprocessing {mode!r}")
        self.mode = mode

    def call(self, x):
        x = ops.cast(x, "float32")
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "caffe":
            return ops.flip(x, axis=-1) - ops.convert_to_tensor(_CAFFE_MEANS, "float32")
        return x

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def photo_sequence(vectors: Sequence, name: str):
    """One ``(batch, k)`` tensor per image -> ``(batch, images, k)`` in column order."""
    rows = [
        layers.Reshape((1, v.shape[-1]), name=f"{name}_{i}")(v) for i, v in enumerate(vectors, 1)
    ]
    return rows[0] if len(rows) == 1 else layers.Concatenate(axis=1, name=name)(rows)


def photo_size(model: keras.Model, images: int) -> int | None:
    """Side in pixels of each image a network takes, None without image inputs (a frozen
    backbone's network takes features).

    Args:
        model: A network (inputs ``montage`` or ``photo_<column>``).
        images: Images per row (the montage's grid follows from it).
    """
    from houses_tune.data.model_data import MONTAGE, PHOTO_PREFIX
    from houses_tune.data.photos import montage_grid

    for tensor in model.inputs:
        name = tensor.name.split(":")[0]
        if name.startswith(PHOTO_PREFIX):
            return int(tensor.shape[1])
        if name == MONTAGE:
            return int(tensor.shape[1]) // montage_grid(images)[0]
    return None
