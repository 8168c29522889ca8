"""Which Keras backend runs the models, and importing Keras without start-up noise.

Keras picks its backend when it is first imported (``KERAS_BACKEND``), so commands
choose one with :func:`use_backend` before anything imports ``keras``. ``auto`` takes what
``benchmarks/trial_cost.py`` measured faster on a CPU for the space at hand: JAX for
attribute networks (an epoch 15 times faster), TensorFlow when the space can build photo
networks (its convolutions 1.3 to 2 times faster; photo trials are most of such a
search's time). The README has the figures. With JAX, compiled programs are kept in a
persistent cache on disk, so the fold models of a trial, and later trials of the same
architecture, skip XLA's compile.

TensorFlow's C++ runtime prints notices (oneDNN, "could not find cuda drivers", a failed
cuInit on machines without a GPU) straight to file descriptor 2 before its logging is
configured, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them. The first import and the first
device query run with descriptor 2 pointed at a temporary file; what was captured is
replayed if they fail.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

from houses_tune.errors import BackendError

BACKENDS = ("auto", "tensorflow", "jax")


@contextlib.contextmanager
def native_stderr_quiet() -> Iterator[None]:
    """Hide what native code writes to stderr inside the block, unless the block raises."""
    sys.stderr.flush()
    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # an import hook that refuses it
        return False


def resolve_backend(requested: str, photos: bool = False) -> str:
    """The backend ``requested`` means here.

    ``auto`` is the backend of an already imported Keras, else ``KERAS_BACKEND`` if set,
    else TensorFlow for a space with photo networks (``photos``) and JAX for one without,
    whichever of the two is installed.
    """
    if requested != "auto":
        return requested
    if "keras" in sys.modules:
        return sys.modules["keras"].config.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    preferred, other = ("tensorflow", "jax") if photos else ("jax", "tensorflow")
    return preferred if installed(preferred) else other


def use_backend(requested: str, photos: bool = False, flag: str = "--backend") -> str:
    """Make Keras start with ``requested`` (resolved); call before Keras is imported.

    Returns:
        The backend name.

    Raises:
        BackendError: The backend is not installed, or Keras already runs another one.
    """
    name = resolve_backend(requested, photos)
    if not installed(name):
        raise BackendError(f"{flag} {name}: {name} is not installed (pip install {name})")
    if "keras" in sys.modules and sys.modules["keras"].config.backend() != name:
        running = sys.modules["keras"].config.backend()
        raise BackendError(f"{flag} {name}: this process already runs Keras on {running}")
    os.environ["KERAS_BACKEND"] = name
    return name


def jax_cache_dir() -> str:
    """Where JAX keeps compiled programs (beside the photo cache)."""
    from houses_tune.data.photos import cache_dir

    return str(cache_dir() / "jax")


def import_keras():
    """Import and return ``keras`` quietly (a no-op after the first time)."""
    if "keras" not in sys.modules:
        with native_stderr_quiet():
            import keras

            # keras.utils.set_random_seed imports TensorFlow when it is installed, whatever
            # the backend: import it here, where its start-up notices are hidden.
            if installed("tensorflow"):
                import tensorflow as tf

                tf.config.list_physical_devices("GPU")  # where a GPU-less machine logs cuInit
        # Retracing warnings from repeated predict() calls on fresh models are not actionable.
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    keras = sys.modules["keras"]
    if keras.config.backend() == "jax":
        _persistent_jax_cache()
    return keras


def _persistent_jax_cache() -> None:
    import warnings

    import jax

    # The serving model's zip code input is int64 (as in the SavedModel); JAX computes it
    # in int32, which holds every zip code.
    warnings.filterwarnings("ignore", message="Explicitly requested dtype int64")
    # A cache entry that cannot be written, or was cut short by a full disk, costs a compile.
    warnings.filterwarnings(
        "ignore", message="Error (writing|reading) persistent compilation cache entry"
    )

    if jax.config.jax_compilation_cache_dir is None:
        jax.config.update("jax_compilation_cache_dir", jax_cache_dir())
        # Cache every program: a trial's small models compile in well under a second each,
        # which is most of what an attribute model's trial costs.
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
