import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.applications import MusicVAE
from keras_dlss.applications.music_vae_data import (
    NO_EVENT,
    NOTE_OFF,
    START,
    melody_to_notes,
    melody_windows,
    notes_to_melody,
)
from keras_dlss.datasets import music

TINY = {
    "latent_dim": 4,
    "embedding_dim": 4,
    "encoder_units": 8,
    "decoder_units": 8,
    "conductor_units": 8,
}


def _melodies(n=8, seed=0):
    """Random melodies that use every kind of event."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(3, size=(n, 32), p=[0.4, 0.1, 0.5])
    pitches = rng.integers(55, 80, size=(n, 32))
    return np.where(kinds == 0, pitches, np.where(kinds == 1, NOTE_OFF, NO_EVENT)).astype("int32")


@pytest.fixture(scope="module")
def models():
    """Both decoders, compiled, untrained: training runs in the backend matrix and the benchmark
    (a first `fit` traces the LSTM graphs for tens of seconds on the shared CI machine)."""
    out = {}
    for decoder in ("flat", "hierarchical"):
        out[decoder] = MusicVAE(decoder=decoder, seed=0, **TINY)
        out[decoder].compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    return out


def test_skyline_melody_and_back():
    step = 0.15
    notes = [
        music.Note(60, 80, 0.0, 0.6),  # a lower voice under the soprano
        music.Note(67, 80, 0.0, 0.3),
        music.Note(67, 80, 0.3, 0.6),  # re-attack of the same pitch
        music.Note(64, 80, 0.9, 1.2),  # after a rest
    ]
    melody = notes_to_melody(notes, step)
    expected = [67, NO_EVENT, 67, NO_EVENT, NOTE_OFF, NO_EVENT, 64, NO_EVENT]
    np.testing.assert_array_equal(melody, expected)
    back = melody_to_notes(melody, step)
    assert [(n.pitch, round(n.start, 6), round(n.end, 6)) for n in back] == [
        (67, 0.0, 0.3),
        (67, 0.3, 0.6),
        (64, 0.9, 1.2),
    ]
    # The top voice drops to the lower voice when the soprano rests.
    np.testing.assert_array_equal(
        notes_to_melody([music.Note(60, 80, 0.0, 0.6), music.Note(67, 80, 0.0, 0.3)], step),
        [67, NO_EVENT, 60, NO_EVENT],
    )


def test_melody_windows_hop_and_filter():
    melody = np.full(80, NO_EVENT, "int32")
    melody[[0, 4, 20, 40]] = 60  # the window from step 48 holds no note: dropped
    windows = melody_windows([melody], bars=2, hop_bars=1)
    assert windows.shape == (2, 32)
    with pytest.raises(ValueError, match=r"`melodies`"):
        melody_windows([melody[:20]])


@pytest.mark.parametrize("decoder", ["flat", "hierarchical"])
def test_steps_equal_teacher_forcing(models, decoder):
    """The decoding step reproduces the teacher-forced distribution, bar resets included."""
    model = models[decoder]
    x = _melodies(2, seed=3)
    mean, _ = model.encode(x)
    logits = np.asarray(ops.convert_to_numpy(model.decode_logits(x, mean)))
    expected = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    state = model.initial_decoding_state(mean)
    tokens, steps = np.full((2,), START, "int32"), []
    for t in range(32):
        log_probs, state = model.step(ops.convert_to_tensor(tokens), state)
        steps.append(np.asarray(ops.convert_to_numpy(log_probs)))
        tokens = x[:, t]
    steps = np.stack(steps, 1)
    np.testing.assert_allclose(steps[..., :130], expected, atol=1e-4)
    assert np.all(steps[..., START] < -1e8)  # START is never generated


def test_hierarchical_bars_are_decoded_from_their_own_embedding(models):
    """By effect: with z fixed, changing bar 1 changes bar 2's logits only for the flat decoder."""
    x = _melodies(1, seed=4)
    changed = x.copy()
    changed[:, :16] = _melodies(1, seed=5)[:, :16]
    z = ops.zeros((1, TINY["latent_dim"]))

    def second_bar(decoder, tokens):
        return ops.convert_to_numpy(models[decoder].decode_logits(tokens, z))[:, 16:]

    hierarchical = second_bar("hierarchical", x) - second_bar("hierarchical", changed)
    flat = second_bar("flat", x) - second_bar("flat", changed)
    assert np.abs(hierarchical).max() < 1e-6 and np.abs(flat).max() > 1e-4


def test_elbo_reconstruction_term_is_the_sequence_cross_entropy(models):
    model = models["hierarchical"]
    x = _melodies(3, seed=6)
    z = np.random.default_rng(0).normal(size=(3, TINY["latent_dim"])).astype("float32")
    logits = np.asarray(ops.convert_to_numpy(model.decode_logits(x, z)), "float64")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = np.take_along_axis(log_probs, x[..., None], -1)[..., 0].sum(-1)
    got = ops.convert_to_numpy(model.log_likelihood(x, None, z))
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_sample_reconstruct_interpolate(models):
    model = models["hierarchical"]
    x = _melodies(2, seed=7)
    samples = model.sample(3, temperature=0.7, seed=1, jit_compile=None)
    assert samples.shape == (3, 32) and samples.min() >= 0 and samples.max() < 130
    np.testing.assert_array_equal(
        samples, model.sample(3, temperature=0.7, seed=1, jit_compile=None)
    )
    # Two points: the same batch shape as the reconstruction, so one traced loop serves both.
    path = model.interpolate(x[0], x[1], steps=2, jit_compile=None)
    np.testing.assert_array_equal(path, model.reconstruct(x, jit_compile=None))


def test_greedy_decoding_same_with_xla(models):
    model = models["hierarchical"]
    z = np.random.default_rng(1).normal(size=(2, TINY["latent_dim"])).astype("float32")
    np.testing.assert_array_equal(
        model.decode(z, jit_compile=True), model.decode(z, jit_compile=None)
    )


def test_save_load_keeps_outputs_and_compile_state(models, tmp_path):
    model = models["hierarchical"]
    x = _melodies(2, seed=8)
    path = tmp_path / "music_vae.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded(x)), ops.convert_to_numpy(model(x)), atol=1e-6
    )
    assert loaded.compiled
    assert float(loaded.optimizer.learning_rate) == pytest.approx(1e-2)


def test_bad_arguments_raise(models):
    model = models["flat"]
    with pytest.raises(ValueError, match=r"`decoder`.*Received"):
        MusicVAE(decoder="tree")
    with pytest.raises(ValueError, match=r"`sequence_length`.*Received"):
        MusicVAE(sequence_length=30, bars=4)
    with pytest.raises(ValueError, match=r"`tokens`.*Received: tokens.shape=\(2, 16\)"):
        model.encode(np.zeros((2, 16), "int32"))
    with pytest.raises(ValueError, match=r"`tokens`.*Received"):
        model.encode(np.full((1, 32), 130, "int32"))
    with pytest.raises(ValueError, match=r"`z`.*Received"):
        model.decode(np.zeros((1, 3), "float32"), jit_compile=None)
    with pytest.raises(ValueError, match=r"`temperature`.*Received"):
        model.sample(1, temperature=0.0)
    with pytest.raises(ValueError, match=r"`steps`.*Received"):
        model.interpolate(_melodies(1)[0], _melodies(1)[0], steps=1)
    with pytest.raises(ValueError, match=r"`events`.*Received"):
        melody_to_notes([131])
