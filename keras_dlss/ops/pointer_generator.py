"""The pointer-generator's extended vocabulary and final distribution.

See et al. 2017 ("Get To The Point", https://arxiv.org/abs/1704.04368, eq. 9):
a decoder step mixes generating from the closed vocabulary with copying a
source position,

    P(w) = p_gen * P_vocab(w) + (1 - p_gen) * sum_{i : x_i = w} a_i,

over an *extended* vocabulary: the V words of the closed vocabulary plus, per
example, its own source words outside it (temporary ids `V .. V + max_oovs - 1`),
so a word the model cannot generate can still be copied (Gulcehre et al. 2016,
"Pointing the Unknown Words", https://arxiv.org/abs/1603.08148; Gu et al. 2016,
CopyNet, https://arxiv.org/abs/1603.06393).

`extend_vocabulary` and `extended_ids_to_tokens` are the data side (NumPy, run
before and after the model); `final_distribution` is the differentiable mixture
(`keras.ops`, compiles with XLA: the copy mass is one scatter-add).
"""

from collections.abc import Mapping

import numpy as np
from keras import ops

from keras_dlss._validation import (
    check_dims_match,
    check_dtype_kind,
    check_mask_shape,
    check_positive_int,
    check_rank,
    concrete_value,
    precise_dtype,
    shape_str,
)

# Floor of the mixture before the log: an extended id that is neither in the
# vocabulary nor in the source has probability 0, and d log(P)/dP = inf there
# would turn the loss gradient into 0 * inf = NaN.
_TINY = 1e-30


def _word_index(name, vocabulary):
    if hasattr(vocabulary, "tokens"):  # keras_dlss.datasets.Vocabulary
        vocabulary = vocabulary.tokens
    if isinstance(vocabulary, Mapping):
        return dict(vocabulary)
    if isinstance(vocabulary, (list, tuple)) and vocabulary:
        return {word: i for i, word in enumerate(vocabulary)}
    raise ValueError(
        f"Argument `{name}` must be a non-empty list of tokens or a token -> id dict. "
        f"Received: {name}={vocabulary!r:.80}"
    )


def _check_sequences(name, sequences):
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise ValueError(
            f"Argument `{name}` must be a list of token sequences. Received: {name}={sequences!r:.80}"
        )
    for i, seq in enumerate(sequences):
        if isinstance(seq, (str, bytes)) or not hasattr(seq, "__iter__"):
            raise ValueError(
                f"Argument `{name}` must be a list of token sequences (lists of str). "
                f"Received: {name}[{i}]={seq!r:.80}"
            )


