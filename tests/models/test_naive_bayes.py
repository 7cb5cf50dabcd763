"""Count-based baselines: multinomial naive Bayes vs scikit-learn, NBSVM, save/load, errors."""

import numpy as np
import pytest

from keras_dlss.datasets import negation_probe, sentiment_sentences, tokenize_text
from keras_dlss.models import NBSVM, NaiveBayesClassifier


@pytest.fixture(scope="module")
def data():
    texts, labels = sentiment_sentences(500, seed=3)
    tokens = [tokenize_text(t) for t in texts]
    return tokens[:400], labels[:400], tokens[400:], labels[400:]


@pytest.mark.parametrize("ngram_range, alpha", [((1, 1), 1.0), ((1, 2), 0.5)])
def test_naive_bayes_matches_sklearn_multinomial_nb(data, ngram_range, alpha):
    sklearn = pytest.importorskip("sklearn")
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB

    train, y_train, test, _ = data
    ours = NaiveBayesClassifier(alpha=alpha, ngram_range=ngram_range).fit(train, y_train)
    vectorizer = CountVectorizer(
        analyzer=lambda tokens: [
            " ".join(tokens[i : i + n])
            for n in range(ngram_range[0], ngram_range[1] + 1)
            for i in range(len(tokens) - n + 1)
        ]
    )
    reference = MultinomialNB(alpha=alpha).fit(vectorizer.fit_transform(train), y_train)
    expected = reference.predict_log_proba(vectorizer.transform(test))
    np.testing.assert_allclose(ours.predict_log_proba(test), expected, rtol=1e-6, atol=1e-8)
    assert sklearn is not None


def test_nbsvm_learns_and_beats_chance():
    # Plain sentences without negation: n-gram features separate them.
    texts, labels, categories = negation_probe(per_category=150, seed=1)
    plain = [i for i, c in enumerate(categories) if c == "plain"]
    tokens = [tokenize_text(texts[i]) for i in plain]
    labels = labels[plain]
    model = NBSVM().fit(tokens[:100], labels[:100])
    test, y_test = tokens[100:], labels[100:]
    assert model.score(test, y_test) > 0.9
    margins = model.decision_function(test)
    assert margins.shape == (len(test),)
    np.testing.assert_array_equal(model.predict(test), (margins > 0).astype(int))


def test_nbsvm_log_count_ratio_is_the_papers(data):
    train, y_train, _, _ = data
    model = NBSVM(ngram_range=(1, 1), alpha=1.0).fit(train, y_train)
    j = model.vocabulary_["good"]
    p = 1.0 + sum("good" in t for t, y in zip(train, y_train) if y == 1)
    q = 1.0 + sum("good" in t for t, y in zip(train, y_train) if y == 0)
    features = len(model.vocabulary_)
    positive = features + sum(len(set(t)) for t, y in zip(train, y_train) if y == 1)
    negative = features + sum(len(set(t)) for t, y in zip(train, y_train) if y == 0)
    assert model.ratios_[0, j] == pytest.approx(np.log(p / positive) - np.log(q / negative))


def test_multiclass_one_vs_rest():
    texts = [["a", "x"], ["b", "y"], ["c", "z"]] * 5
    labels = [0, 1, 2] * 5
    assert NBSVM(ngram_range=(1, 1)).fit(texts, labels).predict([["b"], ["c"]]).tolist() == [1, 2]
    assert NaiveBayesClassifier().fit(texts, labels).predict([["a"]]).tolist() == [0]


@pytest.mark.parametrize("cls", [NaiveBayesClassifier, NBSVM])
def test_save_and_load_round_trip(data, cls, tmp_path):
    train, y_train, test, _ = data
    model = cls().fit(train, y_train)
    path = str(tmp_path / "model.npz")
    model.save(path)
    restored = cls.load(path)
    np.testing.assert_array_equal(restored.predict(test), model.predict(test))
    other = NBSVM if cls is NaiveBayesClassifier else NaiveBayesClassifier
    with pytest.raises(ValueError, match="`path`"):
        other.load(path)


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: NaiveBayesClassifier(alpha=0), "alpha"),
        (lambda: NBSVM(ngram_range=(2, 1)), "ngram_range"),
        (lambda: NBSVM(beta=2.0), "beta"),
        (lambda: NBSVM().fit([["a"]], [0, 1]), "labels"),
        (lambda: NaiveBayesClassifier().fit([], []), "texts"),
        (lambda: NaiveBayesClassifier.load("/nonexistent.npz"), "path"),
    ],
)
def test_bad_input_raises_naming_the_argument(make, argument):
    with pytest.raises(ValueError, match=f"`{argument}`.*Received"):
        make()
