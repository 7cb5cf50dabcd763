"""Deep biaffine attention dependency parser (Dozat & Manning 2017).

Word (and optionally UPOS) embeddings feed a stacked BiLSTM; four MLPs turn
each word's state into a dependent and a head representation for arcs and
for labels; a `Biaffine` scorer gives `arcs[b, d, h]`, the score of head `h`
for word `d`, and `labels[b, d, h, l]`, the score of relation `l` on that arc.
Position 0 of every sentence is an artificial ROOT word.

Training is a local, per-word objective (Eq. 4): the cross-entropy of the
gold head among all positions, plus the cross-entropy of the gold relation
at the *gold* head. Prediction decodes the arc scores into a well-formed
tree with `keras_dlss.ops.maximum_spanning_tree` (Chu-Liu/Edmonds, or Eisner
for projective output) and reads each relation at the predicted head. The
network is `keras.ops` end to end and compiles with XLA; the decoder is NumPy
after it (see `ops/spanning_tree.py` for why).

An optional UPOS head (`num_tags`) makes the model a multi-task tagger and
parser over the shared BiLSTM, so a raw sentence needs no external tagger.

Targets are a dict `{"heads": [B, N], "labels": [B, N]}` (plus `"tags"`),
with -1 at position 0 and at padding: those positions carry no loss.

References:
    - Dozat & Manning, "Deep Biaffine Attention for Neural Dependency
      Parsing", ICLR 2017 (https://arxiv.org/abs/1611.01734).
    - Kiperwasser & Goldberg, "Simple and Accurate Dependency Parsing Using
      Bidirectional LSTM Feature Representations", TACL 2016.
"""

import keras
import numpy as np
from keras import ops

from keras_dlss import _validation as v
from keras_dlss.applications._char_features import char_cnn_features
from keras_dlss.layers.biaffine import Biaffine
from keras_dlss.ops.spanning_tree import maximum_spanning_tree

_NEG = -1e9


def _masked_cross_entropy(logits, target):
    """Mean cross-entropy over the positions whose target is >= 0."""
    valid = ops.cast(target >= 0, logits.dtype)
    loss = ops.sparse_categorical_crossentropy(ops.maximum(target, 0), logits, from_logits=True)
    return ops.sum(loss * valid) / ops.maximum(ops.sum(valid), 1.0)


@keras.saving.register_keras_serializable(package="keras_dlss")
def parse_loss(y_true, y_pred):
    """The biaffine parser's loss: arc cross-entropy plus relation cross-entropy at the gold head.

    `y_true` is `{"heads", "labels"}` (`[B, N]`, -1 where no loss applies),
    `y_pred` is `{"arcs": [B, N, N], "labels": [B, N, N, L]}`. Usable as a
    task loss of `keras_dlss.training.MultiTaskModel`.
    """
    heads = ops.cast(y_true["heads"], "int32")
    loss = _masked_cross_entropy(y_pred["arcs"], heads)
    # Relations are learned at the gold head (Dozat & Manning 2017, Section 3).
    gold = ops.maximum(heads, 0)[:, :, None, None]
    at_gold = ops.take_along_axis(y_pred["labels"], gold, axis=2)[:, :, 0, :]
    return loss + _masked_cross_entropy(at_gold, ops.cast(y_true["labels"], "int32"))


@keras.saving.register_keras_serializable(package="keras_dlss")
def tag_loss(y_true, y_pred):
    """Mean tagging cross-entropy over the positions whose tag `y_true` `[B, N]` is >= 0."""
    return _masked_cross_entropy(y_pred, ops.cast(y_true, "int32"))


