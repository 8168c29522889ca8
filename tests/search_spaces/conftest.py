"""Fixtures for the search-space tests: a tiny real dataset as ``ModelData``."""

import numpy as np
import pytest

# Seven zip codes, as in the tutorials' filtered data: 7 one-hot zips + 3 scaled
# attributes = 10 attribute inputs, the tutorial MLP's input width.
ZIPS = (11111, 22222, 33333, 44444, 55555, 66666, 77777)
N_HOUSES = 16  # tests train on rows 0-7 (one step at batch 8), validate on 8-15


@pytest.fixture
def houses_folder(tmp_path, make_houses_folder):
    """16 houses in 7 zip codes with 16x16 photos (upsampled to tile 32/64)."""
    return make_houses_folder(tmp_path, n=N_HOUSES, zips=ZIPS, seed=0, tile=16)


@pytest.fixture
def model_data(houses_folder):
    """``ModelData`` fitted on all 16 houses (7 zip codes)."""
    from houses_tune.data import ModelData, load_houses

    houses = load_houses(houses_folder, min_zip_count=0)
    return ModelData(houses, np.arange(len(houses)))
