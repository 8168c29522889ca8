"""Training one configuration on the folds of the search rows, each fold model early-stopped.

Used by the search (one trial = one configuration on every fold), by export's
cross-validation of the whole pipeline, and by the fixed-epoch refit, so all of them
train and score the same way.
"""

from houses_tune.training.folds import (
    FoldResult,
    Listener,
    TrialFolds,
    fold_seed,
    train_configuration,
    train_fold,
)

__all__ = [
    "FoldResult",
    "Listener",
    "TrialFolds",
    "fold_seed",
    "train_configuration",
    "train_fold",
]
