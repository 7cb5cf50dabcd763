import random

import keras
import keras_tuner as kt
import numpy as np
import pytest

from keras_dlss.tuners import PBTOracle, PopulationBasedTraining, pbt_exploit, pbt_explore

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 3)).astype("float32")
Y = (X @ np.array([[1.0], [-2.0], [0.5]])).astype("float32")


class RecordingHyperModel(kt.HyperModel):
    """Records the weights each trial starts from; can crash on a chosen fit call."""

    def __init__(self, crash_at=None):
        super().__init__()
        self.start_weights = {}
        self.start_iterations = {}
        self.calls = 0
        self.crash_at = crash_at

    def build(self, hp):
        lr = hp.Float("lr", 1e-3, 0.3, sampling="log")
        hp.Int("units", 2, 8, step=2)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        # Eager: 4 steps of a Dense(1) per trial; tracing and XLA-compiling each of the
        # 12 trials' fresh model cost ~5 s per trial and test nothing PBT does.
        model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse", run_eagerly=True)
        return model

    def fit(self, hp, model, *args, **kwargs):
        self.calls += 1
        if self.crash_at is not None and self.calls == self.crash_at:
            raise kt.errors.FatalError("simulated crash")
        key = (hp.values["pbt/member"], hp.values["pbt/round"])
        self.start_weights[key] = [w.copy() for w in model.get_weights()]
        self.start_iterations[key] = int(model.optimizer.iterations.numpy())
        # The explored learning rate, not the donor's, is what trains.
        np.testing.assert_allclose(float(model.optimizer.learning_rate), hp.values["lr"], rtol=1e-6)
        return model.fit(*args, **kwargs)


def _tuner(tmp_path, hypermodel, overwrite=True, rounds=3):
    return PopulationBasedTraining(
        hypermodel,
        objective="val_loss",
        population_size=4,
        rounds=rounds,
        quantile=0.25,
        seed=1,
        directory=str(tmp_path),
        project_name="pbt",
        overwrite=overwrite,
    )


def _search(tuner):
    tuner.search(X, Y, validation_data=(X, Y), epochs=1, batch_size=16, verbose=0)


def test_exploit_copies_weights_and_schedule(tmp_path):
    hm = RecordingHyperModel()
    tuner = _tuner(tmp_path, hm)
    _search(tuner)
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 12 and all(t.status == "COMPLETED" for t in trials)
    exploited = [t for t in trials if "pbt/exploited_from" in t.hyperparameters.values]
    assert len(exploited) == 2  # one bottom member per later round
    for t in exploited:
        v = t.hyperparameters.values
        parent = tuner.oracle.get_trial(v["tuner/trial_id"])
        pv = parent.hyperparameters.values
        assert pv["pbt/member"] == v["pbt/exploited_from"] != v["pbt/member"]
        assert pv["pbt/round"] == v["pbt/round"] - 1
        # The parent ranked first in its round (quantile 0.25 of 4 = the best one).
        peers = [p for p in trials if p.hyperparameters.values["pbt/round"] == pv["pbt/round"]]
        assert parent.score == min(p.score for p in peers)
        # Architecture-like hps (Int) are inherited; Floats are explored within bounds.
        assert v["units"] == pv["units"]
        assert 1e-3 <= v["lr"] <= 0.3
        saved = tuner.load_model(parent).get_weights()
        started = hm.start_weights[(v["pbt/member"], v["pbt/round"])]
        for a, b in zip(saved, started):
            np.testing.assert_array_equal(a, b)

    # Continuing members keep their optimizer state (4 steps per round); exploiting ones restart.
    def steps_since_restart(trial):
        v = trial.hyperparameters.values
        if "pbt/exploited_from" in v or "tuner/trial_id" not in v:
            return 0
        return 4 + steps_since_restart(tuner.oracle.get_trial(v["tuner/trial_id"]))

    for t in trials:
        v = t.hyperparameters.values
        assert hm.start_iterations[(v["pbt/member"], v["pbt/round"])] == steps_since_restart(t)
    schedule = tuner.get_schedule()
    assert [s["round"] for s in schedule] == [0, 1, 2]
    fig = tuner.plot_schedule(path=str(tmp_path / "schedule.png"))
    assert (tmp_path / "schedule.png").exists() and len(fig.axes) == 2


def test_explore_stays_within_bounds():
    hp = kt.HyperParameters()
    hp.Float("lr", 1e-3, 0.1, sampling="log")
    hp.Int("units", 4, 16, step=4)
    hp.Choice("depth", [1, 2, 3], ordered=True)
    hp.Fixed("fixed", 7)
    rng = random.Random(0)
    values = {"lr": 0.1, "units": 16, "depth": 3, "fixed": 7}
    seen_lr = set()
    for _ in range(300):
        values = pbt_explore(values, hp, rng)
        assert 1e-3 <= values["lr"] <= 0.1
        assert values["units"] in (4, 8, 12, 16)
        assert values["depth"] in (1, 2, 3)
        assert values["fixed"] == 7
        seen_lr.add(round(values["lr"], 8))
    assert len(seen_lr) > 10  # it really moves


def test_exploit_truncation_selection():
    moves = pbt_exploit([0.1, 0.9, 0.5, None, 0.3, 0.7, 0.2, 0.8], 0.25, random.Random(0))
    assert set(moves) == {0, 3}  # the two worst (a failed member counts as worst)
    assert set(moves.values()) <= {1, 7}
    # Failed members exploit even beyond the bottom quantile.
    assert set(pbt_exploit([0.5, None, 0.9, None], 0.25, random.Random(0))) == {1, 3}
    moves_min = pbt_exploit([0.1, 0.9, 0.5, 0.3], 0.25, random.Random(0), direction="min")
    assert moves_min == {1: 0}


def test_interrupted_search_resumes_from_checkpoints(tmp_path):
    crashing = RecordingHyperModel(crash_at=6)  # round 1, member 1
    with pytest.raises(kt.errors.FatalError):
        _search(_tuner(tmp_path, crashing, rounds=2))
    resumed_hm = RecordingHyperModel()
    tuner = _tuner(tmp_path, resumed_hm, overwrite=False, rounds=2)
    _search(tuner)
    trials = tuner.oracle.trials
    assert len(trials) == 8 and all(t.status == "COMPLETED" for t in trials.values())
    # Nothing done before the crash is trained again: 5 trials had completed, and
    # the interrupted one restarts from its parent's checkpoint.
    assert resumed_hm.calls == 3
    assert set(resumed_hm.start_weights) == {(1, 1), (2, 1), (3, 1)}
    retried = next(
        t
        for t in trials.values()
        if (t.hyperparameters["pbt/member"], t.hyperparameters["pbt/round"]) == (1, 1)
    )
    parent = tuner.oracle.get_trial(retried.hyperparameters["tuner/trial_id"])
    for a, b in zip(tuner.load_model(parent).get_weights(), resumed_hm.start_weights[(1, 1)]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        ({"population_size": 1}, "population_size"),
        ({"rounds": 0}, "rounds"),
        ({"quantile": 0.0}, "quantile"),
        ({"perturb_factors": (0.0,)}, "perturb_factors"),
    ],
)
def test_bad_hyperparameters(kwargs, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        PBTOracle(objective="val_loss", **kwargs)
