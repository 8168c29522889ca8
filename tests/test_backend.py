"""Choosing the Keras backend before Keras starts, and importing it without noise."""

import os
import subprocess
import sys

import pytest

from houses_tune.backend import native_stderr_quiet, resolve_backend, use_backend
from houses_tune.errors import BackendError


def test_importing_keras_prints_nothing():
    code = "from houses_tune.backend import import_keras; import_keras()"
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    for backend in ("jax", "tensorflow"):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, env={**env, "KERAS_BACKEND": backend})  # fmt: skip
        assert done.stderr == "", backend


def test_auto_is_jax_when_installed_unless_keras_backend_says_otherwise():
    code = ("from houses_tune.backend import use_backend; chosen = use_backend('auto'); "
            "import keras; print(chosen, keras.config.backend())")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env=env)  # fmt: skip
    assert done.stdout.split() == ["jax", "jax"]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={**env, "KERAS_BACKEND": "tensorflow"})  # fmt: skip
    assert done.stdout.split() == ["tensorflow", "tensorflow"]


def test_auto_prefers_tensorflow_for_photo_networks_and_jax_for_attribute_ones(monkeypatch):
    import sys as system

    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.delitem(system.modules, "keras", raising=False)  # as before Keras starts
    assert resolve_backend("auto", photos=True) == "tensorflow"
    assert resolve_backend("auto", photos=False) == "jax"
    assert resolve_backend("tensorflow", photos=False) == "tensorflow"
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert resolve_backend("auto", photos=True) == "jax"  # the variable is honoured


def test_a_backend_other_than_the_running_one_is_refused():
    import keras

    running = keras.config.backend()
    assert resolve_backend("auto") == running == use_backend(running)
    other = "tensorflow" if running == "jax" else "jax"
    with pytest.raises(BackendError, match=f"--backend {other}: this process already runs"):
        use_backend(other)


def test_native_output_is_hidden_when_the_block_succeeds(capfd):
    with native_stderr_quiet():
        os.write(2, b"native notice\n")
    assert "native notice" not in capfd.readouterr().err


def test_native_output_is_replayed_when_the_block_fails(capfd):
    with pytest.raises(RuntimeError), native_stderr_quiet():
        os.write(2, b"why it failed\n")
        raise RuntimeError("boom")
    assert "why it failed" in capfd.readouterr().err
