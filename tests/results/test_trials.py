"""``houses-tune trials``: table and JSON listings, best first."""

import json

import pytest
from rich.console import Console

from houses_tune.cli import main
from houses_tune.results.trials import format_hyperparameters, trials_json, trials_table
from houses_tune.run import FoldRecord, TrialRecord, write_json_atomic

FOLDS = (FoldRecord(1, 20.25, 3, 4), FoldRecord(2, 22.75, 2, 4, stopped_early=True))
RECORDS = [
    TrialRecord("0004", "completed", 21.5, 3, 4, 1.25, FOLDS,
                {"modality": "mixed", "learning_rate": 0.0012345}),
    TrialRecord("0001", "completed", 30.0, 2, 2, hyperparameters={"modality": "attributes"}),
    TrialRecord("0002", "failed", None, None, 1, hyperparameters={"modality": "photos"},
                message="loss became nan"),
]  # fmt: skip


def test_table_lists_every_column():
    console = Console(width=200, record=True)
    console.print(trials_table(RECORDS, title="run"))
    text = console.export_text()
    lines = [line for line in text.splitlines() if line.startswith("│")]
    assert "0004" in lines[0] and "21.50 ± 1.25" in lines[0] and "20.2 22.8" in lines[0]
    assert "learning_rate=0.001234" in lines[0]
    assert "failed" in text and "loss became nan" in text


def test_table_shows_brackets_as_text():
    record = TrialRecord("0003", "failed", None, None, 1, hyperparameters={"act": "x[bold]y"},
                         message="ValueError: expected [batch, 3], got [/x]")  # fmt: skip
    console = Console(width=200, record=True)
    console.print(trials_table([record], title="run [1]"))
    text = console.export_text()
    assert "act=x[bold]y" in text and "expected [batch, 3], got [/x]" in text
    assert "run [1]" in text


def test_json_is_best_first():
    data = json.loads(trials_json(RECORDS))
    assert [d["trial_id"] for d in data] == ["0004", "0001", "0002"]
    assert data[0]["hyperparameters"] == {"modality": "mixed", "learning_rate": 0.0012345}
    assert [f["score"] for f in data[0]["folds"]] == [20.25, 22.75] and data[0]["score_std"] == 1.25


def test_format_hyperparameters():
    assert format_hyperparameters({"a": 1, "b": 0.30000000000000004}) == "a=1  b=0.3"


@pytest.fixture
def run(tmp_path):
    folder = tmp_path / "run"
    for trial_id, score in (("0", 40.0), ("1", 25.0), ("2", 33.0)):
        (folder / "tuner" / f"trial_{trial_id}").mkdir(parents=True)
        state = {"trial_id": trial_id, "status": "COMPLETED", "score": score, "best_step": 0,
                 "hyperparameters": {"space": [], "values": {"lr": score / 1000}}}  # fmt: skip
        (folder / "tuner" / f"trial_{trial_id}" / "trial.json").write_text(json.dumps(state))
        history = {"score": score, "score_std": 0.0,
                   "folds": [{"fold": 1, "score": score, "best_epoch": 1, "epoch": 1}]}  # fmt: skip
        (folder / "tuner" / f"trial_{trial_id}" / "history.json").write_text(json.dumps(history))
    write_json_atomic(folder / "run.json", {"status": "finished", "search": {}})
    return folder


def test_trials_command(run, capsys):
    main(["trials", str(run), "--json", "--top", "2"])
    data = json.loads(capsys.readouterr().out)
    assert [d["trial_id"] for d in data] == ["1", "2"]
    main(["trials", str(run)])
    out = capsys.readouterr().out
    assert out.index("25.00") < out.index("33.00") < out.index("40.00")


def test_trials_command_on_a_non_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["trials", str(tmp_path)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().startswith("Error: ")
