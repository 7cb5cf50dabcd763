"""Neural architecture search with a REINFORCE-trained LSTM controller, as a keras-tuner Oracle.

Zoph & Le, "Neural Architecture Search with Reinforcement Learning", ICLR 2017
(arXiv:1611.01578). keras-tuner has no policy-gradient oracle; this one samples
each trial's architecture (here: a DARTS genotype, `tuners.darts_decisions`)
from `LSTMController`, and when the trial ends it takes one REINFORCE step
with the trial's score as the reward and an exponential moving average of past
rewards as the baseline (Section 3.2). With `direction="min"` objectives the
reward is the negated score.

The controller's parameters, optimizer state, baseline and each trial's
decisions travel in the oracle's saved state, so an interrupted search resumes
with the policy it had.
"""

import keras_tuner as kt
import numpy as np

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.tuners.controller import LSTMController
from keras_dlss.tuners.darts_space import (
    darts_decisions,
    darts_hyperparameters,
    genotype_from_values,
)

__all__ = ["REINFORCEOracle"]


class REINFORCEOracle(kt.Oracle):
    """keras-tuner Oracle sampling DARTS genotypes from a REINFORCE-trained LSTM.

    Args:
        objective: the keras-tuner objective, e.g. `"val_accuracy"` (the
            reward; Zoph & Le use validation accuracy).
        max_trials: int. Architectures to sample.
        steps: int. Intermediate nodes per cell. Defaults to `2`.
        hidden_units: int. Controller LSTM width. Defaults to `32`.
        learning_rate: float. Controller Adam step size. Defaults to `0.05`.
        baseline_decay: float in [0, 1). Moving-average decay of the reward
            baseline. Defaults to `0.8`.
        seed: int. Defaults to `0`.
        **kwargs: `keras_tuner.Oracle` arguments.

    Example:

    ```python
    oracle = REINFORCEOracle(
        objective="val_accuracy", max_trials=3, steps=2)
    ```

    References:
        Zoph & Le, 2017. "Neural Architecture Search with Reinforcement
        Learning". https://arxiv.org/abs/1611.01578
    """

    def __init__(
        self,
        objective=None,
        max_trials=10,
        steps=2,
        hidden_units=32,
        learning_rate=0.05,
        baseline_decay=0.8,
        seed=0,
        **kwargs,
    ):
        self.steps = check_positive_int("steps", steps)
        check_positive_int("max_trials", max_trials)
        check_range("baseline_decay", baseline_decay, 0.0, 1.0, high_inclusive=False)
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            hyperparameters=darts_hyperparameters(self.steps),
            allow_new_entries=False,
            seed=seed,
            **kwargs,
        )
        self.decisions = darts_decisions(self.steps)
        self.controller = LSTMController(
            [len(options) for _, options in self.decisions],
            hidden_units=hidden_units,
            learning_rate=learning_rate,
            seed=0 if seed is None else seed,
        )
        self.baseline_decay = float(baseline_decay)
        self.baseline = None
        self.rewards = []
        self._actions = {}
        self._rng = np.random.default_rng(seed)

    def populate_space(self, trial_id):
        if len(self._actions) >= self.max_trials:
            return {"status": kt.engine.trial.TrialStatus.STOPPED, "values": None}
        actions = self.controller.sample(self._rng)
        self._actions[trial_id] = actions
        values = {name: options[a] for (name, options), a in zip(self.decisions, actions)}
        return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": values}

    def end_trial(self, trial):
        super().end_trial(trial)
        trial = self.trials[trial.trial_id]
        actions = self._actions.get(trial.trial_id)
        if trial.status != "COMPLETED" or actions is None or trial.score is None:
            return
        reward = float(trial.score)
        if self.objective.direction == "min":
            reward = -reward
        self.observe(actions, reward)

    def observe(self, actions, reward):
        """One REINFORCE step: `actions` earned `reward` (the baseline is updated after)."""
        baseline = reward if self.baseline is None else self.baseline
        self.controller.update(actions, reward - baseline)
        decay = self.baseline_decay
        self.baseline = reward if self.baseline is None else decay * baseline + (1 - decay) * reward
        self.rewards.append(reward)

    def genotype(self, trial):
        """The genotype of `trial`."""
        return genotype_from_values(trial.hyperparameters.values, self.steps)

    def get_state(self):
        state = super().get_state()
        state["reinforce"] = {
            "controller": self.controller.get_state(),
            "baseline": self.baseline,
            "rewards": self.rewards,
            "actions": self._actions,
        }
        return state

    def set_state(self, state):
        super().set_state(state)
        saved = state.get("reinforce")
        if saved:
            self.controller.set_state(saved["controller"])
            self.baseline = saved["baseline"]
            self.rewards = list(saved["rewards"])
            self._actions = {k: list(v) for k, v in saved["actions"].items()}
