"""Pretrained backbone features of every photo of a dataset, computed once and cached.

A frozen backbone gives the same features to every trial, so they are computed once per
dataset, backbone and weights and kept beside the decoded photos in the cache folder:
one float32 array ``(total_rows, images, dim)`` per key (image column order, every row of
the source; a group filter selects rows from it). The key holds the dataset's
fingerprint, the backbone and a sha256 of its weights, so new weights never reuse old
features. Written atomically; a damaged or mismatched file is computed again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from houses_tune.data.photos import cache_dir, load_cached, save_cached

_CACHE_VERSION = 1  # bump when the extraction below changes
#: Photos per call into the backbone.
BATCH = 32

#: ``progress(done, total)``: photos done of all, before the first batch and after each.
Progress = Callable[[int, int], None]


def features_path(fingerprint: str, backbone: str, weights_key: str) -> Path:
    """Cache file of one dataset content, backbone and weights."""
    return (
        cache_dir() / f"features-v{_CACHE_VERSION}-{fingerprint}-{backbone}-{weights_key[:16]}.npy"
    )


def cached_features(table, backbone: str, weights: str, progress: Progress | None = None):
    """Features of every image of ``table``'s source, from the cache when possible.

    Args:
        table: A ``houses_tune.data.Table``.
        backbone: A key of ``houses_tune.search_spaces.backbones.BACKBONES``.
        weights: ``--weights``: ``imagenet``, ``random`` or a folder.
        progress: Called with 0 first and as batches are done, only when the features are
            computed.

    Returns:
        float32 array ``(table.total, table.n_images, dim)``.
    """
    from houses_tune.search_spaces.backbones import BACKBONES, build_backbone, weights_fingerprint

    spec = BACKBONES[backbone]
    model = build_backbone(backbone, weights)
    path = features_path(table.fingerprint, backbone, weights_fingerprint(model))
    shape = (table.total, table.n_images, spec.dim)
    features = load_cached(path, shape, np.float32)
    if features is not None:
        return features
    if progress is not None:  # shown while the photos are decoded at the backbone's size
        progress(0, table.n_images * table.total)
    photos = table.all_photos(spec.size).reshape(-1, spec.size, spec.size, 3)
    out = np.empty((len(photos), spec.dim), dtype=np.float32)
    for start in range(0, len(photos), BATCH):
        batch = photos[start : start + BATCH]
        n = len(batch)
        if n < BATCH:  # every call of one shape, so JAX compiles the backbone once
            batch = np.concatenate([batch, np.zeros((BATCH - n, *batch.shape[1:]), batch.dtype)])
        out[start : start + n] = np.asarray(model.predict_on_batch(batch))[:n]
        if progress is not None:
            progress(start + n, len(photos))
    features = out.reshape(shape)
    save_cached(path, features, "feature")
    return features
