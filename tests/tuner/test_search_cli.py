"""``houses-tune search`` flag validation, ``--dry-run`` and ``board``, without training."""

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from houses_tune.cli import main
from houses_tune.run import RunLock, write_json_atomic
from houses_tune.tuner.distributed.environment import free_port


def _run(argv, capsys):
    """Run the CLI; return (exit code, stdout, stderr)."""
    try:
        main(argv)
        code = 0
    except SystemExit as done:
        code = done.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget", "0"], "at least 1 epoch"),
        (["--budget", "lots"], "neither a number of epochs"),
        (["--budget", "0m"], "longer than 0 seconds"),
        (["--budget", "5", "--space", "nope"], "unknown space 'nope'"),
        (["--budget", "5", "--tuner", "grid"], "'grid' is not one of"),
        (["--budget", "5", "--dataset", "/no/such/folder"], "does not exist"),
        (["--budget", "5", "--max-epochs", "0"], "--max-epochs"),
        (["--budget", "5", "--factor", "1"], "--factor"),
        (["--budget", "5", "--val-size", "0"], "--val-size"),
        (
            ["--budget", "5", "--val-size", "0.3"],
            "--val-size sets the validation split of --folds 1",
        ),
        (["--budget", "5", "--folds", "0"], "--folds"),
        (["--budget", "4"], "less than one epoch for each of the 5 fold models"),
        (["--budget", "5", "--patience", "0"], "--patience"),
        (["--budget", "5", "--min-epochs", "0"], "--min-epochs"),
        (["--budget", "5", "--backend", "torch"], "'torch' is not one of"),
        (["--budget", "5", "--run", "a/b"], "a run name is a plain folder name"),
        (["--budget", "5", "--run", "/abs/path"], "a run name is a plain folder name"),
        (["--budget", "5", "--run", ".."], "a run name is a plain folder name"),
        ([], "--budget is required"),
        (["--budget", "5", "--run", "x", "--resume", "--overwrite"], "either --resume or"),
        (["--resume"], "--resume needs --run"),
        (["--budget", "5", "--run", "missing", "--resume"], "not a run to resume"),
        (["--budget", "5", "--listen", "nowhere"], "expected HOST:PORT"),
        (["--budget", "5", "--space", "backbone"], "pass --weights imagenet (Keras downloads"),
        (["--budget", "5", "--space", "backbone", "--weights", "/no/such"], "not a folder"),
        (
            ["--budget", "5", "--space", "backbone", "--weights", "."],
            "no weights for efficientnet_b0 (expected efficientnetb0_notop.h5",
        ),
    ],
)
def test_bad_flags_exit_2_with_one_line_and_write_nothing(args, message, tmp_path, capsys):
    results = tmp_path / "results"
    code, out, err = _run(["search", "--results-dir", str(results), *args], capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("Error: ") and err.count("\n") == 1 and message in err
    assert not results.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["search", "--budget", "5", "--seed", "-1"],
            "'--seed': -1 is not in the range 0<=x<=2147483647",
        ),
        (["search", "--budget", "5", "--val-seed", str(2**31)], "'--val-seed': 2147483648 is not"),
        (["data", "info", "--val-seed", "-1"], "'--val-seed': -1 is not in the range"),
        (["export", "no-such-run", "--seed", "-2"], "'--seed': -2 is not in the range"),
        (["board", "no-such-run", "--port", "0"], "'--port': 0 is not in the range 1<=x<=65535"),
    ],
)
def test_out_of_range_values_are_refused_by_the_option_before_any_work(argv, message, capsys):
    code, out, err = _run(argv, capsys)
    assert code == 2 and out == ""
    assert err.startswith("Error: ") and err.count("\n") == 1 and message in err


def test_help_shows_the_range_of_seeds_and_ports(capsys):
    assert "0<=x<=2147483647" in _run(["search", "--help"], capsys)[1]
    assert "1<=x<=65535" in _run(["board", "--help"], capsys)[1]


def test_existing_run_needs_resume_or_overwrite(tmp_path, capsys):
    (tmp_path / "results" / "old").mkdir(parents=True)
    code, _, err = _run(["search", "--budget", "5", "--results-dir", str(tmp_path / "results"),
                         "--run", "old"], capsys)  # fmt: skip
    assert code == 2 and "use --resume to continue it or --overwrite" in err


def test_a_run_in_use_is_refused_before_any_work(tmp_path, capsys):
    results = tmp_path / "results"
    (results / "busy").mkdir(parents=True)
    with RunLock(results / "busy"):
        code, _, err = _run(["search", "--budget", "5", "--results-dir", str(results),
                             "--run", "busy", "--overwrite"], capsys)  # fmt: skip
    # One line: no device line, so nothing (not even Keras) was loaded first.
    assert code == 2 and err.startswith("Error: ") and err.count("\n") == 1
    assert "in use by another search" in err


