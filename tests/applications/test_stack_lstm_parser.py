"""StackLSTMParser: every state against a Python-list reference, trees, XLA, save/load, CLI."""

import keras
import numpy as np
import pytest

from keras_dlss.applications import StackLSTMParser
from keras_dlss.applications.parser_task import ParserTask, build_vocabularies, encode_trees
from keras_dlss.applications.transition_systems import (
    LEFT_ARC,
    RIGHT_ARC,
    SHIFT,
    SYSTEMS,
    Configuration,
    transition_targets,
)
from keras_dlss.datasets import check_heads, is_projective, read_conllu_trees, ud_english_ewt_path
from keras_dlss.export.artifacts import export_and_compare

SMALL = {"embedding_dim": 6, "token_dim": 5, "lstm_units": 4, "state_units": 6}
SMALL.update(action_dim=3, relation_dim=2, dropout=0.0)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _cell(layer, x, h, c):
    """Keras's LSTMCell (gates i, f, c, o) in NumPy."""
    k, rk, b = (keras.ops.convert_to_numpy(w) for w in layer.weights)
    z = x @ k + h @ rk + b
    i, f, g, o = np.split(z, 4)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


def _dense(layer, x, activation=None):
    k, b = (keras.ops.convert_to_numpy(w) for w in layer.weights)
    y = x @ k + b
    return {"relu": lambda a: np.maximum(a, 0), "tanh": np.tanh, None: lambda a: a}[activation](y)


def reference_parse(model, words, gold=None):
    """One sentence parsed with Python lists for the stack, buffer and history.

    Returns the parser states `p_t` and the heads and labels; follows `gold`
    `(actions, relations)` when given, else the best legal action.
    """
    tokens = keras.ops.convert_to_numpy(model._tokens({"words": words[None]}, False))[0]
    action_table = keras.ops.convert_to_numpy(model.action_embedding)
    relation_table = keras.ops.convert_to_numpy(model.relation_embedding)
    u = model.lstm_units
    zero = np.zeros(u, "float32")
    n = int((words > 0).sum()) - 1
    tree = {i: tokens[i] for i in range(n + 1)}
    config = Configuration(n, model.system)
    stack = [(0,) + _cell(model.stack_cell, tree[0], zero, zero)]  # (word, h, c)
    history = (zero, zero)
    states, labels = [], [0] * (n + 1)
    for t in range(2 * n):
        h, c = zero, zero
        for j in reversed(config.buffer[1:]):  # the buffer LSTM reads right to left
            h, c = _cell(model.buffer_cell, tree[j], h, c)
        b = _cell(model.buffer_cell, tree[config.buffer[0]], h, c)[0] if config.buffer else zero
        p = _dense(model.state, np.concatenate([stack[-1][1], b, history[0]]), "relu")
        states.append(p)
        if gold is not None:
            action, relation = int(gold[0][t]), max(int(gold[1][t]), 0)
        else:
            scores = _dense(model.action_scores, p)
            action = max(config.legal(), key=lambda a: scores[a])
            relation = int(np.argmax(_dense(model.relation_scores, p)))
        if action == SHIFT:
            word = config.buffer[0]
            stack.append((word,) + _cell(model.stack_cell, tree[word], *stack[-1][1:]))
        else:
            s0, s1 = stack[-1][0], stack[-2][0]
            if action == LEFT_ARC and model.system == "arc-hybrid":
                head, dependent = config.buffer[0], s0
            else:
                head, dependent = (s0, s1) if action == LEFT_ARC else (s1, s0)
            vector = np.concatenate([tree[head], tree[dependent], relation_table[relation]])
            tree[head] = _dense(model.compose, vector, "tanh")
            labels[dependent] = relation
            if action == LEFT_ARC and model.system == "arc-hybrid":
                stack.pop()
            else:
                del stack[-2:]
                under = stack[-1][1:] if stack else (zero, zero)
                stack.append((head,) + _cell(model.stack_cell, tree[head], *under))
        history = _cell(model.history_cell, action_table[action], *history)
        config.apply(action)
    return np.array(states), [0] + config.heads, labels


