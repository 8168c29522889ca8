"""Your own data: a CSV dataset through the whole tool.

In process (JAX): networks for 0, 1, 3 and 4 image columns, the dataset options on the
command line and their errors. In one TensorFlow subprocess (what ``--backend auto``
picks for text categories): the examples/ listings searched, exported (with the
SavedModel) and predicted from a CSV of image paths.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import keras_tuner
import numpy as np
import pandas as pd
import pytest

from houses_tune.cli import main
from houses_tune.data import DatasetOptions, ModelData, load_dataset
from houses_tune.errors import DatasetError, PredictError
from houses_tune.results.predict import read_house_table
from houses_tune.search_spaces import HousesHyperModel, load_space

ROOT = Path(__file__).resolve().parents[1]


def write_table(folder: Path, images: int, rows: int = 12) -> Path:
    """A CSV of ``rows`` items: two numbers, an integer category, ``images`` image columns
    (solid colours, 8x8 JPEGs: image k of row i has brightness 20 * k + i)."""
    folder.mkdir(parents=True, exist_ok=True)
    columns = [f"view_{k}" for k in range(1, images + 1)]
    lines = [",".join(["size", "rooms", "district", *columns, "price"])]
    for i in range(rows):
        paths = []
        for k, column in enumerate(columns, 1):
            path = f"img/{i}_{column}.jpg"
            (folder / "img").mkdir(exist_ok=True)
            cv2.imwrite(str(folder / path), np.full((8, 8, 3), 20 * k + i, np.uint8))
            paths.append(path)
        price = 1000 * (50 + 3 * i) * (1.2 if i % 2 else 1.0)
        lines.append(",".join([str(50 + 3 * i), str(1 + i % 4), str(7 + i % 2), *paths,
                               f"{price:.2f}"]))  # fmt: skip
    path = folder / "items.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("images", [0, 1, 3, 4])
def test_networks_take_any_number_of_image_columns(tmp_path, images):
    csv = write_table(tmp_path, images)
    table = load_dataset(csv, DatasetOptions(categorical=("district",)))
    assert table.schema.images == tuple(f"view_{k}" for k in range(1, images + 1))
    assert table.text_categories == []  # integer districts
    data = ModelData(table, np.arange(10))
    assert data.widths == {"categories": 2, "numbers": 2}
    layouts = [("attributes", None, None)]
    if images:
        layouts += [("mixed", "montage", None), ("photos", "branched", "concat"),
                    ("photos", "branched", "lstm")]  # fmt: skip
    for modality, photos, aggregate in layouts:
        hypermodel = HousesHyperModel(load_space("mixed"), data)
        hp = keras_tuner.HyperParameters()
        hp.values.update({"modality": modality, "tile": 8})
        if photos:
            hp.values.update({"photos/input": photos, "branched/aggregate": aggregate,
                              "branched/weights": "separate"})  # fmt: skip
        model = hypermodel.build(hp)
        x, y = hypermodel.arrays(hp, np.arange(12), model)
        if photos == "montage":  # a near-square grid: 1 -> 1x1, 3 and 4 -> 2x2 tiles
            assert x["montage"].shape[1:3] == ((8, 8) if images == 1 else (16, 16))
        elif photos == "branched":
            assert {n for n in x if n.startswith("photo_")} == {
                f"photo_view_{k}" for k in range(1, images + 1)
            }
            assert (x["photo_view_1"][3] == 20 + 3).all()  # row 3's first image
        prices = hypermodel.predict_prices(hp, model, np.arange(12))
        assert prices.shape == (12,) and np.isfinite(prices).all()


def test_a_group_filter_and_dataset_options_on_the_command_line(tmp_path, capsys):
    csv = write_table(tmp_path, 1, rows=24)
    main(["data", "info", "--dataset", str(csv), "--categorical", "district",
          "--min-group-count", "district=12"])  # fmt: skip
    out = capsys.readouterr().out
    assert "numeric      size, rooms" in out and "categorical  district" in out
    assert "images       view_1" in out and "rows         24 of 24 rows" in out
    with pytest.raises(DatasetError, match="only 0 of 24 rows have a district"):
        load_dataset(
            csv, DatasetOptions(categorical=("district",), min_group_count=("district", 13))
        )


def test_bad_dataset_options_are_one_line_errors(tmp_path, capsys, tiny_dataset):
    csv = write_table(tmp_path, 0)
    cases = [
        (["data", "info", "--dataset", str(tiny_dataset), "--target", "x"],
         "--target: for CSV datasets only"),
        (["data", "info", "--dataset", str(csv), "--min-group-count", "zip"],
         "expected COLUMN=N"),
        (["data", "info", "--dataset", str(csv), "--min-group-count", "nope=2"],
         "--min-group-count names column 'nope'"),
        (["data", "info", "--dataset", str(csv), "--categorical", "nope"],
         "--categorical names column 'nope'"),
    ]  # fmt: skip
    for argv, message in cases:
        with pytest.raises(SystemExit) as done:
            main(argv)
        err = capsys.readouterr().err
        assert done.value.code == 2
        assert message in err and err.count("\n") == 1, (argv, err)
    csv.write_text(csv.read_text().replace("size,", "floor size,", 1))
    with pytest.raises(DatasetError, match="column 'floor size': names must be letters"):
        load_dataset(csv)


def test_data_validate_lists_every_problem_of_a_csv(tmp_path, capsys, zero_height_jpeg):
    csv = write_table(tmp_path, 2)
    (tmp_path / "img" / "3_view_2.jpg").unlink()
    zero_height_jpeg(tmp_path / "img" / "5_view_1.jpg")  # only decoding finds it
    csv.write_text(csv.read_text().replace(",7,", ",,", 1))  # a missing value, line 2
    with pytest.raises(SystemExit) as done:
        main(["data", "validate", str(csv), "--categorical", "district"])
    out = capsys.readouterr().out.splitlines()
    assert done.value.code == 2
    assert out == [
        f"{csv} line 2, column district: missing value",
        f"{csv} line 5, column view_2: {tmp_path / 'img' / '3_view_2.jpg'}: photo missing",
        f"{csv} line 7, column view_1: {tmp_path / 'img' / '5_view_1.jpg'}: cannot be decoded "
        "as an image",
    ]


def test_predicting_from_a_houses_folder_needs_the_models_columns():
    columns = {"age": "number", "area": "number", "neighbourhood": "string"}
    with pytest.raises(PredictError, match="takes column.s. age, neighbourhood, which a Houses"):
        read_house_table(ROOT / "houses_tune" / "data" / "embedded", columns)


SCRIPT = """
import json, sys
from houses_tune.cli import main
for argv in json.loads(sys.argv[1]):
    try:
        main(argv)
    except SystemExit as done:
        assert not done.code, (argv, done.code)