def test_a_file_in_place_of_the_run_folder_is_an_error(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "run").write_text("not a folder")
    code, _, err = _run(["search", "--budget", "5", "--results-dir", str(tmp_path / "results"),
                         "--run", "run", "--overwrite"], capsys)  # fmt: skip
    assert code == 2 and err == f"Error: {tmp_path}/results/run is a file, not a run folder\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--chief", "nowhere"], "expected HOST:PORT"), (["--tuner-id", "chief-1"], "--tuner-id")],
)
def test_worker_bad_flags_exit_2_before_any_work(args, message, tmp_path, capsys):
    code, out, err = _run(["worker", "--run-dir", str(tmp_path), *args], capsys)
    assert code == 2 and out == ""
    assert err.startswith("Error: ") and err.count("\n") == 1 and message in err


def test_dry_run_prints_the_plan_on_stdout(tmp_path, capsys):
    results = tmp_path / "results"
    code, out, _ = _run(["search", "--budget", "1000", "--dry-run", "--results-dir", str(results)],
                        capsys)  # fmt: skip
    assert code == 0
    assert "max_epochs=26, min_epochs=3" in out and "Total: 12 trials, at most 960 epochs" in out
    code, out, _ = _run(["search", "--budget", "200", "--folds", "1", "--min-epochs", "1",
                         "--dry-run", "--results-dir", str(results)], capsys)  # fmt: skip
    assert code == 0 and "Total: 30 trials, at most 196 epochs" in out
    assert not results.exists()


def _run_folder_with_logs(tmp_path):
    run = tmp_path / "run"
    (run / "tensorboard").mkdir(parents=True)
    write_json_atomic(run / "run.json", {"status": "finished", "search": {}})
    return run


class FakeTensorBoard:
    """Stands in for the TensorBoard process: records its command line, exits at once."""

    launched: list = []

    def __init__(self, command, **kwargs):
        self.launched.append(command)
        self.stderr = io.StringIO("")

    def wait(self, timeout=None):
        return 0

    poll = wait


def test_board_starts_tensorboard_on_localhost(tmp_path, capsys, monkeypatch):
    run = _run_folder_with_logs(tmp_path)
    FakeTensorBoard.launched = []
    monkeypatch.setattr(subprocess, "Popen", FakeTensorBoard)
    code, out, _ = _run(["board", str(run), "--port", "6123"], capsys)
    assert code == 0
    command = FakeTensorBoard.launched[0]
    assert command[1:3] == ["-m", "tensorboard.main"]
    assert command[command.index("--logdir") + 1] == str(run / "tensorboard")
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "6123"
    assert "http://127.0.0.1:6123/" in out


def test_board_refuses_a_port_in_use_with_one_line_before_starting_tensorboard(
    tmp_path, capsys, monkeypatch
):
    run = _run_folder_with_logs(tmp_path)
    FakeTensorBoard.launched = []
    monkeypatch.setattr(subprocess, "Popen", FakeTensorBoard)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = _run(["board", str(run), "--port", str(port)], capsys)
    assert code == 2 and out == "" and FakeTensorBoard.launched == []
    assert err == (
        f"Error: port {port} on 127.0.0.1 is in use (another TensorBoard?); choose another "
        "with --port\n"
    )


def test_sigterm_stops_board_and_its_tensorboard_without_native_noise(tmp_path):
    run = _run_folder_with_logs(tmp_path)
    port = free_port()
    board = subprocess.Popen(
        [sys.executable, "-m", "houses_tune", "board", str(run), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    children = []
    try:
        deadline = time.monotonic() + 120
        while not _accepts(port):  # TensorBoard serves
            assert board.poll() is None, board.communicate()
            assert time.monotonic() < deadline, "TensorBoard did not start"
            time.sleep(0.2)
        children = _children(board.pid)
        assert children, "TensorBoard is not board's child"
        board.send_signal(signal.SIGTERM)
        out, err = board.communicate(timeout=30)
    finally:
        for pid in children:  # a TensorBoard left behind must not outlive the test
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if board.poll() is None:
            board.kill()
    assert board.returncode == 0
    assert not any(_alive(pid) for pid in children)
    assert not _accepts(port)
    assert f"at http://127.0.0.1:{port}/" in out
    for noise in ("cuInit", "cuda", "oneDNN", "absl"):
        assert noise not in err


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:  # the field after the state is the parent's pid
                found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_board_refuses_a_non_run(tmp_path, capsys):
    code, _, err = _run(["board", str(tmp_path)], capsys)
    assert code == 2 and "not a houses-tune run" in err
