"""PointerGeneratorTranslator: trains, saves, and its greedy/beam search copy source OOV words."""

import keras
import numpy as np
import pytest

from keras_dlss.applications import PointerGeneratorTranslator
from keras_dlss.ops import extend_vocabulary, extended_ids_to_tokens

_np = keras.ops.convert_to_numpy
VOCAB = ["<pad>", "<start>", "<end>", "<unk>", "meet", "at", "call"]
SOURCES = [["meet", "ozil", "at", "9"], ["meet", "kim", "at", "17", "x"]] * 4
TARGETS = [["call", "ozil", "9", "<end>"], ["call", "kim", "17", "<end>"]] * 4
BATCH = extend_vocabulary(SOURCES, VOCAB, max_oovs=3, unk_id=3, target_tokens=TARGETS)
INPUTS = {k: BATCH[k] for k in ("source", "source_extended", "target")}


@pytest.fixture(scope="module")
def model():
    # Module fixtures run before conftest's per-test seeding: seed here, so the
    # weights do not depend on which test file ran before.
    keras.utils.set_random_seed(0)
    model = PointerGeneratorTranslator(
        len(VOCAB), len(VOCAB), max_oovs=3, units=8, embedding_dim=4, max_output_length=4, seed=0
    )
    model.compile(
        keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
        jit_compile=False,
    )
    history = model.fit(INPUTS, BATCH["target"], epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    return model


def test_distribution_and_save_load(model, tmp_path):
    log_probs = _np(model(INPUTS))
    assert log_probs.shape == (8, 4, len(VOCAB) + 3)
    np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1.0, atol=1e-5)
    path = str(tmp_path / "pg.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(_np(restored(INPUTS)), log_probs, atol=1e-5)
    assert restored.get_config()["max_oovs"] == 3


def test_pure_copy_decoding_returns_source_oov_words(model):
    # p_gen ~ 0: every step's distribution is the attention over source words,
    # so greedy and beam search can only emit (extended ids of) source words.
    bias = model.pointer_generator.bias
    saved = _np(bias)
    bias.assign(np.full_like(saved, -40.0))
    try:
        greedy, _ = model.greedy_search(BATCH["source"], BATCH["source_extended"])
        beams, scores = model.beam_search(BATCH["source"], BATCH["source_extended"], beam_width=3)
    finally:
        bias.assign(saved)
    assert _np(beams).shape == (8, 3, 4) and _np(scores).shape == (8, 3)
    for ids in (_np(greedy), _np(beams)[:, 0]):
        words = extended_ids_to_tokens(ids, VOCAB, BATCH["oovs"])
        for tokens, source in zip(words, SOURCES):
            assert set(tokens) <= set(source)
        assert (ids >= len(VOCAB)).any()  # copied OOV words come back as extended ids
    copied = extended_ids_to_tokens(_np(beams)[:, 0], VOCAB, BATCH["oovs"])
    assert any(w in ("ozil", "kim", "9", "17", "x") for tokens in copied for w in tokens)


def test_bad_arguments(model):
    with pytest.raises(ValueError, match="`regime`.*Received"):
        PointerGeneratorTranslator(7, 7, regime="scheduled_sampling")
    with pytest.raises(ValueError, match="`unk_id`.*Received"):
        PointerGeneratorTranslator(7, 7, unk_id=7)
    with pytest.raises(ValueError, match="`source_extended`.*Received"):
        model.greedy_search(BATCH["source"], BATCH["source_extended"] + 20)