def extend_vocabulary(
    source_tokens,
    vocabulary,
    max_oovs,
    *,
    target_tokens=None,
    unk_id=1,
    source_vocabulary=None,
    source_length=None,
    target_length=None,
):
    """Token sequences -> ids in the vocabulary extended by each example's source OOVs.

    Each example's source words outside `vocabulary` get temporary ids `V`,
    `V + 1`, ... in order of first appearance (at most `max_oovs`; later ones
    stay `unk_id`). Targets use the same per-example ids, so a target word that
    occurs in its source can be copied even when the vocabulary lacks it.
    Sequences are right-padded with 0.

    Args:
        source_tokens: list of N token lists (str).
        vocabulary: the closed (target) vocabulary: a list of tokens (id =
            index), a token -> id dict, or a `keras_dlss.datasets.Vocabulary`.
        max_oovs: int >= 1. Extended slots per example.
        target_tokens: optional list of N token lists.
        unk_id: int. Id of `<unk>` in `vocabulary`. Defaults to `1`.
        source_vocabulary: optional vocabulary of the encoder's input ids (when
            the source and target vocabularies differ). Defaults to `vocabulary`.
        source_length: int or None. Length of the source arrays (longer
            sequences are cut). Defaults to the longest source.
        target_length: int or None. The same for targets.

    Returns:
        A dict with `"source"` (`[N, S]` int32 encoder ids, OOVs -> `unk_id`),
        `"source_extended"` (`[N, S]` int32 ids in the extended vocabulary),
        `"oovs"` (per example, the list of words behind ids `V, V + 1, ...`) and,
        with `target_tokens`, `"target"` (`[N, T]` int32 extended ids).

    Example:

    ```python
    from keras_dlss.ops import extend_vocabulary

    vocab = ["<pad>", "<unk>", "<start>", "<end>", "meet", "at", "call"]
    batch = extend_vocabulary([["meet", "ozil", "at", "9"]], vocab, max_oovs=4,
                              target_tokens=[["call", "ozil", "9", "<end>"]])
    print(batch["source_extended"].tolist(), batch["oovs"])  # [[4, 7, 5, 8]] [['ozil', '9']]
    print(batch["target"].tolist())                          # [[6, 7, 8, 3]]
    ```

    Reference:
        - [See et al., 2017](https://arxiv.org/abs/1704.04368), section 2.2
    """
    index = _word_index("vocabulary", vocabulary)
    size = max(index.values()) + 1
    source_index = (
        index if source_vocabulary is None else _word_index("source_vocabulary", source_vocabulary)
    )
    max_oovs = check_positive_int("max_oovs", max_oovs)
    unk_id = check_positive_int("unk_id", unk_id, 0)
    if unk_id >= size:
        raise ValueError(
            f"Argument `unk_id` must be an id of `vocabulary` (< {size}). Received: unk_id={unk_id}"
        )
    _check_sequences("source_tokens", source_tokens)
    if target_tokens is not None:
        _check_sequences("target_tokens", target_tokens)
        if len(target_tokens) != len(source_tokens):
            raise ValueError(
                "Argument `target_tokens` must hold one sequence per source sequence "
                f"({len(source_tokens)}). Received: {len(target_tokens)} sequences"
            )
    lengths = [len(s) for s in source_tokens] or [0]
    s_len = (
        max(lengths)
        if source_length is None
        else check_positive_int("source_length", source_length)
    )
    source_unk = source_index.get("<unk>", unk_id) if source_vocabulary is not None else unk_id
    source = np.zeros((len(source_tokens), s_len), "int32")
    extended = np.zeros((len(source_tokens), s_len), "int32")
    oovs = []
    for row, words in enumerate(source_tokens):
        mine = {}
        for col, word in enumerate(list(words)[:s_len]):
            source[row, col] = source_index.get(word, source_unk)
            if word in index:
                extended[row, col] = index[word]
                continue
            if word not in mine and len(mine) < max_oovs:
                mine[word] = size + len(mine)
            extended[row, col] = mine.get(word, unk_id)
        oovs.append(list(mine))
    result = {"source": source, "source_extended": extended, "oovs": oovs}
    if target_tokens is not None:
        t_lens = [len(t) for t in target_tokens] or [0]
        t_len = (
            max(t_lens)
            if target_length is None
            else check_positive_int("target_length", target_length)
        )
        target = np.zeros((len(target_tokens), t_len), "int32")
        for row, words in enumerate(target_tokens):
            mine = {w: size + i for i, w in enumerate(oovs[row])}
            for col, word in enumerate(list(words)[:t_len]):
                target[row, col] = index.get(word, mine.get(word, unk_id))
        result["target"] = target
    return result


