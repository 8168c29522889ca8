"""The TensorFlow SavedModel of an export, written from ``model.keras`` on TensorFlow.

The SavedModel format is TensorFlow's. When export trained on another backend (JAX), the
SavedModel is written by a TensorFlow-backend subprocess from the saved ``model.keras``,
so it is the same whichever backend trained the model:

    python -m houses_tune.results.saved_model MODEL.keras OUT_DIR INPUTS.npz PRICES.npy
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from houses_tune.errors import WRITE_ERRNOS, ExportError, WriteError


def export_saved_model(model, path: str | Path) -> None:
    """Write a TensorFlow SavedModel whose ``serving_default`` signature wraps ``model``.

    Signature ``serving_default`` (also the ``serve`` function): keyword inputs named like
    the model's inputs (``bedrooms``, ``bathrooms``, ``area`` float32 [batch, 1];
    ``zipcode`` int64 [batch, 1]; photos uint8 [batch, tile, tile, 3]); output
    ``{"price": float32 [batch, 1]}`` in dollars. Needs the TensorFlow backend.
    """
    import keras
    import tensorflow as tf  # export code, not model code

    from houses_tune.results.serving import serving_input_names

    signature = {
        name: tf.TensorSpec(tensor.shape, tensor.dtype, name=name)
        for name, tensor in zip(serving_input_names(model), model.inputs, strict=True)
    }
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve",
        fn=lambda inputs: {"price": model(inputs, training=False)},
        input_signature=[signature],
    )
    archive.write_out(str(path), verbose=False)


def saved_model_prices(path: str | Path, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Predict with an exported SavedModel's ``serve`` function (float64 dollars, shape (n,))."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    # The signature wants rank-2 numbers ([batch, 1]); photos are already rank 4.
    tensors = {
        name: tf.constant(value.reshape(len(value), 1) if value.ndim == 1 else value)
        for name, value in inputs.items()
    }
    return loaded.serve(tensors)["price"].numpy().reshape(-1).astype(np.float64)


def write_saved_model(model_file: Path, out: Path, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Write ``out`` from ``model_file`` and return its prices for ``inputs``.

    Runs here on TensorFlow, else in a TensorFlow-backend subprocess.

    Raises:
        WriteError: The disk refused the files (TensorFlow's errors say so in words).
        ExportError: The subprocess failed (its last line is the reason).
    """
    import keras

    if keras.config.backend() == "tensorflow":
        from houses_tune.results.serving import load_exported_model

        try:
            export_saved_model(load_exported_model(model_file), out)
        except Exception as error:
            _raise_if_refused(out, str(error))
            raise
        return saved_model_prices(out, inputs)
    with tempfile.TemporaryDirectory() as scratch:
        arrays, prices = Path(scratch) / "inputs.npz", Path(scratch) / "prices.npy"
        np.savez(arrays, **inputs)
        env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
        command = [
            sys.executable,
            "-m",
            __name__,
            str(model_file),
            str(out),
            str(arrays),
            str(prices),
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            last = lines[-1] if lines else str(done.returncode)
            _raise_if_refused(out, last)
            raise ExportError(f"writing {out} failed: {last}")
        return np.load(prices)


def _raise_if_refused(out: Path, message: str) -> None:
    """Raise ``WriteError`` if TensorFlow's ``message`` says the disk refused a write."""
    for code in sorted(WRITE_ERRNOS):
        if os.strerror(code).lower() in message.lower():
            raise WriteError(out, os.strerror(code))


def _main(model_file: str, out: str, arrays: str, prices: str) -> None:
    from houses_tune.backend import import_keras

    import_keras()
    from houses_tune.results.serving import load_exported_model

    inputs = dict(np.load(arrays))
    export_saved_model(load_exported_model(model_file), out)
    np.save(prices, saved_model_prices(out, inputs))


if __name__ == "__main__":
    _main(*sys.argv[1:5])
