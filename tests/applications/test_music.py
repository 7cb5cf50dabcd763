import os

import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.applications import MusicTransformer, PerformanceRNN, generate_performance, get_task
from keras_dlss.datasets import music

TINY = {
    MusicTransformer: {
        "num_layers": 2,
        "hidden_dim": 16,
        "num_heads": 2,
        "intermediate_dim": 16,
        "max_relative_position": 8,
        "dropout": 0.0,
    },
    PerformanceRNN: {"embedding_dim": 8, "units": 16, "num_layers": 2, "dropout": 0.0},
}
MODELS = [MusicTransformer, PerformanceRNN]


def _tokens(length=10, seed=0):
    tokens = np.random.default_rng(seed).integers(0, music.NUM_EVENTS, size=(2, length))
    tokens[:, 0] = music.START_ID
    return tokens.astype("int32")


@pytest.mark.parametrize("cls", MODELS)
def test_cached_steps_equal_full_forward_and_primer(cls):
    model = cls(**TINY[cls])
    tokens = _tokens()
    full = np.asarray(ops.log_softmax(model(tokens), axis=-1))
    state = model.initial_decoding_state(2, 10)
    steps = []
    for t in range(10):
        log_probs, state = model.step(ops.convert_to_tensor(tokens[:, t]), state)
        steps.append(np.asarray(log_probs))
    np.testing.assert_allclose(np.stack(steps, axis=1), full, atol=1e-5)
    # A primer prefills the cache; the first step then predicts position len(primer).
    state = model.initial_decoding_state(2, 10, primer=tokens[0, 1:6])
    log_probs, _ = model.step(ops.convert_to_tensor([music.START_ID] * 2), state)
    np.testing.assert_allclose(np.asarray(log_probs)[0], full[0, 5], atol=1e-5)


@pytest.mark.parametrize("cls", MODELS)
def test_save_load_and_saved_model_and_onnx_export(cls, tmp_path):
    from keras_dlss.export import export_and_compare

    model = cls(**TINY[cls])
    tokens = _tokens(seed=1)
    expected = np.asarray(model(tokens))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(loaded(tokens)), expected, atol=1e-5)
    assert export_and_compare(loaded, str(tmp_path / "saved_model"), tokens) < 1e-4
    onnx = export_and_compare(loaded, str(tmp_path / "model.onnx"), tokens, format="onnx")
    assert onnx < 1e-4


def test_generate_continues_primer_and_is_seeded():
    model = PerformanceRNN(**TINY[PerformanceRNN])
    primer = music.notes_to_events([music.Note(60, 80, 0.0, 0.5), music.Note(64, 80, 0.5, 1.0)])
    a = generate_performance(model, primer, length=20, seed=3, jit_compile=False)
    b = generate_performance(model, primer, length=20, seed=3, jit_compile=False)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[: len(primer)], primer)
    assert len(primer) < len(a) <= len(primer) + 20 and a.max() < music.NUM_EVENTS
    with pytest.raises(ValueError, match="primer"):
        generate_performance(model, [1, 999], length=4)
    with pytest.raises(ValueError, match="length"):
        generate_performance(model, length=0)


def test_task_generate_writes_playable_midi_and_piano_roll(tmp_path):
    task = get_task("music-transformer")
    model = MusicTransformer(**TINY[MusicTransformer])
    primer = music.write_midi(
        [music.Note(p, 70, 0.25 * i, 0.25 * i + 0.5) for i, p in enumerate([60, 62, 64, 65])],
        str(tmp_path / "primer.mid"),
    )
    out = str(tmp_path / "sample.mid")
    paths = task.generate(
        model, {"window": 64}, out, primer=primer, temperature=0.9, top_p=0.95, length=48
    )
    assert paths == [out, str(tmp_path / "sample.png")]
    assert os.path.getsize(paths[1]) > 1000
    notes = music.read_midi(out)  # playable: mido reads it back, with the primer's notes
    assert [n.pitch for n in notes[:4]] == [60, 62, 64, 65]


@pytest.mark.parametrize("name", ["music-transformer", "performance-rnn"])
def test_tasks_train_on_embedded_chorales(name, monkeypatch):
    task = get_task(name)
    monkeypatch.setattr(task, "window", 32)
    data = task.load_data(seed=0)
    x, y = data.train
    assert x.shape[1] == 32 and np.array_equal(x[:, 1:], y[:, :-1])
    assert data.info["vocabulary_size"] == music.VOCABULARY_SIZE
    small = {
        "music-transformer": {"hidden_dim": 16, "intermediate_dim": 16, "num_layers": 1},
        "performance-rnn": {"units": 16},
    }[name]
    model = task.build_model(data, jit_compile=False, **small)
    first = model.evaluate(*data.test, verbose=0, return_dict=True)["loss"]
    model.fit(x[:64], y[:64], epochs=2, batch_size=32, verbose=0)
    metrics = task.evaluate(model, data)
    assert metrics["test_loss"] < first  # it learns something about the event statistics


def test_bad_hyperparameters_raise():
    with pytest.raises(ValueError, match="num_layers"):
        MusicTransformer(num_layers=0)
    with pytest.raises(ValueError, match="dropout"):
        PerformanceRNN(dropout=1.5)
