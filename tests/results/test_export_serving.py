"""The serving model: raw inputs in, dollars out, identical to the training pipeline; a bag
of networks averages them in log-price space."""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest

from houses_tune.data import ATTRIBUTE_INPUTS, ROOMS, ModelData, load_houses
from houses_tune.results import serving
from houses_tune.results.saved_model import write_saved_model


@pytest.fixture
def data(tiny_dataset):
    houses = load_houses(tiny_dataset, min_zip_count=0)
    return ModelData(houses, np.arange(30))


def _pipeline_prices(trained, data, rows, tile, transform, frame=None):
    """What the search pipeline predicts: preprocessing + montage + network + inverse."""
    names = serving.serving_input_names(trained)
    arrays = data.inputs(rows, [n for n in names if n == "montage" or "photo_" in n], tile)
    frame = data.table.frame.iloc[rows] if frame is None else frame
    arrays.update(data.preprocessor.encode(frame))
    y = trained.predict({name: arrays[name] for name in names}, verbose=0)
    return data.transform(transform).inverse(y.reshape(-1))


@pytest.mark.parametrize(
    ("branched", "transform", "area"),
    [(False, "max_scale", "skewed"), (True, "log", "log_skewed"), (False, "log", "log_skewed")],
)
def test_serving_model_matches_training_pipeline(data, trained_model, branched, transform, area):
    tile = 8
    trained = trained_model(data.widths["categories"], tile, branched=branched, area=area)
    model = serving.build_serving_model([(trained, data.transform(transform))], data.preprocessor)
    rows = np.arange(40)  # 10 houses outside the fit rows: values outside [0, 1] too
    frame = data.table.frame.iloc[rows].copy()
    frame.loc[frame.index[:3], "zipcode"] = 99999  # unseen: all-zero one-hot, as in training
    expected = _pipeline_prices(trained, data, rows, tile, transform, frame)
    photos = data.table.photos(tile)[rows]
    got = model.predict(serving.raw_inputs(model, frame, photos, ROOMS), verbose=0).reshape(-1)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_a_bag_is_the_geometric_mean_of_its_members(data, trained_model):
    members = [
        (trained_model(data.widths["categories"], None, seed=1), data.transform("log")),
        (
            trained_model(data.widths["categories"], None, area="log_skewed", seed=2),
            data.transform("max_scale"),
        ),
        (trained_model(data.widths["categories"], None, seed=3), data.transform("max_scale")),
    ]
    bag = serving.build_serving_model(members, data.preprocessor)
    assert len(serving.members(bag)) == 3
    rows = np.arange(40)
    each = [_pipeline_prices(net, data, rows, None, t.name) for net, t in members]
    frame = data.table.frame.iloc[rows]
    got = bag.predict(serving.raw_inputs(bag, frame), verbose=0).reshape(-1)
    expected = np.exp(np.mean(np.log(each), axis=0))  # the mean in log-price space
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(serving.bag_prices(each), expected, rtol=1e-12)


def test_members_with_different_photo_sizes_cannot_be_bagged(data, trained_model):
    members = [(trained_model(None, 8), data.transform("log")),
               (trained_model(None, 16), data.transform("log"))]  # fmt: skip
    with pytest.raises(ValueError, match="different sizes"):
        serving.build_serving_model(members, data.preprocessor)


def test_attribute_and_photo_only_models_take_only_their_inputs(data, trained_model):
    attributes_only = serving.build_serving_model(
        [(trained_model(data.widths["categories"], None), data.transform("log"))], data.preprocessor
    )
    photos_only = serving.build_serving_model(
        [(trained_model(None, 8), data.transform("log"))], data.preprocessor
    )
    assert sorted(serving.serving_input_names(attributes_only)) == [
        "area", "bathrooms", "bedrooms", "zipcode",
    ]  # fmt: skip
    assert serving.photo_tile(attributes_only, 4) is None
    assert sorted(serving.serving_input_names(photos_only)) == [
        "bathroom", "bedroom", "frontal", "kitchen",
    ]  # fmt: skip
    assert serving.photo_tile(photos_only, 4) == 8
    known = {"zipcode": data.preprocessor.vocabularies["zipcode"]}
    assert serving.vocabularies(attributes_only) == known
    assert serving.vocabularies(photos_only) == {}
    assert set(ATTRIBUTE_INPUTS) >= {"categories", "numbers", "skewed"}


def test_a_bag_reloads_safely_in_a_fresh_process_and_its_saved_model_agrees(
    data, trained_model, tmp_path
):
    members = [
        (trained_model(data.widths["categories"], 8, seed=s), data.transform("log")) for s in (1, 2)
    ]
    model = serving.build_serving_model(members, data.preprocessor)
    rows = np.arange(len(data.table))
    inputs = serving.raw_inputs(
        model, data.table.frame.iloc[rows], data.table.photos(8)[rows], ROOMS
    )
    expected = model.predict(inputs, verbose=0).reshape(-1)
    model.save(tmp_path / "model.keras")
    np.savez(tmp_path / "inputs.npz", **inputs)
    np.save(tmp_path / "expected.npy", expected)
    # Nothing from the search (its losses, metrics) may be needed to load the shipped file.
    code = (
        "import sys, keras, numpy as np, houses_tune.results.serving\n"
        "model = keras.saving.load_model(sys.argv[1], safe_mode=True)\n"
        "assert 'houses_tune.search_spaces.metrics' not in sys.modules\n"
        "got = model.predict(dict(np.load(sys.argv[2])), verbose=0).reshape(-1)\n"
        "np.testing.assert_allclose(got, np.load(sys.argv[3]), rtol=1e-6)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "model.keras"), str(tmp_path / "inputs.npz"),
         str(tmp_path / "expected.npy")], capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    # On JAX the SavedModel is written by a TensorFlow subprocess from model.keras.
    assert keras.config.backend() == "jax"
    saved = write_saved_model(tmp_path / "model.keras", tmp_path / "saved_model", inputs)
    assert np.max(np.abs(saved - expected) / expected) < 1e-4
    assert (tmp_path / "saved_model" / "saved_model.pb").is_file()


def test_the_log_price_layers():
    y = np.array([[0.5], [1.0]], dtype="float32")
    np.testing.assert_allclose(serving.LogPrice("max_scale", 1000.0)(y), np.log([[500], [1000]]),
                               rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(serving.LogPrice("log")(y), y)
    np.testing.assert_allclose(serving.LogPrice("max_scale", 1000.0)(-y), 0.0)  # floor: $1
    np.testing.assert_allclose(serving.Exp()(y), np.exp(y), rtol=1e-6)
    with pytest.raises(ValueError):
        serving.LogPrice("sqrt")