def extended_ids_to_tokens(ids, vocabulary, oovs, end_id=None):
    """Decoded extended ids -> tokens, with ids `>= V` read from each example's `oovs`.

    Args:
        ids: `[N, T]` (or `[N, K, T]`, e.g. beams) integer array.
        vocabulary: the vocabulary given to `extend_vocabulary`.
        oovs: the `"oovs"` list returned by `extend_vocabulary` (N lists).
        end_id: optional int. Tokens stop before the first `end_id`.

    Returns:
        Nested lists of tokens with the leading shape of `ids` (an id with no
        word behind it becomes `"<unk>"`).

    Example:

    ```python
    from keras_dlss.ops import extended_ids_to_tokens

    vocab = ["<pad>", "<unk>", "<start>", "<end>", "meet", "at", "call"]
    print(extended_ids_to_tokens([[6, 7, 8, 3, 3]], vocab, [["ozil", "9"]], end_id=3))
    # [['call', 'ozil', '9']]
    ```
    """
    index = _word_index("vocabulary", vocabulary)
    words = {i: w for w, i in index.items()}
    size = max(index.values()) + 1
    arr = concrete_value(ids)
    arr = np.asarray(ids) if arr is None else arr
    if arr.ndim not in (2, 3) or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            "Argument `ids` must be a rank-2 or rank-3 integer array. "
            f"Received: ids.shape={shape_str(arr.shape)}, dtype={arr.dtype}"
        )
    if len(oovs) != arr.shape[0]:
        raise ValueError(
            f"Argument `oovs` must hold one list per example ({arr.shape[0]}). "
            f"Received: {len(oovs)} lists"
        )

    def row_tokens(row, mine):
        out = []
        for i in row.tolist():
            if end_id is not None and i == end_id:
                break
            word = mine[i - size] if size <= i < size + len(mine) else words.get(i, "<unk>")
            out.append(word)
        return out

    if arr.ndim == 2:
        return [row_tokens(row, mine) for row, mine in zip(arr, oovs)]
    return [[row_tokens(r, mine) for r in rows] for rows, mine in zip(arr, oovs)]


