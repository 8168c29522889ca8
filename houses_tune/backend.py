"""Import Keras (and so TensorFlow) without its start-up noise on the terminal.

TensorFlow's C++ runtime prints notices (oneDNN, "could not find cuda drivers",
a failed cuInit on machines without a GPU) straight to file descriptor 2 before
its logging is configured, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them. The
first import and the first device query run with descriptor 2 pointed at a
temporary file; what was captured is replayed if they fail.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator


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


def import_keras():
    """Import and return ``keras`` quietly (a no-op after the first time)."""
    if "keras" not in sys.modules:
        with native_stderr_quiet():
            import keras

            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                tf.config.list_physical_devices("GPU")  # where a GPU-less machine logs cuInit
        # Retracing warnings from repeated predict() calls on fresh models are not actionable.
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return sys.modules["keras"]
