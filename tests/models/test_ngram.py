import collections

import numpy as np
import pytest

from keras_dlss.models import NGramLanguageModel

RNG = np.random.default_rng(0)
V = 12
# A Markov-ish stream with padding ids (0) that must be neither counted nor scored.
STREAM = RNG.integers(1, V, size=400)
STREAM[::37] = 0


@pytest.mark.parametrize("smoothing", ["kneser_ney", "add_k"])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_probabilities_sum_to_one_for_sampled_contexts(order, smoothing):
    lm = NGramLanguageModel(order, V, smoothing=smoothing).fit(STREAM)
    contexts = [STREAM[i : i + order - 1] for i in RNG.integers(1, 390, 10)]
    contexts += [np.array([5, 7, 9][: order - 1]), np.array([], int)]  # unseen, empty
    for context in contexts:
        probs = lm.distribution(context)
        assert probs.shape == (V,) and np.all(probs > 0)
        np.testing.assert_allclose(probs.sum(), 1.0, atol=1e-12)


def test_bigram_kneser_ney_matches_hand_computed_formula():
    stream = np.array([1, 2, 3, 1, 2, 4, 1, 2, 3, 5, 2, 3])
    d = 0.6
    lm = NGramLanguageModel(2, 6, discount=d, ignore_id=None).fit(stream)
    bigrams = list(zip(stream[:-1], stream[1:]))
    # Unigram level: continuation counts N1+(. w) over bigram types, interpolated with uniform.
    types = set(bigrams)
    cont = collections.Counter(w for _, w in types)
    n_types = len(types)
    unigram = {w: max(cont[w] - d, 0) / n_types + d * len(cont) / n_types / 6 for w in range(6)}
    counts = collections.Counter(bigrams)
    c_h = sum(c for (h, _), c in counts.items() if h == 1)
    followers = {w: c for (h, w), c in counts.items() if h == 1}
    for w in range(6):
        expected = max(followers.get(w, 0) - d, 0) / c_h + d * len(followers) / c_h * unigram[w]
        np.testing.assert_allclose(lm.distribution([1])[w], expected, rtol=1e-12)


def test_perplexity_is_exp_mean_nll_over_the_same_targets():
    lm = NGramLanguageModel(3, V).fit(STREAM[:300])
    test = STREAM[300:]
    log_probs = lm.token_log_probs(test)
    assert log_probs.shape == (len(test) - 1,)
    assert np.all(np.isnan(log_probs) == (test[1:] == 0))  # padding targets are not scored
    np.testing.assert_allclose(lm.perplexity(test), np.exp(-np.nanmean(log_probs)))
    # A higher order fits its own training data better (sanity of the counts).
    assert lm.perplexity(STREAM[:300]) < NGramLanguageModel(1, V).fit(STREAM[:300]).perplexity(
        STREAM[:300]
    )


def test_save_load_and_vocabulary_mismatch(tmp_path):
    lm = NGramLanguageModel(3, V).fit(STREAM)
    path = str(tmp_path / "lm.json")
    lm.save(path)
    loaded = NGramLanguageModel.load(path, vocabulary_size=V)
    np.testing.assert_allclose(loaded.distribution([3, 4]), lm.distribution([3, 4]))
    with pytest.raises(ValueError, match="`vocabulary_size`.*Received: vocabulary_size=13"):
        NGramLanguageModel.load(path, vocabulary_size=V + 1)


def test_bad_arguments():
    with pytest.raises(ValueError, match="`order`.*Received: order=0"):
        NGramLanguageModel(0, V)
    with pytest.raises(ValueError, match="`smoothing`.*Received"):
        NGramLanguageModel(2, V, smoothing="witten_bell")
    with pytest.raises(ValueError, match="`stream`.*Received"):
        NGramLanguageModel(2, V).fit(np.array([1, 2, V]))
    with pytest.raises(ValueError, match="not fitted"):
        NGramLanguageModel(2, V).distribution([1])
