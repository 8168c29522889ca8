"""The embedded dataset reproduces the tutorials' numbers."""

import numpy as np
import pytest

from houses_tune.data import (
    ROOMS,
    ModelData,
    embedded_dataset_path,
    load_houses,
    make_splits,
    montage,
)
from houses_tune.data.photos import photo_path, read_photo


def test_counts_and_tutorial_split(embedded_houses):
    assert embedded_houses.total == 535 and len(embedded_houses) == 362
    assert len(load_houses(min_zip_count=0)) == 535
    splits = make_splits(len(embedded_houses))
    assert (len(splits.search), len(splits.test)) == (271, 91)
    assert embedded_houses.frame["price"].iloc[splits.search].max() == 5_858_000
    data = ModelData(embedded_houses, splits.search)
    assert data.transform("max_scale").scale == 5_858_000
    assert data.widths["categories"] == 7


def test_embedded_files():
    folder = embedded_dataset_path()
    assert len(list(folder.glob("*.jpg"))) == 535 * 4
    assert sum(p.stat().st_size for p in folder.iterdir()) < 8e6


@pytest.mark.parametrize("tile", [32, 64])
def test_montage_corners_hold_the_right_photos(embedded_houses, tile):
    tiles = montage(embedded_houses.photos(tile))
    assert tiles.shape == (362, 2 * tile, 2 * tile, 3)
    t = tile
    quadrants = {
        "bathroom": (slice(0, t), slice(0, t)),
        "bedroom": (slice(0, t), slice(t, None)),
        "frontal": (slice(t, None), slice(t, None)),
        "kitchen": (slice(t, None), slice(0, t)),
    }
    for row in (0, 200, 361):
        house = int(embedded_houses.frame["house"].iloc[row])
        for room in ROOMS:
            expected = read_photo(photo_path(embedded_houses.source, house, room), tile)
            np.testing.assert_array_equal(tiles[row][quadrants[room]], expected)
