"""Faults around a search in a real ``python -m houses_tune search`` process: signals, a full
disk, a read-only results folder, kills between state writes. Each search resumes after it."""

import json
import signal

import pytest

from houses_tune.run import RunDir


def _scores(run: RunDir) -> dict:
    return {r.trial_id: r.score for r in run.trials() if r.status == "completed"}


@pytest.mark.parametrize(
    ("signum", "cause"), [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")]
)
def test_an_interrupted_search_exits_130_and_resumes_with_every_finished_trial(
    signum, cause, search, search_settings, search_process, wait_for
):
    settings = search_settings("24")  # 4 trials of 2 epochs on 3 folds
    process = search_process(settings)
    wait_for(settings.results_dir / "run" / "tuner" / "trial_0000" / "history.json", process)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)

    # 130, not 0: `houses-tune search ... && houses-tune export ...` stops here.
    assert process.returncode == 130, err
    assert "Interrupted. Resume with: houses-tune search --resume --run run" in err
    assert "Traceback" not in err
    run = RunDir(settings.results_dir / "run")
    assert run.settings["status"] == "interrupted"
    assert run.settings["message"] == f"interrupted by {cause}"
    before = _scores(run)
    assert "0000" in before

    resumed = search(search_settings("24", resume=True))
    assert resumed.status == "finished" and resumed.completed == 4
    assert {k: v for k, v in _scores(RunDir(resumed.run_dir)).items() if k in before} == before


# --- A full disk, a read-only folder ----------------------------------------------------


def _error_line(err: str) -> str:
    """The one ``Error:`` line of a failed command: no traceback, no noise from native code."""
    for noise in ("Traceback", "Exception ignored", "Segmentation", "Warning:"):
        assert noise not in err, err
    errors = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, err
    return errors[0]


def _stopped_by_full_disk(process, settings, path) -> None:
    """The search ``process`` ended with exit 2 and one line: ``path`` could not be written,
    the run is interrupted, and how to resume it."""
    _, err = process.communicate(timeout=180)
    assert process.returncode == 2, err
    results = settings.results_dir
    assert _error_line(err) == (
        f"Error: cannot write {path}: File too large; run run is interrupted: make room, "
        f"then: houses-tune search --resume --run run --results-dir {results}"
    )


def _two_trials_then_ctrl_c(search, settings, monkeypatch) -> dict:
    """Search until two trials ended, then stop as Ctrl-C does; their scores."""
    from houses_tune.tuner.monitor import SearchMonitor

    trial_end = SearchMonitor.trial_end

    def ctrl_c_after_two_trials(self, trial):
        trial_end(self, trial)
        if len(self.trials) == 2:
            signal.raise_signal(signal.SIGINT)

    with monkeypatch.context() as patch:
        patch.setattr(SearchMonitor, "trial_end", ctrl_c_after_two_trials)
        assert search(settings).status == "interrupted"
    return _scores(RunDir(settings.results_dir / settings.run))


def _resume_keeps(search, search_settings, before: dict) -> RunDir:
    """Resume the run to its end: every planned trial completes, ``before``'s are kept."""
    resumed = search(search_settings("24", resume=True))
    run = RunDir(resumed.run_dir)
    assert resumed.status == "finished"
    assert [r.status for r in run.trials()] == ["completed"] * 4
    assert {k: v for k, v in _scores(run).items() if k in before} == before
    return run


def test_a_full_disk_while_a_checkpoint_is_written_interrupts_the_search_and_loses_nothing(
    search, search_settings, search_process, monkeypatch
):
    before = _two_trials_then_ctrl_c(search, search_settings("24"), monkeypatch)
    settings = search_settings("24", resume=True)
    # Checkpoints are about 35 KB, the JSON state and the logs a few KB.
    process = search_process(settings, "--resume", file_size_limit=16 * 1024)
    run = settings.results_dir / "run"
    checkpoint = run / "tuner" / "trial_0002" / "fold_1.weights.h5"
    _stopped_by_full_disk(process, settings, checkpoint)
    folder = RunDir(run)
    assert folder.settings["status"] == "interrupted"
    assert folder.settings["message"] == f"cannot write {checkpoint}: File too large"
    # The trial being trained is not failed for good: a resume re-runs it.
    assert {r.trial_id: r.status for r in folder.trials()} == {
        "0000": "completed", "0001": "completed", "0002": "interrupted"
    }  # fmt: skip
    assert _scores(folder) == before
    assert not list(run.rglob(".*.tmp.*"))  # no temporary file left
    _resume_keeps(search, search_settings, before)


