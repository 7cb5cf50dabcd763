"""GAN and ConditionalGAN: each player moves only through its own optimizer, EMA sampling,
discriminator steps, save/load with compile state, SavedModel parity, bad input."""

import keras
import numpy as np
import pytest

from keras_dlss.applications import DCGAN, dcgan_discriminator, dcgan_generator
from keras_dlss.export import export_and_compare
from keras_dlss.models import GAN, ConditionalGAN

DATA = np.random.default_rng(0).normal(2.0, 0.5, size=(64, 2)).astype("float32")
LABELS = (np.arange(64) % 3).astype("int32")
Z = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")


def _players(latent_dim=4):
    gen = keras.Sequential(
        [keras.Input((latent_dim,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(2)]
    )
    disc = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(1)]
    )
    return gen, disc


def _gan(g_lr=1e-2, d_lr=1e-2, jit_compile=False, **kwargs):
    # XLA compilation costs seconds per model: one test below runs the step under XLA.
    gan = GAN(*_players(), seed=0, **kwargs)
    gan.compile(
        generator_optimizer=keras.optimizers.SGD(g_lr),
        discriminator_optimizer=keras.optimizers.SGD(d_lr),
        jit_compile=jit_compile,
    )
    return gan


def _weights(model):
    return [np.array(v) for v in model.trainable_variables]


def _changed(before, model):
    return any(not np.array_equal(a, b) for a, b in zip(before, _weights(model)))


@pytest.mark.parametrize("frozen", ["generator", "discriminator"])
def test_each_player_moves_only_through_its_own_optimizer(frozen):
    """A zero learning rate on one optimizer freezes exactly that player."""
    gan = _gan(
        g_lr=0.0 if frozen == "generator" else 1e-1,
        d_lr=0.0 if frozen == "discriminator" else 1e-1,
        loss="wasserstein_gp",
    )
    g0, d0 = _weights(gan.generator), _weights(gan.discriminator)
    gan.fit(DATA, epochs=1, batch_size=32, verbose=0)
    assert _changed(g0, gan.generator) == (frozen != "generator")
    assert _changed(d0, gan.discriminator) == (frozen != "discriminator")
    # Each optimizer's slots cover its own player only.
    assert len(gan.optimizer._trainable_variables) == len(gan.generator.trainable_variables)
    assert len(gan.discriminator_optimizer._trainable_variables) == len(
        gan.discriminator.trainable_variables
    )


def test_discriminator_steps_and_logs():
    # Under XLA: the R1 penalty's double backpropagation compiles.
    gan = _gan(discriminator_steps=3, gradient_penalty="r1", jit_compile=True)
    history = gan.fit(DATA, epochs=1, batch_size=32, verbose=0)
    assert int(gan.discriminator_optimizer.iterations) == 3 * int(gan.optimizer.iterations) == 6
    assert {"d_loss", "g_loss", "d_real", "d_fake", "penalty", "loss"} <= set(history.history)
    assert all(np.isfinite(v[-1]) for v in history.history.values())


def test_ema_generator_is_used_for_sampling():
    gan = _gan(ema_decay=0.9)
    gan.fit(DATA, epochs=1, batch_size=16, verbose=0)
    raw = np.asarray(gan.generator(Z, training=False))
    ema = gan.predict(Z, verbose=0)
    assert np.abs(raw - ema).max() > 1e-4  # the average lags the trained weights
    # EMA weights are a convex combination: sampling them by hand gives the same output.
    manual, _ = gan.generator.stateless_call(
        [np.asarray(w) for w in gan.ema_weights],
        [np.asarray(v) for v in gan.generator.non_trainable_variables],
        Z,
    )
    np.testing.assert_allclose(ema, np.asarray(manual), atol=1e-6)
    # Decay 0: the average is the current weights.
    instant = _gan(ema_decay=0.0)
    instant.fit(DATA, epochs=1, batch_size=32, verbose=0)
    np.testing.assert_allclose(
        instant.predict(Z, verbose=0), np.asarray(instant.generator(Z)), atol=1e-6
    )
    assert gan.sample(7, seed=3).shape == (7, 2)
    np.testing.assert_array_equal(gan.sample(3, seed=3), gan.sample(3, seed=3))


