"""Population based training (PBT) on keras-tuner's Oracle/Tuner API.

A population of `population_size` members is trained in rounds of
`epochs_per_round` epochs. After each round the members are ranked by the
objective; every member of the bottom `quantile` *exploits* a random member of
the top `quantile` (truncation selection: it copies its weights and
hyperparameters) and then *explores* (each explored hyperparameter is
multiplied by 0.8 or 1.2, or resampled, always within its bounds; by default
the `hp.Float` ones, since architecture hyperparameters must stay those of
the copied weights). The other members go on
from their own weights.

Each (member, round) is one keras-tuner trial whose end-of-round weights are
checkpointed in its trial directory; the oracle's state (round, plan, issued
trials) is saved with every trial, so a search interrupted mid-round resumes
where it stopped (the interrupted trial is re-run from its parent's
checkpoint). `get_schedule` follows a trial's lineage back to round 0 and
returns the hyperparameter schedule that produced it; `plot_schedule` draws it.

References:
    Jaderberg et al., 2017. "Population Based Training of Neural Networks".
    https://arxiv.org/abs/1711.09846
"""

import random
import warnings

import keras_tuner as kt

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.tuners.exploit_explore import pbt_exploit, pbt_explore

_PARENT = "tuner/trial_id"  # same key as Hyperband: weights to start from
_MEMBER = "pbt/member"
_ROUND = "pbt/round"
_SOURCE = "pbt/exploited_from"
_DONE = ("COMPLETED", "FAILED", "INVALID")


class PBTOracle(kt.Oracle):
    """The oracle of `PopulationBasedTraining` (see the module docstring)."""

    def __init__(
        self,
        objective=None,
        population_size=8,
        rounds=5,
        quantile=0.25,
        perturb_factors=(0.8, 1.2),
        resample_probability=0.25,
        explore=None,
        hyperparameters=None,
        seed=None,
        **kwargs,
    ):
        check_positive_int("population_size", population_size, minimum=2)
        check_positive_int("rounds", rounds)
        check_range("quantile", quantile, 0.0, 0.5, low_inclusive=False)
        check_range("resample_probability", resample_probability, 0.0, 1.0)
        if not perturb_factors or any(float(f) <= 0 for f in perturb_factors):
            raise ValueError(
                f"Argument `perturb_factors` must be a non-empty list of positive numbers. "
                f"Received: perturb_factors={perturb_factors!r}"
            )
        super().__init__(
            objective=objective,
            max_trials=population_size * rounds,
            hyperparameters=hyperparameters,
            seed=seed,
            **kwargs,
        )
        self.population_size = int(population_size)
        self.rounds = int(rounds)
        self.quantile = float(quantile)
        self.perturb_factors = [float(f) for f in perturb_factors]
        self.resample_probability = float(resample_probability)
        self.explore = None if explore is None else list(explore)
        self._round = 0
        self._plan = None  # per member: {"values": ..., "parent": ..., "source": ...}
        self._issued = [None] * self.population_size  # trial ids of the current round

    def _make_plan(self):
        rng = random.Random(self.seed * 7919 + self._round)
        if self._round == 0:
            plan = []
            for member in range(self.population_size):
                values = self._random_values() or self.hyperparameters.values
                plan.append({"values": values, "parent": None, "source": None, "member": member})
            return plan
        prev = [self.trials[t] for t in self._issued]
        scores = [t.score if t.status == "COMPLETED" else None for t in prev]
        direction = self.objective.direction
        moves = pbt_exploit(scores, self.quantile, rng, direction)
        plan = []
        for member, trial in enumerate(prev):
            values = self._tunable_values(trial)
            source = moves.get(member)
            if source is None:
                plan.append({"values": values, "parent": trial.trial_id, "source": None})
            else:
                donor = prev[source]
                explored = pbt_explore(
                    self._tunable_values(donor),
                    self.hyperparameters,
                    rng,
                    self.perturb_factors,
                    self.resample_probability,
                    self._explored_names(),
                )
                plan.append({"values": explored, "parent": donor.trial_id, "source": source})
        return plan

    def _explored_names(self):
        # Weights are copied on exploit, so by default only Float hyperparameters
        # (rates, regularisation) are explored: Int/Choice/Boolean ones usually
        # change the architecture and are inherited from the donor.
        if self.explore is not None:
            return self.explore
        return [hp.name for hp in self.hyperparameters.space if type(hp).__name__ == "Float"]

    @staticmethod
    def _tunable_values(trial):
        return {
            k: v
            for k, v in trial.hyperparameters.values.items()
            if not k.startswith(("tuner/", "pbt/"))
        }

    def populate_space(self, trial_id):
        while True:
            if self._round >= self.rounds:
                return {"status": "STOPPED"}
            if self._plan is None:
                self._plan = self._make_plan()
                self._issued = [None] * self.population_size
            pending = [m for m in range(self.population_size) if self._issued[m] is None]
            if pending:
                break
            if not all(self.trials[t].status in _DONE for t in self._issued):
                return {"status": "IDLE"}
            self._round += 1
            self._plan = None
        member = pending[0]
        entry = self._plan[member]
        values = dict(entry["values"])
        values[_MEMBER] = member
        values[_ROUND] = self._round
        if entry["parent"] is not None:
            values[_PARENT] = entry["parent"]
        if entry["source"] is not None:
            values[_SOURCE] = entry["source"]
        self._issued[member] = trial_id
        return {"status": "RUNNING", "values": values}

    def get_state(self):
        state = super().get_state()
        state.update(
            population_size=self.population_size,
            rounds=self.rounds,
            quantile=self.quantile,
            perturb_factors=self.perturb_factors,
            resample_probability=self.resample_probability,
            explore=self.explore,
            pbt_round=self._round,
            pbt_plan=self._plan,
            pbt_issued=self._issued,
        )
        return state

    def set_state(self, state):
        super().set_state(state)
        self.population_size = state["population_size"]
        self.rounds = state["rounds"]
        self.quantile = state["quantile"]
        self.perturb_factors = state["perturb_factors"]
        self.resample_probability = state["resample_probability"]
        self.explore = state["explore"]
        self._round = state["pbt_round"]
        self._plan = state["pbt_plan"]
        self._issued = state["pbt_issued"]