@keras.saving.register_keras_serializable(package="keras_dlss")
class BiaffineParserModel(keras.Model):
    """A functional model whose `fit(x, y)` needs no `loss=`: the parser's loss is built in.

    `y` is `{"heads", "labels"}` (and `"tags"` with a UPOS head), -1 where no
    loss applies. `predict` returns the raw scores; `parse` decodes trees.
    """

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = parse_loss(y, y_pred)
        if "tags" in y_pred and "tags" in y:
            loss = loss + tag_loss(y["tags"], y_pred["tags"])
        losses = self.losses
        return loss + ops.sum(ops.stack(losses)) if losses else loss

    def parse(self, x, projective=False, batch_size=64):
        """Decodes well-formed trees: `(heads, labels, tags)` as `[B, N]` int arrays.

        Sentences are parsed in batches of similar length, each cut to a width
        rounded up to 16 positions: the label scores of a batch are
        `[batch, width, width, labels]`, too large to keep for a whole corpus
        padded to its longest sentence, and few distinct widths mean few
        compiled (XLA) shapes. Position 0 and padding are 0 in `heads`; `tags`
        is None without a UPOS head.

        Args:
            x: dict of `[B, N]` int arrays (`"words"`, and `"upos"` when the model takes it).
            projective: bool. Eisner instead of Chu-Liu/Edmonds. Defaults to False.
            batch_size: int. Sentences per network call. Defaults to 64.
        """
        if not isinstance(x, dict) or "words" not in x:
            raise ValueError(
                f"Argument `x` must be a dict with 'words'. Received: x={type(x).__name__}"
            )
        words = np.asarray(x["words"])
        lengths = (words > 0).sum(-1)
        heads, labels = np.zeros(words.shape, "int32"), np.zeros(words.shape, "int32")
        tags = np.zeros(words.shape, "int32") if "tags" in self.output_names else None
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = min(words.shape[1], -(-int(lengths[idx].max()) // 16) * 16)
            out = self.predict({k: np.asarray(a)[idx, :width] for k, a in x.items()}, verbose=0)
            h = maximum_spanning_tree(out["arcs"], np.maximum(lengths[idx] - 1, 1), projective)
            rel = np.take_along_axis(out["labels"], h[:, :, None, None], axis=2)[:, :, 0]
            heads[idx, :width], labels[idx, :width] = h, rel.argmax(-1)
            if tags is not None:
                tags[idx, :width] = out["tags"].argmax(-1)
        return heads, labels, tags


@keras.saving.register_keras_serializable(package="keras_dlss")
class PaddingHeadMask(keras.layers.Layer):
    """`[B, N, N, 1]` arc scores -> `[B, N, N]`, with -1e9 wherever the head is padding.

    Padding can never be a head; a large negative score (not -inf) keeps the
    softmax and its gradient finite on every backend.
    """

    def call(self, inputs):
        scores, words = inputs
        return ops.where(ops.greater(words, 0)[:, None, :], scores[..., 0], _NEG)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:3])


def biaffine_scorers(states, words, num_labels, arc_units=256, label_units=64, dropout=0.33):
    """The parser's scoring head on symbolic encoder `states` `[B, N, D]` (functional API).

    Four MLPs and two `Biaffine` scorers give `{"arcs": [B, N, N], "labels":
    [B, N, N, num_labels]}`; `words` `[B, N]` (0 = padding) masks padded heads.
    `BiaffineParser` and a multi-task parse head share it.
    """

    def mlp(units, role):
        h = keras.layers.Dense(units, activation="leaky_relu", name=f"{role}_mlp")(states)
        return keras.layers.Dropout(dropout, name=f"{role}_dropout")(h)

    arc_scores = Biaffine(1, head_bias=False, name="arc_biaffine")(
        [mlp(arc_units, "arc_dep"), mlp(arc_units, "arc_head")]
    )
    label_scores = Biaffine(num_labels, name="label_biaffine")(
        [mlp(label_units, "label_dep"), mlp(label_units, "label_head")]
    )
    arcs = PaddingHeadMask(name="arcs")([arc_scores, words])
    return {"arcs": arcs, "labels": keras.layers.Identity(name="labels")(label_scores)}


