"""Photo decoding, the on-disk cache, the montage, JPEG structure checks."""

import numpy as np
import pytest

from houses_tune.data import ROOMS, load_houses, montage
from houses_tune.data import photos as photos_module
from houses_tune.data.photos import cache_dir, cache_path, jpeg_problem


def test_photos_are_rgb_in_room_order(tiny_dataset, photo_colors):
    houses = load_houses(tiny_dataset, min_zip_count=0)
    photos = houses.photos(16)
    assert photos.shape == (40, 4, 16, 16, 3) and photos.dtype == np.uint8
    for slot, room in enumerate(ROOMS):
        np.testing.assert_allclose(photos[6, slot, 8, 8], photo_colors(7, room), atol=6)


def test_montage_corners(tiny_dataset, photo_colors):
    photos = load_houses(tiny_dataset, min_zip_count=0).photos(8)
    tiles = montage(photos)
    assert tiles.shape == (40, 16, 16, 3)
    corners = {"bathroom": (0, 0), "bedroom": (0, 15), "frontal": (15, 15), "kitchen": (15, 0)}
    for room, (y, x) in corners.items():
        np.testing.assert_allclose(tiles[0, y, x], photo_colors(1, room), atol=6)


@pytest.mark.parametrize(
    ("n", "shape", "cells"),
    [
        (1, (4, 4), [(0, 0)]),
        (2, (4, 8), [(0, 0), (0, 1)]),
        (3, (8, 8), [(0, 0), (0, 1), (1, 0)]),  # the fourth cell stays black
        (5, (8, 12), [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]),
    ],
)
def test_montage_of_any_number_of_images_fills_a_near_square_grid_row_by_row(n, shape, cells):
    photos = np.stack([np.full((4, 4, 3), 10 * (i + 1), np.uint8) for i in range(n)])[None]
    tiles = montage(photos)[0]
    assert tiles.shape == (*shape, 3)
    for i, (r, c) in enumerate(cells):
        assert (tiles[4 * r : 4 * r + 4, 4 * c : 4 * c + 4] == 10 * (i + 1)).all()
    assert tiles.sum() == sum(16 * 3 * 10 * (i + 1) for i in range(n))  # the rest is black


def test_tile_sizes_and_upsampling(tiny_dataset):
    houses = load_houses(tiny_dataset, min_zip_count=0)
    assert houses.photos(64).shape == (40, 4, 64, 64, 3)  # files are 16x16
    assert houses.photos(32).shape == (40, 4, 32, 32, 3)
    assert (
        cache_path(houses.fingerprint, 64).exists() and cache_path(houses.fingerprint, 32).exists()
    )
    with pytest.raises(ValueError):
        houses.photos(0)


def test_second_load_comes_from_cache(tiny_dataset, monkeypatch):
    houses = load_houses(tiny_dataset, min_zip_count=0)
    first = houses.photos(16)

    def fail(*args):
        raise AssertionError("decoded again")

    monkeypatch.setattr(photos_module, "read_photos", fail)
    again = load_houses(tiny_dataset, min_zip_count=0)
    np.testing.assert_array_equal(again.photos(16), first)
    # the filter selects rows of the same cached array
    filtered = load_houses(tiny_dataset, min_zip_count=20)
    np.testing.assert_array_equal(filtered.photos(16), first)


def test_cache_location_and_damaged_cache(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("HOUSES_TUNE_CACHE", str(tmp_path / "my cache"))
    assert cache_dir() == tmp_path / "my cache"
    houses = load_houses(tiny_dataset, min_zip_count=0)
    first = houses.photos(16)
    path = cache_path(houses.fingerprint, 16)
    assert path.parent == tmp_path / "my cache"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left
    path.write_bytes(b"damaged")
    np.testing.assert_array_equal(houses.photos(16), first)
    assert np.load(path).shape == first.shape  # rebuilt
    monkeypatch.delenv("HOUSES_TUNE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "houses-tune"


def test_unwritable_cache_warns_but_works(tiny_dataset, tmp_path, monkeypatch, capsys):
    (tmp_path / "a file").write_text("")
    monkeypatch.setenv("HOUSES_TUNE_CACHE", str(tmp_path / "a file" / "cache"))
    assert load_houses(tiny_dataset, 0).photos(16).shape == (40, 4, 16, 16, 3)
    assert "photo cache not written" in capsys.readouterr().err


def test_jpeg_problem(tiny_dataset):
    good = (tiny_dataset / "1_frontal.jpg").read_bytes()
    assert jpeg_problem(good) is None
    assert jpeg_problem(good + b"\x00trailing junk") is None  # as in two original photos
    assert jpeg_problem(b"GIF89a") == "not a JPEG file"
    assert jpeg_problem(good[:-2]).startswith("truncated JPEG")
    assert jpeg_problem(good[:40]).startswith("truncated JPEG")
    assert jpeg_problem(good[:4] + b"\x00" * 40) == "corrupt JPEG header"
