"""CycleGAN: cycle loss zero for identity generators, both players trained by their own
optimizer, the history buffer, save/load with both optimizers, export, bad input."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.applications.digit_domains import build_digit_cycle_gan, domain_b
from keras_dlss.export import export_and_compare
from keras_dlss.models import CycleGAN

SHAPE = (8, 8, 1)
NETWORKS = ("generator_ab", "generator_ba", "discriminator_a", "discriminator_b")


def _identity():
    return keras.Sequential([keras.Input(SHAPE), keras.layers.Identity()])


def _disc():
    return keras.Sequential([keras.Input(SHAPE), keras.layers.Conv2D(1, 3, padding="same")])


def test_cycle_loss_is_zero_for_identity_generators_and_positive_otherwise():
    model = CycleGAN(_identity(), _identity(), _disc(), _disc(), buffer_size=4)
    a = np.random.default_rng(0).random((4, *SHAPE)).astype("float32")
    assert float(model.cycle_loss(a, 1 - a)) == 0.0
    inverter = keras.Sequential([keras.Input(SHAPE), keras.layers.Lambda(lambda t: 1.0 - t)])
    other = CycleGAN(inverter, _identity(), _disc(), _disc(), buffer_size=4)
    # F(G(a)) = 1 - a: the cycle error is mean|1 - 2a| on each side.
    expected = np.mean(np.abs(1 - 2 * a)) * 2
    assert float(other.cycle_loss(a, a)) == pytest.approx(expected, rel=1e-5)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from keras_dlss.datasets import digits

    x, _ = digits(8)
    a, b = x[:64], domain_b(x[64:128])
    keras.utils.set_random_seed(0)
    model = build_digit_cycle_gan(8, units=8, buffer_size=16, seed=0)
    model.compile(
        generator_optimizer=keras.optimizers.Adam(1e-3),
        discriminator_optimizer=keras.optimizers.Adam(1e-3),
        jit_compile=False,
    )
    before = {
        name: [ops.convert_to_numpy(v) for v in getattr(model, name).trainable_weights]
        for name in NETWORKS
    }
    history = model.fit((a, b), epochs=2, batch_size=16, verbose=0).history
    return model, a, b, before, history


def test_both_players_train_and_the_buffer_fills(trained):
    model, a, b, before, history = trained
    assert set(history) == {"loss", "discriminator_loss", "cycle_loss", "identity_loss"}
    for name in NETWORKS:
        after = [ops.convert_to_numpy(v) for v in getattr(model, name).trainable_weights]
        assert any(not np.allclose(x, y) for x, y in zip(after, before[name])), name
    assert int(ops.convert_to_numpy(model.buffer_count)) == 2 * 64
    buffer = ops.convert_to_numpy(model.buffer_a)
    assert np.all(np.abs(buffer).reshape(16, -1).sum(-1) > 0)  # every slot holds an image
    assert (
        model.optimizer.iterations.numpy() == model.discriminator_optimizer.iterations.numpy() == 8
    )


def test_save_load_keeps_both_optimizers_and_exports(trained, tmp_path):
    model, a, b, _, _ = trained
    path = str(tmp_path / "cg.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded(a[:4])), ops.convert_to_numpy(model(a[:4])), atol=1e-6
    )
    assert int(loaded.discriminator_optimizer.iterations) == 8
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables)
    assert export_and_compare(model.generator_ba, str(tmp_path / "f"), b[:4]) < 1e-5
    assert export_and_compare(model, str(tmp_path / "g"), a[:4]) < 1e-5


def test_bad_input_names_the_argument(trained):
    model, a, b, _, _ = trained
    with pytest.raises(ValueError, match="`generator_ab`.*Received"):
        CycleGAN("g", _identity(), _disc(), _disc())
    with pytest.raises(ValueError, match="`adversarial_loss`.*Received"):
        CycleGAN(_identity(), _identity(), _disc(), _disc(), adversarial_loss="kl")
    small = CycleGAN(_identity(), _identity(), _disc(), _disc(), buffer_size=2)
    small.compile(jit_compile=False)
    with pytest.raises(ValueError, match="`buffer_size`.*Received: buffer_size=2"):
        small.fit((a[:8], b[:8]), batch_size=4, epochs=1, verbose=0)
