"""The DARTS search space as keras-tuner hyperparameters, and random search over it.

Li & Talwalkar, "Random Search and Reproducibility for Neural Architecture
Search", UAI 2019 (arXiv:1902.07638): random search over the *same* space
with the *same* budget is the baseline a search method must beat. The space
here is exactly the one `derive_genotype` maps DARTS's continuous weights into:
for the normal and the reduction cell, each intermediate node `i` picks two
inputs among its `2 + i` predecessors and one non-zero operation per input.
A sampled point is a genotype, so every searcher ends with the same kind of
object, retrained by the same `DARTSNetwork.from_genotype`.

Sampling inputs independently may pick the same predecessor twice; the
genotype allows it (two operations on one input), and DARTS's top-2 rule can
never produce it, which is why `decisions`/`genotype_from_values` keep the
encoding rather than forbid it (a constrained space would no longer be the
uniform distribution over independent choices that random search assumes).
"""

import keras_tuner as kt

from keras_dlss._validation import check_positive_int
from keras_dlss.applications.darts_operations import PRIMITIVES

__all__ = [
    "DARTSRandomSearchOracle",
    "darts_decisions",
    "darts_hyperparameters",
    "genotype_from_values",
]

OPERATIONS = tuple(p for p in PRIMITIVES if p != "zero")
CELLS = ("normal", "reduce")


def darts_decisions(steps):
    """`[(name, options), ...]`: every decision of a genotype, in controller order.

    For each cell type and node `i`, two (input, operation) pairs: the input in
    `range(2 + i)` and the operation among the seven non-zero `PRIMITIVES`.
    """
    steps = check_positive_int("steps", steps)
    decisions = []
    for cell in CELLS:
        for i in range(steps):
            for n in range(2):
                decisions.append((f"{cell}_node{i}_input{n}", list(range(2 + i))))
                decisions.append((f"{cell}_node{i}_op{n}", list(OPERATIONS)))
    return decisions


def darts_hyperparameters(steps=2):
    """A `keras_tuner.HyperParameters` holding one `Choice` per decision of `darts_decisions`."""
    hp = kt.HyperParameters()
    for name, options in darts_decisions(steps):
        hp.Choice(name, options)
    return hp


def genotype_from_values(values, steps):
    """The genotype dict (see `applications.darts_genotype`) of hyperparameter values."""
    genotype = {}
    for cell in CELLS:
        genotype[cell] = [
            [values[f"{cell}_node{i}_op{n}"], int(values[f"{cell}_node{i}_input{n}"])]
            for i in range(steps)
            for n in range(2)
        ]
        genotype[f"{cell}_concat"] = list(range(2, 2 + steps))
    return genotype


class DARTSRandomSearchOracle(kt.oracles.RandomSearchOracle):
    """keras-tuner random search over the DARTS space (Li & Talwalkar 2019's baseline).

    Each trial is a genotype drawn uniformly (every input and operation
    independently); the hypermodel reads it with
    `genotype_from_values(hp.values, steps)` and trains
    `DARTSNetwork.from_genotype(...)`. Give it the budget DARTS used, in
    trained candidate-epochs (`benchmarks/darts_vs_random.py` does).

    Args:
        objective: the keras-tuner objective, e.g. `"val_accuracy"`.
        max_trials: int. Genotypes to try.
        steps: int. Intermediate nodes per cell. Defaults to `2`.
        seed: int. Defaults to `None`.
        **kwargs: `keras_tuner.oracles.RandomSearchOracle` arguments.

    Example:

    ```python
    oracle = DARTSRandomSearchOracle(
        objective="val_accuracy", max_trials=3, steps=2, seed=0)
    ```
    """

    def __init__(self, objective=None, max_trials=10, steps=2, seed=None, **kwargs):
        self.steps = check_positive_int("steps", steps)
        check_positive_int("max_trials", max_trials)
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            hyperparameters=darts_hyperparameters(self.steps),
            seed=seed,
            allow_new_entries=False,
            **kwargs,
        )

    def genotype(self, trial):
        """The genotype of `trial`."""
        return genotype_from_values(trial.hyperparameters.values, self.steps)
