"""Count-based text classifiers: multinomial naive Bayes and NBSVM (Wang & Manning 2012).

The baselines every neural sentence classifier is compared with. Both read
token lists (e.g. from `keras_dlss.datasets.tokenize_text`), count n-grams
in a sparse matrix kept as NumPy arrays (no SciPy needed) and follow the
scikit-learn `fit` / `predict` / `score` convention; `save` writes one
`.npz` (no pickle) that `load` reads back.

NBSVM scales each binary n-gram feature by its naive-Bayes log-count
ratio `r = log((p / |p|_1) / (q / |q|_1))` and trains an L2-regularized
squared-hinge SVM on the scaled features (liblinear's default loss, solved by its dual coordinate descent), then
interpolates the weights toward their mean magnitude:
`w' = (1 - beta) * mean(|w|) + beta * w`. More than two classes are
handled one-vs-rest.

References:
    - Wang & Manning, "Baselines and Bigrams: Simple, Good Sentiment and
      Topic Classification", ACL 2012 (https://aclanthology.org/P12-2018/).
    - McCallum & Nigam, "A Comparison of Event Models for Naive Bayes Text
      Classification", AAAI 1998 workshop.
"""

import json
import os

import numpy as np

from keras_dlss import _validation as v


def _ngrams(tokens, ngram_range):
    low, high = ngram_range
    for n in range(low, high + 1):
        for i in range(len(tokens) - n + 1):
            yield " ".join(tokens[i : i + n])


class _SparseCounts:
    """A CSR count matrix as three NumPy arrays (`indptr`, `indices`, `data`)."""

    def __init__(self, indptr, indices, data, num_features):
        self.indptr, self.indices, self.data = indptr, indices, data
        self.num_features = num_features
        self.rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))

    def dot(self, w):
        """`X @ w` for a `[F]` or `[F, K]` array."""
        n = len(self.indptr) - 1
        columns = w.reshape(len(w), -1).T
        out = [np.bincount(self.rows, self.data * c[self.indices], minlength=n) for c in columns]
        return np.stack(out, 1) if w.ndim == 2 else out[0]

    def tdot(self, u):
        """`X^T @ u` for a `[N]` array."""
        return np.bincount(self.indices, self.data * u[self.rows], minlength=self.num_features)

    def class_sums(self, y, num_classes):
        """`[K, F]` summed features of each class."""
        out = np.zeros((num_classes, self.num_features))
        np.add.at(out, (y[self.rows], self.indices), self.data)
        return out


class _CountModel:
    def __init__(self, alpha, ngram_range, binary):
        v.check_range("alpha", alpha, 0.0, None, low_inclusive=False)
        ngram_range = tuple(ngram_range)
        if len(ngram_range) != 2 or not 1 <= ngram_range[0] <= ngram_range[1]:
            raise ValueError(
                f"Argument `ngram_range` must be (low, high) with 1 <= low <= high. Received: ngram_range={ngram_range}"
            )
        self.alpha, self.ngram_range, self.binary = float(alpha), ngram_range, bool(binary)
        self.vocabulary_ = None

    def _check_texts(self, texts, labels=None):
        texts = [t.split() if isinstance(t, str) else list(t) for t in texts]
        if not texts:
            raise ValueError("Argument `texts` must hold at least one text. Received: texts=[]")
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(texts),) or labels.dtype.kind not in "iu" or labels.min() < 0:
                raise ValueError(
                    f"Argument `labels` must be {len(texts)} non-negative integer ids. "
                    f"Received: labels.shape={labels.shape}, dtype={labels.dtype}"
                )
        return texts, labels

    def _counts(self, texts, grow=False):
        if grow:
            self.vocabulary_ = {}
        indptr, indices, data = [0], [], []
        for tokens in texts:
            row = {}
            for gram in _ngrams(tokens, self.ngram_range):
                j = self.vocabulary_.get(gram)
                if j is None and grow:
                    j = self.vocabulary_[gram] = len(self.vocabulary_)
                if j is not None:
                    row[j] = 1.0 if self.binary else row.get(j, 0.0) + 1.0
            indices.extend(row)
            data.extend(row.values())
            indptr.append(len(indices))
        return _SparseCounts(
            np.array(indptr), np.array(indices, "int64"), np.array(data), len(self.vocabulary_)
        )

    def _fitted(self):
        if self.vocabulary_ is None:
            raise ValueError(f"{type(self).__name__} is not fitted: call `fit` first.")

    def score(self, texts, labels):
        """Accuracy of `predict(texts)` against `labels`."""
        return float(np.mean(self.predict(texts) == np.asarray(labels)))

    def save(self, path):
        """Writes the fitted model to an `.npz` file (no pickle)."""
        self._fitted()
        grams = sorted(self.vocabulary_, key=self.vocabulary_.get)
        config = {"class": type(self).__name__, **self.get_config()}
        np.savez_compressed(
            path, config=json.dumps(config), grams=np.array(grams, dtype=str), **self._arrays()
        )

    @classmethod
    def load(cls, path):
        """Reads a model written by `save`."""
        if not os.path.isfile(path):
            raise ValueError(f"Argument `path` must be an existing file. Received: path={path!r}")
        with np.load(path, allow_pickle=False) as f:
            config = json.loads(str(f["config"]))
            if config.pop("class") != cls.__name__:
                raise ValueError(
                    f"Argument `path` does not hold a {cls.__name__}. Received: {path}"
                )
            model = cls(**config)
            model.vocabulary_ = {g: i for i, g in enumerate(f["grams"].tolist())}
            for name in f.files:
                if name not in ("config", "grams"):
                    setattr(model, name, f[name])
        return model


