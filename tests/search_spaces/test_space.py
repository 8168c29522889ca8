"""Spaces as data: presets, narrowing, YAML files and their errors (no Keras needed)."""

import json

import pytest

from houses_tune.errors import SpaceError
from houses_tune.objective import MAPE
from houses_tune.search_spaces import CATALOGUE, PRESETS, Space, load_space
from houses_tune.search_spaces.space import narrow, parse_tuple

TUTORIALS = ("tutorial-mlp", "tutorial-cnn", "tutorial-mixed")


def write(tmp_path, text, name="space.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_presets_and_objective():
    assert list(PRESETS) == [
        *TUTORIALS,
        "linear",
        "mlp",
        "backbone",
        "montage",
        "branched",
        "mixed",
    ]
    assert MAPE.monitor == "val_price_mape"
    assert load_space("mixed") is PRESETS["mixed"]
    mixed = PRESETS["mixed"]
    fixed = {name for name, p in mixed.params.items() if p.is_fixed}
    # 32-pixel photos and the log-price target; a space file may widen both (below).
    assert fixed == {"tile", "target_transform"} and mixed["target_transform"].default == "log"
    assert mixed["loss"].values == ("huber", "mae")
    assert (mixed["learning_rate"].min, mixed["learning_rate"].max) == (1e-3, 1e-2)
    # Attribute MLPs keep hidden layers; the linear model is the `linear` preset.
    assert mixed["attributes/widths"].values == ("8-4", "16-8", "32-16", "64-32")
    linear = {p.name: p.default for p in PRESETS["linear"].active_params() if p.is_fixed}
    assert linear["attributes/widths"] == "none" and linear["head/units"] == 0
    with pytest.raises(SpaceError, match=r"tile: 64 not allowed in space 'mixed' \(fixed: 32\)"):
        PRESETS["mixed"].check_values({"tile": 64})


@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_presets_fix_everything_to_the_tutorial_training(name):
    space = PRESETS[name]
    assert all(p.is_fixed for p in space.active_params())
    training = {p.name: p.default for p in space.active_params()}
    assert training["loss"] == "mape" and training["optimizer"] == "adam"
    assert training["learning_rate"] == 1e-3 and training["batch_size"] == 8
    assert training["target_transform"] == "max_scale"


def test_active_params_follow_conditions():
    def names(space):
        return {p.name for p in PRESETS[space].active_params()}

    assert not any(n.startswith(("montage/", "branched/", "photos/")) for n in names("mlp"))
    assert "tile" not in names("mlp")
    assert not any(n.startswith(("branched/", "attributes/")) for n in names("montage"))
    assert not any(n.startswith(("montage/", "attributes/")) for n in names("branched"))
    # Backbones need weights (--weights): only their own preset has them.
    assert names("mixed") == {n for n in CATALOGUE if not n.startswith("backbone/")}
    assert not any(n.startswith(("montage/", "branched/")) for n in names("backbone"))
    assert {"backbone/network", "backbone/aggregate", "attributes/widths"} < names("backbone")
    # Frozen by default: fine-tuning's own learning rate is not searched.
    assert "backbone/fine_tune_learning_rate" not in names("backbone")


def test_tuples_are_encoded_as_strings():
    assert parse_tuple("16-32-64") == (16, 32, 64)
    assert narrow(CATALOGUE["montage/filters"], [[8, 16, 32]]).values == ("8-16-32",)


def test_yaml_fixes_subsets_and_narrows(tmp_path):
    path = write(
        tmp_path,
        """
base: mixed
hyperparameters:
  modality: photos
  montage/filters: [8-16-32, [16, 32, 64]]
  learning_rate: {min: 3e-4, max: 0.003}
  montage/batch_norm: false
  batch_size: {values: [16, 32], default: 32}
""",
    )
    space = load_space(path)
    assert space.name == "space" and space.source == str(path)
    assert space["modality"].is_fixed and space["modality"].default == "photos"
    assert space["montage/filters"].values == ("8-16-32", "16-32-64")
    assert space["montage/filters"].default == "16-32-64"
    assert (space["learning_rate"].min, space["learning_rate"].max) == (0.0003, 0.003)
    assert space["learning_rate"].default == 1e-3
    assert space["montage/batch_norm"].default is False
    assert space["batch_size"].values == (16, 32) and space["batch_size"].default == 32
    assert not space.can_be_active("attributes/widths")


def test_yaml_base_preset_and_widening(tmp_path):
    space = load_space(write(tmp_path, "base: tutorial-cnn\nhyperparameters:\n  tile: [32, 64]\n"))
    assert space["tile"].values == (32, 64)
    assert space["montage/filters"].default == "16-32-64" and space["montage/filters"].is_fixed
    text = "base: mlp\nhyperparameters:\n  attributes/widths: [none, 32-16]\n"
    assert load_space(write(tmp_path, text))["attributes/widths"].values == ("none", "32-16")


def test_space_round_trips_through_json(tmp_path):
    space = load_space(write(tmp_path, "hyperparameters:\n  head/dropout: {min: 0.1, max: 0.3}\n"))
    again = Space.from_dict(json.loads(json.dumps(space.to_dict())))
    assert again.params == space.params and again.name == space.name
    for preset in PRESETS.values():
        assert Space.from_dict(preset.to_dict()).params == preset.params


def test_check_values():
    space = PRESETS["tutorial-mlp"]
    space.check_values({"modality": "attributes", "learning_rate": 1e-3})
    with pytest.raises(SpaceError, match="modality: 'photos' not allowed"):
        space.check_values({"modality": "photos"})
    with pytest.raises(SpaceError, match="unknown hyperparameter 'nope'"):
        space.check_values({"nope": 1})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("base: mixed\nhyperparameters:\n  modality: [photos\n", r"line \d+: malformed YAML"),
        (
            "hyperparameters:\n  tile: 32\n  nope: 3\n",
            r"line 3: unknown hyperparameter 'nope'; valid: modality, tile, target_transform",
        ),
        ("hyperparameters:\n  tile: 48\n", "line 2: tile: 48 not allowed; allowed: 32, 64"),
        (
            "hyperparameters:\n  loss: [mape, rmse]\n",
            "loss: 'rmse' not allowed; allowed: mape, mae, huber, mse, msle",
        ),
        (
            "hyperparameters:\n  learning_rate: {min: 0.00001}\n",
            r"learning_rate: 1e-05 outside the range; allowed: 0.0001 .. 0.1",
        ),
        ("hyperparameters:\n  learning_rate: 0.5\n", "learning_rate: 0.5 not allowed"),
        ("hyperparameters:\n  learning_rate: {min: 0.005, max: 0.001}\n", "min 0.005 is above max"),
        ("hyperparameters:\n  learning_rate: {low: 0.001}\n", "unknown key 'low'"),
        ("hyperparameters:\n  batch_size: []\n", "batch_size: empty list"),
        ("hyperparameters:\n  batch_size: {values: [8], default: 16}\n", "default 16 is not among"),
        ("hyperparameters:\n  montage/batch_norm: 1\n", "1 not allowed; allowed: true, false"),
        ("base: huge\n", "line 1: unknown base 'huge'; presets: tutorial-mlp"),
        ("bas: mixed\n", "line 1: unknown key 'bas'; valid: base, name"),
        ("- modality\n", "expected a mapping"),
        ("", "expected a mapping"),
        ("hyperparameters: [tile]\n", "'hyperparameters' must be a mapping"),
        # Wrong types used to end in a TypeError traceback.
        ("base: [mixed]\n", r"line 1: unknown base \['mixed'\]"),
        ("1: x\nbas: y\n", "unknown key 1; valid: base"),
        ("hyperparameters:\n  learning_rate: {1: 2, x: 3}\n", "unknown key 1"),
        ("hyperparameters:\n  montage/filters: [[null]]\n", "line 2: montage/filters: int()"),
    ],
)
def test_yaml_errors_are_one_line_and_name_the_file(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(SpaceError, match=message) as error:
        load_space(path)
    text = error.value.format_message()
    assert text.startswith(str(path)) and "\n" not in text


def test_unknown_preset_and_missing_file(tmp_path):
    with pytest.raises(SpaceError, match="unknown space 'nope'; presets: tutorial-mlp"):
        load_space("nope")
    with pytest.raises(SpaceError, match="missing.yaml: cannot read"):
        load_space(tmp_path / "missing.yaml")


def test_yaml_null_range_end_keeps_the_full_range(tmp_path):
    space = load_space(write(tmp_path, "hyperparameters:\n  learning_rate: {min: null}\n"))
    assert (space["learning_rate"].min, space["learning_rate"].max) == (1e-4, 1e-1)


def test_a_space_drops_the_modalities_a_dataset_cannot_feed():
    mixed = load_space("mixed")
    assert mixed.for_data(attributes=True, images=True) is mixed
    no_images = mixed.for_data(attributes=True, images=False)
    assert [m for m in ("attributes", "photos", "mixed") if no_images.can_take("modality", m)] == [
        "attributes"
    ]
    assert not no_images.has_photos
    only_images = mixed.for_data(attributes=False, images=True)
    assert {
        m for m in ("attributes", "photos", "mixed") if only_images.can_take("modality", m)
    } == {"photos"}
    with pytest.raises(SpaceError, match="no image columns"):
        load_space("tutorial-mixed").for_data(attributes=True, images=False)
