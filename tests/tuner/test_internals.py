"""Contract tests of KerasTuner's private parts that houses_tune/tuner/internals.py uses.

Each fails loudly, naming the part, when a KerasTuner release changes it.
"""

import threading

import keras_tuner
import pytest

from houses_tune.tuner.budget import hyperband_rounds
from houses_tune.tuner.internals import (
    AtomicStateFiles,
    oracle_lock,
    retry_queue,
    set_min_epochs,
    show_trial_tracebacks,
    silence_condition_print,
    start_oracle_server,
    weights_file_bytes,
)


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


class _AtomicRandomOracle(AtomicStateFiles, keras_tuner.oracles.RandomSearchOracle):
    pass


def _random_oracle(tmp_path, cls=keras_tuner.oracles.RandomSearchOracle):
    hp = keras_tuner.HyperParameters()
    hp.Int("units", 1, 1000)
    oracle = cls(objective=keras_tuner.Objective("score", "min"), max_trials=10,
                 hyperparameters=hp, seed=1)  # fmt: skip
    oracle._set_project_dir(str(tmp_path), "p")
    return oracle


def test_atomic_state_files_replace_the_files_keras_tuner_writes_and_reloads(tmp_path, monkeypatch):
    from houses_tune.tuner import internals

    written, write = [], internals.write_json_atomic
    monkeypatch.setattr(
        internals, "write_json_atomic", lambda path, data: (written.append(path), write(path, data))
    )
    oracle = _random_oracle(tmp_path, _AtomicRandomOracle)
    trial = oracle.create_trial("tuner0")  # saves trial.json (_save_trial), then oracle.json
    project = tmp_path / "p"
    assert written == [
        project / f"trial_{trial.trial_id}" / "trial.json",
        project / "oracle.json",
    ], (
        "Oracle.create_trial no longer saves through _save_trial and save, or "
        "_get_trial_dir / _get_oracle_fname moved"
    )
    oracle.update_trial(trial.trial_id, {"score": 1.0})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)
    again = _random_oracle(tmp_path)
    again.reload()  # KerasTuner's reload reads the files the mixin wrote
    assert again.trials[trial.trial_id].status == "COMPLETED"
    assert again.end_order == [trial.trial_id]


def test_retry_queue_holds_the_trials_that_were_running_and_is_handed_out_first(tmp_path):
    oracle = _random_oracle(tmp_path)
    running = oracle.create_trial("tuner0")
    oracle.save()
    again = _random_oracle(tmp_path)
    again.reload()
    assert retry_queue(again) == [running.trial_id], "Oracle.reload no longer fills _retry_queue"
    assert again.create_trial("tuner1").trial_id == running.trial_id
    assert retry_queue(again) == []


def test_oracle_lock_is_the_lock_of_synchronized_methods_and_is_released_on_errors(tmp_path):
    oracle = _random_oracle(tmp_path)
    other = []
    with oracle_lock(oracle):
        oracle.create_trial("tuner0")  # a synchronized method: no second acquire, no deadlock
        with oracle_lock(oracle):  # nested: no deadlock either
            pass
        thread = threading.Thread(target=lambda: other.append(oracle.create_trial("tuner1")))
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive() and not other, "synchronized no longer takes LOCKS[oracle]"
    thread.join(timeout=10)
    assert other, "the lock was not released"
    with pytest.raises(ValueError), oracle_lock(oracle):
        raise ValueError
    done = threading.Thread(target=lambda: oracle.create_trial("tuner2"))
    done.start()
    done.join(timeout=10)
    assert not done.is_alive(), "oracle_lock kept the lock after an error"


class _BrokenTuner(keras_tuner.Tuner):
    def run_trial(self, trial, *args, **kwargs):
        raise ValueError("broken on purpose")


@pytest.mark.parametrize("show", [True, False])
def test_show_trial_tracebacks_decides_whether_a_failed_trial_prints_its_traceback(
    tmp_path, capsys, show
):
    oracle = keras_tuner.oracles.RandomSearchOracle(
        objective=keras_tuner.Objective("score", "min"), max_trials=1, seed=1,
        max_consecutive_failed_trials=None,
    )  # fmt: skip
    tuner = _BrokenTuner(oracle, directory=str(tmp_path), project_name="p")
    show_trial_tracebacks(show)
    try:
        tuner.search()
    finally:
        show_trial_tracebacks(False)
    err = capsys.readouterr().err
    assert ("ValueError: broken on purpose" in err) == show, "config.DEBUG no longer decides"


def test_silence_condition_print_mutes_parent_to_proto(capsys):
    from keras_tuner.src.engine import conditions

    parent = conditions.Parent("modality", ["photos"])
    parent.to_proto()
    assert capsys.readouterr().out == "photos\n", (
        "Parent.to_proto no longer prints: drop silence_condition_print"
    )
    silence_condition_print()
    try:
        parent.to_proto()
        assert capsys.readouterr().out == ""
    finally:
        del conditions.print


def test_start_oracle_server_serves_keras_tuners_client_and_refuses_a_taken_port(
    tmp_path, monkeypatch
):
    from keras_tuner.src.distribute import oracle_client

    from houses_tune.tuner.distributed.environment import free_port

    oracle = _random_oracle(tmp_path)
    port = free_port()
    server, servicer = start_oracle_server(oracle, "127.0.0.1", port)
    try:
        monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
        monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(port))
        monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
        client = oracle_client.OracleClient(oracle)
        trial = client.create_trial("tuner0")
        assert trial.status == "RUNNING" and "tuner0" in oracle.ongoing_trials
        assert not servicer.stop_triggered
        assert start_oracle_server(oracle, "127.0.0.1", port) is None  # the port is taken
    finally:
        server.stop(grace=None)


def test_weights_file_bytes_is_the_checkpoint_save_weights_writes(tmp_path):
    import keras
    import numpy as np

    def model():
        net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(1)])
        net.compile("adam", "mse")
        return net

    trained = model()
    trained.fit(np.ones((8, 3)), np.ones((8, 1)), verbose=0)
    path = tmp_path / "fold_1.weights.h5"
    path.write_bytes(weights_file_bytes(trained))
    loaded = model()
    loaded.optimizer.build(loaded.trainable_variables)
    loaded.load_weights(path)
    for got, want in zip(loaded.get_weights(), trained.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(loaded.optimizer.variables, trained.optimizer.variables, strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
