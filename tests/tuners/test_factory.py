import keras
import keras_tuner as kt
import pytest

from keras_dlss.tuners import PopulationBasedTraining, get_tuner


def _build(hp):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(hp.Int("units", 1, 4))])
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.parametrize(
    "name, cls",
    [
        ("random", kt.RandomSearch),
        ("grid", kt.GridSearch),
        ("bayesian", kt.BayesianOptimization),
        ("hyperband", kt.Hyperband),
        ("pbt", PopulationBasedTraining),
    ],
)
def test_get_tuner(name, cls, tmp_path):
    tuner = get_tuner(
        name, _build, objective="val_loss", max_trials=4, directory=str(tmp_path), project_name=name
    )
    assert isinstance(tuner, cls)


def test_get_tuner_bad_name(tmp_path):
    with pytest.raises(ValueError, match="`name`"):
        get_tuner(
            "annealing",
            _build,
            objective="val_loss",
            max_trials=2,
            directory=str(tmp_path),
            project_name="x",
        )


@pytest.mark.parametrize(
    "trials, population, rounds", [(2, 2, 1), (4, 2, 2), (8, 4, 2), (12, 4, 3)]
)
def test_get_tuner_pbt_sizes(trials, population, rounds, tmp_path):
    tuner = get_tuner(
        "pbt",
        _build,
        objective="val_loss",
        max_trials=trials,
        directory=str(tmp_path),
        project_name="p",
    )
    assert (tuner.oracle.population_size, tuner.oracle.rounds) == (population, rounds)