@pytest.fixture(scope="module")
def trained_cgan():
    gan = DCGAN(image_size=8, latent_dim=4, base_filters=4, num_classes=3, ema_decay=0.9, seed=0)
    gan.compile(
        generator_optimizer=keras.optimizers.Adam(1e-3),
        discriminator_optimizer=keras.optimizers.Adam(1e-3),
        jit_compile=False,
    )
    # 40 = 16 + 16 + 8: the last, partial batch retraces the step with an unknown batch size.
    images = np.random.default_rng(0).uniform(-1, 1, (40, 8, 8, 1)).astype("float32")
    gan.fit(images, LABELS[:40], epochs=1, batch_size=16, verbose=0)
    return gan


def test_save_and_load_keep_outputs_and_both_optimizers(trained_cgan, tmp_path):
    gan = trained_cgan
    labels = np.array([0, 1, 2, 0, 1])
    path = str(tmp_path / "cgan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, ConditionalGAN) and loaded.num_classes == 3
    np.testing.assert_allclose(
        loaded.predict([Z, labels], verbose=0), gan.predict([Z, labels], verbose=0), atol=1e-6
    )
    assert int(loaded.optimizer.iterations) == int(gan.optimizer.iterations) == 3
    assert int(loaded.discriminator_optimizer.iterations) == 3
    for a, b in zip(
        loaded.discriminator_optimizer.variables, gan.discriminator_optimizer.variables
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    images = np.random.default_rng(2).uniform(-1, 1, (16, 8, 8, 1)).astype("float32")
    loaded.fit(images, LABELS[:16], epochs=1, batch_size=16, verbose=0)  # keeps training
    assert int(loaded.discriminator_optimizer.iterations) == 4


def test_saved_model_parity_for_fixed_noise(trained_cgan, tmp_path):
    labels = np.array([0, 1, 2, 0, 1], "float32")
    diff = export_and_compare(trained_cgan, str(tmp_path / "cgan"), [Z, labels])
    assert diff <= 1e-5
    gan = _gan(ema_decay=0.5)
    gan.fit(DATA, epochs=1, batch_size=32, verbose=0)
    assert export_and_compare(gan, str(tmp_path / "gan"), Z) <= 1e-5


def test_conditional_samples_follow_labels(trained_cgan):
    out = trained_cgan.sample(6, labels=[2] * 6, seed=0)
    assert out.shape == (6, 8, 8, 1) and np.abs(out).max() <= 1.0
    # The label changes the output for the same noise (it enters the generator).
    a = trained_cgan.predict([Z, np.zeros(5, "int32")], verbose=0)
    b = trained_cgan.predict([Z, np.full(5, 2, "int32")], verbose=0)
    assert np.abs(a - b).max() > 1e-4


@pytest.mark.parametrize("conditioning", ["projection", "concatenation"])
def test_conditional_discriminators_use_the_label(conditioning):
    disc = dcgan_discriminator(8, base_filters=4, num_classes=3, conditioning=conditioning)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 1)).astype("float32")
    assert np.abs(np.asarray(disc([x, np.array([0, 0])]) - disc([x, np.array([1, 2])]))).max() > 0


def test_bad_input_raises_value_error(trained_cgan):
    gen, disc = _players(latent_dim=4)
    with pytest.raises(ValueError, match="`latent_dim`.*Received: latent_dim=8"):
        GAN(gen, disc, latent_dim=8)
    with pytest.raises(ValueError, match="`z`.*Received"):
        GAN(gen, disc)(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="`labels`.*Received: labels.shape"):
        trained_cgan.sample(4, labels=[0, 1])
    with pytest.raises(ValueError, match="`labels`.*Received"):
        trained_cgan([Z, np.zeros(3, "int32")])
    with pytest.raises(ValueError, match="`labels`.*Received"):
        trained_cgan.sample(2, labels=[0, 5])
    with pytest.raises(ValueError, match="`loss`.*Received"):
        GAN(gen, disc, loss="wasserstein")
    with pytest.raises(ValueError, match="`ema_decay`.*Received"):
        GAN(gen, disc, ema_decay=1.0)
    with pytest.raises(ValueError, match="`image_size`.*Received"):
        dcgan_generator(image_size=12)
    with pytest.raises(ValueError, match="`generator_optimizer`"):
        optimizer = keras.optimizers.Adam()
        GAN(gen, disc).compile(optimizer, optimizer)
    with pytest.raises(ValueError, match="Received: labels=None"):
        trained_cgan.fit(np.zeros((4, 8, 8, 1), "float32"), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="`x`.*Received: x.shape"):
        _gan().fit(np.zeros((0, 2), "float32"), epochs=1, verbose=0)


