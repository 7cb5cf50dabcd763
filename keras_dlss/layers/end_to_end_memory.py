"""End-to-end memory network (Sukhbaatar et al. 2015): K hops of soft attention over memories.

Sentences are embedded as bags of words weighted by the position encoding (PE, Sec. 4.1:
`l_kj = (1 - j/J) - (k/d)(1 - 2j/J)`, J the sentence's own word count so padding a sentence
changes nothing), plus a learned temporal encoding (TE, Sec. 4.1) per memory slot. Each hop
k attends with `p = softmax(u^k . m_i)`, reads `o = sum_i p_i c_i`, and updates
`u^{k+1} = u^k + o^k` (adjacent tying: `A^{k+1} = C^k`, `B = A^1`) or `H u^k + o^k`
(layer-wise tying: one A and one C for every hop, Sec. 2.2).

Linear start (LS, Sec. 4.2) removes the attention softmax for the first epochs; the switch
is a non-trainable weight (`softmax_gate`), so flipping it (`LinearStart` callback, or
`enable_softmax()`) needs no retracing and survives `.keras` saving.

Random noise (RN, Sec. 4.1): in training, `random_noise` inserts empty memories at random
between the story's statements (each statement is pushed one slot further back with that
probability, cumulatively), so the temporal encoding cannot key on exact slot indices. Tied
answer (Sec. 2.2, adjacent tying): `tied_answer=True` returns answer logits `u^{K+1} (C^K)^T`,
the answer matrix being the last hop's output embedding (`W^T = C^K`).

Padding: word id 0 is padding; a memory slot whose words are all 0 is an empty memory and
receives zero attention. `vectorize_babi` stores slot 0 as the most recent statement, the
order in which the temporal encoding is indexed.
"""

import keras
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, check_range

WEIGHT_TYING = ("adjacent", "layerwise")


POSITION_ENCODINGS = ("paper", "released_code")


def position_encoding(word_mask, embedding_dim, formula="paper"):
    """`[..., S, d]` PE weights of Sukhbaatar et al. (2015) for `word_mask` `[..., S]`.

    `formula="paper"` is Sec. 4.1's `l_kj = (1 - j/J) - (k/d)(1 - 2j/J)`; `"released_code"` is
    the authors' MemN2N-babi-matlab `1 + 4 (k - (d+1)/2) (j - (J+1)/2) / (d J)`, centred on 1.
    J is each sentence's own word count in both, so padding a sentence changes nothing.
    """
    mask = ops.cast(word_mask, "float32")
    length = ops.maximum(ops.sum(mask, axis=-1, keepdims=True), 1.0)  # J, per sentence
    j = ops.cumsum(mask, axis=-1)  # 1-based index of each real word
    if formula == "released_code":
        k = ops.arange(1, embedding_dim + 1, dtype="float32") - (embedding_dim + 1) / 2
        centred = ops.expand_dims((j - (length + 1.0) / 2) / length, -1)
        return 1.0 + 4.0 * k * centred / embedding_dim
    k = ops.arange(1, embedding_dim + 1, dtype="float32") / embedding_dim
    ratio = ops.expand_dims(j / length, -1)
    return (1.0 - ratio) - k * (1.0 - 2.0 * ratio)


def _check_position_encoding(value):
    """`True`/`False` as a bool (the configs saved before the formula option), else a formula."""
    check_one_of("position_encoding", value, (True, False, *POSITION_ENCODINGS))
    return value if isinstance(value, str) else bool(value)


def _insert_empty_memories(stories, rate, seed):
    """Pushes each memory slot back by the number of empty memories inserted up to it.

    A slot is preceded (in recency) by an inserted empty memory with probability `rate`;
    memories pushed past the last slot are dropped, as the oldest statements would be.
    """
    memory_size = stories.shape[1]
    inserted = ops.cast(keras.random.uniform(ops.shape(stories)[:2], seed=seed) < rate, "int32")
    position = ops.arange(memory_size, dtype="int32") + ops.cumsum(inserted, axis=1)
    # [B, old, new]; a memory pushed past the end has an all-zero row (no one_hot: torch's
    # rejects out-of-range classes).
    slots = ops.arange(memory_size, dtype="int32")
    move = ops.cast(ops.equal(ops.expand_dims(position, -1), slots), "float32")
    moved = ops.einsum("bon,bos->bns", move, ops.cast(stories, "float32"))
    return ops.cast(ops.round(moved), "int32")


