"""Layers of the sentence-classifier family: bag of words, masked pooling, SIF.

Each layer takes the token ids beside its features and derives the padding
mask from them (id 0 = padding) rather than relying on Keras' implicit mask:
`Conv1D` drops implicit masks, and an explicit input survives SavedModel
and ONNX export unchanged. Padding therefore changes no output.

References:
    - Neubig, DLSS 2018 "Language Understanding" (BoW, CBOW, deep CBOW).
    - Kim, "Convolutional Neural Networks for Sentence Classification",
      EMNLP 2014 (https://arxiv.org/abs/1408.5882): max-over-time pooling.
    - Arora, Liang & Ma, "A Simple but Tough-to-Beat Baseline for Sentence
      Embeddings", ICLR 2017 (https://openreview.net/forum?id=SyK00v5xx).
"""

import keras
from keras import ops

from keras_dlss import _validation as v

POOLING_MODES = ("sum", "mean", "max")


def _mask(token_ids, dtype):
    return ops.cast(ops.not_equal(token_ids, 0), dtype)


@keras.saving.register_keras_serializable(package="keras_dlss")
class BagOfWords(keras.layers.Layer):
    """The curriculum's bag of words: a class-score vector per word, summed, plus a bias.

    `scores = sum_t W[x_t] + b` over the non-padding tokens (id 0 is
    padding), so each word's evidence is one row of `W` and the model is
    linear in the word counts: it cannot flip "good" in "not good".

    Args:
        vocabulary_size: int. Number of token ids (0 = padding).
        num_classes: int. Number of classes.
        scores_initializer: Initializer of `W`. Defaults to `"zeros"`.

    Returns:
        `[batch, num_classes]` class scores (logits) for `[batch, T]` ids.

    Example:

    ```python
    layer = BagOfWords(vocabulary_size=5, num_classes=2)
    layer(np.array([[1, 2, 0]]))  # [1, 2] zeros until trained
    ```
    """

    def __init__(self, vocabulary_size, num_classes, scores_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = v.check_positive_int("vocabulary_size", vocabulary_size, 2)
        self.num_classes = v.check_positive_int("num_classes", num_classes)
        self.scores_initializer = keras.initializers.get(scores_initializer)

    def build(self, input_shape):
        self.scores = self.add_weight(
            (self.vocabulary_size, self.num_classes), self.scores_initializer, name="scores"
        )
        self.bias = self.add_weight((self.num_classes,), "zeros", name="bias")

    def call(self, token_ids):
        v.check_rank("token_ids", token_ids, 2)
        token_ids = ops.cast(token_ids, "int32")
        # A tensor, not the variable: gathering from a variable has no XLA kernel (PITFALLS).
        rows = ops.take(ops.convert_to_tensor(self.scores), token_ids, axis=0)
        rows = rows * _mask(token_ids, rows.dtype)[..., None]
        return ops.sum(rows, axis=1) + self.bias

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "num_classes": self.num_classes,
            "scores_initializer": keras.initializers.serialize(self.scores_initializer),
        }


@keras.saving.register_keras_serializable(package="keras_dlss")
class MaskedGlobalPooling1D(keras.layers.Layer):
    """Sum, mean or max over time of `[B, T, D]` features, skipping padding tokens.

    Called on `[features, token_ids]`: positions whose id is 0 are left
    out. `"sum"` is the CBOW composition, `"max"` Kim's max-over-time
    pooling. A row of padding only pools to zeros.

    Args:
        mode: `"sum"`, `"mean"` or `"max"`. Defaults to `"sum"`.

    Returns:
        `[batch, D]` pooled features.

    Example:

    ```python
    x = np.arange(6, dtype="float32").reshape(1, 3, 2)
    MaskedGlobalPooling1D("max")([x, np.array([[4, 7, 0]])])  # [[2., 3.]]
    ```
    """

    def __init__(self, mode="sum", **kwargs):
        super().__init__(**kwargs)
        self.mode = v.check_one_of("mode", mode, POOLING_MODES)

    def call(self, inputs):
        features, token_ids = inputs
        v.check_rank("features", features, 3)
        v.check_rank("token_ids", token_ids, 2)
        mask = _mask(token_ids, features.dtype)[..., None]
        if self.mode == "max":
            lowest = ops.min(features) - 1.0
            pooled = ops.max(features * mask + lowest * (1.0 - mask), axis=1)
            return ops.where(ops.max(mask, axis=1) > 0, pooled, ops.zeros_like(pooled))
        pooled = ops.sum(features * mask, axis=1)
        if self.mode == "mean":
            pooled = pooled / ops.maximum(ops.sum(mask, axis=1), 1.0)
        return pooled

    def compute_output_shape(self, input_shape):
        shape = input_shape[0]
        return (shape[0], shape[2])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="keras_dlss")
class ZeroPaddedPositions(keras.layers.Layer):
    """Sets the features of padding tokens to zero (called on `[features, token_ids]`).

    Before a `"same"` convolution this makes windows that overlap padding
    see zeros, exactly as at the sentence's true end, so extra padding
    changes no convolution output.

    Example:

    ```python
    x = np.ones((1, 3, 2), "float32")
    ZeroPaddedPositions()([x, np.array([[5, 0, 0]])])  # only the first row stays 1
    ```
    """

    def call(self, inputs):
        features, token_ids = inputs
        return features * _mask(token_ids, features.dtype)[..., None]

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="keras_dlss")
class SIFEmbedding(keras.layers.Layer):
    """Smooth-inverse-frequency sentence embedding (Arora et al. 2017).

    `v_s = 1/|s| sum_w a / (a + p(w)) v_w`, then the projection on the first
    principal component `u` of the training sentences is removed:
    `v_s - u u^T v_s`. The weights `a / (a + p(w))` (one per token id) and
    `u` are non-trainable weights fitted from training data with
    `fit_sif`, so they are saved with the model.

    Args:
        vocabulary_size: int. Number of token ids (0 = padding).

    Returns:
        `[batch, D]` sentence embeddings for `[word_vectors [B, T, D],
        token_ids [B, T]]`.

    Example:

    ```python
    layer = SIFEmbedding(vocabulary_size=10)
    layer([np.ones((2, 3, 4), "float32"), np.array([[1, 2, 0], [3, 0, 0]])])  # [2, 4]
    ```
    """

    def __init__(self, vocabulary_size, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = v.check_positive_int("vocabulary_size", vocabulary_size, 2)

    def build(self, input_shape):
        dim = input_shape[0][-1]
        self.word_weights = self.add_weight(
            (self.vocabulary_size,), "ones", name="word_weights", trainable=False
        )
        self.principal_component = self.add_weight(
            (dim,), "zeros", name="principal_component", trainable=False
        )

    def call(self, inputs):
        vectors, token_ids = inputs
        v.check_rank("vectors", vectors, 3)
        v.check_rank("token_ids", token_ids, 2)
        token_ids = ops.cast(token_ids, "int32")
        mask = _mask(token_ids, vectors.dtype)
        weights = ops.take(ops.convert_to_tensor(self.word_weights), token_ids, axis=0)
        weights = ops.cast(weights, vectors.dtype) * mask
        length = ops.maximum(ops.sum(mask, axis=1, keepdims=True), 1.0)
        sentence = ops.sum(vectors * weights[..., None], axis=1) / length
        u = ops.cast(self.principal_component, vectors.dtype)
        return sentence - ops.sum(sentence * u, axis=-1, keepdims=True) * u

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], input_shape[0][-1])

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size}
