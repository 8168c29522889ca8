"""Pretrained photo backbones from ``keras.applications``, and where their weights come from.

A backbone turns one photo (uint8, its native size) into one pooled feature vector: its
own preprocessing, the network without its classifier (``include_top=False``), global
average pooling. Its weights come from ``--weights``:

- ``imagenet``: Keras fetches the ImageNet weights to its usual cache (``~/.keras/models``)
  the first time, which needs a network connection;
- a folder: the weight files a user placed there, under the name Keras downloads them as
  (copy ``~/.keras/models`` from an online machine) or as ``<backbone>.weights.h5``
  (written by ``model.save_weights``);
- ``random``: untrained weights, the same every time (for timing and tests only).

The table of backbones imports nothing, so a search can check its weights before any work.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path

from houses_tune.errors import SearchError
from houses_tune.tuner.devices import dtype_policy

IMAGENET = "imagenet"
RANDOM = "random"


@dataclass(frozen=True)
class Backbone:
    """One ``keras.applications`` network.

    Attributes:
        name: Value of the ``backbone/network`` hyperparameter.
        application: Its constructor in ``keras.applications``.
        size: Native input side in pixels.
        dim: Length of its pooled feature vector.
        preprocess: ``"tf"`` (pixels to -1..1), ``"caffe"`` (BGR, ImageNet means subtracted)
            or ``"none"`` (the network rescales its uint8 input itself).
        filename: The no-top weights file Keras downloads for it.
    """

    name: str
    application: str
    size: int
    dim: int
    preprocess: str
    filename: str

    @property
    def input_name(self) -> str:
        """Name of a network's input holding the four photos' features ``(4, dim)``."""
        return f"{self.name}_features"


BACKBONES: dict[str, Backbone] = {
    b.name: b
    for b in (
        Backbone(
            "mobilenet_v2",
            "MobileNetV2",
            224,
            1280,
            "tf",
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        ),
        Backbone(
            "resnet50",
            "ResNet50",
            224,
            2048,
            "caffe",
            "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        ),
        Backbone("efficientnet_b0", "EfficientNetB0", 224, 1280, "none", "efficientnetb0_notop.h5"),
    )
}
#: Backbone of each features input name (``mobilenet_v2_features`` -> ``mobilenet_v2``).
FEATURE_INPUTS = {b.input_name: b for b in BACKBONES.values()}


def weights_file(backbone: Backbone, folder: Path) -> Path:
    """The weights file of ``backbone`` in a user's folder.

    Raises:
        SearchError: Neither accepted file name is there.
    """
    for name in (backbone.filename, f"{backbone.name}.weights.h5"):
        if (folder / name).is_file():
            return folder / name
    raise SearchError(
        f"--weights {folder}: no weights for {backbone.name} (expected {backbone.filename}, "
        f"as Keras downloads it to ~/.keras/models, or {backbone.name}.weights.h5)"
    )


def check_weights(weights: str | None, names) -> None:
    """Check, before any work, that backbones ``names`` can get weights from ``weights``.

    Raises:
        SearchError: No ``--weights`` for a space with backbones, or a folder without a
            backbone's file.
    """
    names = sorted(names)
    if not names:
        return
    if weights is None:
        raise SearchError(
            f"this space uses pretrained photo backbones ({', '.join(names)}): pass --weights "
            "imagenet (Keras downloads them; needs a network connection) or --weights DIR "
            "(a folder holding the weight files)"
        )
    if weights in (IMAGENET, RANDOM):
        return
    folder = Path(weights)
    if not folder.is_dir():
        raise SearchError(f"--weights {weights}: not a folder (or use imagenet or random)")
    for name in names:
        weights_file(BACKBONES[name], folder)


def _keras_weights(backbone: Backbone, weights: str) -> str | None:
    if weights == RANDOM:
        return None
    if weights == IMAGENET:
        return IMAGENET
    return str(weights_file(backbone, Path(weights)))


def build_backbone(name: str, weights: str, float32: bool = True):
    """One photo (uint8 ``(size, size, 3)``) -> its pooled features ``(dim,)``.

    Args:
        name: A key of ``BACKBONES``.
        weights: ``imagenet``, ``random`` or a folder (see the module docstring).
        float32: Compute in float32 whatever the training precision (frozen features are
            computed, cached and served so); False follows the global dtype policy (a
            fine-tuned backbone under ``--mixed-precision``).

    Returns:
        A ``keras.Model`` named ``<name>_backbone``.
    """
    import keras

    from houses_tune.search_spaces.layers import BackbonePreprocess

    backbone = BACKBONES[name]
    shape = (backbone.size, backbone.size, 3)
    with dtype_policy("float32") if float32 else contextlib.nullcontext():
        if weights == RANDOM:
            keras.utils.set_random_seed(0)  # the same untrained backbone every time
        network = getattr(keras.applications, backbone.application)(
            include_top=False,
            weights=_keras_weights(backbone, weights),
            input_shape=shape,
            pooling="avg",
        )
        photo = keras.Input(shape, dtype="uint8", name=f"{name}_photo")
        x = BackbonePreprocess(backbone.preprocess, name=f"{name}_preprocess")(photo)
        # training=False keeps batch normalisation in inference mode when fine-tuning.
        features = network(x, training=False)
        return keras.Model(photo, features, name=f"{name}_backbone")


def network_of(model):
    """The ``keras.applications`` network inside a ``build_backbone`` model."""
    import keras

    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def weights_fingerprint(model) -> str:
    """sha256 over a model's weights: what its features depend on, whatever their source."""
    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(array.tobytes())
    return digest.hexdigest()
