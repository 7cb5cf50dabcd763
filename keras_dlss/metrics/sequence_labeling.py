"""Sequence-labeling metrics: token accuracy and CoNLL/seqeval span P/R/F1.

Span metrics follow the CoNLL-2000 `conlleval` script, as `seqeval`'s default
(non-strict) mode does: a chunk starts at a `B-`, at an `I-` after `O` or
after a chunk of another type, and ends before the tag that starts the next
chunk; sentences never share a chunk. Precision, recall and F1 are micro
averages over exact (type, start, end) matches.

References:
    - Tjong Kim Sang & Buchholz, "Introduction to the CoNLL-2000 Shared Task:
      Chunking", CoNLL 2000 (the `conlleval` script).
    - Nakayama, "seqeval: A Python framework for sequence labeling
      evaluation", 2018 (https://github.com/chakki-works/seqeval).
"""

import collections

import keras
from keras import ops

from keras_dlss import _validation as v


def _split_tag(tag):
    """`("B", "PER")` from `"B-PER"`; `("O", "")` from `"O"`; bare `"B"` has type `""`."""
    if tag in ("O", ""):
        return "O", ""
    prefix, _, kind = tag.partition("-")
    return prefix, kind


def _chunk_ends(prev_prefix, prefix, prev_kind, kind):
    if prev_prefix in ("E", "S"):
        return True
    if prev_prefix in ("B", "I") and prefix in ("B", "S", "O"):
        return True
    return prev_prefix != "O" and prev_kind != kind


def _chunk_starts(prev_prefix, prefix, prev_kind, kind):
    if prefix in ("B", "S"):
        return True
    if prev_prefix in ("E", "S", "O") and prefix in ("E", "I"):
        return True
    return prefix != "O" and prev_kind != kind


def get_entities(tags):
    """Spans `(type, start, end)` (inclusive) of one tag sequence, conlleval-style.

    Args:
        tags: list of str, e.g. `["B-PER", "I-PER", "O"]` (BIO, IOB1 or BIOES).

    Returns:
        list of `(type, start, end)` tuples.

    Example:

    ```pycon
    >>> get_entities(["B-PER", "I-PER", "O", "I-LOC"])
    [('PER', 0, 1), ('LOC', 3, 3)]
    ```
    """
    _check_tag_sequence("tags", tags)
    spans = []
    prev_prefix, prev_kind, begin = "O", "", 0
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, kind = _split_tag(tag)
        if _chunk_ends(prev_prefix, prefix, prev_kind, kind):
            spans.append((prev_kind, begin, i - 1))
        if _chunk_starts(prev_prefix, prefix, prev_kind, kind):
            begin = i
        prev_prefix, prev_kind = prefix, kind
    return spans


def _check_tag_sequence(name, tags):
    """`tags` is one sentence: a sequence (not a string) of tag strings."""
    if isinstance(tags, str) or not hasattr(tags, "__len__"):
        raise ValueError(
            f"Argument `{name}` must be a sequence of tag strings, e.g. ['B-PER', 'O']. "
            f"Received: {name}={tags!r}"
        )
    for i, tag in enumerate(tags):
        if not isinstance(tag, str):
            raise ValueError(
                f"Argument `{name}` must hold tag strings (map ids to labels first). "
                f"Received: {name}[{i}]={tag!r}"
            )


def _check_sentences(name, sentences):
    """`sentences` is a corpus: a sequence of per-sentence sequences (not a flat tag list)."""
    if isinstance(sentences, str) or not hasattr(sentences, "__len__"):
        raise ValueError(
            f"Argument `{name}` must be a list of tag sequences, one per sentence. "
            f"Received: {name}={sentences!r}"
        )
    for i, sentence in enumerate(sentences):
        if isinstance(sentence, str) or not hasattr(sentence, "__len__"):
            raise ValueError(
                f"Argument `{name}` must be a list of tag sequences, one per sentence "
                f"(wrap a single sentence in a list). Received: {name}[{i}]={sentence!r}"
            )


def _check_aligned(y_true, y_pred):
    _check_sentences("y_true", y_true)
    _check_sentences("y_pred", y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"Arguments `y_true` and `y_pred` must hold the same number of sentences. "
            f"Received: {len(y_true)} and {len(y_pred)}"
        )
    for i, (t, p) in enumerate(zip(y_true, y_pred)):
        if len(t) != len(p):
            raise ValueError(
                f"Arguments `y_true` and `y_pred` must have equal lengths per sentence. "
                f"Received: sentence {i} with {len(t)} and {len(p)} tags"
            )