def test_a_full_disk_while_tensorboard_logs_are_written_interrupts_the_search(
    search, search_settings, search_process
):
    settings = search_settings("24")
    # Once oracle.json records that trial 0001 started, no file may grow: the next write is
    # the start of its TensorBoard session.
    process = search_process(settings, fault=("full", "oracle.json", "ongoing_trials=0001"))
    run = settings.results_dir / "run"
    _stopped_by_full_disk(process, settings, run / "tensorboard" / "0001")
    folder = RunDir(run)
    assert folder.status == "interrupted"  # run.json could not say so; its lock is free
    assert {r.trial_id: r.status for r in folder.trials()} == {
        "0000": "completed", "0001": "interrupted"
    }  # fmt: skip
    _resume_keeps(search, search_settings, _scores(folder))


def test_a_full_disk_while_the_tuners_state_is_saved_keeps_the_ended_trial(
    search, search_settings, search_process
):
    settings = search_settings("24")
    # Trial 0000's trial.json says it completed; the next write, oracle.json's, fails. In
    # place (as KerasTuner writes it) oracle.json would be left empty, and no resume could
    # read it.
    process = search_process(settings, fault=("full", "trial_0000/trial.json", "status=COMPLETED"))
    tuner = settings.results_dir / "run" / "tuner"
    _stopped_by_full_disk(process, settings, tuner / "oracle.json")
    assert json.loads((tuner / "oracle.json").read_text())["ongoing_trials"] == {"tuner0": "0000"}
    history = (tuner / "trial_0000" / "history.json").read_bytes()
    before = _scores(RunDir(settings.results_dir / "run"))
    assert list(before) == ["0000"]

    _resume_keeps(search, search_settings, before)
    assert (tuner / "trial_0000" / "history.json").read_bytes() == history  # not re-run


def test_a_full_disk_while_a_trial_is_recorded_leaves_its_trial_json_whole(
    search, search_settings, search_process
):
    settings = search_settings("24")
    # Trial 0000's folds are trained and its history.json written; the next write is
    # KerasTuner's trial.json with the trial's score. In place it would be left empty.
    process = search_process(settings, fault=("full", "trial_0000/history.json", "folds_planned=3"))
    trial_json = settings.results_dir / "run" / "tuner" / "trial_0000" / "trial.json"
    _stopped_by_full_disk(process, settings, trial_json)
    assert json.loads(trial_json.read_text())["status"] == "RUNNING"  # whole, not torn
    _resume_keeps(search, search_settings, {})


# Nearly full: the space's copy (2.1 KB) still fits, run.json (3 KB) does not.
@pytest.mark.parametrize(
    ("disk", "failing"),
    [({"fault": ("full-at-start",)}, ".lock"), ({"file_size_limit": 2560}, "run.json")],
    ids=["full", "nearly-full"],
)
def test_a_full_disk_when_a_search_starts_is_one_line_and_leaves_nothing(
    disk, failing, search_settings, search_process
):
    settings = search_settings("24")
    process = search_process(settings, **disk)
    out, err = process.communicate(timeout=180)

    assert process.returncode == 2, err
    assert out == ""
    run = settings.results_dir / "run"
    assert _error_line(err) == f"Error: cannot write {run / failing}: File too large"
    assert not settings.results_dir.exists()  # not even a folder holding .lock


def test_a_read_only_results_folder_is_one_line_and_leaves_nothing(
    search_settings, search_process, tmp_path, plain_user
):
    results = tmp_path / "read-only"
    results.mkdir()
    results.chmod(0o555)
    settings = search_settings("24", results_dir=results)
    try:
        process = search_process(settings, python=plain_user)
        out, err = process.communicate(timeout=180)
    finally:
        results.chmod(0o755)

    assert process.returncode == 2, err
    assert out == ""
    assert _error_line(err) == f"Error: cannot write {results / 'run'}: Permission denied"
    assert list(results.iterdir()) == []


# --- kill -9 between two state writes ---------------------------------------------------


@pytest.mark.parametrize(
    ("tail", "condition"),
    [
        # trial.json says the trial ended; oracle.json still has it running.
        ("trial_0000/trial.json", "status=COMPLETED"),
        # oracle.json says it ended (and still lists it as ongoing); tuner0.json is not
        # written yet, on the first trial of a search.
        ("oracle.json", "end_order=0000"),
        # A new trial's trial.json is written; oracle.json never learned of the trial.
        ("trial_0001/trial.json", "status=RUNNING"),
    ],
    ids=["trial-ended", "oracle-ended", "trial-started"],
)
def test_a_kill_9_between_two_state_writes_resumes_without_rerunning_or_losing_a_trial(
    tail, condition, search, search_settings, search_process
):
    settings = search_settings("24")
    process = search_process(settings, fault=("kill", tail, condition))
    _, err = process.communicate(timeout=180)
    assert process.returncode == -signal.SIGKILL, err
    history = settings.results_dir / "run" / "tuner" / "trial_0000" / "history.json"
    ended = history.read_bytes()
    before = _scores(RunDir(settings.results_dir / "run"))
    assert list(before) == ["0000"]

    run = _resume_keeps(search, search_settings, before)
    assert sorted(r.trial_id for r in run.trials()) == ["0000", "0001", "0002", "0003"]
    assert history.read_bytes() == ended  # the trial that ended is not run again