_BACKEND_SCRIPT = r"""
import json
import keras, numpy as np
from keras_dlss.models import GAN, ConditionalGAN
data = np.random.default_rng(0).normal(size=(32, 2)).astype("float32")
def players():
    g = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, "tanh"), keras.layers.Dense(2)])
    d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, "tanh"), keras.layers.Dense(1)])
    return g, d
jit = keras.config.backend() != "torch"  # torch: jit_compile means torch.compile (minutes)
gan = GAN(*players(), loss="wasserstein_gp", discriminator_steps=2, ema_decay=0.9, seed=0)
gan.compile(generator_optimizer="adam", discriminator_optimizer="adam", jit_compile=jit)
h = gan.fit(data, epochs=1, batch_size=16, verbose=0).history
z_in, y_in = keras.Input((3,)), keras.Input((), dtype="int32")
g = keras.Model([z_in, y_in], keras.layers.Dense(2)(
    keras.layers.Concatenate()([z_in, keras.layers.Embedding(3, 2)(y_in)])))
x_in, yd_in = keras.Input((2,)), keras.Input((), dtype="int32")
d = keras.Model([x_in, yd_in], keras.layers.Dense(1)(keras.layers.Dense(8, "tanh")(
    keras.layers.Concatenate()([x_in, keras.layers.Embedding(3, 2)(yd_in)]))))
cgan = ConditionalGAN(g, d, num_classes=3, gradient_penalty="r1", seed=0)
cgan.compile(generator_optimizer="adam", discriminator_optimizer="adam", jit_compile=jit)
hc = cgan.fit(data, np.arange(32) % 3, epochs=1, batch_size=16, verbose=0).history
print(json.dumps({
    "backend": keras.config.backend(),
    "finite": bool(all(np.isfinite(v[-1]) for v in list(h.values()) + list(hc.values()))),
    "penalty": float(h["penalty"][-1]), "r1": float(hc["penalty"][-1]),
    "d_iterations": int(gan.discriminator_optimizer.iterations),
    "g_iterations": int(gan.optimizer.iterations),
    "samples": list(cgan.sample(3, labels=[0, 1, 2], seed=0).shape),
}))
"""


# JAX is the backend whose compiled step threads every variable through state (the EMA,
# both optimizers, the seed); torch runs the same step eagerly, checked by the backend
# matrix's dcgan/cgan cells (one process per backend costs ~30 s here, so one is enough).
@pytest.mark.parametrize("backend", ["jax"])
def test_gan_step_with_penalties_runs_on_jax(backend, tmp_path, run_under_backend):
    script = tmp_path / "gan_backend.py"
    script.write_text(_BACKEND_SCRIPT)
    result = run_under_backend(str(script), backend)
    assert result["finite"] and result["penalty"] > 0 and result["r1"] > 0, result
    assert result["d_iterations"] == 2 * result["g_iterations"] == 4, result
    assert result["samples"] == [3, 2]


def test_generate_writes_a_png_grid_and_checks_the_condition(trained_cgan, tmp_path):
    from keras_dlss.applications.gan_tasks import ConditionalGANTask, DCGANTask

    path = str(tmp_path / "digits.png")
    (written,) = ConditionalGANTask().generate(
        trained_cgan, {}, path, condition=2, length=4, seed=0
    )
    with open(written, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="`condition`.*Received: condition=12"):
        ConditionalGANTask().generate(trained_cgan, {}, path, condition=12)
    with pytest.raises(ValueError, match="`condition`.*unconditional"):
        DCGANTask().generate(_gan(), {}, path, condition=1)


def test_image_grid_layout_and_range():
    from keras_dlss.applications import image_grid

    images = np.stack([np.full((2, 3), v) for v in (-1.0, 0.0, 1.0)])
    grid = image_grid(images, nrow=2, padding=1)
    assert grid.shape == (2 * 3 + 1, 2 * 4 + 1)
    assert grid[1, 1] == 0 and grid[1, 5] == 128 and grid[4, 1] == 255  # [-1, 1] detected
    assert image_grid(np.ones((1, 2, 2, 3)) * 0.5).shape == (4, 4, 3)
    with pytest.raises(ValueError, match="`images`.*Received"):
        image_grid(np.zeros((0, 4, 4)))
