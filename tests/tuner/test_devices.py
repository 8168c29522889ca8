"""Device selection: GPU when there is one, --device cpu|gpu, mixed precision, worker cards.

This machine has no GPU: the GPU paths are checked through their errors and through
the environment handed to worker processes.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from houses_tune.errors import DeviceError
from houses_tune.tuner import devices
from houses_tune.tuner.devices import (
    check_device,
    precision_policy,
    prepare_environment,
    select_devices,
    worker_gpus,
)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", "JAX_PLATFORMS")
    }
    env.update(OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3", **extra)
    return env


def test_cpu_hides_every_gpu_before_the_backend_starts():
    env: dict[str, str] = {}
    prepare_environment("cpu", env)
    assert env["CUDA_VISIBLE_DEVICES"] == ""
    assert env["JAX_PLATFORMS"] == "cpu"
    # Memory growth, so that several workers can share one card.
    assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"


def test_auto_keeps_the_gpus_and_the_users_own_settings():
    env = {
        "CUDA_VISIBLE_DEVICES": "1",
        "JAX_PLATFORMS": "cpu",
        "TF_FORCE_GPU_ALLOW_GROWTH": "false",
    }
    prepare_environment("auto", env)
    assert env["CUDA_VISIBLE_DEVICES"] == "1"
    assert env["JAX_PLATFORMS"] == "cpu"
    assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "false"


def test_unknown_device_is_a_one_line_error():
    with pytest.raises(DeviceError, match="expected one of auto, cpu, gpu"):
        check_device("tpu")
    assert check_device(" GPU ") == "gpu"


def test_precision_policies():
    assert precision_policy("gpu", False) == "float32"
    assert precision_policy("gpu", True) == "mixed_float16"
    assert precision_policy("cpu", True) == "mixed_bfloat16"


def test_each_local_worker_gets_its_own_card():
    assert worker_gpus(2, 0) == [None, None]
    assert worker_gpus(4, 2) == ["0", "1", "0", "1"]
    # Card numbers follow the chief's own CUDA_VISIBLE_DEVICES.
    assert worker_gpus(3, 2, visible="2,5") == ["2", "5", "2"]


def test_local_workers_get_their_card_and_device(tmp_path):
    from houses_tune.tuner.distributed.local import local_workers

    workers = local_workers(tmp_path, "127.0.0.1:9", 2, "gpu", ["0", "1"])
    assert [w.env["CUDA_VISIBLE_DEVICES"] for w in workers] == ["0", "1"]
    assert [w.tuner_id for w in workers] == ["tuner0", "tuner1"]
    assert workers[1].command[-4:] == ["--tuner-id", "tuner1", "--device", "gpu"]
    assert "KERASTUNER_TUNER_ID" not in workers[0].env  # the worker command sets it
    cpu = local_workers(tmp_path, "127.0.0.1:9", 1, "cpu", [None])
    assert cpu[0].env["CUDA_VISIBLE_DEVICES"] == ""


def test_select_devices_on_this_machine(monkeypatch):
    monkeypatch.setattr(devices, "list_gpus", lambda backend=None: [])
    plan = select_devices("auto")
    assert plan.kind == "cpu" and plan.gpu_count == 0
    assert plan.devices[0].startswith("CPU ")
    assert plan.precision == "float32"
    assert plan.describe().startswith("Device: CPU ")
    assert plan.to_dict()["devices"] == list(plan.devices)
    with pytest.raises(DeviceError, match="--device gpu: no GPU visible to"):
        select_devices("gpu")


def test_gpu_plan_when_the_backend_sees_one(monkeypatch):
    import keras

    monkeypatch.setattr(devices, "list_gpus", lambda backend=None: ["GPU:0 Fake 80GB"])
    monkeypatch.setattr(devices, "_tensorflow_memory_growth", lambda: None)
    try:
        plan = select_devices("auto", mixed_precision=True)
        assert (plan.kind, plan.gpu_count, plan.devices) == ("gpu", 1, ("GPU:0 Fake 80GB",))
        assert keras.mixed_precision.dtype_policy().name == "mixed_float16"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_mixed_precision_keeps_the_output_and_the_loss_in_float32(make_houses_folder, tmp_path):
    """Every preset under mixed_bfloat16 (the CPU policy): float32 output and loss, one step."""
    import keras
    import keras_tuner
    import numpy as np

    from houses_tune.data import ModelData, load_houses
    from houses_tune.search_spaces import PRESETS, HousesHyperModel
    from houses_tune.training import train_fold

    houses = load_houses(make_houses_folder(tmp_path, n=16), min_zip_count=0)
    data = ModelData(houses, np.arange(8))
    plan = select_devices("cpu", mixed_precision=True)
    assert plan.precision == "mixed_bfloat16"
    checked = 0
    try:
        for name, space in PRESETS.items():
            if space.backbones:  # tests/search_spaces/test_backbones.py
                continue
            hypermodel = HousesHyperModel(space, data)
            hp = keras_tuner.HyperParameters()
            model, result = train_fold(hypermodel, hp, 1, np.arange(8), np.arange(8, 16), 1)
            # The hidden layers do compute in bfloat16 (the policy outlives clear_session).
            dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
            hidden = [layer for layer in dense if layer.name != "price"]
            assert all(layer.compute_dtype == "bfloat16" for layer in hidden), name
            checked += len(hidden)
            assert model.get_layer("price").compute_dtype == "float32", name
            assert model.outputs[0].dtype == "float32", name
            assert model.loss.dtype == "float32", name
            assert np.isfinite(result.history["loss"][0]), name
        assert checked > 10  # the MLPs', the conv nets' and the heads' dense layers
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_device_gpu_without_a_gpu_exits_2_with_one_line(tiny_dataset, tmp_path):
    results = tmp_path / "results"
    command = [
        sys.executable, "-m", "houses_tune", "search", "--dataset", str(tiny_dataset),
        "--budget", "20", "--min-zip-count", "10", "--results-dir", str(results),
        "--device", "gpu",
    ]  # fmt: skip
    env = _clean_env()
    if os.path.exists("/dev/nvidia0"):
        env["CUDA_VISIBLE_DEVICES"] = ""  # a machine with a GPU: hide it for this test
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1
    assert lines[0].startswith("Error: --device gpu: no GPU visible to jax")
    assert lines[0].endswith("; use --device cpu or auto")
    assert not results.exists()  # nothing written


def test_cli_does_not_import_a_backend():
    """--device cpu must act before TensorFlow/JAX start: the CLI imports neither."""
    code = (
        "import sys, houses_tune.cli\n"
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=_clean_env(), capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
