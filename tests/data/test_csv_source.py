"""Reading CSV and YAML dataset files into a Table; every bad input gives one clear line."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from houses_tune.data.csv_source import check_csv, dataset_file_options, read_csv_table
from houses_tune.data.table import MIN_ROWS, DatasetOptions
from houses_tune.errors import DatasetError

NONE = DatasetOptions()
BASE_COLORS = {
    "front": (220, 40, 40),
    "kitchen": (40, 220, 40),
    "garden": (40, 40, 220),
    "attic": (220, 220, 40),
}
SUFFIXES = {"garden": ".png"}  # one PNG column among JPEGs
ATTRIBUTES = ["neighbourhood", "zipcode", "bedrooms", "area"]


def color(image: str, row: int) -> tuple[int, int, int]:
    """RGB of one synthetic image: distinct per column, varying per row."""
    red, green, blue = BASE_COLORS[image]
    return red, (green + 10 * row) % 256, blue


def write_image(path: Path, rgb: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((8, 8, 3), rgb[::-1], dtype=np.uint8))  # BGR


def write_dataset(
    folder: Path,
    n: int = 12,
    images: tuple[str, ...] = ("front", "kitchen", "garden"),
    id_header: str | None = None,
    name: str = "data.csv",
) -> Path:
    """Write a valid CSV (and its images under ``photos/``) and return its path.

    Row r (1-based, on line r + 1): neighbourhood north, north, south in turn; zipcode
    85255/85266; bedrooms 1..4 (few distinct: not logged); area 100 r^2 (skewed: logged).
    """
    folder.mkdir(parents=True, exist_ok=True)
    header = [*([id_header] if id_header else []), *ATTRIBUTES, *images, "price"]
    lines = [",".join(header)]
    for row in range(1, n + 1):
        area = 100 * row * row
        cells = [f" h{row} "] if id_header else []
        cells += [("north", "north", "south")[(row - 1) % 3], str((85255, 85266)[row % 2])]
        cells += [str(1 + row % 4), str(area)]
        for image in images:
            relative = f"photos/{row}_{image}{SUFFIXES.get(image, '.jpg')}"
            write_image(folder / relative, color(image, row))
            cells.append(relative)
        cells.append(str(1000 * area + 5000 * row))
        lines.append(",".join(cells))
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def set_cell(csv: Path, line: int, column: str, value: str) -> None:
    """Replace one value of the (simple, comma-only) CSV written by ``write_dataset``."""
    lines = csv.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[header.index(column)] = value
    lines[line - 1] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")


def problems_of(path: Path, options: DatasetOptions = NONE, decode: bool = True) -> list[str]:
    return check_csv(path, options, decode)[0]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HOUSES_TUNE_CACHE", str(tmp_path / "cache"))


def test_infers_numeric_categorical_image_and_logged_columns(tmp_path):
    csv = write_dataset(tmp_path / "set")
    table = read_csv_table(csv, NONE)
    schema = table.schema
    assert schema.target == "price" and schema.id == "row"
    assert schema.categorical == ("neighbourhood",)
    assert schema.numeric == ("zipcode", "bedrooms", "area")
    assert schema.images == ("front", "kitchen", "garden")
    assert schema.logged == ("area",)
    frame = table.frame
    assert list(frame.columns) == ["row", *ATTRIBUTES, "front", "kitchen", "garden", "price"]
    assert list(frame.index) == list(range(12))
    assert frame["row"].tolist() == list(range(1, 13)) and frame["row"].dtype == np.int64
    assert frame["area"].dtype == np.float64 and frame["price"].dtype == np.float64
    assert frame["neighbourhood"].tolist()[:3] == ["north", "north", "south"]
    assert frame["front"][0] == str(tmp_path / "set" / "photos" / "1_front.jpg")
    assert table.photo_paths[11] == tuple(
        tmp_path / "set" / "photos" / f"12_{image}{SUFFIXES.get(image, '.jpg')}"
        for image in ("front", "kitchen", "garden")
    )
    assert table.places[0] == f"{csv} line 2"
    assert table.source == csv and table.total == len(table) == 12
    assert table.source_rows.tolist() == list(range(12)) and table.min_group is None
    assert len(table.fingerprint) == 64 and table.warnings == ()
    assert table.targets[0] == 105000.0
    assert check_csv(csv, NONE) == ([], [])


def test_id_column_names_the_rows(tmp_path):
    csv = write_dataset(tmp_path, id_header="ID")
    csv.write_bytes(b"\xef\xbb\xbf" + csv.read_bytes())  # a BOM, as Excel writes
    table = read_csv_table(csv, NONE)
    assert table.schema.id == "id" and table.frame.columns[0] == "id"
    assert table.frame["id"].tolist()[:2] == ["h1", "h2"]  # stripped strings
    assert "ID" not in table.schema.attributes


def test_exact_id_column_first_and_an_id_named_by_an_option(tmp_path):
    csv = write_dataset(tmp_path, id_header="ID", images=())
    csv.write_text(csv.read_text().replace("ID,", "ID,id,", 1).replace(" h", "7, h"))
    table = read_csv_table(csv, NONE)  # "ID" holds 7s, "id" names the rows
    assert table.schema.id == "id" and table.frame["id"].tolist()[:2] == ["h1", "h2"]
    assert table.schema.numeric[0] == "ID" and table.frame["ID"][0] == 7.0
    table = read_csv_table(csv, DatasetOptions(categorical=("id",)))
    assert table.schema.id == "row" and table.schema.categorical == ("id", "neighbourhood")
    assert table.schema.numeric[0] == "ID"


def test_generated_row_numbers_never_clash_with_a_column(tmp_path):
    csv = write_dataset(tmp_path, images=())
    text = csv.read_text().replace("bedrooms", "row", 1)
    csv.write_text(text)
    table = read_csv_table(csv, NONE)
    assert table.schema.id == "_row" and table.frame["_row"].tolist() == list(range(1, 13))
    assert table.frame["row"].tolist()[:2] == [2.0, 3.0]


def test_options_override_inference(tmp_path):
    csv = write_dataset(tmp_path)
    options = DatasetOptions(
        categorical=("zipcode",), images=("garden", "front"), ignore=("kitchen",), log=("bedrooms",)
    )
    table = read_csv_table(csv, options)
    schema = table.schema
    assert schema.categorical == ("neighbourhood", "zipcode")  # CSV order
    assert schema.numeric == ("bedrooms", "area") and schema.logged == ("bedrooms",)
    assert schema.images == ("garden", "front")  # the option's order
    assert "kitchen" not in table.frame.columns
    assert table.frame["zipcode"].dtype == np.int64
    assert [p.name for p in table.photo_paths[0]] == ["1_garden.png", "1_front.jpg"]


def test_target_option_and_empty_log(tmp_path):
    csv = write_dataset(tmp_path, images=())
    table = read_csv_table(csv, DatasetOptions(target="area", log=()))
    assert table.schema.target == "area" and table.frame.columns[-1] == "area"
    assert table.schema.numeric == ("zipcode", "bedrooms", "price")
    assert table.schema.logged == ()


@pytest.mark.parametrize(
    "images",
    [(), ("front",), ("front", "kitchen", "garden"), ("front", "kitchen", "garden", "attic")],
)
def test_photos_of_every_image_column(tmp_path, cache, images):
    csv = write_dataset(tmp_path, images=images)
    table = read_csv_table(csv, NONE)
    assert table.schema.images == images and table.n_images == len(images)
    photos = table.photos(8)
    assert photos.shape == (12, len(images), 8, 8, 3) and photos.dtype == np.uint8
    for slot, image in enumerate(images):
        for row in (0, 11):
            want = np.array(color(image, row + 1))
            assert np.abs(photos[row, slot].astype(int) - want).max() <= 6, (image, row)


def test_filtered_on_a_categorical_column(tmp_path, cache):
    csv = write_dataset(tmp_path, n=15)  # north 10, south 5
    table = read_csv_table(csv, NONE)
    kept = table.filtered("neighbourhood", 6)
    assert len(kept) == 10 and kept.total == 15 and kept.min_group == ("neighbourhood", 6)
    assert set(kept.frame["neighbourhood"]) == {"north"}
    assert kept.frame["row"].tolist() == [1, 2, 4, 5, 7, 8, 10, 11, 13, 14]
    np.testing.assert_array_equal(kept.photos(8), table.photos(8)[kept.source_rows])
    with pytest.raises(DatasetError, match="only 0 of 15 rows"):
        table.filtered("neighbourhood", 11)


def test_fingerprint_is_a_content_key(tmp_path):
    csv = write_dataset(tmp_path / "a")
    first = read_csv_table(csv, NONE).fingerprint
    assert read_csv_table(csv, NONE).fingerprint == first
    copy = Path(shutil.copytree(tmp_path / "a", tmp_path / "a copy")) / "data.csv"
    assert read_csv_table(copy, NONE).fingerprint == first  # where it lies does not count
    other = DatasetOptions(categorical=("zipcode",))
    assert read_csv_table(copy, other).fingerprint != first  # nor does a new declaration
    photos = copy.parent / "photos"
    (photos / "3_kitchen.jpg").write_bytes((photos / "4_kitchen.jpg").read_bytes())
    assert read_csv_table(copy, NONE).fingerprint != first


def test_blank_lines_skipped_and_physical_lines_named(tmp_path):
    csv = write_dataset(tmp_path, images=())
    lines = csv.read_text().splitlines()
    lines[2] = lines[2].replace("north", '"north\nby the river"')  # row 2 spans 2 lines
    lines.insert(1, "")
    lines.insert(5, " , , ,,")
    csv.write_text("\n".join(lines) + "\n")
    table = read_csv_table(csv, NONE)
    assert len(table) == 12 and table.frame["neighbourhood"][1] == "north\nby the river"
    assert table.places[:4] == tuple(f"{csv} line {n}" for n in (3, 4, 6, 8))
    set_cell(csv, 9, "price", "x")  # row 5, after the blank, spanning and empty lines
    assert problems_of(csv) == [f"{csv} line 9, column price: not a number: 'x'"]


def test_warns_of_outliers(tmp_path):
    csv = write_dataset(tmp_path, images=())
    set_cell(csv, 5, "bedrooms", "4000")
    problems, warnings = check_csv(csv, NONE)
    assert problems == []
    assert warnings == [
        f"{csv} line 5: bedrooms 4,000 is far from the other rows' (median 3); used as it is"
    ]
    assert read_csv_table(csv, NONE).warnings == tuple(warnings)


def test_collects_every_problem(tmp_path):
    csv = write_dataset(tmp_path)
    set_cell(csv, 3, "price", "abc")
    set_cell(csv, 5, "area", "")
    (tmp_path / "photos" / "7_kitchen.jpg").unlink()
    assert problems_of(csv) == [
        f"{csv} line 3, column price: not a number: 'abc'",
        f"{csv} line 5, column area: missing value",
        f"{csv} line 8, column kitchen: {tmp_path / 'photos' / '7_kitchen.jpg'}: photo missing",
    ]
    with pytest.raises(DatasetError) as raised:
        read_csv_table(csv, NONE)
    assert raised.value.message == (
        f"{csv} line 3, column price: not a number: 'abc' "
        "(and 2 more; `houses-tune data validate` lists them)"
    )


def test_undecodable_image_found_only_when_decoding(tmp_path, zero_height_jpeg):
    csv = write_dataset(tmp_path)
    photo = tmp_path / "photos" / "2_front.jpg"
    zero_height_jpeg(photo)
    assert problems_of(csv, decode=True) == [
        f"{csv} line 3, column front: {photo}: cannot be decoded as an image"
    ]
    assert problems_of(csv, decode=False) == []
    read_csv_table(csv, NONE)  # decoded lazily, by Table.photos


def _rewrite(text: str) -> Callable[[Path], None]:
    return lambda csv: csv.write_text(text)


def _rename_header(old: str, new: str) -> Callable[[Path], None]:
    return lambda csv: csv.write_text(csv.read_text().replace(old, new, 1))


def _drop_value(line: int) -> Callable[[Path], None]:
    def drop(csv: Path) -> None:
        lines = csv.read_text().splitlines()
        lines[line - 1] = lines[line - 1].rsplit(",", 1)[0]
        csv.write_text("\n".join(lines) + "\n")

    return drop


COLUMNS = "neighbourhood, zipcode, bedrooms, area, front, price"
PHOTO_5 = "{csv} line 6, column front: {photos}/5_front.jpg"
BAD_INPUTS = {
    "row length": (
        _drop_value(4),
        NONE,
        "{csv} line 4: expected 6 values (as in the header), found 5",
    ),
    "duplicate header": (
        _rename_header("bedrooms", "area"),
        NONE,
        "{csv} line 1: column 'area' appears twice in the header",
    ),
    "unnamed header": (
        _rename_header("bedrooms", ""),
        NONE,
        "{csv} line 1: column 3 of the header has no name",
    ),
    "empty file": (_rewrite(""), NONE, "{csv}: no rows (the file is empty)"),
    "header only": (_rewrite("a,price\n\n"), NONE, "{csv}: no rows (only a header)"),
    "not text": (
        lambda csv: csv.write_bytes(b"\xff\xd8\xff\xe0\x00"),
        NONE,
        "{csv}: not a text file",
    ),
    "not csv": (
        _rewrite('a,price\n"x,1\n'),
        NONE,
        "{csv}: not a readable CSV file (line 2: unexpected end of data)",
    ),
    "no target": (
        _rename_header("price", "cost"),
        NONE,
        "{csv}: no target column 'price' (columns: " + COLUMNS.replace("price", "cost") + "); "
        "name it with --target",
    ),
    "no such target": (
        lambda csv: None,
        DatasetOptions(target="value"),
        "{csv}: no target column 'value' (columns: " + COLUMNS + "); name it with --target",
    ),
    "target not a number": (
        lambda csv: set_cell(csv, 4, "price", "abc"),
        NONE,
        "{csv} line 4, column price: not a number: 'abc'",
    ),
    "target missing": (
        lambda csv: set_cell(csv, 4, "price", ""),
        NONE,
        "{csv} line 4, column price: missing value",
    ),
    "target negative": (
        lambda csv: set_cell(csv, 4, "price", "-3"),
        NONE,
        "{csv} line 4, column price: must be positive for the MAPE objective, found -3 "
        "(--objective mae scores targets that can be zero or negative)",
    ),
    **{
        f"unknown {key} column": (
            lambda csv: None,
            DatasetOptions(**{key: ("foo",)}),
            f"{{csv}}: --{key} names column 'foo', which is not in the header (columns: {COLUMNS})",
        )
        for key in ("categorical", "images", "ignore", "log")
    },
    "target in another option": (
        lambda csv: None,
        DatasetOptions(ignore=("price",)),
        "{csv}: column 'price' is the target (--target) and cannot also be named by --ignore",
    ),
    "two options": (
        lambda csv: None,
        DatasetOptions(categorical=("area",), images=("front", "area")),
        "{csv}: column 'area' is named by both --categorical and --images",
    ),
    "no image named": (
        lambda csv: set_cell(csv, 6, "front", ""),
        NONE,
        "{csv} line 6, column front: no image file named",
    ),
    "image missing": (
        lambda csv: (csv.parent / "photos" / "5_front.jpg").unlink(),
        NONE,
        PHOTO_5 + ": photo missing",
    ),
    "image in another case": (
        lambda csv: (csv.parent / "photos" / "5_front.jpg").rename(
            csv.parent / "photos" / "5_front.JPG"
        ),
        NONE,
        PHOTO_5 + ": photo missing (found 5_front.JPG: photo names are case-sensitive; "
        "rename it to 5_front.jpg)",
    ),
    "truncated jpeg": (
        lambda csv: (csv.parent / "photos" / "5_front.jpg").write_bytes(
            (csv.parent / "photos" / "5_front.jpg").read_bytes()[:-2]
        ),
        NONE,
        PHOTO_5 + ": truncated JPEG (no end-of-image marker)",
    ),
    "png named jpeg": (
        lambda csv: (
            write_image(csv.parent / "p.png", (1, 2, 3))
            or (csv.parent / "p.png").rename(csv.parent / "photos" / "5_front.jpg")
        ),
        NONE,
        PHOTO_5 + ": not a JPEG file",
    ),
    "empty png": (
        lambda csv: (
            set_cell(csv, 6, "front", "empty.PNG") or (csv.parent / "empty.PNG").write_bytes(b"")
        ),
        NONE,
        "{csv} line 6, column front: {dir}/empty.PNG: empty file",
    ),
    "missing numeric": (
        lambda csv: set_cell(csv, 7, "area", ""),
        NONE,
        "{csv} line 7, column area: missing value",
    ),
    "missing categorical": (
        lambda csv: set_cell(csv, 7, "neighbourhood", ""),
        NONE,
        "{csv} line 7, column neighbourhood: missing value",
    ),
    "not finite": (
        lambda csv: set_cell(csv, 7, "area", "inf"),
        NONE,
        "{csv} line 7, column area: not a number: 'inf'",
    ),
    "log not positive": (
        lambda csv: set_cell(csv, 7, "bedrooms", "0"),
        DatasetOptions(log=("bedrooms",)),
        "{csv} line 7, column bedrooms: --log needs positive values, found 0",
    ),
    "log not numeric": (
        lambda csv: None,
        DatasetOptions(log=("neighbourhood",)),
        "{csv}: --log names column 'neighbourhood', which is not numeric (it is categorical)",
    ),
    "no attributes": (
        lambda csv: None,
        DatasetOptions(ignore=tuple(COLUMNS.split(", ")[:-1])),
        "{csv}: no attribute or image columns besides the target",
    ),
    "too few rows": (
        lambda csv: csv.write_text("\n".join(csv.read_text().splitlines()[:6]) + "\n"),
        NONE,
        f"{{csv}}: 5 rows are too few to split; {MIN_ROWS} are needed",
    ),
    "duplicate id": (
        _rename_header("neighbourhood", "id"),
        NONE,
        "{csv} line 3, column id: id 'north' is also on line 2 (ids name the rows and must be "
        "unique; --ignore id numbers the rows instead)",
    ),
    "no such file": (lambda csv: csv.unlink(), NONE, "{csv}: no such file"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_named(tmp_path, case):
    edit, options, expected = BAD_INPUTS[case]
    csv = write_dataset(tmp_path, images=("front",))
    edit(csv)
    expected = expected.format(csv=csv, dir=tmp_path, photos=tmp_path / "photos")
    problems = problems_of(csv, options)
    assert expected in problems, problems
    with pytest.raises(DatasetError) as raised:
        read_csv_table(csv, options)
    assert raised.value.message.startswith(problems[0])


def write_yaml(folder: Path, text: str) -> Path:
    path = folder / "dataset.yaml"
    path.write_text(text)
    return path


def test_yaml_dataset_file(tmp_path, cache):
    csv = write_dataset(tmp_path / "data", name="listings.csv")
    path = write_yaml(
        tmp_path,
        "csv: data/listings.csv\ntarget: price\ncategorical: [zipcode]\n"
        "images: [kitchen, front]\nignore: garden\nlog: []\n"
        "min_group_count: neighbourhood=5\n",
    )
    csv_path, declared = dataset_file_options(path)
    assert csv_path == csv and csv_path.is_absolute()
    assert declared == DatasetOptions(
        target="price",
        categorical=("zipcode",),
        images=("kitchen", "front"),
        ignore=("garden",),
        log=(),
        min_group_count=("neighbourhood", 5),
    )
    table = read_csv_table(path, DatasetOptions(images=("front",), ignore=None))
    assert table.source == path and table.places[0] == f"{csv} line 2"
    assert table.schema.images == ("front",)  # the command line wins
    # The file's zipcode is kept; kitchen, no image column now, holds text.
    assert table.schema.categorical == ("neighbourhood", "zipcode", "kitchen")
    assert table.schema.logged == () and "garden" not in table.frame.columns
    assert table.frame["kitchen"][0] == "photos/1_kitchen.jpg"
    assert table.photos(8).shape == (12, 1, 8, 8, 3)
    assert check_csv(path, NONE) == ([], [])


BAD_YAML = {
    "unknown key": ("csv: a.csv\ncolumns: [a]\n", "unknown key 'columns' (keys: csv, target,"),
    "wrong type": (
        "csv: a.csv\nimages: 3\n",
        "key 'images' must be a list of column names, found 3",
    ),
    "wrong type of target": ("csv: a.csv\ntarget: [a]\n", "key 'target' must be text, found ['a']"),
    "number as a name": ("csv: a.csv\nlog: [2020]\n", "key 'log' must be a list of column names"),
    "missing csv": ("target: price\n", "no 'csv' key"),
    "empty": ("", "no 'csv' key"),
    "not a mapping": ("- a.csv\n", "expected keys such as 'csv:' and 'target:', found a list"),
    "unreadable": ("csv: [a.csv\n", "not a readable YAML file (line 2: expected ',' or ']'"),
    "bad min group": (
        "csv: a.csv\nmin_group_count: neighbourhood\n",
        "key 'min_group_count': --min-group-count 'neighbourhood': expected COLUMN=N",
    ),
}


@pytest.mark.parametrize("case", BAD_YAML)
def test_bad_yaml_is_named(tmp_path, case):
    text, expected = BAD_YAML[case]
    path = write_yaml(tmp_path, text)
    with pytest.raises(DatasetError) as raised:
        dataset_file_options(path)
    assert raised.value.message.startswith(f"{path}: {expected}"), raised.value.message
    assert problems_of(path) == [raised.value.message]
    with pytest.raises(DatasetError):
        read_csv_table(path, NONE)


def test_yaml_naming_a_missing_csv(tmp_path):
    path = write_yaml(tmp_path, "csv: nowhere.csv\n")
    assert problems_of(path) == [f"{tmp_path / 'nowhere.csv'}: no such file (named by {path})"]
    missing = tmp_path / "none.yml"
    assert problems_of(missing) == [f"{missing}: no such file"]
