"""The architecture-search oracles: the DARTS space, random search, and the REINFORCE controller."""

import keras_tuner as kt
import numpy as np
import pytest

from keras_dlss.applications.darts_genotype import check_genotype
from keras_dlss.tuners import (
    DARTSRandomSearchOracle,
    LSTMController,
    REINFORCEOracle,
    darts_hyperparameters,
    genotype_from_values,
)


def test_controller_gradient_matches_finite_differences():
    controller = LSTMController([3, 2, 4], hidden_units=5, seed=1)
    actions = [2, 0, 3]
    grads = controller.log_prob_gradients(actions)
    rng = np.random.default_rng(0)
    for name, param in controller.params.items():
        for _ in range(3):
            index = tuple(rng.integers(0, s) for s in param.shape)
            old = param[index]
            param[index] = old + 1e-6
            up = controller.log_prob(actions)
            param[index] = old - 1e-6
            down = controller.log_prob(actions)
            param[index] = old
            np.testing.assert_allclose(grads[name][index], (up - down) / 2e-6, atol=1e-6)


def test_reinforce_raises_the_probability_of_a_rewarded_choice():
    oracle = REINFORCEOracle(objective=kt.Objective("val_accuracy", "max"), steps=1, seed=0)
    # Toy reward: 1 when the first operation of the normal cell is "sep_conv_5x5".
    names = [name for name, _ in oracle.decisions]
    k = names.index("normal_node0_op0")
    target = oracle.decisions[k][1].index("sep_conv_5x5")
    rng = np.random.default_rng(0)

    before = _marginal(oracle, k, target, rng)
    for _ in range(60):
        actions = oracle.controller.sample(rng)
        oracle.observe(actions, float(actions[k] == target))
    after = _marginal(oracle, k, target, rng)
    assert before < 0.25 and after > 0.6, (before, after)
    assert len(oracle.rewards) == 60 and 0 < oracle.baseline <= 1


def _marginal(oracle, k, target, rng, samples=200):
    return np.mean([oracle.controller.sample(rng)[k] == target for _ in range(samples)])


def _run_trials(oracle, tmp_path, score):
    oracle._set_project_dir(str(tmp_path), "search")
    genotypes = []
    for i in range(oracle.max_trials):
        trial = oracle.create_trial(f"tuner{i}")
        if trial.status == "STOPPED":
            break
        genotype = oracle.genotype(trial)
        assert check_genotype(genotype) == oracle.steps
        genotypes.append(genotype)
        oracle.update_trial(trial.trial_id, {"val_accuracy": score(genotype)})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    return genotypes


def test_oracles_sample_valid_genotypes_through_keras_tuner(tmp_path):
    def score(genotype):
        return float(genotype["normal"][0][0] == "skip_connect")

    random = DARTSRandomSearchOracle(objective="val_accuracy", max_trials=4, steps=2, seed=3)
    assert len(_run_trials(random, tmp_path / "r", score)) == 4
    reinforce = REINFORCEOracle(objective="val_accuracy", max_trials=4, steps=2, seed=3)
    genotypes = _run_trials(reinforce, tmp_path / "c", score)
    assert len(genotypes) == 4 and len(reinforce.rewards) == 4
    # The controller's state survives the oracle's save/load.
    state = reinforce.get_state()
    fresh = REINFORCEOracle(objective="val_accuracy", max_trials=4, steps=2, seed=99)
    fresh.set_state(state)
    actions = reinforce._actions[next(iter(reinforce._actions))]
    np.testing.assert_allclose(
        fresh.controller.probabilities(actions), reinforce.controller.probabilities(actions)
    )


def test_space_and_values_round_trip():
    hp = darts_hyperparameters(steps=3)
    assert len(hp.space) == 2 * 3 * 4
    values = {p.name: p.values[-1] for p in hp.space}
    genotype = genotype_from_values(values, 3)
    assert check_genotype(genotype) == 3
    assert genotype["normal"][-1] == ["dil_conv_5x5", 3]  # node 2 reads inputs 0..3


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="`steps`.*Received: steps=0"):
        REINFORCEOracle(objective="val_accuracy", steps=0)
    with pytest.raises(ValueError, match="`baseline_decay`.*Received"):
        REINFORCEOracle(objective="val_accuracy", baseline_decay=1.0)
    with pytest.raises(ValueError, match="`max_trials`.*Received"):
        DARTSRandomSearchOracle(objective="val_accuracy", max_trials=0)
    with pytest.raises(ValueError, match="`choices`.*Received"):
        LSTMController([])
    with pytest.raises(ValueError, match="`learning_rate`.*Received"):
        LSTMController([2], learning_rate=0.0)