@keras.saving.register_keras_serializable(package="keras_dlss")
class EndToEndMemory(keras.layers.Layer):
    """K hops of attention over embedded memories: the MemN2N controller state `u^{K+1}`.

    Args:
        vocabulary_size: int. Number of word ids (0 is padding).
        embedding_dim: int. Dimension d of memories and controller. Defaults to `20`.
        hops: int. Number of memory hops K. Defaults to `3`.
        weight_tying: str. `"adjacent"` or `"layerwise"`. Defaults to `"adjacent"`.
        position_encoding: bool or str. Weight words by position (PE): `True` or
            `"paper"` for Sec. 4.1's formula, `"released_code"` for the authors' released
            code's (on bAbI 1k it solves task 16, basic induction, which the paper's
            leaves at ~54% error); `False` for a bag of words. Defaults to `True`.
        temporal_encoding: bool. Add a learned vector per memory slot (TE).
            Defaults to `True`.
        linear_start: bool. Start without the attention softmax (LS); enable it
            with the `LinearStart` callback or `enable_softmax()`. Defaults to `False`.
        random_noise: float in [0, 1). In training, the probability with which an empty
            memory is inserted before each statement (RN; the paper uses 0.1, with TE).
            Defaults to `0.0`.
        tied_answer: bool. Adjacent tying only: return the answer logits
            `u^{K+1} (C^K)^T` `[batch, vocabulary_size]` (`W^T = C^K`) instead of
            `u^{K+1}`. Defaults to `False`.
        seed: int or `None`. Seed of the random noise.
        embeddings_initializer: Initializer of every embedding. Defaults to
            `RandomNormal(stddev=0.1)` (the paper's).

    Call arguments:
        inputs: list `[stories, question]`: `stories` `[batch, memory_size,
            sentence_length]` int ids (slot 0 = most recent; all-zero rows are
            empty memories) and `question` `[batch, sentence_length]` int ids.
        training: bool. Random noise is added only in training.

    Returns:
        `[batch, embedding_dim]` floats: `u^{K+1}`, to be mapped to answer logits, or
        `[batch, vocabulary_size]` answer logits with `tied_answer=True`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import EndToEndMemory

    stories = np.random.randint(0, 30, size=(2, 10, 6))
    question = np.random.randint(1, 30, size=(2, 6))
    layer = EndToEndMemory(vocabulary_size=30, embedding_dim=8, hops=3)
    print(layer([stories, question]).shape)           # (2, 8)
    print(layer.memory_attention([stories, question]).shape)   # (2, 3, 10)
    ```

    References:
        Sukhbaatar et al. 2015, "End-To-End Memory Networks",
        https://arxiv.org/abs/1503.08895.
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim=20,
        hops=3,
        weight_tying="adjacent",
        position_encoding=True,
        temporal_encoding=True,
        linear_start=False,
        embeddings_initializer=None,
        random_noise=0.0,
        tied_answer=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size, minimum=2)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.hops = check_positive_int("hops", hops)
        self.weight_tying = check_one_of("weight_tying", weight_tying, WEIGHT_TYING)
        self.position_encoding = _check_position_encoding(position_encoding)
        self.temporal_encoding = bool(temporal_encoding)
        self.linear_start = bool(linear_start)
        self.random_noise = float(
            check_range("random_noise", random_noise, 0.0, 1.0, high_inclusive=False)
        )
        self.tied_answer = bool(tied_answer)
        if self.tied_answer and self.weight_tying != "adjacent":
            raise ValueError(
                "Argument `tied_answer` needs weight_tying='adjacent' (W^T = C^K). "
                f"Received: tied_answer={tied_answer!r}, weight_tying={weight_tying!r}"
            )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if self.random_noise else None
        self.embeddings_initializer = keras.initializers.get(
            embeddings_initializer or keras.initializers.RandomNormal(stddev=0.1)
        )

    def _check_shapes(self, stories_shape, question_shape):
        if len(stories_shape) != 3:
            raise ValueError(
                "Argument `inputs` must be [stories, question] with stories of rank 3 "
                f"[batch, memory_size, sentence_length]. Received: stories.shape={tuple(stories_shape)}"
            )
        if len(question_shape) != 2:
            raise ValueError(
                "Argument `inputs` must be [stories, question] with question of rank 2. "
                f"Received: question.shape={tuple(question_shape)}"
            )
        if self.temporal_encoding and stories_shape[1] is None:
            raise ValueError(
                "Argument `inputs` needs a static memory_size for temporal_encoding=True. "
                f"Received: stories.shape={tuple(stories_shape)}"
            )

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(
                f"Argument `inputs` must be a list [stories, question]. Received: input_shape={input_shape}"
            )
        stories_shape, question_shape = input_shape
        self._check_shapes(stories_shape, question_shape)
        self.memory_size = stories_shape[1]
        d, v = self.embedding_dim, self.vocabulary_size
        count = self.hops + 1 if self.weight_tying == "adjacent" else 2

        def add(name, shape):
            return self.add_weight(name=name, shape=shape, initializer=self.embeddings_initializer)

        # Adjacent: E_0 = B = A^1, A^{k+1} = C^k = E_k. Layer-wise: E_0 = A, E_1 = C.
        self.word_embeddings = [add(f"word_embedding_{i}", (v, d)) for i in range(count)]
        if self.weight_tying == "layerwise":
            self.question_embedding = add("question_embedding", (v, d))
            self.controller = self.add_weight(
                name="controller", shape=(d, d), initializer="glorot_uniform"
            )
        if self.temporal_encoding:
            self.temporal_embeddings = [
                add(f"temporal_embedding_{i}", (self.memory_size, d)) for i in range(count)
            ]
        self.softmax_gate = self.add_weight(
            name="softmax_gate",
            shape=(),
            initializer=keras.initializers.Constant(0.0 if self.linear_start else 1.0),
            trainable=False,
        )

    def enable_softmax(self):
        """Ends linear start: the attention softmax is used from now on."""
        self.softmax_gate.assign(1.0)

    def _embed(self, ids, table, temporal=None):
        # Gathering from a converted tensor, not the Variable: XLA has no ResourceGatherNd.
        vectors = ops.take(ops.convert_to_tensor(table), ids, axis=0)
        word_mask = ops.not_equal(ids, 0)
        weights = ops.cast(ops.expand_dims(word_mask, -1), vectors.dtype)
        if self.position_encoding:
            formula = "paper" if self.position_encoding is True else self.position_encoding
            weights = weights * ops.cast(
                position_encoding(word_mask, self.embedding_dim, formula), vectors.dtype
            )
        out = ops.sum(vectors * weights, axis=-2)
        if temporal is not None:
            out = out + ops.cast(ops.convert_to_tensor(temporal), out.dtype)
        return out

    def _run(self, inputs, training=False):
        stories, question = inputs
        self._check_shapes(stories.shape, question.shape)
        stories, question = ops.cast(stories, "int32"), ops.cast(question, "int32")
        if training and self.random_noise:
            stories = _insert_empty_memories(stories, self.random_noise, self.seed_generator)
        memory_mask = ops.cast(ops.any(ops.not_equal(stories, 0), axis=-1), self.compute_dtype)
        b = self.question_embedding if self.weight_tying == "layerwise" else self.word_embeddings[0]
        u = self._embed(question, b)
        gate = ops.cast(self.softmax_gate, self.compute_dtype)
        attention = []
        # Adjacent tying: hop k's output memories C^k are hop k+1's input memories A^{k+1},
        # so each of the K + 1 tables embeds the story once.
        e = self.word_embeddings
        t = self.temporal_embeddings if self.temporal_encoding else [None] * len(e)
        memories = [self._embed(stories, table, temporal) for table, temporal in zip(e, t)]
        for hop in range(self.hops):
            m, c_mem = memories[hop : hop + 2] if self.weight_tying == "adjacent" else memories
            logits = ops.einsum("bmd,bd->bm", m, u)
            masked = ops.where(memory_mask > 0, logits, ops.full_like(logits, -1e4))
            p = (gate * ops.softmax(masked, axis=-1) + (1.0 - gate) * logits) * memory_mask
            attention.append(p)
            o = ops.einsum("bm,bmd->bd", p, c_mem)
            if self.weight_tying == "layerwise":
                u = ops.matmul(u, ops.cast(self.controller, u.dtype)) + o
            else:
                u = u + o
        return u, ops.stack(attention, axis=1)

    def call(self, inputs, training=None):
        u = self._run(inputs, training=bool(training))[0]
        if self.tied_answer:
            answer = ops.convert_to_tensor(self.word_embeddings[self.hops])
            return ops.matmul(u, ops.transpose(ops.cast(answer, u.dtype)))
        return u

    def memory_attention(self, inputs):
        """`[batch, hops, memory_size]` attention weights of each hop (rows sum to 1 after LS)."""
        if not self.built:
            self.build([tuple(x.shape) for x in inputs])
        return self._run(inputs)[1]

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.vocabulary_size if self.tied_answer else self.embedding_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "hops": self.hops,
            "weight_tying": self.weight_tying,
            "position_encoding": self.position_encoding,
            "temporal_encoding": self.temporal_encoding,
            "linear_start": self.linear_start,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            "random_noise": self.random_noise,
            "tied_answer": self.tied_answer,
            "seed": self.seed,
        }


class LinearStart(keras.callbacks.Callback):
    """Linear start (Sukhbaatar et al. 2015, Sec. 4.2): insert the softmax after a while.

    Training starts with every `EndToEndMemory(linear_start=True)` layer's attention softmax
    removed; this callback enables it when `monitor` stops decreasing, or after
    `max_epochs` epochs at the latest. With `learning_rate`, the optimizer trains at that
    rate while the softmax is out (the paper's 0.005) and gets its own rate back at the
    switch (a float rate; a schedule is left alone).

    Args:
        monitor: str. Logged quantity whose stall ends linear start. Defaults to `"val_loss"`.
        max_epochs: int. Epochs after which the softmax is inserted anyway. Defaults to `20`.
        learning_rate: float or `None`. Learning rate during linear start. Defaults to
            `None` (the optimizer's own).

    Example:

    ```python
    from keras_dlss.layers import LinearStart

    callback = LinearStart(max_epochs=10, learning_rate=0.005)   # model.fit(..., callbacks=[callback])
    ```
    """

    def __init__(self, monitor="val_loss", max_epochs=20, learning_rate=None):
        super().__init__()
        self.monitor = monitor
        self.max_epochs = check_positive_int("max_epochs", max_epochs)
        if learning_rate is not None:
            learning_rate = float(
                check_range("learning_rate", learning_rate, 0.0, low_inclusive=False)
            )
        self.learning_rate = learning_rate
        self.best = None
        self.switched_at = None
        self._own_rate = None

    def on_train_begin(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if self.learning_rate is None or self.switched_at is not None or optimizer is None:
            return
        own = optimizer.get_config()["learning_rate"]
        if not isinstance(own, (int, float)):  # a serialized schedule
            return
        self._own_rate = float(own)
        optimizer.learning_rate = self.learning_rate

    def _layers(self):
        stack, found = [self.model], []
        while stack:
            layer = stack.pop()
            if isinstance(layer, EndToEndMemory):
                found.append(layer)
            stack.extend(getattr(layer, "layers", []) or [])
        return found

    def on_epoch_end(self, epoch, logs=None):
        if self.switched_at is not None:
            return
        value = (logs or {}).get(self.monitor)
        stalled = value is not None and self.best is not None and value >= self.best
        if value is not None:
            self.best = value if self.best is None else min(self.best, value)
        if stalled or epoch + 1 >= self.max_epochs:
            for layer in self._layers():
                layer.enable_softmax()
            self.switched_at = epoch + 1
            if self._own_rate is not None:
                self.model.optimizer.learning_rate = self._own_rate