class NaiveBayesClassifier(_CountModel):
    """Multinomial naive Bayes over n-gram counts, with additive (Laplace) smoothing.

    Args:
        alpha: float > 0. Additive smoothing of the n-gram counts. Defaults to `1.0`.
        ngram_range: `(low, high)`. N-gram orders counted. Defaults to `(1, 1)`.
        binary: bool. Count presence rather than occurrences. Defaults to `False`.

    Example:

    ```python
    texts = [["good", "film"], ["bad", "film"], ["good", "fun"], ["dull", "bad"]]
    model = NaiveBayesClassifier().fit(texts, [1, 0, 1, 0])
    model.predict([["good"], ["bad"]])  # array([1, 0])
    ```
    """

    def __init__(self, alpha=1.0, ngram_range=(1, 1), binary=False):
        super().__init__(alpha, ngram_range, binary)

    def get_config(self):
        return {"alpha": self.alpha, "ngram_range": list(self.ngram_range), "binary": self.binary}

    def fit(self, texts, labels):
        """Counts n-grams per class. `texts`: token lists (or whitespace-tokenized str)."""
        texts, labels = self._check_texts(texts, labels)
        x = self._counts(texts, grow=True)
        num_classes = int(labels.max()) + 1
        counts = x.class_sums(labels, num_classes) + self.alpha
        self.feature_log_prob_ = np.log(counts / counts.sum(1, keepdims=True))
        prior = np.bincount(labels, minlength=num_classes)
        self.class_log_prior_ = np.log(np.maximum(prior, 1e-12) / prior.sum())
        return self

    def _arrays(self):
        return {
            "feature_log_prob_": self.feature_log_prob_,
            "class_log_prior_": self.class_log_prior_,
        }

    def predict_log_proba(self, texts):
        """`[N, K]` log posterior class probabilities."""
        self._fitted()
        texts, _ = self._check_texts(texts)
        joint = self._counts(texts).dot(self.feature_log_prob_.T) + self.class_log_prior_
        top = joint.max(1, keepdims=True)
        return joint - (top + np.log(np.exp(joint - top).sum(1, keepdims=True)))

    def predict_proba(self, texts):
        """`[N, K]` posterior class probabilities."""
        return np.exp(self.predict_log_proba(texts))

    def predict(self, texts):
        """`[N]` class ids."""
        return self.predict_log_proba(texts).argmax(1)


