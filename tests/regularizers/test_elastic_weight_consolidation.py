import keras
import numpy as np
import pytest

from keras_dlss.callbacks import ElasticWeightConsolidation as EWCCallback
from keras_dlss.debugging import gradient_check
from keras_dlss.regularizers import ElasticWeightConsolidation, consolidate, diagonal_fisher

RNG = np.random.default_rng(0)
X = RNG.normal(size=(24, 3)).astype("float32")
Y = RNG.integers(0, 4, size=24)


def _softmax_regression(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="softmax")])
    model.layers[0].set_weights([RNG.normal(size=(3, 4)).astype("float32"), np.zeros(4, "f")])
    return model


def test_penalty_value_and_gradient_against_finite_differences():
    fisher, anchor = RNG.uniform(size=(3, 4)), RNG.normal(size=(3, 4))
    reg = ElasticWeightConsolidation(fisher, anchor, strength=3.0)
    w = RNG.normal(size=(3, 4))
    expected = 1.5 * np.sum(fisher.astype("float32") * (w - anchor.astype("float32")) ** 2)
    np.testing.assert_allclose(float(reg(w.astype("float32"))), expected, rtol=1e-5)
    gradient_check(lambda v: reg(v), (w,))


def test_empirical_fisher_matches_closed_form():
    model = _softmax_regression()
    kernel = model.layers[0].get_weights()[0].astype("float64")
    p = np.exp(X @ kernel)
    p /= p.sum(-1, keepdims=True)
    residual = np.eye(4)[Y] - p  # ∂ log p_y / ∂ logits
    grads_w = X[:, :, None] * residual[:, None, :]
    fisher = diagonal_fisher(model, X, Y)
    np.testing.assert_allclose(fisher[0], np.mean(grads_w**2, axis=0), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(fisher[1], np.mean(residual**2, axis=0), rtol=1e-4, atol=1e-7)


def test_consolidated_weights_with_large_fisher_move_less():
    model = _softmax_regression()
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    consolidate(model, X, Y, strength=0.0)
    assert len(model.losses) == 2 and float(sum(model.losses)) == 0.0
    model.fit(X, Y, epochs=1, verbose=0)
    regs = consolidate(model, X, Y, strength=10.0, num_samples=24)
    # Online EWC: the second Fisher is added to the first.
    assert regs[0].fisher.shape == (3, 4) and regs[0].strength == 10.0
    anchor = model.layers[0].get_weights()[0]
    y_b = (Y + 1) % 4  # a conflicting task
    model.fit(X, y_b, epochs=20, verbose=0)
    moved_ewc = np.abs(model.layers[0].get_weights()[0] - anchor).mean()
    free = _softmax_regression()
    free.layers[0].set_weights([anchor, model.layers[0].get_weights()[1] * 0])
    free.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    free.fit(X, y_b, epochs=20, verbose=0)
    moved_free = np.abs(free.layers[0].get_weights()[0] - anchor).mean()
    assert moved_ewc < 0.5 * moved_free, (moved_ewc, moved_free)


def test_callback_installs_penalties_and_config_round_trips():
    model = _softmax_regression()
    model.compile("sgd", "sparse_categorical_crossentropy")
    callback = EWCCallback(X, strength=5.0, num_samples=8)
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[callback])
    reg = model.layers[0].kernel.regularizer
    assert reg is callback.regularizers[0] and reg.strength == 5.0
    clone = ElasticWeightConsolidation.from_config(reg.get_config())
    w = np.ones((3, 4), "float32")
    np.testing.assert_allclose(float(clone(w)), float(reg(w)), rtol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="`anchor`.*Received"):
        ElasticWeightConsolidation(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="`fisher`.*Received"):
        ElasticWeightConsolidation(-np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="`strength`.*Received"):
        ElasticWeightConsolidation(np.ones(3), np.ones(3), strength=-1)
    with pytest.raises(ValueError, match="`weights`.*Received"):
        ElasticWeightConsolidation(np.ones(3), np.ones(3))(np.ones(4, "float32"))
    with pytest.raises(ValueError, match="`y`.*Received"):
        diagonal_fisher(_softmax_regression(), X, Y + 4)
    with pytest.raises(ValueError, match="`outputs`.*Received"):
        diagonal_fisher(_softmax_regression(), X, outputs="scores")
