"""Sentence classifiers from bag of words to BiLSTM (DLSS 2018, "Language Understanding").

`TextClassifier(vocabulary_size, kind=...)` builds one member of the
curriculum's family, each a `keras.Model` from `[batch, T]` token ids
(0 = padding) to class probabilities:

| kind | composition |
|---|---|
| `"bow"` | a class-score vector per word, summed, plus a bias |
| `"cbow"` | word embeddings summed, then a linear layer |
| `"deep_cbow"` | summed embeddings through `depth` tanh layers |
| `"cnn"` | convolutions of several widths + max-over-time pooling (Kim 2014) |
| `"bilstm"` | a bidirectional LSTM's final states |
| `"sif"` | SIF-weighted average minus the first principal component, then logistic regression (Arora et al. 2017) |

Every kind ignores padding (extra padding changes no output), compiles
with XLA, saves to `.keras` and exports to SavedModel and ONNX. All but
`"bow"` take optional pretrained `embeddings` (see
`keras_dlss.datasets.load_word_vectors` / `embedding_matrix`), frozen or
fine-tuned. The SIF weights and principal component are fitted from the
training sentences by `fit_sif` and saved with the model.

References:
    - Kim, EMNLP 2014 (https://arxiv.org/abs/1408.5882).
    - Arora, Liang & Ma, ICLR 2017 (https://openreview.net/forum?id=SyK00v5xx).
    - Iyyer et al., "Deep Unordered Composition Rivals Syntactic Methods
      for Text Classification", ACL 2015 (deep averaging networks).
"""

import keras
import numpy as np

from keras_dlss import _validation as v
from keras_dlss.applications.text_classifier_layers import (
    BagOfWords,
    MaskedGlobalPooling1D,
    SIFEmbedding,
    ZeroPaddedPositions,
)

KINDS = ("bow", "cbow", "deep_cbow", "cnn", "bilstm", "sif")


def _embedding(vocabulary_size, embedding_dim, embeddings, trainable, mask_zero=False):
    if embeddings is not None:
        embeddings = np.asarray(embeddings, "float32")
        if embeddings.ndim != 2 or embeddings.shape[0] != vocabulary_size:
            raise ValueError(
                f"Argument `embeddings` must be [vocabulary_size={vocabulary_size}, D]. "
                f"Received: embeddings.shape={embeddings.shape}"
            )
        embedding_dim = embeddings.shape[1]
    layer = keras.layers.Embedding(
        vocabulary_size, embedding_dim, mask_zero=mask_zero, trainable=trainable, name="embedding"
    )
    layer.build((None, None))
    if embeddings is not None:
        layer.embeddings.assign(embeddings)
    return layer


