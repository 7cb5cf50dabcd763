import math

import keras
import numpy as np
import pytest
from scipy.special import log_softmax

from keras_dlss.metrics import BitsPerCharacter, Perplexity

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(3, 4, 6)).astype("float32")
TARGETS = np.array([[1, 2, 3, 0], [4, 5, 0, 0], [1, 1, 1, 1]])


def _reference_mean_nll(logits, targets, keep):
    """Brute force: mean over kept positions of -log softmax(logits)[target]."""
    logp = log_softmax(logits.astype("float64"), axis=-1)
    nll = [-logp[b, t, targets[b, t]] for b, t in zip(*np.nonzero(keep))]
    return float(np.mean(nll))


def test_perplexity_is_exp_mean_nll_over_unmasked_tokens():
    metric = Perplexity(ignore_class=0)
    metric.update_state(TARGETS, LOGITS)
    expected = math.exp(_reference_mean_nll(LOGITS, TARGETS, TARGETS != 0))
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-5)


def test_padding_changes_nothing_and_batches_accumulate_exactly():
    metric = Perplexity(ignore_class=0)
    metric.update_state(TARGETS, LOGITS)
    once = float(metric.result())
    # The same tokens with extra padding positions (any logits there), in two batches.
    padded_logits = np.concatenate([LOGITS, RNG.normal(size=(3, 3, 6)) * 50], 1).astype("float32")
    padded_targets = np.concatenate([TARGETS, np.zeros((3, 3), int)], 1)
    metric.reset_state()
    metric.update_state(padded_targets[:1], padded_logits[:1])
    metric.update_state(padded_targets[1:], padded_logits[1:])
    np.testing.assert_allclose(float(metric.result()), once, rtol=1e-6)


def test_sample_weight_mask_and_probabilities():
    probs = np.exp(log_softmax(LOGITS, axis=-1)).astype("float32")
    mask = RNG.random(TARGETS.shape) > 0.3
    metric = Perplexity(from_logits=False)
    metric.update_state(TARGETS, probs, sample_weight=mask.astype("float32"))
    expected = math.exp(_reference_mean_nll(LOGITS, TARGETS, mask))
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-5)


def test_bits_per_character_is_nll_in_bits():
    metric = BitsPerCharacter(ignore_class=0)
    metric.update_state(TARGETS, LOGITS)
    expected = _reference_mean_nll(LOGITS, TARGETS, TARGETS != 0) / math.log(2)
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-5)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_compiles_in_an_xla_model_and_round_trips():
    inputs = keras.Input((4,), dtype="int32")
    logits = keras.layers.Dense(6)(keras.layers.Embedding(7, 3)(inputs))
    model = keras.Model(inputs, logits)
    model.compile(
        "sgd",
        keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
        metrics=[Perplexity(ignore_class=0), BitsPerCharacter(ignore_class=0)],
        jit_compile=True,
    )
    result = model.evaluate(TARGETS, TARGETS, verbose=0, return_dict=True)
    np.testing.assert_allclose(result["perplexity"], math.exp(result["loss"]), rtol=1e-4)
    np.testing.assert_allclose(
        result["bits_per_character"], result["loss"] / math.log(2), rtol=1e-4
    )
    config = Perplexity(ignore_class=0, from_logits=False).get_config()
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(Perplexity.from_config(config))
    )
    assert clone.ignore_class == 0 and clone.from_logits is False


def test_bad_arguments():
    with pytest.raises(ValueError, match="`ignore_class`.*Received"):
        Perplexity(ignore_class="pad")
    with pytest.raises(ValueError, match="`y_true`.*Received"):
        Perplexity().update_state(np.zeros((2, 3, 4, 5), "int32"), LOGITS)