def span_f1(y_true, y_pred):
    """Span-level precision, recall and F1 (seqeval-compatible, micro average).

    Args:
        y_true: list of gold tag-string sequences.
        y_pred: list of predicted tag-string sequences, same lengths.

    Returns:
        dict with `precision`, `recall`, `f1`, `support` (gold spans) and
        `per_type` (`{type: {precision, recall, f1, support}}`). Scores are 0
        when undefined (no predicted or no gold spans).

    Example:

    ```pycon
    >>> y_true = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    >>> y_pred = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    >>> span_f1(y_true, y_pred)["f1"]
    0.5
    ```
    """
    _check_aligned(y_true, y_pred)
    for name, corpus in (("y_true", y_true), ("y_pred", y_pred)):
        for i, tags in enumerate(corpus):
            _check_tag_sequence(f"{name}[{i}]", tags)
    gold = {(i, *s) for i, tags in enumerate(y_true) for s in get_entities(tags)}
    pred = {(i, *s) for i, tags in enumerate(y_pred) for s in get_entities(tags)}
    result = _prf(len(gold & pred), len(pred), len(gold))
    per_type = {}
    for kind in sorted({s[1] for s in gold | pred}):
        g = {s for s in gold if s[1] == kind}
        p = {s for s in pred if s[1] == kind}
        per_type[kind] = _prf(len(g & p), len(p), len(g))
    result["per_type"] = per_type
    return result


def _prf(tp, n_pred, n_gold):
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": n_gold}


def token_accuracy(y_true, y_pred):
    """Fraction of tokens whose tag is right, over all tokens of all sentences.

    Args:
        y_true, y_pred: lists of equal-length tag sequences (strings or ids).

    Returns:
        float (0 for an empty corpus).
    """
    _check_aligned(y_true, y_pred)
    counts = collections.Counter(t == p for ts, ps in zip(y_true, y_pred) for t, p in zip(ts, ps))
    total = counts[True] + counts[False]
    return counts[True] / total if total else 0.0


@keras.saving.register_keras_serializable(package="keras_dlss")
class TokenAccuracy(keras.metrics.Mean):
    """Masked per-token accuracy for tag ids (CRF output) or tag scores (softmax head).

    `y_pred` is either `[B, T]` integer tags or `[B, T, K]` scores (argmax is
    taken). Padded tokens are excluded through a per-token `sample_weight`
    (0 at padding). Keras 3 gives compiled metrics no output mask and plain
    `metrics=` no weights: compile it as `weighted_metrics=[TokenAccuracy()]`
    in a `CRFModel`, which weighs it by the CRF's padding mask, or pass
    `[B, T]` sample weights to `fit`/`evaluate`.

    Args:
        name: str. Defaults to `"token_accuracy"`.
        dtype: metric dtype.

    Example:

    ```python
    model.compile(optimizer="adam", weighted_metrics=[keras_dlss.metrics.TokenAccuracy()])
    ```
    """

    def __init__(self, name="token_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        v.check_rank("y_pred", y_pred, (2, 3))
        if len(y_pred.shape) == 3:
            y_pred = ops.argmax(y_pred, axis=-1)
        else:  # tag ids: a float here is a score head missing its tag axis
            v.check_dtype_kind("y_pred", y_pred, "integer")
        y_true = ops.convert_to_tensor(y_true)
        if len(y_true.shape) == 3 and y_true.shape[-1] == 1:
            y_true = ops.squeeze(y_true, -1)
        v.check_rank("y_true", y_true, 2)
        for axis in (0, 1):
            v.check_dims_match("y_true", y_true, axis, y_pred.shape[axis], f"y_pred.shape[{axis}]")
        if sample_weight is not None:
            sample_weight = ops.convert_to_tensor(sample_weight)
            v.check_rank("sample_weight", sample_weight, (1, 2))
            for axis in range(len(sample_weight.shape)):
                v.check_dims_match(
                    "sample_weight",
                    sample_weight,
                    axis,
                    y_true.shape[axis],
                    f"y_true.shape[{axis}]",
                )
        matches = ops.cast(
            ops.equal(ops.cast(y_true, "int32"), ops.cast(y_pred, "int32")), self.dtype
        )
        return super().update_state(matches, sample_weight=sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