"""


def test_listings_search_export_and_predict_end_to_end_on_tensorflow(tmp_path):
    listings = tmp_path / "listings"
    made = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_listings.py"), "--out", str(listings),
         "--rows", "24"], capture_output=True, text=True,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    new = listings / "new.csv"
    table = pd.read_csv(listings / "listings.csv")
    rows = table.drop(columns=["price"]).iloc[:3].copy()
    rows.loc[rows.index[0], "neighbourhood"] = "nowhere"  # an unseen category: a warning
    rows.to_csv(new, index=False)
    results, space = tmp_path / "results", tmp_path / "space.yaml"
    space.write_text("base: mixed\nhyperparameters:\n  modality: mixed\n  batch_size: 16\n")
    run, prices = results / "own", tmp_path / "prices.csv"
    commands = [
        ["search", "--dataset", str(listings / "listings.yaml"), "--folds", "2", "--tuner",
         "random", "--max-epochs", "1", "--budget", "4", "--space", str(space),
         "--results-dir", str(results), "--run", "own"],
        ["export", str(run), "--no-baselines", "--max-epochs", "0"],
        ["predict", str(run / "best" / "model.keras"), "--houses", str(new), "--out",
         str(prices)],
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}  # auto decides
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(commands)], env=env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "warning: neighbourhood nowhere was not in the training data" in done.stderr

    info = json.loads((run / "run.json").read_text())
    assert info["search"]["backend"] == "tensorflow"  # text categories need it
    assert info["dataset"]["schema"]["images"] == ["front", "kitchen", "garden"]
    assert info["dataset"]["schema"]["categorical"] == ["neighbourhood"]
    assert info["dataset"]["text_categories"] == ["neighbourhood"]
    metrics = json.loads((run / "best" / "metrics.json").read_text())
    assert metrics["dataset"]["group_column"] == "neighbourhood"
    assert "per-group median price" in metrics["baselines"]
    report = (run / "best" / "report.md").read_text()
    assert not re.search(r"\bhouses\b(?!-tune)", report)  # the dataset's words
    assert "6 test rows the search never saw" in report
    assert (run / "best" / "saved_model" / "saved_model.pb").is_file()  # and it agreed
    exported = pd.read_csv(run / "best" / "predictions.csv")
    assert list(exported.columns) == ["id", "area", "age", "neighbourhood", "price",
                                      "predicted", "error_pct"]  # fmt: skip
    predicted = pd.read_csv(prices)
    assert list(predicted.columns) == ["id", "area", "age", "neighbourhood", "predicted_price"]
    assert len(predicted) == 3 and (predicted["predicted_price"] > 0).all()
    # Text categories and JAX: refused up front, with the way out.
    for argv in (["export", str(run), "--backend", "jax", "--no-baselines", "--max-epochs", "0"],
                 ["search", "--dataset", str(listings / "listings.yaml"), "--backend", "jax",
                  "--budget", "4", "--dry-run", "--results-dir", str(results)]):  # fmt: skip
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 2