@pytest.fixture(scope="module")
def ewt():
    trees = [t for t in read_conllu_trees(ud_english_ewt_path("dev")) if len(t) <= 6][:8]
    info = build_vocabularies(trees)
    x, y = encode_trees(trees, info)
    return trees, info, x, y


def _targets(x, y, system):
    actions, relations, ok = transition_targets(y["heads"], y["labels"], system)
    keep = lambda a: a[ok]  # noqa: E731
    xs = {"words": keep(x["words"]), "actions": keep(actions), "relations": keep(relations)}
    return xs, {"actions": xs["actions"], "relations": xs["relations"]}


# Eager calls throughout: for a few tiny sentences, tracing the parse loop into a
# graph costs far more than running it; XLA is compiled once per system below.
@pytest.fixture(scope="module", params=SYSTEMS)
def model_and_data(request, ewt):
    _, info, x, y = ewt
    keras.utils.set_random_seed(0)
    model = StackLSTMParser(
        len(info["words"]["tokens"]), len(info["deprels"]), system=request.param, **SMALL
    )
    xs, ys = _targets(x, y, request.param)
    model(xs)
    return model, xs, ys


def test_states_and_parses_equal_a_python_list_reference(model_and_data):
    model, xs, _ = model_and_data
    teacher = (xs["actions"], xs["relations"])
    states = keras.ops.convert_to_numpy(model._parse_loop(xs, teacher)[0])
    heads, labels, _ = model.parse({"words": xs["words"]}, jit_compile=None)
    for row in range(4):
        words = xs["words"][row]
        n = int((words > 0).sum()) - 1
        gold = (xs["actions"][row], xs["relations"][row])
        ref_states, ref_heads, _ = reference_parse(model, words, gold)
        np.testing.assert_allclose(states[row, : 2 * n], ref_states, atol=1e-5)
        np.testing.assert_array_equal(ref_heads[1:], xs_gold_heads(xs, row, model.system))
        _, ref_heads, ref_labels = reference_parse(model, words)
        np.testing.assert_array_equal(heads[row, : n + 1], ref_heads)
        np.testing.assert_array_equal(labels[row, 1 : n + 1], ref_labels[1:])


def xs_gold_heads(xs, row, system):
    n = int((xs["words"][row] > 0).sum()) - 1
    config = Configuration(n, system)
    for action in xs["actions"][row, : 2 * n]:
        config.apply(int(action))
    return config.heads


def test_every_decoded_output_is_a_projective_tree_and_xla_agrees(model_and_data):
    model, _, _ = model_and_data
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 12, 16)
    words = np.zeros((16, 12), "int32")
    for row, n in enumerate(lengths):
        words[row, : n + 1] = rng.integers(2, model.vocabulary_size, n + 1)
    heads, labels, _ = model.parse({"words": words}, jit_compile=None, batch_size=16)
    for row, n in enumerate(lengths):
        check_heads(heads[row, 1 : n + 1])
        assert is_projective(heads[row, 1 : n + 1].tolist())
        assert (heads[row, n + 1 :] == 0).all()
    xla_heads, xla_labels, _ = model.parse({"words": words}, jit_compile=True, batch_size=16)
    np.testing.assert_array_equal(xla_heads, heads)
    np.testing.assert_array_equal(xla_labels, labels)


def test_training_fits_the_oracle_and_padding_changes_nothing(ewt):
    _, info, x, y = ewt
    keras.utils.set_random_seed(0)
    model = StackLSTMParser(len(info["words"]["tokens"]), len(info["deprels"]), **SMALL)
    xs, ys = _targets(x, y, "arc-standard")
    model.compile(optimizer=keras.optimizers.Adam(5e-2), run_eagerly=True)
    before = float(model.compute_loss(y=ys, y_pred=model(xs)))
    model.fit(xs, ys, batch_size=8, epochs=6, verbose=0)
    after = float(model.compute_loss(y=ys, y_pred=model(xs)))
    assert after < 0.9 * before
    padded = {
        "words": np.pad(xs["words"], ((0, 0), (0, 2))),
        "actions": np.pad(xs["actions"], ((0, 0), (0, 4)), constant_values=-1),
        "relations": np.pad(xs["relations"], ((0, 0), (0, 4)), constant_values=-1),
    }
    padded_y = {k: padded[k] for k in ys}
    np.testing.assert_allclose(
        float(model.compute_loss(y=padded_y, y_pred=model(padded))), after, rtol=1e-5
    )


