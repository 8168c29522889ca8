"""Contract tests of KerasTuner's private parts that houses_tune/tuner/internals.py uses.

Each fails loudly, naming the part, when a KerasTuner release changes it.
"""

import keras_tuner

from houses_tune.tuner.budget import hyperband_rounds
from houses_tune.tuner.internals import set_min_epochs


def _hyperband(tmp_path, max_epochs, factor, min_epochs):
    hp = keras_tuner.HyperParameters()
    hp.Float("x", 0.0, 1.0)
    oracle = keras_tuner.oracles.HyperbandOracle(
        objective=keras_tuner.Objective("score", "min"), max_epochs=max_epochs, factor=factor,
        hyperband_iterations=1, hyperparameters=hp, seed=1,
    )  # fmt: skip
    set_min_epochs(oracle, min_epochs)
    oracle._set_project_dir(str(tmp_path), "p")
    return oracle


def test_hyperband_min_epochs_sets_the_first_rounds_epochs_and_survives_a_reload(tmp_path):
    oracle = _hyperband(tmp_path, 81, 3, 3)
    asked = []
    while True:
        trial = oracle.create_trial("tuner0")
        if trial.status == "STOPPED":
            break
        values = trial.hyperparameters.values
        asked.append(
            (values["tuner/bracket"], values["tuner/initial_epoch"], values["tuner/epochs"])
        )
        oracle.update_trial(trial.trial_id, {"score": values["x"]})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    planned = [(r.bracket, r.initial_epoch, r.epochs) for r in hyperband_rounds(81, 3, 3)
               for _ in range(r.trials)]  # fmt: skip
    assert sorted(asked) == sorted(planned), "HyperbandOracle.min_epochs no longer shapes brackets"
    assert min(epochs for _, start, epochs in asked if start == 0) == 3

    oracle.save()
    again = _hyperband(tmp_path, 81, 3, 1)
    again.reload()
    assert again.min_epochs == 3, "HyperbandOracle's state no longer keeps min_epochs"
