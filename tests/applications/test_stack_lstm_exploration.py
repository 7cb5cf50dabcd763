"""Dynamic-oracle training of the stack-LSTM parser: explored targets vs brute force, p = 0 vs static."""

import copy

import keras
import numpy as np
import pytest
from transition_brute_force import best_reachable_loss, projective_trees

from keras_dlss.applications import StackLSTMParser
from keras_dlss.applications.parser_task import ParserTask, build_vocabularies, encode_trees
from keras_dlss.applications.stack_lstm_exploration import (
    check_system,
    dynamic_data,
    explore,
    static_data,
)
from keras_dlss.applications.stack_lstm_task import fit_stack_lstm
from keras_dlss.applications.transition_systems import (
    SHIFT,
    Configuration,
    transition_targets,
)
from keras_dlss.datasets import is_projective, read_conllu_trees, ud_english_ewt_path

SMALL = {"embedding_dim": 6, "token_dim": 5, "lstm_units": 4, "state_units": 6}
SMALL.update(action_dim=3, relation_dim=2, dropout=0.0)


def _brute_force_best_actions(config, gold, memo):
    losses = {}
    for action in config.legal():
        child = copy.deepcopy(config)
        child.apply(action)
        losses[action] = best_reachable_loss(child, gold, memo)
    return {a for a, loss in losses.items() if loss == min(losses.values())}


def test_explored_targets_equal_brute_force_minimum_cost_actions():
    rng = np.random.default_rng(0)
    golds = [t for n in (3, 4, 5) for t in projective_trees(n)]
    golds = [golds[i] for i in rng.choice(len(golds), 24, replace=False)]
    width = 6
    words = np.zeros((len(golds), width), "int32")
    heads = np.full((len(golds), width), -1, "int32")
    for row, gold in enumerate(golds):
        words[row, : len(gold) + 1] = rng.integers(2, 12, len(gold) + 1)
        heads[row, 1 : len(gold) + 1] = gold
    labels = np.where(heads >= 0, rng.integers(0, 3, heads.shape), -1).astype("int32")
    keras.utils.set_random_seed(0)
    model = StackLSTMParser(12, 3, system="arc-hybrid", **SMALL)
    model.build()
    out = explore(model, words, heads, labels, probability=1.0, jit_compile=None)
    xla = explore(model, words, heads, labels, probability=1.0, jit_compile=True)
    for key, value in out.items():
        np.testing.assert_array_equal(xla[key], value)
    wrong_trees = 0
    for row, gold in enumerate(golds):
        config, memo = Configuration(len(gold), "arc-hybrid"), {}
        for t in range(2 * len(gold)):
            zero = set(np.flatnonzero(out["oracle"][row, t]).tolist())
            assert zero == _brute_force_best_actions(config, gold, memo), (row, t)
            action = int(out["actions"][row, t])
            before = list(config.heads)
            config.apply(action)
            if action != SHIFT:
                dep = next(i for i in range(len(gold)) if before[i] != config.heads[i])
                target = labels[row, dep + 1] if config.heads[dep] == gold[dep] else -1
                assert out["relation_targets"][row, t] == target
                if target >= 0:
                    assert out["relations"][row, t] == target
        assert config.is_terminal() and (out["actions"][row, 2 * len(gold) :] == -1).all()
        wrong_trees += config.heads != gold
    assert wrong_trees > len(golds) // 2  # p = 1 with an untrained model really explores


@pytest.fixture(scope="module")
def ewt():
    trees = read_conllu_trees(ud_english_ewt_path("dev"))
    crossing = min((t for t in trees if not is_projective(t.heads)), key=len)
    trees = [t for t in trees if len(t) <= 9][:23] + [crossing]
    info = build_vocabularies(trees)
    return info, encode_trees(trees, info)


def test_with_p_zero_the_explored_data_is_the_static_oracle_data(ewt):
    info, (x, y) = ewt
    keras.utils.set_random_seed(0)
    model = StackLSTMParser(
        len(info["words"]["tokens"]), len(info["deprels"]), system="arc-hybrid", **SMALL
    )
    model.build()
    dx, dy = dynamic_data(model, (x, y), probability=0.0, jit_compile=None)
    sx, sy = static_data((x, y), "arc-hybrid")
    actions, relations, ok = transition_targets(y["heads"], y["labels"], "arc-hybrid")
    assert ok.sum() == len(dx["words"]) and ok.sum() < len(ok)  # non-projective rows left out
    np.testing.assert_array_equal(dx["words"], sx["words"])
    np.testing.assert_array_equal(dx["actions"], actions[ok])
    np.testing.assert_array_equal(dx["relations"], relations[ok])
    np.testing.assert_array_equal(dy["relations"], relations[ok])
    # The zero-cost set always holds the static action (it can hold more: spurious ambiguity).
    assert (dy["oracle"] >= sy["oracle"]).all() and (dy["oracle"].sum(-1) > 0).sum() == (
        actions[ok] >= 0
    ).sum()
    # A one-hot `oracle` trains exactly the static oracle's cross-entropy.
    pred = model(sx)
    sparse = {"actions": sx["actions"], "relations": sx["relations"]}
    np.testing.assert_allclose(
        float(model.compute_loss(y=sy, y_pred=pred)),
        float(model.compute_loss(y=sparse, y_pred=pred)),
        rtol=1e-6,
    )


def test_dynamic_oracle_needs_arc_hybrid():
    with pytest.raises(ValueError, match="`system`.*arc-decomposable.*Received"):
        check_system("arc-standard", "dynamic")
    with pytest.raises(ValueError, match="`oracle`.*Received"):
        check_system("arc-hybrid", "exploring")
    assert check_system("arc-standard", "static") == "static"
    model = StackLSTMParser(10, 3, system="arc-standard", **SMALL)
    with pytest.raises(ValueError, match="`system`.*Received"):
        explore(model, np.ones((1, 3), "int32"), -np.ones((1, 3)), -np.ones((1, 3)), 0.5)


def test_cli_task_trains_with_the_dynamic_oracle():
    task = ParserTask()
    data = task.load_data()

    def short(xy, n):  # one bucket width: one traced training graph
        keep = (xy[0]["words"] > 0).sum(1) <= 12
        return tuple({k: a[keep][:n, :13] for k, a in d.items()} for d in xy)

    data.train, data.test, data.validation = short(data.train, 16), short(data.test, 8), None
    with pytest.raises(ValueError, match="`system`.*Received"):
        task.build_model(data, kind="stack-lstm", system="arc-standard", oracle="dynamic")
    model = task.build_model(
        data, kind="stack-lstm", system="arc-hybrid", oracle="dynamic", explore_p=0.5, lstm_units=8
    )
    assert data.info["oracle"] == "dynamic" and data.info["explore_p"] == 0.5
    history = fit_stack_lstm(model, data, 2, 16, [], 0, warmup=1)  # static, explore, explored
    assert np.isfinite(history.history["loss"]).all() and len(history.history["loss"]) == 2
