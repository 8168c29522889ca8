"""The serving wrapper: raw inputs in, dollars out, identical to the training pipeline."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from houses_tune.data import ModelData, load_houses
from houses_tune.results import serving


@pytest.fixture
def data(tiny_dataset):
    houses = load_houses(tiny_dataset, min_zip_count=0)
    return ModelData(houses, np.arange(30))


def _pipeline_prices(trained, data, frame, rows, tile, transform):
    """What the search pipeline predicts: Preprocessor + montage + model + inverse."""
    arrays = data.inputs(rows, tile)
    arrays["attributes"] = data.preprocessor.attributes(frame)
    names = serving.serving_input_names(trained)
    y = trained.predict({name: arrays[name] for name in names}, verbose=0)
    return data.transform(transform).inverse(y.reshape(-1))


@pytest.mark.parametrize(("branched", "transform"), [(False, "max_scale"), (True, "log")])
def test_serving_model_matches_training_pipeline(data, trained_model, branched, transform):
    tile = 8
    trained = trained_model(data.n_attributes, tile, branched=branched)
    model = serving.build_serving_model(trained, data.preprocessor, data.transform(transform))
    rows = np.arange(40)  # 10 houses outside the fit rows: values outside [0, 1] too
    frame = data.houses.frame.iloc[rows].copy()
    frame.loc[frame.index[:3], "zipcode"] = 99999  # unseen: all-zero one-hot, as in training
    expected = _pipeline_prices(trained, data, frame, rows, tile, transform)
    photos = data.houses.photos(tile)[rows]
    got = model.predict(serving.raw_inputs(model, frame, photos), verbose=0).reshape(-1)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_attribute_and_photo_only_models_take_only_their_inputs(data, trained_model):
    attributes_only = serving.build_serving_model(
        trained_model(data.n_attributes, None), data.preprocessor, data.transform("log")
    )
    photos_only = serving.build_serving_model(
        trained_model(None, 8), data.preprocessor, data.transform("log")
    )
    assert sorted(serving.serving_input_names(attributes_only)) == [
        "area", "bathrooms", "bedrooms", "zipcode",
    ]  # fmt: skip
    assert serving.photo_tile(attributes_only) is None
    assert sorted(serving.serving_input_names(photos_only)) == [
        "bathroom", "bedroom", "frontal", "kitchen",
    ]  # fmt: skip
    assert serving.photo_tile(photos_only) == 8
    assert serving.zip_vocabulary(attributes_only) == data.preprocessor.zip_vocabulary
    assert serving.zip_vocabulary(photos_only) == []


def test_saved_files_reload_safely_and_agree(data, trained_model, tmp_path):
    trained = trained_model(data.n_attributes, 8)
    model = serving.build_serving_model(trained, data.preprocessor, data.transform("max_scale"))
    rows = np.arange(len(data.houses))
    inputs = serving.raw_inputs(model, data.houses.frame.iloc[rows], data.houses.photos(8)[rows])
    expected = model.predict(inputs, verbose=0).reshape(-1)

    model.save(tmp_path / "model.keras")
    reloaded = serving.load_exported_model(tmp_path / "model.keras")
    # load_exported_model uses safe_mode=True; loading plainly with it must work too.
    keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(inputs, verbose=0).reshape(-1), expected, 1e-6)

    serving.export_saved_model(reloaded, tmp_path / "saved_model")
    saved = serving.saved_model_prices(tmp_path / "saved_model", inputs)
    assert np.max(np.abs(saved - expected) / expected) < 1e-4


def test_inverse_target_layer():
    y = np.array([[0.5], [1.0]], dtype="float32")
    np.testing.assert_allclose(serving.InverseTarget("max_scale", 1000.0)(y), [[500.0], [1000.0]])
    np.testing.assert_allclose(serving.InverseTarget("log")(y), np.exp(y), rtol=1e-6)
    with pytest.raises(ValueError):
        serving.InverseTarget("sqrt")
