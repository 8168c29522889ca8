"""Fold models: early stopping with the best weights, reuse from fold to fold, promotion."""

import json

import keras_tuner
import numpy as np
import pytest

from houses_tune.data import ModelData, load_houses, make_splits
from houses_tune.run import fold_weights
from houses_tune.search_spaces import HousesHyperModel, load_space
from houses_tune.training import Listener, train_fold
from houses_tune.training.callbacks import BestWeights
from houses_tune.training.folds import Reusable, TrialFolds, load_checkpoint


@pytest.fixture
def setup(tiny_dataset):
    """A hypermodel over the tiny dataset (min_zip_count 10) and its 3-fold splits."""
    houses = load_houses(tiny_dataset, min_zip_count=10)
    splits = make_splits(len(houses), folds=3)
    space = load_space("tutorial-mlp")
    return HousesHyperModel(space, ModelData(houses, splits.search), seed=0), splits


class _Model:
    """Just what BestWeights uses of a Keras model: weights to read and set, a stop flag."""

    def __init__(self):
        self.value, self.stop_training = 0.0, False

    def get_weights(self):
        return [self.value]

    def set_weights(self, weights):
        self.value = weights[0]


def _run(callback, scores):
    model = _Model()
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, score in enumerate(scores):
        model.value = float(epoch)  # the weights after this epoch
        callback.on_epoch_end(epoch, {"loss": 1.0, "val_price_mape": score})
        if model.stop_training:
            break
    callback.on_train_end()
    return model, epoch


def test_early_stopping_restores_the_best_epochs_weights():
    stopping = BestWeights(patience=2)
    model, last = _run(stopping, [30.0, 25.0, 26.0, 27.0, 20.0])
    assert last == 3 and stopping.stopped_early  # two epochs without beating 25
    assert (stopping.best, stopping.best_epoch, model.value) == (25.0, 1, 1.0)


def test_a_resumed_fold_keeps_its_checkpoint_unless_training_beats_it():
    stopping = BestWeights(patience=2, best=20.0)
    model = _Model()
    model.value = -1.0  # the checkpoint's weights
    stopping.set_model(model)
    stopping.on_train_begin()
    for epoch, score in enumerate([22.0, 21.0]):
        model.value = float(epoch)
        stopping.on_epoch_end(epoch, {"val_price_mape": score})
    stopping.on_train_end()
    assert model.value == -1.0 and stopping.best_epoch is None and stopping.stopped_early


def test_a_non_finite_loss_fails_the_trial():
    with pytest.raises(keras_tuner.errors.FailedTrialError, match="loss became nan at epoch 3"):
        BestWeights(patience=2).on_epoch_end(2, {"loss": float("nan")})


def test_without_validation_rows_a_fold_trains_every_epoch(setup):
    hypermodel, splits = setup
    model, result = train_fold(hypermodel, keras_tuner.HyperParameters(), 1, splits.search,
                               np.empty(0, np.int64), 3)  # fmt: skip
    assert (result.trained, result.epoch, result.score, result.stopped_early) == (3, 3, None, False)


def test_a_reused_model_starts_each_fold_as_a_new_model_would(setup):
    hypermodel, splits = setup
    hp = keras_tuner.HyperParameters()
    reusable = Reusable(hypermodel, hp)
    first = reusable.start(splits.fold(0)[0], 1, seed=0)
    x, y = hypermodel.arrays(hp, splits.fold(0)[0], first)
    first.fit(x, y, epochs=2, verbose=0)  # moves its weights and its optimizer's state
    again = reusable.start(splits.fold(1)[0], 2, seed=0)
    fresh = Reusable(hypermodel, hp).start(splits.fold(1)[0], 2, seed=0)
    assert again is first  # compiled once
    for a, b in zip(again.get_weights(), fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(again.optimizer.variables, fresh.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


class _Recorder(Listener):
    def __init__(self):
        self.folds, self.epochs = [], 0

    def fold_begin(self, fold):
        self.folds.append(fold)

    def epoch_end(self, fold, epoch, logs):
        self.epochs += 1
        return False


def test_a_promoted_trial_resumes_its_folds_and_keeps_the_ones_that_had_stopped(setup, tmp_path):
    hypermodel, splits = setup
    hp = keras_tuner.HyperParameters()
    trials = TrialFolds(hypermodel, splits, tmp_path, patience=5)
    parent = trials.run("0000", hp, epochs=2)
    assert parent["val_price_mape"] > 0
    history_file = tmp_path / "trial_0000" / "history.json"
    history = json.loads(history_file.read_text())
    history["folds"][1]["stopped_early"] = True  # as if fold 2 had stopped early
    history_file.write_text(json.dumps(history))
    carried_score = history["folds"][1]["score"]

    recorder = _Recorder()
    TrialFolds(hypermodel, splits, tmp_path, patience=5, listener=recorder).run(
        "0001", hp, epochs=4, initial_epoch=2, parent_id="0000"
    )
    promoted = json.loads((tmp_path / "trial_0001" / "history.json").read_text())
    assert recorder.folds == [1, 3] and recorder.epochs == promoted["epochs_trained"] == 4
    folds = promoted["folds"]
    assert [f["carried"] for f in folds] == [False, True, False]
    assert folds[1]["score"] == carried_score and folds[1]["trained"] == 0
    assert [f["epoch"] for f in folds] == [4, 2, 4]
    for fold in (1, 3):  # resumed from the parent: never worse than its checkpoint
        assert folds[fold - 1]["score"] <= history["folds"][fold - 1]["score"]
    assert promoted["score"] == pytest.approx(np.mean([f["score"] for f in folds]))
    for fold in (1, 2, 3):
        assert fold_weights(tmp_path / "trial_0001", fold).is_file()


def test_fold_checkpoints_hold_the_best_weights(setup, tmp_path):
    hypermodel, splits = setup
    hp = keras_tuner.HyperParameters()
    TrialFolds(hypermodel, splits, tmp_path, patience=5).run("0000", hp, epochs=3)
    history = json.loads((tmp_path / "trial_0000" / "history.json").read_text())
    for fold in history["folds"]:
        model = hypermodel.build(hp)
        load_checkpoint(model, fold_weights(tmp_path / "trial_0000", fold["fold"]))
        _, val = splits.fold(fold["fold"] - 1)
        prices = hypermodel.predict_prices(hp, model, val)
        actual = hypermodel.data.prices(val)
        mape = float(np.mean(np.abs(prices - actual) / actual) * 100)
        assert mape == pytest.approx(fold["score"], rel=1e-4)
