"""CRF layer and CRFModel: conformance, training from fit(x, y), masks, export."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dlss.layers import CRF, CRFModel
from keras_dlss.ops import allowed_transitions, crf_decode, crf_log_likelihood
from keras_dlss.testing import run_layer_test

K = 4


def _emissions(b=3, t=5, k=K, seed=0):
    return np.random.default_rng(seed).normal(size=(b, t, k)).astype("float32")


def test_conformance_with_marginals():
    # Marginals are the float output the harness can fit and differentiate;
    # random initial weights make the gradient check non-trivial.
    report = run_layer_test(
        CRF,
        {"num_tags": K, "return_marginals": True, "transitions_initializer": "glorot_uniform"},
        _emissions(),
        expected_output_shape=((3, 5), (3, 5, K)),
        mixed_precision_output_dtype="float32",  # the CRF computes in float32 by design
    )
    assert "failed" not in str(report)


def test_conformance_tags_only_parallel():
    run_layer_test(
        CRF,
        {"num_tags": K, "algorithm": "parallel", "transitions_initializer": "glorot_uniform"},
        _emissions(seed=1),
        expected_output_shape=(3, 5),
        check_fit=False,  # int tags only: nothing to fit by mean square
        check_gradients=False,  # tags are piecewise constant
    )


def _toy_data(n=96, t=8, vocab=30, seed=0):
    """Token ids 1..vocab-1 with right padding (id 0); the tag of a token is its id mod K."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab, size=(n, t))
    lengths = rng.integers(2, t + 1, size=n)
    x[np.arange(t)[None] >= lengths[:, None]] = 0
    y = (x % K) * (x > 0)
    return x.astype("int32"), y.astype("int32")


def _model(vocab=30, constraints=None):
    inputs = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(vocab, 16, mask_zero=True)(inputs)
    h = keras.layers.Bidirectional(keras.layers.LSTM(16, return_sequences=True))(h)
    tags = CRF(K, constraints=constraints, name="crf")(keras.layers.Dense(K, name="emissions")(h))
    return CRFModel(inputs, tags)


def test_fit_with_only_an_optimizer_xla():
    x, y = _toy_data(n=64)
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(0.05), jit_compile=True)
    history = model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    pred = model.predict(x, verbose=0)
    assert pred.dtype == np.int32 and pred.shape == y.shape
    valid = x > 0
    assert np.all(pred[~valid] == 0)
    assert (pred[valid] == y[valid]).mean() > 0.95

    # The loss is the mean CRF negative log-likelihood of the gold tags.
    crf = model.get_layer("crf")
    emissions = keras.Model(model.inputs, model.get_layer("emissions").output)(x)
    transitions = [
        np.asarray(w) for w in (crf.transitions, crf.start_transitions, crf.end_transitions)
    ]
    expected = -np.mean(crf_log_likelihood(emissions, y, transitions[0], valid, *transitions[1:]))
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), expected, rtol=1e-3, atol=1e-5)


def test_sample_weight_scales_loss():
    x, y = _toy_data(n=8)
    model = _model()
    model.compile(optimizer="sgd")
    full = model.evaluate(x, y, verbose=0)
    half = model.evaluate(x, y, sample_weight=np.full(8, 0.5), verbose=0)
    np.testing.assert_allclose(half, 0.5 * full, rtol=1e-5)


def test_mask_from_embedding_flows_through():
    x, _ = _toy_data(n=4)
    model = _model()
    base = model.predict(x, verbose=0)
    # Appending padding must not change the decode of the real tokens.
    padded = np.concatenate([x, np.zeros((4, 3), "int32")], axis=1)
    np.testing.assert_array_equal(model.predict(padded, verbose=0)[:, : x.shape[1]], base)
    assert np.all(model.predict(padded, verbose=0)[:, x.shape[1] :] == 0)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_compiled_metrics_exclude_padding(jit_compile):
    # The decoded tags are 0 at padding and so are the padded targets: a metric
    # that saw padding would count it as correct. Keras 3 passes no output mask
    # to compiled metrics; CRFModel weighs `weighted_metrics` by the CRF's mask.
    from keras_dlss.metrics import TokenAccuracy

    rng = np.random.default_rng(0)
    x = rng.integers(1, 30, size=(16, 12))
    x[:, 3:] = 0  # three real tokens, nine padding
    y = rng.integers(1, 4, size=(16, 12)) * (x > 0)
    inputs = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(30, 8, mask_zero=True)(inputs)
    model = CRFModel(inputs, CRF(4)(keras.layers.Dense(4)(h)))
    model.compile(
        optimizer="adam",
        metrics=[TokenAccuracy(name="unweighted")],
        weighted_metrics=[TokenAccuracy()],
        jit_compile=jit_compile,
    )
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    tags = model.predict(x, verbose=0)
    real = x > 0
    expected = float(np.mean(tags[real] == y[real]))
    assert logs["token_accuracy"] == pytest.approx(expected, abs=1e-6)
    # Plain metrics see padding (decoded 0 = padded target 0) as correct.
    assert logs["unweighted"] == pytest.approx(0.75 + expected / 4, abs=1e-6)
    assert expected < 0.9