def final_distribution(p_vocab, attention, source_ids, p_gen, extended_size, mask=None):
    """Log of the pointer-generator mixture over the extended vocabulary.

    `p_gen * P_vocab` (zero for the extended ids) plus `(1 - p_gen)` times the
    attention summed over the source positions that hold each id (a repeated
    source word accumulates its positions' weights). Positions where `mask` is 0
    contribute nothing; the remaining attention is renormalized, so each row
    still sums to 1.

    Args:
        p_vocab: `[B, V]` (one step) or `[B, T, V]` vocabulary probabilities.
        attention: `[B, S]` or `[B, T, S]` attention over the source positions.
        source_ids: `[B, S]` integer extended ids of the source positions.
        p_gen: `[B, 1]` or `[B, T, 1]` generation probabilities (a trailing 1
            may be omitted).
        extended_size: int. `V + max_oovs`.
        mask: optional `[B, S]` (1 = real source position).

    Returns:
        `[B, extended_size]` or `[B, T, extended_size]` log-probabilities
        (floored at log(1e-30) where the mixture is 0), float32 (float64 for
        float64 inputs) whatever the input precision.

    Example:

    ```python
    import numpy as np
    from keras_dlss.ops import final_distribution

    p_vocab = np.full((1, 4), 0.25, "float32")
    attention = np.array([[0.5, 0.3, 0.2]], "float32")
    source_ids = np.array([[5, 2, 5]])            # id 5: a source OOV, twice
    log_p = final_distribution(p_vocab, attention, source_ids, np.array([[0.6]]), 6)
    print(np.exp(np.asarray(log_p)).round(3))     # [[0.15 0.15 0.27 0.15 0.   0.28]]
    ```

    Reference:
        - [See et al., 2017](https://arxiv.org/abs/1704.04368), eq. 9
    """
    p_vocab = ops.convert_to_tensor(p_vocab)
    attention = ops.convert_to_tensor(attention)
    source_ids = ops.convert_to_tensor(source_ids)
    p_gen = ops.convert_to_tensor(p_gen)
    check_rank("p_vocab", p_vocab, (2, 3))
    check_dtype_kind("p_vocab", p_vocab, "floating")
    check_rank("attention", attention, len(p_vocab.shape))
    check_dtype_kind("attention", attention, "floating")
    check_dims_match("attention", attention, 0, p_vocab.shape[0], "the batch size of `p_vocab`")
    check_rank("source_ids", source_ids, 2)
    check_dtype_kind("source_ids", source_ids, "integer")
    check_dims_match("source_ids", source_ids, 0, attention.shape[0], "the batch of `attention`")
    check_dims_match("source_ids", source_ids, 1, attention.shape[-1], "the length of `attention`")
    if len(p_gen.shape) == len(p_vocab.shape) - 1:
        p_gen = ops.expand_dims(p_gen, -1)
    if len(p_gen.shape) != len(p_vocab.shape) or p_gen.shape[-1] not in (1, None):
        raise ValueError(
            f"Argument `p_gen` must have shape {shape_str(p_vocab.shape[:-1])} + (1,). "
            f"Received: p_gen.shape={shape_str(p_gen.shape)}"
        )
    vocab_size = p_vocab.shape[-1]
    extended_size = check_positive_int("extended_size", extended_size)
    if vocab_size is not None and extended_size < vocab_size:
        raise ValueError(
            f"Argument `extended_size` must be >= the vocabulary size {vocab_size}. "
            f"Received: extended_size={extended_size}"
        )
    ids = concrete_value(source_ids)
    if ids is not None and ids.size and (ids.min() < 0 or ids.max() >= extended_size):
        raise ValueError(
            f"Argument `source_ids` must hold ids in [0, {extended_size}). "
            f"Received: source_ids containing {int(ids.max() if ids.min() >= 0 else ids.min())}"
        )
    if mask is not None:
        mask = ops.convert_to_tensor(mask)
        check_mask_shape("mask", mask, "source_ids", source_ids)

    dtype = precise_dtype(p_vocab.dtype)
    # `ops.where`, not `ops.maximum`: Keras 3.15's maximum returns float32 for
    # float64 inputs on torch, which the float64 gradient check catches.
    tiny = ops.convert_to_tensor(_TINY, dtype)
    p_vocab, attention, p_gen = (ops.cast(x, dtype) for x in (p_vocab, attention, p_gen))
    step = len(attention.shape) == 2
    if step:  # one code path: [B, 1, ...]
        p_vocab, attention, p_gen = (ops.expand_dims(x, 1) for x in (p_vocab, attention, p_gen))
    if mask is not None:
        attention = attention * ops.cast(mask, dtype)[:, None, :]
        total = ops.sum(attention, -1, keepdims=True)
        attention = attention / ops.where(total > tiny, total, tiny)
    copy = _scatter_attention(attention, ops.cast(source_ids, "int32"), extended_size)
    generate = ops.pad(p_vocab, [[0, 0], [0, 0], [0, extended_size - ops.shape(p_vocab)[-1]]])
    mixture = p_gen * generate + (1.0 - p_gen) * copy
    log_p = ops.log(ops.where(mixture > tiny, mixture, tiny))
    return log_p[:, 0] if step else log_p


def _scatter_attention(attention, source_ids, extended_size):
    """`[B, T, S]` weights summed into `[B, T, extended_size]` by id (one scatter-add).

    A one-hot matmul would need `[B, S, extended_size]` floats (1.3 GB at See
    et al.'s 50k words x 400 positions x batch 16); the scatter needs `B*T*S`.
    """
    shape = ops.shape(attention)
    b, t, s = shape[0], shape[1], shape[2]
    rows = ops.reshape(ops.arange(b * t, dtype="int32"), (b, t, 1))
    rows = ops.broadcast_to(rows, (b, t, s))
    cols = ops.broadcast_to(source_ids[:, None, :], (b, t, s))
    indices = ops.stack([ops.reshape(rows, (-1,)), ops.reshape(cols, (-1,))], axis=1)
    flat = ops.scatter(indices, ops.reshape(attention, (-1,)), (b * t, extended_size))
    return ops.reshape(flat, (b, t, extended_size))


__all__ = ["extend_vocabulary", "extended_ids_to_tokens", "final_distribution"]
