"""Faults around a search in a real ``python -m houses_tune search`` process: signals, a full
disk, a read-only results folder, kills between state writes. Each search resumes after it."""

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
