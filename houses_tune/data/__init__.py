"""The data layer: reading, validating, splitting, preprocessing, photos.

Everything a search or export needs goes through
``load_dataset`` (a Houses folder or a CSV file, as a ``Table``) -> ``make_splits`` ->
``ModelData``.
"""

from houses_tune.data.embedded import embedded_dataset_path
from houses_tune.data.model_data import MONTAGE, ModelData, photo_input
from houses_tune.data.photos import ROOMS, montage
from houses_tune.data.preprocess import (
    ATTRIBUTE_INPUTS,
    TARGET_TRANSFORMS,
    Preprocessor,
    TargetTransform,
)
from houses_tune.data.reader import (
    HOUSES_SCHEMA,
    FolderCheck,
    check_folder,
    load_houses,
    validate_folder,
)
from houses_tune.data.sources import check_dataset, load_dataset
from houses_tune.data.splits import Splits, make_folds, make_splits, splits_from_file
from houses_tune.data.table import DatasetOptions, Schema, Table, parse_min_group

__all__ = [
    "ATTRIBUTE_INPUTS",
    "HOUSES_SCHEMA",
    "MONTAGE",
    "ROOMS",
    "TARGET_TRANSFORMS",
    "DatasetOptions",
    "FolderCheck",
    "ModelData",
    "Preprocessor",
    "Schema",
    "Splits",
    "Table",
    "TargetTransform",
    "check_dataset",
    "check_folder",
    "embedded_dataset_path",
    "load_dataset",
    "load_houses",
    "make_folds",
    "make_splits",
    "montage",
    "parse_min_group",
    "photo_input",
    "splits_from_file",
    "validate_folder",
]
