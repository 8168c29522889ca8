import os
import subprocess
import sys

import pytest

from houses_tune.backend import native_stderr_quiet


def test_importing_keras_prints_nothing():
    code = "from houses_tune.backend import import_keras; import_keras()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == ""


def test_native_output_is_hidden_when_the_block_succeeds(capfd):
    with native_stderr_quiet():
        os.write(2, b"native notice\n")
    assert "native notice" not in capfd.readouterr().err


def test_native_output_is_replayed_when_the_block_fails(capfd):
    with pytest.raises(RuntimeError), native_stderr_quiet():
        os.write(2, b"why it failed\n")
        raise RuntimeError("boom")
    assert "why it failed" in capfd.readouterr().err