def TextClassifier(
    vocabulary_size,
    num_classes=2,
    kind="bilstm",
    *,
    embedding_dim=128,
    hidden_dim=128,
    depth=2,
    filters=100,
    filter_widths=(3, 4, 5),
    dropout=0.5,
    embeddings=None,
    trainable_embeddings=True,
    name=None,
):
    """Builds a sentence classifier of the curriculum's family.

    Args:
        vocabulary_size: int. Token ids are in `[0, vocabulary_size)`, 0 = padding.
        num_classes: int. Number of classes. Defaults to `2`.
        kind: `"bow"`, `"cbow"`, `"deep_cbow"`, `"cnn"`, `"bilstm"` or
            `"sif"`. Defaults to `"bilstm"`.
        embedding_dim: int. Embedding size (ignored with `embeddings`).
        hidden_dim: int. Units of the deep CBOW layers and of each LSTM
            direction. Defaults to `128`.
        depth: int. Hidden layers of `"deep_cbow"`. Defaults to `2`.
        filters: int. Filters per width of `"cnn"`. Defaults to `100`.
        filter_widths: tuple of int. Convolution widths of `"cnn"`.
        dropout: float in [0, 1). Dropout on the embeddings and before the
            output layer (not used by `"bow"` and `"sif"`). Defaults to `0.5`.
        embeddings: optional `[vocabulary_size, D]` array of initial word
            vectors (not for `"bow"`, whose rows are class scores).
        trainable_embeddings: bool. Fine-tune the embeddings (True) or keep
            them frozen. Defaults to `True`.
        name: optional str. Model name. Defaults to `"{kind}_classifier"`.

    Returns:
        An uncompiled `keras.Model` mapping `[batch, T]` int32 ids to
        `[batch, num_classes]` probabilities; compile it with a sparse
        categorical cross-entropy. For `"sif"`, call `fit_sif` on the
        training ids before training.

    Example:

    ```python
    ids = np.random.randint(1, 50, size=(32, 6))
    labels = (ids[:, 0] > 25).astype("int32")
    model = TextClassifier(50, 2, kind="cnn", embedding_dim=8, filters=4)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=True)
    model.fit(ids, labels, epochs=1, verbose=0)
    model.predict(ids[:2], verbose=0)  # [2, 2] probabilities
    ```
    """
    vocabulary_size = v.check_positive_int("vocabulary_size", vocabulary_size, 2)
    num_classes = v.check_positive_int("num_classes", num_classes)
    v.check_one_of("kind", kind, KINDS)
    for arg in ("embedding_dim", "hidden_dim", "depth", "filters"):
        v.check_positive_int(arg, locals()[arg])
    v.check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False)
    filter_widths = tuple(filter_widths)
    if not filter_widths or not all(isinstance(w, int) and w >= 1 for w in filter_widths):
        raise ValueError(
            f"Argument `filter_widths` must be positive integers. Received: filter_widths={filter_widths}"
        )
    if kind == "bow" and embeddings is not None:
        raise ValueError(
            "Argument `embeddings` is not used by kind='bow' (its rows are class scores). "
            f"Received: embeddings.shape={np.shape(embeddings)}"
        )
    ids = keras.Input((None,), dtype="int32", name="tokens")
    if kind == "bow":
        scores = BagOfWords(vocabulary_size, num_classes, name="bag_of_words")(ids)
        probs = keras.layers.Activation("softmax", name="probabilities")(scores)
        return keras.Model(ids, probs, name=name or "bow_classifier")
    embed = _embedding(
        vocabulary_size, embedding_dim, embeddings, trainable_embeddings, kind == "bilstm"
    )
    x = embed(ids)
    if kind == "sif":
        x = SIFEmbedding(vocabulary_size, name="sif")([x, ids])
    elif kind in ("cbow", "deep_cbow"):
        x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
        x = MaskedGlobalPooling1D("sum", name="sum")([x, ids])
        for i in range(depth if kind == "deep_cbow" else 0):
            x = keras.layers.Dense(hidden_dim, activation="tanh", name=f"hidden_{i}")(x)
    elif kind == "cnn":
        x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
        x = ZeroPaddedPositions(name="zero_padding")([x, ids])
        pooled = []
        for width in filter_widths:
            c = keras.layers.Conv1D(
                filters, width, padding="same", activation="relu", name=f"conv_{width}"
            )(x)
            pooled.append(MaskedGlobalPooling1D("max", name=f"max_over_time_{width}")([c, ids]))
        x = pooled[0] if len(pooled) == 1 else keras.layers.Concatenate(name="features")(pooled)
    else:
        x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
        x = keras.layers.Bidirectional(keras.layers.LSTM(hidden_dim), name="bilstm")(x)
    if kind != "sif" and dropout > 0:
        x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    probs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(ids, probs, name=name or f"{kind}_classifier")


def sif_word_weights(token_ids, vocabulary_size, a=1e-3):
    """`a / (a + p(w))` per token id, with `p` the unigram frequency in `token_ids`.

    Ids never seen get weight 1; the padding id gets 0.
    """
    ids = np.asarray(token_ids).reshape(-1)
    counts = np.bincount(ids[ids > 0], minlength=vocabulary_size)[:vocabulary_size]
    p = counts / max(counts.sum(), 1)
    weights = (a / (a + p)).astype("float32")
    weights[0] = 0.0
    return weights


def fit_sif(model, token_ids, a=1e-3):
    """Fits the SIF word weights and principal component of a `kind="sif"` model.

    Sets the `SIFEmbedding` layer's `word_weights` to `a / (a + p(w))` from
    the unigram frequencies of `token_ids`, and its `principal_component`
    to the first right singular vector of the matrix of the training
    sentences' weighted averages (uncentred, as in Arora et al.'s code).
    Call it before training (and again after changing the embeddings, if
    they are fine-tuned, for the exact method).

    Args:
        model: a `TextClassifier(kind="sif")`.
        token_ids: `[N, T]` int array of training sentences (0 = padding).
        a: float > 0. The smoothing parameter. Defaults to `1e-3`.

    Returns:
        The `SIFEmbedding` layer.
    """
    v.check_range("a", a, 0.0, None, low_inclusive=False)
    try:
        layer, embed = model.get_layer("sif"), model.get_layer("embedding")
    except ValueError:
        raise ValueError(
            f"Argument `model` must be a TextClassifier(kind='sif'). Received: model={model.name!r}"
        ) from None
    ids = np.asarray(token_ids)
    if ids.ndim != 2:
        raise ValueError(
            f"Argument `token_ids` must have rank 2. Received: token_ids.shape={ids.shape}"
        )
    weights = sif_word_weights(ids, layer.vocabulary_size, a)
    vectors = keras.ops.convert_to_numpy(embed.embeddings)
    sentences = np.concatenate(
        [_weighted_average(ids[i : i + 2048], weights, vectors) for i in range(0, len(ids), 2048)]
    )
    _, _, vt = np.linalg.svd(sentences.astype("float64"), full_matrices=False)
    layer.word_weights.assign(weights)
    layer.principal_component.assign(vt[0].astype("float32"))
    return layer


def _weighted_average(ids, weights, vectors):
    mask = (ids > 0).astype("float32")
    w = weights[ids] * mask
    return (w[..., None] * vectors[ids]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
