"""The Houses data layer: reading, validating, splitting, preprocessing, photos.

Everything a search or export needs goes through
``load_houses`` -> ``make_splits`` -> ``ModelData``.
"""

from houses_tune.data.embedded import embedded_dataset_path
from houses_tune.data.model_data import PHOTO_INPUTS, ModelData
from houses_tune.data.photos import ROOMS, montage
from houses_tune.data.preprocess import (
    ATTRIBUTE_INPUTS,
    TARGET_TRANSFORMS,
    Preprocessor,
    TargetTransform,
)
from houses_tune.data.reader import FolderCheck, Houses, check_folder, load_houses, validate_folder
from houses_tune.data.splits import Splits, make_folds, make_splits, splits_from_file

__all__ = [
    "ATTRIBUTE_INPUTS",
    "PHOTO_INPUTS",
    "ROOMS",
    "TARGET_TRANSFORMS",
    "FolderCheck",
    "Houses",
    "ModelData",
    "Preprocessor",
    "Splits",
    "TargetTransform",
    "check_folder",
    "embedded_dataset_path",
    "load_houses",
    "make_folds",
    "make_splits",
    "montage",
    "splits_from_file",
    "validate_folder",
]
