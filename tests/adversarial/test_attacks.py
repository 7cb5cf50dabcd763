"""Attacks against closed forms and their constraints; adversarial training (issue #15)."""

import keras
import numpy as np
import pytest

from keras_dlss import adversarial

RNG = np.random.default_rng(0)
X = RNG.uniform(size=(8, 6)).astype("float32")
Y = np.arange(8) % 3


@pytest.fixture(scope="module")
def linear():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    model.set_weights([RNG.normal(size=(6, 3)).astype("float32"), np.zeros(3, "float32")])
    return model


@pytest.fixture(scope="module")
def mlp():
    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="tanh"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def _loss(model, x, y):
    p = keras.ops.convert_to_numpy(keras.ops.softmax(model(x)))
    return -np.log(p[np.arange(len(y)), y])


def test_fgsm_is_the_signed_closed_form_gradient(linear):
    w = linear.get_weights()[0]
    logits = X @ w
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    grad = (p - np.eye(3)[Y]) @ w.T  # d CE / dx for logits = x W
    expected = np.clip(X + 0.1 * np.sign(grad), 0.0, 1.0)
    np.testing.assert_allclose(adversarial.fgsm(linear, X, Y, 0.1), expected, atol=1e-6)
    targeted = adversarial.fgsm(linear, X, Y, 0.1, targeted=True)
    np.testing.assert_allclose(targeted, np.clip(X - 0.1 * np.sign(grad), 0, 1), atol=1e-6)


@pytest.mark.parametrize("norm", ["inf", 2])
def test_pgd_stays_in_the_ball_and_the_range(mlp, norm):
    eps, x = 0.3, 0.1 + 0.8 * X  # clean inputs inside the valid range [0.1, 0.9]
    x_adv = np.asarray(
        adversarial.pgd(
            mlp,
            x,
            Y,
            eps,
            steps=6,
            step_size=0.2,
            norm=norm,
            restarts=2,
            clip_min=0.1,
            clip_max=0.9,
        )
    )
    d = x_adv - x
    size = np.abs(d).max(1) if norm == "inf" else np.sqrt((d**2).sum(1))
    assert np.all(size <= eps + 1e-5)
    assert size.max() > 0.5 * eps  # the attack moved
    assert x_adv.min() >= 0.1 - 1e-7 and x_adv.max() <= 0.9 + 1e-7
    assert np.all(_loss(mlp, x_adv, Y) >= _loss(mlp, x, Y) - 1e-5)


def test_pgd_raises_the_loss_more_than_fgsm(linear):
    clean = _loss(linear, X, Y)
    fgsm = _loss(linear, np.asarray(adversarial.fgsm(linear, X, Y, 0.05)), Y)
    pgd = _loss(
        linear, np.asarray(adversarial.pgd(linear, X, Y, 0.05, steps=10, random_start=False)), Y
    )
    assert np.all(fgsm >= clean - 1e-6) and pgd.mean() >= fgsm.mean() - 1e-5


def test_carlini_wagner_finds_small_misclassified_examples(linear):
    x_adv, l2 = adversarial.carlini_wagner_l2(
        linear, X, Y, steps=60, binary_search_steps=4, learning_rate=0.05, initial_const=0.5
    )
    x_adv = np.asarray(x_adv)
    pred = np.asarray(linear(x_adv)).argmax(1)
    found = np.isfinite(l2)
    assert found.mean() >= 0.5
    assert np.all(pred[found] != Y[found])
    np.testing.assert_allclose(l2[found], np.sqrt(((x_adv - X) ** 2).sum(1))[found], rtol=1e-4)
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0


def test_bad_inputs(linear):
    with pytest.raises(ValueError, match="`eps`.*Received: eps=-0.1"):
        adversarial.pgd(linear, X, Y, -0.1)
    with pytest.raises(ValueError, match="`eps`"):
        adversarial.fgsm(linear, X, Y, -1.0)
    with pytest.raises(ValueError, match="`y`"):
        adversarial.fgsm(linear, X, Y[:3], 0.1)
    with pytest.raises(ValueError, match="`norm`"):
        adversarial.pgd(linear, X, Y, 0.1, norm=1)
    with pytest.raises(ValueError, match="`eps`"):
        adversarial.AdversarialTrainingModel(linear, eps=-1.0)


def test_adversarial_training_fits_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    net = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model = adversarial.AdversarialTrainingModel(net, eps=0.1, steps=3, seed=0)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=True)
    history = model.fit(X, Y, epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    x_adv = np.asarray(model.adversarial_examples(X, Y))
    assert np.abs(x_adv - X).max() <= 0.1 + 1e-6
    path = str(tmp_path / "adv.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.eps == 0.1 and loaded.steps == 3
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6)


def test_adversarially_trained_model_resists_pgd():
    # Two Gaussian blobs in [0, 1]^2 whose gap exceeds 2 eps: training on PGD examples
    # must put the boundary where PGD at that eps cannot cross it.
    rng = np.random.default_rng(0)
    y = np.arange(256) % 2
    x = np.clip(
        0.5 + (y[:, None] * 2 - 1) * np.array([0.2, 0.0]) + rng.normal(0, 0.05, (256, 2)), 0, 1
    )
    x = x.astype("float32")

    def net():
        return keras.Sequential(
            [
                keras.Input((2,)),
                keras.layers.Dense(16, activation="relu"),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )

    keras.utils.set_random_seed(0)
    robust = adversarial.AdversarialTrainingModel(net(), eps=0.1, steps=5, seed=0)
    robust.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy", jit_compile=True)
    robust.fit(x, y, epochs=15, batch_size=64, verbose=0)
    x_adv = np.asarray(adversarial.pgd(robust, x, y, 0.1, steps=10))
    assert (np.asarray(robust.predict(x_adv, verbose=0)).argmax(1) == y).mean() > 0.9
