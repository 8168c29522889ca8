"""``houses-tune spaces list|show``."""

import pytest
import yaml

from houses_tune.cli import main
from houses_tune.search_spaces import PRESETS, Space, load_space


def run(capsys, *argv):
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    out, err = capsys.readouterr()
    return done.value.code, out, err


def run_ok(capsys, *argv):
    try:
        main(list(argv))
    except SystemExit as done:  # click may exit 0 explicitly
        assert done.code in (0, None)
    return capsys.readouterr()


def test_list_prints_one_line_per_preset(capsys):
    out, _ = run_ok(capsys, "spaces", "list")
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(PRESETS)
    assert lines[-1].endswith("(default)")


def test_show_preset_lists_active_hyperparameters_with_conditions(capsys):
    out, _ = run_ok(capsys, "spaces", "show", "montage")
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if "│" in line}
    assert set(rows) == {p.name for p in PRESETS["montage"].active_params()}
    assert "branched/aggregate" not in rows and "attributes/widths" not in rows
    assert "0.001 .. 0.01, log" in rows["learning_rate"]
    assert "16-32-64 | 8-16-32 | 32-64-128 | 16-32-64-128" in rows["montage/filters"]
    assert "photos/input = montage" in rows["montage/units"]
    assert "fixed: photos" in rows["modality"]


def test_show_yaml_file_and_yaml_output(capsys, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("base: mlp\nhyperparameters:\n  attributes/widths: [16-8, 32-16]\n")
    out, _ = run_ok(capsys, "spaces", "show", str(path))
    assert "mine:" in out and "16-8 | 32-16" in out
    out, _ = run_ok(capsys, "spaces", "show", "--yaml", str(path))
    assert Space.from_dict(yaml.safe_load(out)).params == load_space(path).params


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nope"], "Error: unknown space 'nope'; presets: tutorial-mlp"),
        (["bad.yaml"], "bad.yaml line 2: tile: 48 not allowed; allowed: 32, 64"),
    ],
)
def test_show_errors_exit_2_with_one_line(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text("hyperparameters:\n  tile: 48\n")
    code, out, err = run(capsys, "spaces", "show", *argv)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1
