"""The Houses data layer: reading, validating, splitting, preprocessing, photos.

Everything a search or export needs goes through
``load_houses`` -> ``make_splits`` -> ``ModelData``.
"""

from houses_tune.data.embedded import embedded_dataset_path
from houses_tune.data.model_data import ModelData
from houses_tune.data.photos import ROOMS, montage
from houses_tune.data.preprocess import TARGET_TRANSFORMS, Preprocessor, TargetTransform
from houses_tune.data.reader import Houses, load_houses, validate_folder
from houses_tune.data.splits import Splits, make_splits

__all__ = [
    "ROOMS",
    "TARGET_TRANSFORMS",
    "Houses",
    "ModelData",
    "Preprocessor",
    "Splits",
    "TargetTransform",
    "embedded_dataset_path",
    "load_houses",
    "make_splits",
    "montage",
    "validate_folder",
]
