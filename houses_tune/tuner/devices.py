"""Which device a search trains on: the GPU when there is one, else the CPU.

TensorFlow and JAX read ``CUDA_VISIBLE_DEVICES`` and their memory settings once,
when they start, and Keras picks its backend on import. So device selection has
two steps: :func:`prepare_environment` sets environment variables and must run
before anything imports ``keras``; :func:`select_devices` then imports the
backend, checks what it sees, turns on memory growth and sets the precision
policy.

    prepare_environment("auto")            # before keras is imported
    plan = select_devices("auto", mixed_precision=True)
    print(plan.describe(), file=sys.stderr)

Only the TensorFlow and JAX backends are supported for GPUs.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass

from houses_tune.errors import DeviceError

DEVICE_CHOICES = ("auto", "cpu", "gpu")

# Environment variables the backends read at start-up. Memory growth lets
# several worker processes share one card instead of the first grabbing it all.
_MEMORY_GROWTH_ENV = {
    "TF_FORCE_GPU_ALLOW_GROWTH": "true",
    "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
}


@dataclass(frozen=True)
class DevicePlan:
    """The devices one process trains on.

    Attributes:
        requested: What was asked for: "auto", "cpu" or "gpu".
        kind: What is used: "gpu" or "cpu".
        backend: The Keras backend ("tensorflow", "jax", ...).
        devices: Human-readable names of the devices used, e.g.
            ``("GPU:0 NVIDIA H100 80GB HBM3",)`` or ``("CPU Intel Xeon (2 cores)",)``.
        precision: The Keras dtype policy: "float32", "mixed_float16" or "mixed_bfloat16".
        cuda_visible_devices: ``CUDA_VISIBLE_DEVICES`` as this process saw it, or None.
    """

    requested: str
    kind: str
    backend: str
    devices: tuple[str, ...]
    precision: str
    cuda_visible_devices: str | None = None

    @property
    def gpu_count(self) -> int:
        """Number of GPUs this process uses."""
        return len(self.devices) if self.kind == "gpu" else 0

    def describe(self) -> str:
        """One line for the terminal, e.g. ``Device: GPU:0 NVIDIA A100 (tensorflow, float32)``."""
        return f"Device: {', '.join(self.devices)} ({self.backend}, {self.precision})"

    def to_dict(self) -> dict:
        """JSON-friendly form, recorded in run.json."""
        data = asdict(self)
        data["devices"] = list(self.devices)
        return data


def check_device(device: str) -> str:
    """Return ``device`` lower-cased, or raise DeviceError if it is not a known choice."""
    value = str(device).strip().lower()
    if value not in DEVICE_CHOICES:
        raise DeviceError(f"--device {device!r}: expected one of {', '.join(DEVICE_CHOICES)}")
    return value


def prepare_environment(device: str = "auto", env: MutableMapping[str, str] | None = None) -> None:
    """Set the variables the backends read at start-up; call before importing keras.

    ``cpu`` hides every GPU (``CUDA_VISIBLE_DEVICES=""``, and ``JAX_PLATFORMS=cpu``
    so JAX does not go looking for CUDA). GPU memory growth is switched on for
    TensorFlow and JAX unless the user set those variables already.

    Args:
        device: "auto", "cpu" or "gpu".
        env: The environment to change; ``os.environ`` by default (a dict for the
            environment of a child process).
    """
    device = check_device(device)
    env = os.environ if env is None else env
    for name, value in _MEMORY_GROWTH_ENV.items():
        env.setdefault(name, value)
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
        env["JAX_PLATFORMS"] = "cpu"


def backend_name() -> str:
    """The Keras backend this process uses (imports keras)."""
    from houses_tune.backend import import_keras

    return import_keras().backend.backend()


def list_gpus(backend: str | None = None) -> list[str]:
    """Names of the GPUs the backend can see, e.g. ``["GPU:0 NVIDIA H100 80GB HBM3"]``.

    TensorFlow: ``tf.config.list_physical_devices("GPU")`` (does not allocate memory).
    JAX: ``jax.devices()`` filtered to GPUs.
    """
    backend = backend or backend_name()
    if backend == "tensorflow":
        import tensorflow as tf

        names = []
        for index, gpu in enumerate(tf.config.list_physical_devices("GPU")):
            details = tf.config.experimental.get_device_details(gpu)
            names.append(f"GPU:{index} {details.get('device_name', gpu.name)}".strip())
        return names
    if backend == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform in ("gpu", "cuda", "rocm")]
        return [f"GPU:{d.id} {d.device_kind}" for d in gpus]
    return []


def cpu_name() -> str:
    """The CPU model and its core count, e.g. ``CPU Intel(R) Xeon(R) (2 cores)``."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"CPU {model} ({os.cpu_count()} cores)"