def test_constraints_hold_in_predictions():
    labels = ["O", "B-X", "I-X", "B-Y"]
    allowed, start, end = allowed_transitions(labels, with_start_end=True)
    layer = CRF(4, constraints=(allowed, start, end))
    e = _emissions(b=32, t=7, seed=3) + np.array([0, 0, 4.0, 0], "float32")  # pushes I-X
    tags = np.asarray(layer(e))
    for path in tags:
        assert start[path[0]] and all(allowed[i, j] for i, j in zip(path[:-1], path[1:]))
    restored = CRF.from_config(layer.get_config())
    restored.build(e.shape)
    restored.set_weights(layer.get_weights())
    np.testing.assert_array_equal(restored(e), tags)


def test_layer_matches_functional_core():
    e = _emissions(seed=4)
    layer = CRF(K, transitions_initializer="glorot_uniform", return_marginals=True)
    tags, marginals = layer(e)
    trans, start, end = (np.asarray(w) for w in layer.weights)
    ref, _ = crf_decode(e, trans, start_transitions=start, end_transitions=end)
    np.testing.assert_array_equal(tags, ref)
    np.testing.assert_allclose(np.sum(marginals, -1), 1.0, rtol=1e-5)


def test_keras_and_saved_model_round_trip(tmp_path):
    x, y = _toy_data(n=16)
    model = _model()
    model.compile(optimizer="adam")
    expected = model.predict(x, verbose=0)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, CRFModel)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), expected)
    restored.fit(x, y, epochs=1, verbose=0)  # still trains after reload
    export = os.path.join(tmp_path, "sm")
    model.export(export, verbose=False)
    loaded = tf.saved_model.load(export)  # keep a reference (PITFALLS)
    np.testing.assert_array_equal(loaded.serve(tf.constant(x)).numpy(), expected)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(num_tags=0), r"`num_tags` must be an integer >= 1. Received: num_tags=0"),
        (dict(num_tags=3, algorithm="beam"), "`algorithm` must be one of"),
        (
            dict(num_tags=3, constraints=np.ones((2, 2))),
            r"`constraints` must be a boolean \[3, 3\]",
        ),
    ],
)
def test_bad_hyperparameters(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        CRF(**kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"emissions \[batch, time, 3\].*Dense\(3\)"):
        CRF(3)(_emissions(k=5))
    with pytest.raises(ValueError, match="`mask` must be right-padded"):
        CRF(K)(_emissions(b=1, t=3), mask=np.array([[True, False, True]]))


@pytest.mark.parametrize("algorithm", ["sequential", "parallel"])
def test_onnx_export_serves_the_same_tags(tmp_path, algorithm):
    pytest.importorskip("onnxruntime")
    from keras_dlss.export.artifacts import run_onnx

    steps = None if algorithm == "sequential" else 6  # parallel needs a static length
    inputs = keras.Input((steps,), dtype="int32")
    h = keras.layers.Embedding(20, 8, mask_zero=True)(inputs)
    crf = CRF(K, algorithm=algorithm, transitions_initializer="glorot_uniform")
    model = CRFModel(inputs, crf(keras.layers.Dense(K)(h)))
    x = np.random.default_rng(0).integers(1, 20, size=(3, 6)).astype("int32")
    x[1, 4:] = 0
    expected = model.predict(x, verbose=0)
    path = os.path.join(tmp_path, "crf.onnx")
    model.export(path, format="onnx", verbose=False)
    np.testing.assert_array_equal(keras.tree.flatten(run_onnx(path, [x]))[0], expected)
