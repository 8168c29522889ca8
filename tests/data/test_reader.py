"""Reading, validating and filtering dataset folders; every bad input gives one clear error."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from houses_tune.data import ROOMS, check_folder, load_houses, validate_folder
from houses_tune.data.photos import cache_dir
from houses_tune.errors import DatasetError


def test_reads_tiny_dataset(tiny_dataset):
    houses = load_houses(tiny_dataset, min_zip_count=0)
    frame = houses.frame
    assert len(houses) == houses.total == 40
    assert list(frame.columns) == ["house", "bedrooms", "bathrooms", "area", "zipcode", "price"]
    assert frame["house"].tolist() == list(range(1, 41))
    assert frame["zipcode"].dtype == np.int64 and frame["price"].dtype == np.float64
    assert houses.source.is_absolute() and len(houses.fingerprint) == 64


def test_zip_filter_keeps_big_zips(make_houses_folder, tmp_path):
    folder = make_houses_folder(tmp_path, n=45, zips=(11111, 11111, 22222))  # 30 / 15
    houses = load_houses(folder, min_zip_count=20)
    assert (houses.total, len(houses)) == (45, 30)
    assert set(houses.frame["zipcode"]) == {11111}
    assert list(houses.frame.index) == list(range(30))
    assert houses.frame["house"].iloc[1] == 2  # house numbers survive the filter


def test_fingerprint_is_content_key(tiny_dataset, tmp_path):
    copy = Path(shutil.copytree(tiny_dataset, tmp_path / "a copy with spaces"))
    assert load_houses(copy, 0).fingerprint == load_houses(tiny_dataset, 0).fingerprint
    (copy / "3_kitchen.jpg").write_bytes((copy / "4_kitchen.jpg").read_bytes())
    assert load_houses(copy, 0).fingerprint != load_houses(tiny_dataset, 0).fingerprint


def _replace_line(folder: Path, number: int, text: str) -> None:
    info = folder / "HousesInfo.txt"
    lines = info.read_text().splitlines()
    lines[number - 1] = text
    info.write_text("\n".join(lines) + "\n")


BAD_INPUTS = {
    "missing info": (lambda f: (f / "HousesInfo.txt").unlink(), "no HousesInfo.txt"),
    "columns": (
        lambda f: _replace_line(f, 3, "3 2 1500 11111"),
        "HousesInfo.txt line 3: expected 5 columns, found 4",
    ),
    "non-numeric": (
        lambda f: _replace_line(f, 5, "3 2 1500 11111 cheap"),
        "HousesInfo.txt line 5: price is not a number: 'cheap'",
    ),
    "zero price": (
        lambda f: _replace_line(f, 6, "3 2 1500 11111 0"),
        "HousesInfo.txt line 6: price must be positive",
    ),
    "negative area": (
        lambda f: _replace_line(f, 7, "3 2 -1500 11111 200000"),
        "HousesInfo.txt line 7: area must be positive",
    ),
    "missing photo": (
        lambda f: (f / "7_kitchen.jpg").unlink(),
        "7_kitchen.jpg (house 7): photo missing",
    ),
    "garbage photo": (
        lambda f: (f / "8_frontal.jpg").write_bytes(b"not an image at all"),
        "8_frontal.jpg (house 8): not a JPEG file",
    ),
    "truncated photo": (
        lambda f: (f / "9_bedroom.jpg").write_bytes((f / "9_bedroom.jpg").read_bytes()[:-20]),
        "9_bedroom.jpg (house 9): truncated JPEG",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_line_error_naming_the_place(tiny_dataset, case):
    damage, message = BAD_INPUTS[case]
    damage(tiny_dataset)
    with pytest.raises(DatasetError) as caught:
        load_houses(tiny_dataset, min_zip_count=0)
    text = caught.value.format_message()
    assert message in text and "\n" not in text
    assert str(tiny_dataset) in text
    assert validate_folder(tiny_dataset) == [text]  # the same single problem


def test_undecodable_photo_raises_and_caches_nothing(tiny_dataset, zero_height_jpeg):
    zero_height_jpeg(tiny_dataset / "5_bathroom.jpg")
    houses = load_houses(tiny_dataset, min_zip_count=0)  # structure is fine
    before = set(cache_dir().glob("*")) if cache_dir().exists() else set()
    with pytest.raises(DatasetError, match=r"5_bathroom\.jpg \(house 5\): cannot be decoded"):
        houses.photos(16)
    after = set(cache_dir().glob("*")) if cache_dir().exists() else set()
    assert after == before
    assert validate_folder(tiny_dataset, decode=False) == []
    assert len(validate_folder(tiny_dataset)) == 1


def test_validate_lists_every_problem(tiny_dataset):
    _replace_line(tiny_dataset, 2, "x 2 1500 11111 -5")
    _replace_line(tiny_dataset, 4, "1 2")
    (tiny_dataset / "10_bedroom.jpg").unlink()
    problems = validate_folder(tiny_dataset)
    assert len(problems) == 4
    assert "line 2: bedrooms is not a number" in problems[0]
    assert "line 2: price must be positive" in problems[1]
    assert "line 4: expected 5 columns" in problems[2]
    assert problems[3] == f"{tiny_dataset / '10_bedroom.jpg'} (house 10): photo missing"
    _replace_line(tiny_dataset, 2, "1 2 1500 11111 5")
    _replace_line(tiny_dataset, 4, "1 2 1500 11111 5")
    with pytest.raises(DatasetError, match=r"^\S+10_bedroom\.jpg \(house 10\): photo missing$"):
        load_houses(tiny_dataset, 0)


def test_load_error_counts_further_problems(tiny_dataset):
    for house in (3, 4, 5):
        (tiny_dataset / f"{house}_{ROOMS[0]}.jpg").unlink()
    with pytest.raises(DatasetError, match=r"and 2 more; `houses-tune data validate`"):
        load_houses(tiny_dataset, 0)


def test_filter_leaving_too_few_houses(tiny_dataset):
    with pytest.raises(DatasetError) as caught:
        load_houses(tiny_dataset, min_zip_count=25)
    text = caught.value.format_message()
    assert f"{tiny_dataset}: only 0 of 40 rows" in text and "--min-group-count" in text


def test_missing_folder_and_bad_filter(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        load_houses(tmp_path / "nope")
    with pytest.raises(DatasetError, match="min_zip_count"):
        load_houses(tmp_path, min_zip_count=-1)


def test_implausible_values_are_warnings_naming_the_line_and_the_data_is_used(tiny_dataset):
    info = tiny_dataset / "HousesInfo.txt"
    _replace_line(tiny_dataset, 5, "3 2 1500 11111 1000000000000")
    _replace_line(tiny_dataset, 9, "2.5 2 1500 11111 300000")
    _replace_line(tiny_dataset, 12, "3 2 15000000 22222 300000")
    houses = load_houses(tiny_dataset, min_zip_count=0)
    median_price = houses.frame["price"].median()
    assert houses.warnings == (
        f"{info} line 5: price 1e+12 is far from the other houses' (median "
        f"{median_price:,.6g}); used as it is",
        f"{info} line 9: bedrooms 2.5 is not a whole number; used as it is",
        f"{info} line 12: area 1.5e+07 is far from the other houses' (median "
        f"{houses.frame['area'].median():,.6g}); used as it is",
    )
    assert len(houses) == 40 and houses.frame["price"].max() == 1e12
    assert check_folder(tiny_dataset).warnings == list(houses.warnings)


def test_no_house_of_the_original_dataset_counts_as_implausible():
    assert load_houses(min_zip_count=0).warnings == ()


def test_a_photo_whose_name_differs_in_case_gets_a_hint(tiny_dataset):
    (tiny_dataset / "7_kitchen.jpg").rename(tiny_dataset / "7_kitchen.JPG")
    with pytest.raises(DatasetError) as caught:
        load_houses(tiny_dataset, min_zip_count=0)
    assert caught.value.format_message() == (
        f"{tiny_dataset / '7_kitchen.jpg'} (house 7): photo missing (found 7_kitchen.JPG: "
        "photo names are case-sensitive; rename it to 7_kitchen.jpg)"
    )