class PopulationBasedTraining(kt.Tuner):
    """Population based training (Jaderberg et al. 2017) as a keras-tuner Tuner.

    Args:
        hypermodel: a `keras_tuner.HyperModel` or a function `build(hp)` returning
            a compiled model.
        objective: the objective to maximise/minimise, e.g. `"val_accuracy"`.
        population_size: int >= 2. Members trained in parallel (in turn).
        rounds: int >= 1. Exploit/explore rounds; total trials are
            `population_size * rounds`.
        epochs_per_round: int >= 1 or None. Epochs between exploit steps;
            None takes the `epochs` passed to `search` (default 1).
        quantile: float in (0, 0.5]. Fraction of the population that is
            replaced (bottom) and copied (top). Defaults to `0.25`.
        perturb_factors: multipliers used by explore. Defaults to `(0.8, 1.2)`.
        resample_probability: float in [0, 1]. Probability of resampling a
            hyperparameter instead of perturbing it. Defaults to `0.25`.
        explore: list of hyperparameter names to explore. Defaults to every
            `hp.Float` (Int/Choice/Boolean hyperparameters usually change the
            architecture, which copied weights would not fit; they are
            sampled in round 0 and inherited on exploit).
        hyperparameters, seed: as for keras-tuner oracles.
        **kwargs: passed to `keras_tuner.Tuner` (`directory`, `project_name`,
            `overwrite`, ...).

    Example:

    ```python
    def build(hp):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        lr = hp.Float("lr", 1e-3, 1e-1, sampling="log")
        model.compile(keras.optimizers.SGD(lr), "mse")
        return model

    tuner = keras_dlss.tuners.PopulationBasedTraining(
        build, objective="val_loss", population_size=4, rounds=3, directory="/tmp/pbt")
    tuner.search(x, y, validation_data=(x, y), epochs=2)
    print(tuner.get_schedule())  # the winner's lr per round
    ```

    References:
        Jaderberg et al., 2017. https://arxiv.org/abs/1711.09846
    """

    def __init__(
        self,
        hypermodel=None,
        objective=None,
        population_size=8,
        rounds=5,
        epochs_per_round=None,
        quantile=0.25,
        perturb_factors=(0.8, 1.2),
        resample_probability=0.25,
        explore=None,
        hyperparameters=None,
        seed=None,
        max_retries_per_trial=0,
        max_consecutive_failed_trials=3,
        **kwargs,
    ):
        if epochs_per_round is not None:
            check_positive_int("epochs_per_round", epochs_per_round)
        oracle = PBTOracle(
            objective=objective,
            population_size=population_size,
            rounds=rounds,
            quantile=quantile,
            perturb_factors=perturb_factors,
            resample_probability=resample_probability,
            explore=explore,
            hyperparameters=hyperparameters,
            seed=seed,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        self.epochs_per_round = epochs_per_round
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)

    def _build_hypermodel(self, hp):
        model = super()._build_hypermodel(hp)
        if _PARENT in hp.values:
            # Continue or exploit: start from the parent's end-of-round weights.
            # A member that continues keeps its optimizer state (momenta, step
            # count, schedules); an exploiting member restarts its optimizer,
            # since its hyperparameters changed (Keras then warns that it skips
            # the saved optimizer variables, which is expected).
            optimizer = getattr(model, "optimizer", None)
            exploited = _SOURCE in hp.values
            if optimizer is not None and not exploited:
                optimizer.build(model.trainable_variables)
            fresh = [v.numpy() for v in optimizer.variables] if optimizer is not None else []
            with warnings.catch_warnings():
                warnings.filterwarnings(
                    "ignore", message=".*Skipping variable loading for optimizer.*"
                )
                model.load_weights(self._get_checkpoint_fname(hp.values[_PARENT]))
            if exploited:
                # The checkpoint may also hold the donor's optimizer state (its
                # learning rate among it): put back the fresh, explored values.
                for v, value in zip(optimizer.variables if optimizer is not None else [], fresh):
                    v.assign(value)
        return model

    def run_trial(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        per_round = self.epochs_per_round or kwargs.get("epochs") or 1
        kwargs["initial_epoch"] = hp.values[_ROUND] * per_round
        kwargs["epochs"] = kwargs["initial_epoch"] + per_round
        kwargs["callbacks"] = self._deepcopy_callbacks(kwargs.get("callbacks", []))
        model = self._try_build(hp)
        history = self.hypermodel.fit(hp, model, *args, **kwargs)
        model.save_weights(self._get_checkpoint_fname(trial.trial_id))
        # PBT ranks members by their current (end-of-round) performance.
        logs = history.history if hasattr(history, "history") else history
        return {name: float(values[-1]) for name, values in logs.items()}

    def get_schedule(self, trial_id=None):
        """The lineage of a trial (default: the best one), round 0 first.

        Returns:
            A list of dicts `{"round", "trial_id", "member", "score",
            "exploited_from", "values"}`, one per round.
        """
        oracle = self.oracle
        trial = oracle.get_trial(trial_id) if trial_id else oracle.get_best_trials(1)[0]
        chain = []
        while trial is not None:
            v = trial.hyperparameters.values
            chain.append(
                {
                    "round": v[_ROUND],
                    "trial_id": trial.trial_id,
                    "member": v[_MEMBER],
                    "score": trial.score,
                    "exploited_from": v.get(_SOURCE),
                    "values": PBTOracle._tunable_values(trial),
                }
            )
            trial = oracle.get_trial(v[_PARENT]) if _PARENT in v else None
        return chain[::-1]

    def plot_schedule(self, path=None, trial_id=None):
        """Plots each numeric hyperparameter of `get_schedule` against the round.

        Args:
            path: optional file name to save the figure to.
            trial_id: trial whose lineage to plot (default: the best).

        Returns:
            The matplotlib `Figure`.
        """
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        schedule = self.get_schedule(trial_id)
        names = [k for k, v in schedule[0]["values"].items() if isinstance(v, (int, float))]
        fig, axes = plt.subplots(
            len(names) or 1, 1, figsize=(6, 2.2 * max(1, len(names))), squeeze=False
        )
        rounds = [s["round"] for s in schedule]
        for ax, name in zip(axes[:, 0], names):
            ax.step(rounds, [s["values"][name] for s in schedule], where="post", marker="o")
            ax.set_ylabel(name)
        axes[-1, 0].set_xlabel("round")
        fig.suptitle("PBT schedule of the best member")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path)
        return fig
