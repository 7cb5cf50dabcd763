"""One entry point for keras-tuner's searches and ours (used by `keras-dlss tune`).

References:
    Bergstra & Bengio, 2012. "Random Search for Hyper-Parameter Optimization".
    Li et al., 2018. "Hyperband". https://arxiv.org/abs/1603.06560
    Jaderberg et al., 2017. "Population Based Training". https://arxiv.org/abs/1711.09846
"""

from keras_dlss._validation import check_one_of, check_positive_int

TUNERS = ("random", "grid", "bayesian", "hyperband", "pbt")


def get_tuner(
    name,
    hypermodel,
    *,
    objective,
    max_trials,
    directory,
    project_name,
    seed=0,
    overwrite=True,
    **kwargs,
):
    """Builds a keras-tuner tuner by name.

    `max_trials` bounds the number of trials for every search: for `"hyperband"`
    it sets `max_epochs` (default `max(3, max_trials)`) unless given, and for
    `"pbt"` it sets `population_size * rounds` close to `max_trials` (at least 2
    trials): the population defaults to `min(4, max(2, max_trials // 2))`, so that
    there are at least two rounds (one exploit step) once `max_trials >= 4`, and
    `rounds` to `max(1, max_trials // population_size)`.

    Args:
        name: one of `"random"`, `"grid"`, `"bayesian"`, `"hyperband"`, `"pbt"`.
        hypermodel: a `keras_tuner.HyperModel` or a `build(hp)` function.
        objective: e.g. `"val_loss"` or a `keras_tuner.Objective`.
        max_trials: int >= 1.
        directory: folder for the search's files.
        project_name: subfolder name.
        seed: int. Random seed. Defaults to `0`.
        overwrite: bool. Start afresh instead of resuming. Defaults to `True`.
        **kwargs: passed to the tuner's constructor.

    Returns:
        A `keras_tuner.Tuner`.

    Example:

    ```python
    tuner = keras_dlss.tuners.get_tuner(
        "pbt", build, objective="val_loss", max_trials=8, directory="/tmp/t", project_name="demo")
    tuner.search(x, y, validation_data=(xv, yv), epochs=1)
    ```
    """
    check_one_of("name", name, TUNERS)
    check_positive_int("max_trials", max_trials)
    import keras_tuner as kt

    common = dict(
        objective=objective,
        directory=directory,
        project_name=project_name,
        seed=seed,
        overwrite=overwrite,
    )
    if name == "random":
        return kt.RandomSearch(hypermodel, max_trials=max_trials, **common, **kwargs)
    if name == "grid":
        return kt.GridSearch(hypermodel, max_trials=max_trials, **common, **kwargs)
    if name == "bayesian":
        return kt.BayesianOptimization(hypermodel, max_trials=max_trials, **common, **kwargs)
    if name == "hyperband":
        kwargs.setdefault("max_epochs", max(3, max_trials))
        return kt.Hyperband(hypermodel, **common, **kwargs)
    from keras_dlss.tuners.pbt import PopulationBasedTraining

    population = kwargs.pop("population_size", min(4, max(2, max_trials // 2)))
    rounds = kwargs.pop("rounds", max(1, max_trials // population))
    return PopulationBasedTraining(
        hypermodel, population_size=population, rounds=rounds, **common, **kwargs
    )
