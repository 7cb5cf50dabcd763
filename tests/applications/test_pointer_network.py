"""PointerNetwork: generated targets, masks by effect, decoding, training, save/load."""

import keras
import numpy as np
import pytest

from keras_dlss.applications import PointerNetwork
from keras_dlss.applications.pointer_task import pointer_examples, sequence_accuracy
from keras_dlss.datasets.algorithmic import convex_hull_indices

_np = keras.ops.convert_to_numpy


@pytest.fixture(scope="module")
def trained():
    """A small sorting pointer network after a short fit (shared by the tests below)."""
    keras.utils.set_random_seed(0)
    x, y = pointer_examples("sort", 512, 3, 5, seed=0)
    model = PointerNetwork(16, permutation=True)
    model.compile(keras.optimizers.Adam(1e-2), jit_compile=False)
    history = model.fit(x, y, epochs=4, batch_size=64, verbose=0)
    return model, history.history["loss"]


def test_generated_targets():
    x, y = pointer_examples("sort", 20, 3, 6, seed=1)
    for inputs, mask, slots in zip(x["inputs"], x["mask"], y):
        n = int(mask.sum())
        order = slots[:n].astype(int) - 1
        assert sorted(order) == list(range(n)) and slots[n] == 0 and (slots[n + 1 :] == -1).all()
        assert (np.diff(inputs[order, 0]) >= 0).all()
    x, y = pointer_examples("hull", 10, 5, 8, seed=2)
    for inputs, mask, slots in zip(x["inputs"], x["mask"], y):
        n = int(mask.sum())
        hull = convex_hull_indices(inputs[:n])
        np.testing.assert_array_equal(slots[: len(hull) + 1], [h + 1 for h in hull] + [0])
    with pytest.raises(ValueError, match="`task`.*Received"):
        pointer_examples("tsp", 2, 3, 4)


def test_training_lowers_the_loss_and_decodes_permutations(trained):
    model, losses = trained
    assert losses[-1] < 0.8 * losses[0]
    x, y = pointer_examples("sort", 64, 3, 5, seed=3)
    slots, scores = model.greedy_search(x["inputs"], x["mask"])
    slots = _np(slots)
    assert slots.shape == (64, 6) and _np(scores).shape == (64,)
    for row, mask in zip(slots, x["mask"]):
        n = int(mask.sum())  # permutation: every real point once, never padding, then end
        assert sorted(row[:n]) == list(range(1, n + 1)) and (row[n:] == 0).all()
    assert sequence_accuracy(model, x, y) > 0.2  # chance is 1/n! (< 0.17)


def test_padding_and_pointed_masks_by_effect(trained):
    model, _ = trained
    x, y = pointer_examples("sort", 4, 4, 4, seed=4)
    short = _np(model(x))
    padded = {
        "inputs": np.concatenate([x["inputs"], np.full((4, 3, 1), 9.0, "float32")], 1),
        "mask": np.concatenate([x["mask"], np.zeros((4, 3), "float32")], 1),
        "pointers": x["pointers"],
    }
    long = _np(model(padded))
    np.testing.assert_allclose(long[..., :5], short, atol=1e-5)
    assert (long[..., 5:] == -1e9).all()
    # Teacher forcing: a slot pointed at an earlier step is masked at every later step.
    pointers = x["pointers"].astype(int)
    for b in range(4):
        for t in range(1, 5):
            assert (short[b, t, pointers[b, :t]] == -1e9).all()
    # The end slot opens only once all 4 points are pointed at, and then it is the only one.
    assert (short[:, :4, 0] == -1e9).all() and (short[:, 4, 1:] == -1e9).all()
    free = _np(PointerNetwork.from_config({**model.get_config(), "permutation": False})(x))
    assert (free > -1e8).all()


def test_beam_search_and_compiled_decoding(trained):
    model, _ = trained
    x, _ = pointer_examples("sort", 8, 5, 5, seed=5)
    greedy, greedy_scores = model.greedy_search(x["inputs"])
    beam, beam_scores = model.beam_search(x["inputs"], beam_width=1)
    np.testing.assert_array_equal(_np(beam)[:, 0], _np(greedy))
    np.testing.assert_allclose(_np(beam_scores)[:, 0], _np(greedy_scores), atol=1e-4)
    wide, wide_scores = model.beam_search(x["inputs"], beam_width=3)
    assert _np(wide).shape == (8, 3, 6)
    assert (np.diff(_np(wide_scores), axis=1) <= 1e-6).all()  # best beam first
    model.jit_compile = True
    xla, _ = model.greedy_search(x["inputs"])
    model.jit_compile = False
    np.testing.assert_array_equal(_np(xla), _np(greedy))


def test_save_load_round_trip(trained, tmp_path):
    model, _ = trained
    x, y = pointer_examples("sort", 8, 3, 5, seed=7)
    path = str(tmp_path / "pointer.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(_np(loaded(x)), _np(model(x)), atol=1e-6)
    # Recompiled with the saved loss (compile is overridden for its defaults).
    assert loaded.compiled and loaded.loss.get_config()["ignore_class"] == -1


def test_bad_arguments():
    model = PointerNetwork(4)
    with pytest.raises(ValueError, match="`inputs`.*Received"):
        model.greedy_search(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="`mask`.*Received"):
        model.greedy_search(np.zeros((2, 3, 1), "float32"), np.ones((2, 4)))
    with pytest.raises(ValueError, match="`beam_width`.*Received"):
        model.beam_search(np.zeros((2, 3, 1), "float32"), beam_width=0)
    with pytest.raises(ValueError, match="`units`.*Received"):
        PointerNetwork(0)