class NBSVM(_CountModel):
    """NBSVM (Wang & Manning 2012): an SVM on naive-Bayes-scaled binary n-gram features.

    Args:
        alpha: float > 0. Smoothing of the log-count ratio. Defaults to `1.0`.
        ngram_range: `(low, high)`. Defaults to `(1, 2)` (uni+bigrams, the paper's best).
        C: float > 0. Inverse L2 regularization strength of the SVM. Defaults to `1.0`.
        beta: float in [0, 1]. Interpolation weight. Defaults to `0.25`.
        max_iterations: int. Passes of dual coordinate descent over the data. Defaults to `20`.

    Example:

    ```python
    texts = [["good", "film"], ["bad", "film"], ["good", "fun"], ["dull", "bad"]]
    model = NBSVM(ngram_range=(1, 1)).fit(texts, [1, 0, 1, 0])
    model.predict([["good"], ["bad"]])  # array([1, 0])
    ```
    """

    def __init__(self, alpha=1.0, ngram_range=(1, 2), C=1.0, beta=0.25, max_iterations=20):
        super().__init__(alpha, ngram_range, binary=True)
        self.C = float(v.check_range("C", C, 0.0, None, low_inclusive=False))
        self.beta = float(v.check_range("beta", beta, 0.0, 1.0))
        self.max_iterations = v.check_positive_int("max_iterations", max_iterations)

    def get_config(self):
        return {
            "alpha": self.alpha,
            "ngram_range": list(self.ngram_range),
            "C": self.C,
            "beta": self.beta,
            "max_iterations": self.max_iterations,
        }

    def fit(self, texts, labels):
        """Fits one binary NBSVM per class (one for two classes)."""
        texts, labels = self._check_texts(texts, labels)
        x = self._counts(texts, grow=True)
        self.num_classes_ = np.array(max(int(labels.max()) + 1, 2))
        sums = x.class_sums(labels, int(self.num_classes_))
        positives = [1] if self.num_classes_ == 2 else range(int(self.num_classes_))
        ratios, weights, biases = [], [], []
        for k in positives:
            p, q = sums[k] + self.alpha, sums.sum(0) - sums[k] + self.alpha
            r = np.log(p / p.sum()) - np.log(q / q.sum())
            w, b = self._svm(x, r, np.where(labels == k, 1.0, -1.0))
            mean = np.abs(w).mean()
            ratios.append(r)
            weights.append((1 - self.beta) * mean + self.beta * w)
            biases.append(b)
        self.ratios_, self.weights_, self.biases_ = map(np.array, (ratios, weights, biases))
        return self

    def _svm(self, x, r, y):
        """L2-regularized squared-hinge SVM by dual coordinate descent (liblinear's solver).

        Hsieh et al. (ICML 2008), Algorithm 1 with `U = inf`, `D_ii = 1 / (2C)`;
        the bias is a constant feature, regularized as liblinear does.
        """
        rng = np.random.default_rng(0)
        w = np.zeros(x.num_features + 1)
        alpha = np.zeros(len(y))
        diagonal = 0.5 / self.C
        rows = []
        for i in range(len(y)):
            lo, hi = x.indptr[i], x.indptr[i + 1]
            idx = np.append(x.indices[lo:hi], x.num_features)
            vals = np.append(x.data[lo:hi] * r[x.indices[lo:hi]], 1.0)
            rows.append((idx, vals, vals @ vals + diagonal))
        for _ in range(self.max_iterations):
            largest = 0.0
            for i in rng.permutation(len(y)):
                idx, vals, q = rows[i]
                gradient = y[i] * (w[idx] @ vals) - 1.0 + diagonal * alpha[i]
                projected = min(gradient, 0.0) if alpha[i] == 0 else gradient
                if projected != 0.0:
                    old = alpha[i]
                    alpha[i] = max(old - gradient / q, 0.0)
                    w[idx] += (alpha[i] - old) * y[i] * vals
                    largest = max(largest, abs(projected))
            if largest < 0.1:  # liblinear's default stopping tolerance
                break
        return w[:-1], w[-1]

    def _arrays(self):
        return {
            "ratios_": self.ratios_,
            "weights_": self.weights_,
            "biases_": self.biases_,
            "num_classes_": self.num_classes_,
        }

    def decision_function(self, texts):
        """`[N]` margins (two classes) or `[N, K]` one-vs-rest margins."""
        self._fitted()
        texts, _ = self._check_texts(texts)
        x = self._counts(texts)
        margins = x.dot((self.ratios_ * self.weights_).T) + self.biases_
        return margins[:, 0] if int(self.num_classes_) == 2 else margins

    def predict(self, texts):
        """`[N]` class ids."""
        margins = self.decision_function(texts)
        return (margins > 0).astype("int64") if margins.ndim == 1 else margins.argmax(1)
