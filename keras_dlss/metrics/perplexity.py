"""Perplexity and bits per character: the exponentiated mean token cross-entropy.

A language model's per-token negative log-likelihood (NLL) is averaged over
every *real* token seen since the last reset, then turned into perplexity
`exp(mean NLL)` (Jelinek et al. 1977) or bits per character `mean NLL / ln 2`.
Averaging per batch and then over batches (what `keras.metrics.Mean` of a
per-batch perplexity does) weights short and padded batches wrongly, and
exponentiating per batch overstates perplexity (Jensen): both states here are
sums, so the result is exact however the data is batched.

Padding is excluded twice over: targets equal to `ignore_class` (id 0 in
`keras_dlss.datasets.load_text_corpus`) and positions with zero
`sample_weight` (a Keras mask reaches metrics as a sample weight) add nothing
to either sum. Only `keras.ops` is used, so the metric compiles with XLA.

References:
    - Jelinek et al., "Perplexity - a measure of the difficulty of speech
      recognition tasks", JASA 1977.
    - Graves, "Generating Sequences With Recurrent Neural Networks", 2013
      (bits per character). https://arxiv.org/abs/1308.0850
"""

import math

import keras
from keras import ops

__all__ = ["BitsPerCharacter", "Perplexity"]


class _TokenNegativeLogLikelihood(keras.metrics.Metric):
    """Sums of token NLL and token count over unmasked targets (shared state)."""

    def __init__(self, from_logits=True, ignore_class=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if not isinstance(from_logits, bool):
            raise ValueError(
                f"Argument `from_logits` must be a bool. Received: from_logits={from_logits!r}"
            )
        if ignore_class is not None and (
            isinstance(ignore_class, bool) or not isinstance(ignore_class, int)
        ):
            raise ValueError(
                "Argument `ignore_class` must be an int or None. "
                f"Received: ignore_class={ignore_class!r}"
            )
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.total_nll = self.add_variable((), initializer="zeros", name="total_nll")
        self.count = self.add_variable((), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred, "float32")
        y_true = ops.cast(ops.convert_to_tensor(y_true), "int32")
        if len(y_true.shape) == len(y_pred.shape):  # [..., 1] sparse labels
            y_true = ops.squeeze(y_true, -1)
        if len(y_true.shape) != len(y_pred.shape) - 1:
            raise ValueError(
                "Argument `y_true` must hold class ids with one axis fewer than `y_pred`. "
                f"Received: y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}"
            )
        weights = ops.ones_like(y_true, "float32")
        if self.ignore_class is not None:
            weights = weights * ops.cast(ops.not_equal(y_true, self.ignore_class), "float32")
            y_true = ops.where(ops.equal(y_true, self.ignore_class), 0, y_true)
        if sample_weight is not None:
            sample_weight = ops.cast(ops.convert_to_tensor(sample_weight), "float32")
            while len(sample_weight.shape) < len(weights.shape):  # per-sequence weights
                sample_weight = ops.expand_dims(sample_weight, -1)
            weights = weights * ops.broadcast_to(sample_weight, ops.shape(weights))
        # Pick the target's entry first: a [..., V] log-softmax would be one more full pass
        # writing V values per token (5% of an LSTM LM's XLA training step at V = 5000).
        picked = ops.take_along_axis(y_pred, ops.expand_dims(y_true, -1), axis=-1)[..., 0]
        if self.from_logits:
            picked = picked - ops.logsumexp(y_pred, axis=-1)
        else:
            picked = ops.log(ops.clip(picked, 1e-12, 1.0))
        self.total_nll.assign_add(ops.sum(-picked * weights))
        self.count.assign_add(ops.sum(weights))

    def _mean_nll(self):
        return ops.divide_no_nan(self.total_nll, self.count)

    def reset_state(self):
        self.total_nll.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "ignore_class": self.ignore_class,
        }


@keras.saving.register_keras_serializable(package="keras_dlss")
class Perplexity(_TokenNegativeLogLikelihood):
    """Perplexity `exp(sum NLL / number of tokens)` over every unmasked target token.

    Args:
        from_logits: bool. `y_pred` holds logits (True) or probabilities.
            Defaults to `True`.
        ignore_class: int or None. Targets with this id (padding) are not
            counted. Defaults to `None`.
        name: str. Defaults to `"perplexity"`.
        dtype: metric dtype. Defaults to `None`.

    Inputs: `y_true` int ids `[..., T]`, `y_pred` `[..., T, V]`, optional
    `sample_weight` (a mask) of `y_true`'s shape.

    Returns:
        The perplexity of all tokens seen since the last reset (1 when none).

    Example:

    ```python
    import numpy as np
    from keras_dlss.metrics import Perplexity

    metric = Perplexity(from_logits=False, ignore_class=0)
    probs = np.full((1, 3, 4), 0.25, "float32")      # uniform over 4 tokens
    metric.update_state(np.array([[2, 3, 0]]), probs)  # the 0 is padding
    print(float(metric.result()))                       # 4.0
    ```

    References:
        Jelinek et al., JASA 1977.
    """

    def __init__(self, from_logits=True, ignore_class=None, name="perplexity", dtype=None):
        super().__init__(from_logits, ignore_class, name=name, dtype=dtype)

    def result(self):
        return ops.exp(self._mean_nll())


@keras.saving.register_keras_serializable(package="keras_dlss")
class BitsPerCharacter(_TokenNegativeLogLikelihood):
    """Bits per character `sum NLL / (number of tokens * ln 2)` over unmasked targets.

    Args:
        from_logits: bool. `y_pred` holds logits (True) or probabilities.
            Defaults to `True`.
        ignore_class: int or None. Targets with this id (padding) are not
            counted. Defaults to `None`.
        name: str. Defaults to `"bits_per_character"`.
        dtype: metric dtype. Defaults to `None`.

    Returns:
        Mean NLL in bits over all characters seen since the last reset.

    Example:

    ```python
    import numpy as np
    from keras_dlss.metrics import BitsPerCharacter

    metric = BitsPerCharacter(from_logits=False)
    metric.update_state(np.array([[1, 2]]), np.full((1, 2, 4), 0.25, "float32"))
    print(float(metric.result()))                       # 2.0 bits
    ```

    References:
        Graves, 2013, https://arxiv.org/abs/1308.0850.
    """

    def __init__(self, from_logits=True, ignore_class=None, name="bits_per_character", dtype=None):
        super().__init__(from_logits, ignore_class, name=name, dtype=dtype)

    def result(self):
        return self._mean_nll() / math.log(2.0)
