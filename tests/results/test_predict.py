"""``houses-tune predict`` on raw CSVs and dataset folders."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from houses_tune.cli import main
from houses_tune.data import ROOMS
from houses_tune.results.predict import read_house_table
from houses_tune.results.serving import raw_inputs


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as done:
        code = done.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def photo_model(tmp_path, tiny_dataset, export_model):
    return export_model(tmp_path, tiny_dataset, tile=8)


def test_csv_with_unseen_zip_warns_and_predicts(photo_model, tiny_dataset, tmp_path, capsys):
    path, model, data = photo_model
    houses = tmp_path / "new.csv"
    houses.write_text("id,bedrooms,bathrooms,area,zipcode\n1,3,2,1500,11111\n2,4,2.5,2100,99999\n")
    out = tmp_path / "out.csv"
    code, _, err = run_cli(
        capsys, "predict", path, "--houses", houses, "--images", tiny_dataset, "--out", out
    )
    assert code == 0, err
    assert "warning: zip code 99999" in err
    result = pd.read_csv(out)
    assert list(result.columns) == [
        "id",
        "bedrooms",
        "bathrooms",
        "area",
        "zipcode",
        "predicted_price",
    ]
    # Same prices as the model on the same photos (houses 1 and 2 of the dataset).
    frame = pd.read_csv(houses)
    expected = model.predict(raw_inputs(model, frame, data.table.photos(8)[:2], ROOMS), verbose=0)
    np.testing.assert_allclose(result["predicted_price"], expected.reshape(-1), rtol=1e-5)


def test_missing_photo_is_one_line_naming_the_house(photo_model, tiny_dataset, tmp_path, capsys):
    houses = tmp_path / "new.csv"
    houses.write_text("id,bedrooms,bathrooms,area,zipcode\n1,3,2,1500,11111\n77,3,2,1500,11111\n")
    code, out, err = run_cli(
        capsys, "predict", photo_model[0], "--houses", houses, "--images", tiny_dataset
    )
    assert code == 2
    where = f"{tmp_path / 'new.csv'} line 3 (house 77)"
    assert err == f"Error: {where}: {tiny_dataset / '77_bathroom.jpg'}: photo missing\n"
    assert out == ""


def test_a_photo_whose_name_differs_in_case_gets_a_hint(photo_model, tmp_path, capsys):
    import shutil

    images = tmp_path / "photos"
    shutil.copytree(photo_model[2].table.source, images)
    (images / "1_frontal.jpg").rename(images / "1_frontal.JPG")
    houses = tmp_path / "new.csv"
    houses.write_text("id,bedrooms,bathrooms,area,zipcode\n1,3,2,1500,11111\n")
    code, out, err = run_cli(
        capsys, "predict", photo_model[0], "--houses", houses, "--images", images
    )
    assert (code, out) == (2, "")
    assert err == (
        f"Error: {tmp_path / 'new.csv'} line 2 (house 1): {images / '1_frontal.jpg'}: "
        "photo missing (found 1_frontal.JPG: "
        "photo names are case-sensitive; rename it to 1_frontal.jpg)\n"
    )


def test_bad_row_is_one_line_naming_the_house(photo_model, tiny_dataset, tmp_path, capsys):
    houses = tmp_path / "new.csv"
    houses.write_text("id,bedrooms,bathrooms,area,zipcode\n1,3,2,1500,11111\n5,three,2,1500,1\n")
    code, _, err = run_cli(
        capsys, "predict", photo_model[0], "--houses", houses, "--images", tiny_dataset
    )
    assert code == 2
    assert err.count("\n") == 1
    assert "line 3 (house 5): bedrooms is not a number: 'three'" in err


def test_dataset_folder_uses_line_numbers_and_its_own_photos(photo_model, tiny_dataset, capsys):
    path, model, data = photo_model
    code, out, err = run_cli(capsys, "predict", path, "--houses", tiny_dataset)
    assert code == 0, err
    result = pd.read_csv(io.StringIO(out))
    assert result["id"].tolist() == list(range(1, 41))
    frame = data.table.frame
    expected = model.predict(raw_inputs(model, frame, data.table.photos(8), ROOMS), verbose=0)
    np.testing.assert_allclose(result["predicted_price"], expected.reshape(-1), rtol=1e-5)


def test_attribute_only_model_needs_no_photos(tmp_path, tiny_dataset, export_model, capsys):
    path, _, _ = export_model(tmp_path, tiny_dataset, tile=None)
    houses = tmp_path / "new.csv"
    houses.write_text("bedrooms,bathrooms,area,zipcode\n3,2,1500,11111\n")
    code, out, err = run_cli(capsys, "predict", path, "--houses", houses)
    assert code == 0, err
    assert out.splitlines()[0] == "bedrooms,bathrooms,area,zipcode,predicted_price"


def test_photo_model_needs_images_and_ids(photo_model, tiny_dataset, tmp_path, capsys):
    houses = tmp_path / "new.csv"
    houses.write_text("bedrooms,bathrooms,area,zipcode\n3,2,1500,11111\n")
    code, _, err = run_cli(capsys, "predict", photo_model[0], "--houses", houses)
    assert code == 2 and "--images" in err
    code, _, err = run_cli(
        capsys, "predict", photo_model[0], "--houses", houses, "--images", tiny_dataset
    )
    assert code == 2 and "id column" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bedrooms,area,zipcode\n3,1500,1\n", "missing column(s) bathrooms"),
        ("bedrooms,bathrooms,area,zipcode\n3,2,0,1\n", "line 2: area must be positive"),
        ("bedrooms,bathrooms,area,zipcode\n3,2,10,1.5\n", "zipcode is not a whole number"),
    ],
)
def test_read_house_table_errors(tmp_path, text, message):
    from houses_tune.errors import PredictError

    path = tmp_path / "houses.csv"
    path.write_text(text)
    with pytest.raises(PredictError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_house_table(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # pandas took a row with one value too many as an index and shifted every value.
        (
            "id,bedrooms,bathrooms,area,zipcode\n7,3,2,1500,11111,5\n",
            "line 2 (house 7): expected 5",
        ),
        ("id,bedrooms,bathrooms,area,zipcode\n1,3,2,1500,1\n2,3,2,15,1,8,9\n", "line 3 (house 2)"),
        ("bedrooms,bathrooms,area,zipcode\n3,2,1500\n", "line 2: expected 4 values"),
        # Blank lines count: the bad value is on line 5 of the file.
        ("id,bedrooms,bathrooms,area,zipcode\n1,3,2,1500,1\n\n\n2,3,2,x,1\n", "line 5 (house 2)"),
        ("id,bedrooms,bathrooms,area,zipcode\n", "no houses"),
    ],
)
def test_read_house_table_row_errors_name_the_line(tmp_path, text, message):
    from houses_tune.errors import PredictError

    path = tmp_path / "houses.csv"
    path.write_text(text)
    with pytest.raises(PredictError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_house_table(path)


def test_read_house_table_not_utf8_dataset_info(tmp_path):
    from houses_tune.errors import PredictError

    (tmp_path / "HousesInfo.txt").write_bytes(b"3 2 1000 11111\n\xff\xfe 2\n")
    with pytest.raises(PredictError, match="HousesInfo.txt: not a text file"):
        read_house_table(tmp_path)


def test_header_only_csv_and_unwritable_out_are_one_line_errors(
    tmp_path, tiny_dataset, export_model, capsys
):
    path, _, _ = export_model(tmp_path, tiny_dataset, tile=None)
    houses = tmp_path / "new.csv"
    houses.write_text("bedrooms,bathrooms,area,zipcode\n")
    code, out, err = run_cli(capsys, "predict", path, "--houses", houses)
    assert (code, out, err.count("\n")) == (2, "", 1) and "no houses" in err
    houses.write_text("bedrooms,bathrooms,area,zipcode\n3,2,1500,11111\n")
    code, out, err = run_cli(
        capsys, "predict", path, "--houses", houses, "--out", tmp_path / "no" / "x.csv"
    )
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert err.startswith(f"Error: {tmp_path / 'no' / 'x.csv'}: cannot write")


@pytest.fixture
def log_price_model(tmp_path, tiny_dataset, trained_model):
    """An attribute model on the raw area with a log-price target: a huge area makes its
    ln(price) huge, so its price overflows to infinity."""
    from houses_tune.data import ModelData, load_houses
    from houses_tune.results.serving import build_serving_model

    houses = load_houses(tiny_dataset, min_zip_count=0)
    data = ModelData(houses, np.arange(len(houses)))
    network = trained_model(data.widths["categories"], None)
    model = build_serving_model([(network, data.transform("log"))], data.preprocessor)
    path = tmp_path / "model.keras"
    model.save(path)
    return path, houses.frame


def test_training_ranges_are_read_back_from_the_scaling_layers(log_price_model):
    from houses_tune.results.serving import load_exported_model, training_ranges

    path, frame = log_price_model
    ranges = training_ranges(load_exported_model(path))
    for name in ("bedrooms", "bathrooms", "area"):
        assert ranges[name] == pytest.approx((frame[name].min(), frame[name].max()), rel=1e-5)


def test_a_value_far_outside_the_training_range_warns_naming_the_house_and_column(
    tmp_path, log_price_model, capsys
):
    path, frame = log_price_model
    low, high = frame["area"].min(), frame["area"].max()
    houses = tmp_path / "new.csv"
    near, far = high + 0.5 * (high - low), high + 3 * (high - low)
    houses.write_text(
        f"id,bedrooms,bathrooms,area,zipcode\na1,3,2,{near:.0f},11111\na2,3,2,{far:.0f},11111\n"
    )
    code, out, err = run_cli(capsys, "predict", path, "--houses", houses)
    assert code == 0, err
    assert err == (
        f"warning: {houses} line 3 (house a2): area {far:,.6g} is far outside the range the "
        f"model was trained on ({low:,.6g} to {high:,.6g}); its price is an extrapolation\n"
    )
    assert len(pd.read_csv(io.StringIO(out))) == 2  # both houses are still predicted


def test_a_price_that_is_not_finite_is_an_error_naming_the_house(tmp_path, log_price_model, capsys):
    from houses_tune.results.serving import load_exported_model, training_ranges

    path, _ = log_price_model
    houses = tmp_path / "new.csv"
    houses.write_text("id,bedrooms,bathrooms,area,zipcode\na1,3,2,1500,11111\na2,3,2,1e30,11111\n")
    out_file = tmp_path / "prices.csv"
    code, out, err = run_cli(capsys, "predict", path, "--houses", houses, "--out", out_file)
    assert code == 2 and out == "" and not out_file.exists()
    low, high = training_ranges(load_exported_model(path))["area"]
    assert err == (
        f"Error: {houses} line 3 (house a2): the predicted price is not finite (inf): area "
        f"1e+30 is far outside the range the model was trained on ({low:,.6g} to {high:,.6g})\n"
    )


def test_a_file_that_is_not_a_keras_model_says_so(tmp_path, tiny_dataset, capsys):
    model = tmp_path / "model.keras"
    model.write_text("not a model\n")
    code, out, err = run_cli(capsys, "predict", model, "--houses", tiny_dataset)
    assert (code, out) == (2, "")
    assert err == (
        f"Error: {model}: not a Keras model file (an exported model.keras is a zip archive)\n"
    )