def BiaffineParser(
    vocabulary_size,
    num_labels,
    *,
    upos_vocabulary_size=None,
    num_tags=None,
    char_vocabulary_size=None,
    max_word_length=16,
    embedding_dim=100,
    upos_dim=32,
    char_embedding_dim=32,
    char_filters=64,
    char_kernel_size=3,
    lstm_units=128,
    lstm_layers=2,
    arc_units=256,
    label_units=64,
    dropout=0.33,
    name="biaffine_parser",
):
    """Builds a deep biaffine dependency parser (uncompiled `BiaffineParserModel`).

    Args:
        vocabulary_size: int. Word ids in `[0, vocabulary_size)`; 0 = padding,
            position 0 of each sentence holds a ROOT word id.
        num_labels: int. Number of dependency relations.
        upos_vocabulary_size: optional int. When set, the model also takes
            `"upos"` ids `[B, N]` (gold or predicted tags) as input.
        num_tags: optional int. When set, adds a UPOS tagging head (output
            `"tags"`, target `"tags"`): multi-task tagging and parsing.
        char_vocabulary_size: optional int. When set, the model also takes
            `"chars"` ids `[B, N, max_word_length]` (0 = padding) and adds a
            character CNN word feature, max-pooled over each word's characters:
            words unseen in training still get a representation.
        max_word_length: int. Characters per word of the `chars` input. Defaults to 16.
        embedding_dim: int. Word embedding size. Defaults to 100.
        upos_dim: int. UPOS embedding size. Defaults to 32.
        char_embedding_dim: int. Character embedding size. Defaults to 32.
        char_filters: int. Character CNN filters. Defaults to 64.
        char_kernel_size: int. Character CNN width. Defaults to 3.
        lstm_units: int. Units per direction of each BiLSTM layer. Defaults to 128.
        lstm_layers: int. Stacked BiLSTM layers. Defaults to 2.
        arc_units: int. Size of the arc MLPs' outputs. Defaults to 256.
        label_units: int. Size of the label MLPs' outputs. Defaults to 64.
        dropout: float in [0, 1). Dropout on embeddings, BiLSTM outputs and MLPs.
            Defaults to 0.33.
        name: str. Model name.

    Returns:
        A `BiaffineParserModel` taking `{"words"(, "upos", "chars")}` and returning
        `{"arcs": [B, N, N], "labels": [B, N, N, num_labels](, "tags": [B, N, num_tags])}`.

    Example:

    ```python
    words = np.array([[2, 5, 6, 7, 0], [2, 8, 5, 0, 0]], "int32")  # 2 = ROOT, 0 = pad
    heads = np.array([[-1, 2, 0, 2, -1], [-1, 0, 1, -1, -1]], "int32")
    labels = np.where(heads >= 0, 1, -1).astype("int32")
    model = keras_dlss.applications.BiaffineParser(10, 3, lstm_units=8, lstm_layers=1,
                                                   arc_units=8, label_units=4)
    model.compile(optimizer="adam")
    model.fit({"words": words}, {"heads": heads, "labels": labels}, epochs=1, verbose=0)
    tree_heads, tree_labels, _ = model.parse({"words": words})  # [2, 5] well-formed trees
    ```
    """
    for arg in ("vocabulary_size", "num_labels", "embedding_dim", "upos_dim", "lstm_units"):
        v.check_positive_int(arg, locals()[arg])
    for arg in ("lstm_layers", "arc_units", "label_units", "max_word_length", "char_filters"):
        v.check_positive_int(arg, locals()[arg])
    for arg in ("char_embedding_dim", "char_kernel_size"):
        v.check_positive_int(arg, locals()[arg])
    v.check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False)
    words = keras.Input((None,), dtype="int32", name="words")
    inputs = {"words": words}
    x = keras.layers.Embedding(
        vocabulary_size, embedding_dim, mask_zero=True, name="word_embedding"
    )(words)
    if upos_vocabulary_size is not None:
        v.check_positive_int("upos_vocabulary_size", upos_vocabulary_size)
        upos = keras.Input((None,), dtype="int32", name="upos")
        inputs["upos"] = upos
        u = keras.layers.Embedding(
            upos_vocabulary_size, upos_dim, mask_zero=True, name="upos_embedding"
        )(upos)
        x = keras.layers.Concatenate(name="word_features")([x, u])
    if char_vocabulary_size is not None:
        v.check_positive_int("char_vocabulary_size", char_vocabulary_size, 2)
        inputs["chars"] = keras.Input((None, max_word_length), dtype="int32", name="chars")
        c = char_cnn_features(
            inputs["chars"],
            char_vocabulary_size,
            char_embedding_dim,
            char_filters,
            char_kernel_size,
            max_word_length,
        )
        x = keras.layers.Concatenate(name="char_word_features")([x, c])
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    for i in range(lstm_layers):
        x = keras.layers.Bidirectional(
            keras.layers.LSTM(lstm_units, return_sequences=True), name=f"bilstm_{i}"
        )(x)  # the embedding's padding mask flows in
        x = keras.layers.Dropout(dropout, name=f"bilstm_dropout_{i}")(x)

    outputs = biaffine_scorers(x, words, num_labels, arc_units, label_units, dropout)
    if num_tags is not None:
        v.check_positive_int("num_tags", num_tags)
        outputs["tags"] = keras.layers.Dense(num_tags, name="tags")(x)
    return BiaffineParserModel(inputs, outputs, name=name)