def precision_policy(kind: str, mixed_precision: bool) -> str:
    """The Keras dtype policy for a device kind.

    float16 is the fast type on GPUs (with loss scaling, which Keras adds at
    compile time); CPUs and TPUs compute in bfloat16, which needs no scaling.
    """
    if not mixed_precision:
        return "float32"
    return "mixed_float16" if kind == "gpu" else "mixed_bfloat16"


def training_precision(mixed_precision: bool) -> str:
    """The dtype policy a run's models train with on the device this process sees (an
    export retraining a ``--mixed-precision`` search's pipeline: bfloat16 on a CPU)."""
    return precision_policy("gpu" if list_gpus() else "cpu", mixed_precision)


@contextlib.contextmanager
def dtype_policy(name: str):
    """Keras' global dtype policy set to ``name`` inside the block, restored after it."""
    import keras

    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(policy)


def select_devices(device: str = "auto", mixed_precision: bool = False) -> DevicePlan:
    """Choose the devices for this process and configure the backend for them.

    Call :func:`prepare_environment` first (before keras is imported) so that
    ``cpu`` really hides the GPUs and memory growth takes effect.

    Args:
        device: "auto" (GPU when there is one), "cpu" or "gpu" (error without one).
        mixed_precision: Compute in float16 (GPU) or bfloat16 (CPU) with float32
            variables; models keep a float32 output layer and losses compute in float32.

    Returns:
        The plan: devices used, backend and precision policy.

    Raises:
        DeviceError: ``gpu`` was asked for and the backend sees no GPU.
    """
    device = check_device(device)
    backend = backend_name()
    gpus = [] if device == "cpu" else list_gpus(backend)
    if device == "cpu" and backend == "tensorflow":
        _hide_tensorflow_gpus()
    if device == "gpu" and not gpus:
        raise DeviceError(f"--device gpu: {_no_gpu_reason(backend)}; use --device cpu or auto")
    if gpus and backend == "tensorflow":
        _tensorflow_memory_growth()
    kind = "gpu" if gpus else "cpu"
    precision = precision_policy(kind, mixed_precision)

    import keras

    # Set float32 explicitly too, so a second search in the same process starts clean.
    keras.mixed_precision.set_global_policy(precision)
    return DevicePlan(
        requested=device,
        kind=kind,
        backend=backend,
        devices=tuple(gpus) if gpus else (cpu_name(),),
        precision=precision,
        cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
    )


def release_gpus() -> None:
    """Best effort: stop this process from using GPUs it has not touched yet.

    The chief of a distributed search only serves the oracle (and builds one
    model to learn the space); its workers need the cards.
    """
    if "tensorflow" in sys.modules:
        _hide_tensorflow_gpus()


def worker_gpus(count: int, gpu_count: int, visible: str | None = None) -> list[str | None]:
    """The ``CUDA_VISIBLE_DEVICES`` value for each of ``count`` local workers.

    Worker ``i`` sees only card ``i mod gpu_count`` (so with more workers than
    cards, cards are shared; memory growth makes that work). Card numbers are
    taken from the parent's own ``CUDA_VISIBLE_DEVICES`` when it restricts them.

    Returns:
        One entry per worker; None everywhere when there are no GPUs (the worker
        inherits the environment as it is).
    """
    if gpu_count <= 0:
        return [None] * count
    cards = [c.strip() for c in (visible or "").split(",") if c.strip()]
    cards = cards[:gpu_count] if cards else [str(i) for i in range(gpu_count)]
    return [cards[i % len(cards)] for i in range(count)]


def _hide_tensorflow_gpus() -> None:
    import tensorflow as tf

    try:
        tf.config.set_visible_devices([], "GPU")
    except (RuntimeError, ValueError):
        # Runtime already initialised: too late; CUDA_VISIBLE_DEVICES is the real switch.
        pass


def _tensorflow_memory_growth() -> None:
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (RuntimeError, ValueError):
            pass  # Already initialised; TF_FORCE_GPU_ALLOW_GROWTH covered it.


def _no_gpu_reason(backend: str) -> str:
    if backend not in ("tensorflow", "jax"):
        return f"GPU selection needs the tensorflow or jax backend, not {backend}"
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None and not hidden.strip():
        return f"no GPU visible to {backend} (CUDA_VISIBLE_DEVICES is empty)"
    return f"no GPU visible to {backend}"