def test_save_load_round_trips(model_and_data, tmp_path):
    model, xs, _ = model_and_data
    path = str(tmp_path / "stack.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    assert restored.get_config() == model.get_config()
    for key, value in model(xs).items():
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(restored(xs)[key]), keras.ops.convert_to_numpy(value)
        )
    words = {"words": xs["words"]}
    np.testing.assert_array_equal(
        restored.parse(words, jit_compile=None)[0], model.parse(words, jit_compile=None)[0]
    )


def test_transition_targets_replay_to_the_gold_tree(ewt):
    trees, _, _, y = ewt
    for system in SYSTEMS:
        actions, relations, ok = transition_targets(y["heads"], y["labels"], system)
        for row, tree in enumerate(trees):
            assert ok[row] == is_projective(tree.heads)
            if not ok[row]:
                continue
            config = Configuration(len(tree), system)
            for t in range(2 * len(tree)):
                if actions[row, t] in (LEFT_ARC, RIGHT_ARC):
                    before = list(config.heads)
                    config.apply(int(actions[row, t]))
                    dependent = [i for i, h in enumerate(config.heads) if before[i] != h][0]
                    assert relations[row, t] == y["labels"][row, dependent + 1]
                else:
                    config.apply(int(actions[row, t]))
            assert config.heads == tree.heads
            assert (actions[row, 2 * len(tree) :] == -1).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="`system`.*Received"):
        StackLSTMParser(10, 3, system="arc-eager")
    with pytest.raises(ValueError, match="`dropout`.*Received"):
        StackLSTMParser(10, 3, dropout=1.0)
    with pytest.raises(ValueError, match="`labels`.*Received"):
        transition_targets(np.zeros((2, 3)), np.zeros((2, 4)))


def test_cli_task_trains_and_predicts_with_kind_stack_lstm():
    task = ParserTask()
    data = task.load_data()

    # Short sentences only: one bucket width, so one traced training graph.
    def short(xy, n):
        keep = (xy[0]["words"] > 0).sum(1) <= 12
        return tuple({k: a[keep][:n, :13] for k, a in d.items()} for d in xy)

    data.train, data.test, data.validation = short(data.train, 16), short(data.test, 8), None
    model = task.build_model(data, kind="stack-lstm", system="arc-hybrid", lstm_units=8)
    task.fit(model, data, epochs=1, batch_size=16, callbacks=[], verbose=0)
    scores = task.evaluate(model, data)
    assert 0.0 <= scores["test_uas"] <= 1.0 and "test_upos_accuracy" not in scores
    lines = task.predict(model, ["The cat sat on the mat ."], data.info)
    assert lines[0].count("\n") == 8


@pytest.mark.parametrize("format", ["tf_saved_model", "onnx"])
def test_export_saves_the_greedy_decoder_with_output_parity(ewt, tmp_path, format):
    if keras.config.backend() != "tensorflow":
        pytest.skip("SavedModel/ONNX export of this model is checked on TensorFlow")
    _, info, x, y = ewt
    keras.utils.set_random_seed(0)
    model = StackLSTMParser(
        len(info["words"]["tokens"]), len(info["deprels"]), system="arc-hybrid", **SMALL
    )
    xs, _ = _targets(x, y, "arc-hybrid")
    model(xs)  # built and called by training-shaped inputs, as after `fit`
    words = {"words": xs["words"][:4]}
    decoded = model(words)  # without gold transitions `call` is the greedy parse
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(decoded["heads"]), model.parse(words, jit_compile=None)[0]
    )
    path = str(tmp_path / ("model.onnx" if format == "onnx" else "saved"))
    assert export_and_compare(model, path, words, format=format) == 0.0
