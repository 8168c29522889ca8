"""What model.fit is fed: on TensorFlow a cached pipeline that still sees every training
row once per epoch in a new order (checked in a TensorFlow subprocess); on JAX the arrays.
Either way the validation rows go in large batches."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

from houses_tune.training.feed import VALIDATION_BATCH_SIZE, fit_arguments

# Targets are the row numbers, so the batches say which rows each epoch saw, in what order.
ON_TENSORFLOW = textwrap.dedent(
    """
    import json
    import warnings

    import keras
    import numpy as np
    from houses_tune.training.feed import fit_arguments

    def epochs(args, key, count):
        return [[float(v) for x, y in args[key] for v in np.asarray(y).reshape(-1)]
                for _ in range(count)]

    x = {"rooms": np.arange(40, dtype="float32").reshape(20, 2)}
    y = np.arange(20, dtype="float32").reshape(-1, 1)
    val = ({"rooms": np.zeros((11, 2), "float32")}, np.arange(100, 111, dtype="float32")[:, None])
    args = fit_arguments(x, y, 8, val, seed=3)
    other = fit_arguments(x, y, 8, None, seed=4)
    sizes = [int(np.asarray(y).shape[0]) for x, y in args["x"]]
    val_sizes = [int(np.asarray(y).shape[0]) for x, y in args["validation_data"]]
    rooms = keras.Input((2,), name="rooms")
    model = keras.Model({"rooms": rooms}, keras.layers.Dense(1)(rooms))
    model.compile("sgd", "mse")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(**args, epochs=1, verbose=0)
    print(json.dumps({
        "keys": sorted(args), "no_validation": other["validation_data"] is None,
        "train": epochs(args, "x", 2), "other": epochs(other, "x", 1),
        "validation": epochs(args, "validation_data", 2),
        "sizes": sizes, "val_sizes": val_sizes, "warnings": [str(w.message) for w in caught],
    }))
    """
)


def _on_tensorflow() -> dict:
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", ON_TENSORFLOW], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_tensorflow_is_fed_every_row_once_per_epoch_in_a_new_order():
    seen, again = _on_tensorflow(), _on_tensorflow()
    assert seen["keys"] == ["shuffle", "validation_data", "x"]  # batches are the pipeline's
    assert not seen["warnings"]  # Keras warns when asked to shuffle a pipeline
    first, second = seen["train"]
    assert sorted(first) == sorted(second) == list(range(20))  # every row, once
    assert first != second and first != sorted(first)  # reshuffled each epoch
    assert again["train"] == seen["train"] and seen["other"][0] != first  # the seed decides
    assert seen["sizes"] == [8, 8, 4]
    assert seen["validation"] == [list(range(100, 111))] * 2  # in order, all of them
    assert seen["val_sizes"] == [11]  # in one step, whatever the training batch
    assert seen["no_validation"]


def test_jax_is_fed_the_arrays_and_validates_in_few_steps():
    x, y = {"rooms": np.zeros((5, 2), "float32")}, np.ones((5, 1), "float32")
    args = fit_arguments(x, y, 8, None, seed=0)
    assert args == {"x": x, "y": y, "batch_size": 8, "validation_data": None,
                    "validation_batch_size": None}  # fmt: skip
    for rows, batch in ((11, 11), (VALIDATION_BATCH_SIZE + 1, VALIDATION_BATCH_SIZE)):
        validation = ({"rooms": np.zeros((rows, 2), "float32")}, np.ones((rows, 1), "float32"))
        args = fit_arguments(x, y, 8, validation, seed=0)
        assert args["validation_data"] is validation and args["validation_batch_size"] == batch
