"""Count-based n-gram language model: interpolated modified Kneser-Ney or add-k.

The baseline every neural language model is measured against. Interpolated
Kneser-Ney (Kneser & Ney 1995) with the three discounts of Chen & Goodman
(1998, "modified" KN) mixes each order with the next lower one:

    P(w | h) = max(c(h w) - D(c(h w)), 0) / c(h)  +  gamma(h) P(w | h')
    gamma(h) = (D1 N1(h .) + D2 N2(h .) + D3 N3+(h .)) / c(h)

where `c` is the count at the highest order and the continuation count
`N1+(. h w)` (how many distinct words precede `h w`) at lower orders, and the
unigram level interpolates with the uniform distribution over the vocabulary.
Each level sums to one over the vocabulary whenever its lower level does,
which `tests/models/test_ngram.py` checks for sampled contexts. `add_k` is
Lidstone smoothing of the highest order alone.

Counts are kept in Python dictionaries and probabilities computed with NumPy:
a count model needs no gradient and no accelerator. Perplexity is computed on
exactly the targets a neural language model predicts from the same id stream
(`token_log_probs(stream)` scores `stream[1:]`), padding (id 0) excluded.

References:
    - Kneser & Ney, "Improved backing-off for M-gram language modeling",
      ICASSP 1995.
    - Chen & Goodman, "An Empirical Study of Smoothing Techniques for Language
      Modeling", Harvard TR-10-98, 1998.
"""

import collections
import json

import numpy as np

from keras_dlss._validation import check_one_of, check_positive_int, check_range

__all__ = ["NGramLanguageModel"]


class NGramLanguageModel:
    """An order-`order` count language model over ids `0 .. vocabulary_size - 1`.

    Args:
        order: int >= 1. `3` is a trigram model.
        vocabulary_size: int >= 2. Every id of the vocabulary gets probability
            mass (the uniform floor of the unigram level).
        smoothing: `"kneser_ney"` (interpolated, modified: three discounts per
            order) or `"add_k"`. Defaults to `"kneser_ney"`.
        k: float > 0. The add-k pseudo-count. Defaults to `1.0`.
        discount: float in (0, 1) or None. One fixed discount for every count
            (plain interpolated KN) instead of the three estimated ones.
            Defaults to `None`.
        ignore_id: int or None. Id never counted nor scored (padding).
            Defaults to `0`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.models import NGramLanguageModel

    stream = np.array([3, 4, 5, 2, 3, 4, 6, 2, 3, 4, 5, 2])
    lm = NGramLanguageModel(order=3, vocabulary_size=8).fit(stream)
    print(lm.distribution([3, 4]).sum())      # 1.0
    print(lm.perplexity(stream))
    ```

    References:
        Kneser & Ney, 1995; Chen & Goodman, 1998.
    """

    def __init__(
        self, order, vocabulary_size, smoothing="kneser_ney", k=1.0, discount=None, ignore_id=0
    ):
        self.order = check_positive_int("order", order)
        self.vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size, minimum=2)
        self.smoothing = check_one_of("smoothing", smoothing, ("kneser_ney", "add_k"))
        self.k = float(check_range("k", k, 0.0, None, low_inclusive=False))
        if discount is not None:
            discount = float(check_range("discount", discount, 0.0, 1.0, low_inclusive=False))
        self.discount = discount
        self.ignore_id = ignore_id
        self.counts = None

    def _check_ids(self, name, ids):
        ids = np.asarray(ids)
        if ids.ndim == 1 and ids.size == 0:
            return []
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(
                f"Argument `{name}` must be a 1-D integer id stream. "
                f"Received: {name}.shape={ids.shape}, dtype={ids.dtype}"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocabulary_size):
            bad = int(ids.min() if ids.min() < 0 else ids.max())
            raise ValueError(
                f"Argument `{name}` must hold ids in [0, {self.vocabulary_size}) "
                f"(vocabulary_size={self.vocabulary_size}). Received: {name} containing {bad}"
            )
        return [int(i) for i in ids]

    def fit(self, stream):
        """Counts the n-grams of a 1-D id stream; returns `self`."""
        ids = self._check_ids("stream", stream)
        if len(ids) < 2:
            raise ValueError(
                f"Argument `stream` must hold at least 2 ids. Received: len(stream)={len(ids)}"
            )
        top = collections.defaultdict(collections.Counter)
        n = self.order
        for t in range(n - 1, len(ids)):
            gram = tuple(ids[t - n + 1 : t + 1])
            if self.ignore_id not in gram:
                top[gram[:-1]][gram[-1]] += 1
        # Lower orders: continuation counts N1+(. h w) from the types one order up.
        counts = {self.order: top}
        for n in range(self.order - 1, 0, -1):
            level = collections.defaultdict(collections.Counter)
            for context, followers in counts[n + 1].items():
                for w in followers:
                    level[context[1:]][w] += 1
            counts[n] = level
        self.counts = {n: {h: dict(c) for h, c in level.items()} for n, level in counts.items()}
        self._prepare()
        return self

    def _prepare(self):
        self._summaries = {n: self._summarize(level) for n, level in self.counts.items()}
        self._discounts = {n: self._estimate_discounts(level) for n, level in self.counts.items()}
        # The unigram level is a full vector every query needs: computed once.
        self._unigram = self._interpolate(
            1, (), np.full(self.vocabulary_size, 1.0 / self.vocabulary_size)
        )

    @staticmethod
    def _summarize(level):
        """Per context: (total count, N1, N2, N3+ followers)."""
        out = {}
        for h, followers in level.items():
            values = np.fromiter(followers.values(), float)
            out[h] = (
                values.sum(),
                float((values == 1).sum()),
                float((values == 2).sum()),
                float((values >= 3).sum()),
            )
        return out

    def _estimate_discounts(self, level):
        if self.discount is not None:
            return (self.discount,) * 3
        hist = collections.Counter(c for followers in level.values() for c in followers.values())
        n1, n2, n3, n4 = (hist.get(i, 0) for i in (1, 2, 3, 4))
        if n1 == 0 or n2 == 0:
            return (0.5, 1.0, 1.5)  # too few counts to estimate: Chen & Goodman's typical values
        y = n1 / (n1 + 2.0 * n2)
        d1 = 1.0 - 2.0 * y * n2 / n1
        d2 = 2.0 - 3.0 * y * n3 / n2
        d3 = 3.0 - 4.0 * y * n4 / n3 if n3 else 2.0
        # D(c) <= c keeps every level a distribution (the discounted mass is never negative).
        return (
            float(np.clip(d1, 0.0, 1.0)),
            float(np.clip(d2, 0.0, 2.0)),
            float(np.clip(d3, 0.0, 3.0)),
        )

    def _require_fit(self):
        if self.counts is None:
            raise ValueError("This NGramLanguageModel is not fitted: call `fit(stream)` first.")

    def distribution(self, context):
        """Next-id probabilities `[vocabulary_size]` after `context` (its last `order - 1` ids)."""
        self._require_fit()
        context = (
            tuple(self._check_ids("context", context))[-(self.order - 1) :]
            if self.order > 1
            else ()
        )
        if self.smoothing == "add_k":
            probs = np.full(self.vocabulary_size, self.k)
            followers = (
                self.counts[self.order].get(context, {}) if len(context) == self.order - 1 else {}
            )
            probs[np.fromiter(followers.keys(), int, len(followers))] += np.fromiter(
                followers.values(), float, len(followers)
            )
            return probs / probs.sum()
        probs = self._unigram
        for n in range(2, min(self.order, len(context) + 1) + 1):
            probs = self._interpolate(n, context[len(context) - (n - 1) :], probs)
        return probs

    def _interpolate(self, n, h, lower):
        """Level `n` after context `h` (length `n - 1`), interpolated with `lower`."""
        summary = self._summaries[n].get(h)
        if summary is None:
            return lower  # unseen context: the lower order stands
        total, n1, n2, n3 = summary
        d = self._discounts[n]
        gamma = (d[0] * n1 + d[1] * n2 + d[2] * n3) / total
        followers = self.counts[n][h]
        words = np.fromiter(followers.keys(), int, len(followers))
        counts = np.fromiter(followers.values(), float, len(followers))
        discounts = np.asarray(d)[np.minimum(counts, 3).astype(int) - 1]
        probs = gamma * lower
        probs[words] += np.maximum(counts - discounts, 0.0) / total
        return probs

    def token_log_probs(self, stream):
        """Natural-log probability of each `stream[t]` given `stream[:t]`, for `t >= 1`.

        Returns:
            float64 array `[len(stream) - 1]`; NaN where the target is `ignore_id`.
        """
        ids = self._check_ids("stream", stream)
        self._require_fit()
        out = np.full(max(len(ids) - 1, 0), np.nan)
        for t in range(1, len(ids)):
            if ids[t] == self.ignore_id:
                continue
            context = [i for i in ids[max(0, t - self.order + 1) : t] if i != self.ignore_id]
            out[t - 1] = np.log(self.distribution(context)[ids[t]])
        return out

    def perplexity(self, stream):
        """`exp(mean NLL)` over the non-padding targets `stream[1:]`."""
        log_probs = self.token_log_probs(stream)
        return float(np.exp(-np.nanmean(log_probs)))

    def get_config(self):
        return {
            "order": self.order,
            "vocabulary_size": self.vocabulary_size,
            "smoothing": self.smoothing,
            "k": self.k,
            "discount": self.discount,
            "ignore_id": self.ignore_id,
        }

    def save(self, path):
        """Writes the configuration and counts as JSON."""
        self._require_fit()
        counts = {
            str(n): [[list(h), [[w, c] for w, c in f.items()]] for h, f in level.items()]
            for n, level in self.counts.items()
        }
        with open(path, "w") as f:
            json.dump({"config": self.get_config(), "counts": counts}, f)

    @classmethod
    def load(cls, path, vocabulary_size=None):
        """Reads a model written by `save`.

        Args:
            path: str.
            vocabulary_size: int or None. When given, must equal the saved
                model's: scoring ids of another vocabulary would be silently wrong.
        """
        with open(path) as f:
            data = json.load(f)
        config = data["config"]
        if vocabulary_size is not None and vocabulary_size != config["vocabulary_size"]:
            raise ValueError(
                f"Argument `vocabulary_size` does not match the saved model's vocabulary "
                f"({config['vocabulary_size']} ids). Received: vocabulary_size={vocabulary_size}"
            )
        model = cls(**config)
        model.counts = {
            int(n): {tuple(h): {int(w): int(c) for w, c in f} for h, f in level}
            for n, level in data["counts"].items()
        }
        model._prepare()
        return model
