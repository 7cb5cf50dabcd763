"""Stack-LSTM transition-based dependency parser (Dyer et al. 2015).

The parser state is three LSTMs: one over the stack, one over the buffer and
one over the history of actions (Eq. 1: `p_t = relu(W [s_t; b_t; a_t] + d)`),
and `p_t` scores the next transition (SHIFT, LEFT_ARC, RIGHT_ARC, arc-standard
or arc-hybrid, see `transition_systems`) and, for an arc, its relation. A
reduced subtree is represented by a composition of its head, its dependent and
the relation (Section 3.5: `c = tanh(U [h; d; r] + e)`), which replaces the
head's vector, so the stack LSTM reads whole subtrees.

How the parse stays static under XLA: the stack LSTM is the pointer stack of
`ops.stack_push` / `stack_pop` / `stack_top` over a `[B, P + 1, 2 * units + 1]`
memory (each slot keeps the `h` and `c` after pushing it, and the word id
pushed), so every step of every sentence is the same branch-free update, and
the whole parse is one bounded loop of `2 * (P - 1)` steps over the padded
batch (a finished sentence makes no-op steps). The buffer is a stack LSTM too,
read right to left: its states for the untouched words are computed once
before the parse, and each step runs the cell once on the front word's current
vector (in arc-hybrid, LEFT_ARC gives the front word a dependent and so a new
vector). Only `keras.ops` on tensors: the embeddings used inside the loop are
one-hot matmuls with the weights converted once, because a gather from a
variable has no XLA kernel on TensorFlow (see PITFALLS).

Training is teacher-forced with the static oracle: `inputs["actions"]` and
`inputs["relations"]` are the gold transition sequence (-1 where there is
none), every step runs the gold action, and the loss is the cross-entropy of
the gold action among the *legal* ones plus that of the relation at arc steps
(the same arrays are the targets; `stack_lstm_exploration` trains arc-hybrid on
explored sequences instead). `parse` runs the same loop on the model's
own predictions; illegal actions are masked, so every output is a projective
tree with one word attached to the root.

References:
    - Dyer, Ballesteros, Ling, Matthews & Smith, "Transition-Based Dependency
      Parsing with Stack Long Short-Term Memory", ACL 2015
      (https://arxiv.org/abs/1505.08075).
    - Ballesteros, Dyer, Goldberg & Smith, "Greedy Transition-Based Dependency
      Parsing with Stack LSTMs", Computational Linguistics 2017 (arc-hybrid).
"""

import keras
import numpy as np
from keras import ops

from keras_dlss import _validation as v
from keras_dlss.applications.base import compiled
from keras_dlss.applications.stack_lstm_ops import legal_actions
from keras_dlss.applications.stack_lstm_ops import one_hot as _one_hot
from keras_dlss.applications.stack_lstm_ops import take as _take
from keras_dlss.applications.stack_lstm_ops import write as _write
from keras_dlss.applications.transition_systems import (
    LEFT_ARC,
    RIGHT_ARC,
    SHIFT,
    SYSTEMS,
)
from keras_dlss.layers.tree_lstm import bounded_loop
from keras_dlss.ops.crf_parallel import first_argmax as argmax
from keras_dlss.ops.pointer_stack import stack_pop, stack_push, stack_top

_NEG = -1e9


@keras.saving.register_keras_serializable(package="keras_dlss")
class StackLSTMParserModel(keras.Model):
    """The stack-LSTM parser; build it with `StackLSTMParser` (arguments documented there).

    `call({"words", "actions", "relations"})` runs the teacher-forced parse and
    returns `{"actions": [B, T, 3], "relations": [B, T, num_labels]}` logits
    (illegal actions at -1e9), `T = 2 * (P - 1)`; `fit(x, y)` needs no `loss=`
    (`y["oracle"]`, `[B, T, 3]` zero-cost actions, replaces `y["actions"]` when
    training with the dynamic oracle, see `stack_lstm_exploration`). `call({"words"})`
    and `parse(x)` decode trees; `export` saves that greedy decoder.
    """

    def __init__(
        self,
        vocabulary_size,
        num_labels,
        *,
        system="arc-standard",
        upos_vocabulary_size=None,
        embedding_dim=64,
        upos_dim=16,
        encoder_units=0,
        token_dim=64,
        lstm_units=64,
        action_dim=16,
        relation_dim=16,
        state_units=64,
        dropout=0.2,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for arg in ("vocabulary_size", "num_labels", "embedding_dim", "upos_dim", "token_dim"):
            v.check_positive_int(arg, locals()[arg])
        for arg in ("lstm_units", "action_dim", "relation_dim", "state_units"):
            v.check_positive_int(arg, locals()[arg])
        v.check_positive_int("encoder_units", encoder_units, 0)
        v.check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False)
        self.system = v.check_one_of("system", system, SYSTEMS)
        self.vocabulary_size, self.num_labels = vocabulary_size, num_labels
        self.upos_vocabulary_size, self.embedding_dim, self.upos_dim = (
            upos_vocabulary_size,
            embedding_dim,
            upos_dim,
        )
        self.encoder_units, self.token_dim, self.lstm_units = encoder_units, token_dim, lstm_units
        self.action_dim, self.relation_dim, self.state_units = action_dim, relation_dim, state_units
        self.dropout = dropout
        self.word_embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, name="words")
        self.upos_embedding = None
        if upos_vocabulary_size is not None:
            v.check_positive_int("upos_vocabulary_size", upos_vocabulary_size)
            self.upos_embedding = keras.layers.Embedding(
                upos_vocabulary_size, upos_dim, name="upos"
            )
        self.encoder = None
        if encoder_units:
            self.encoder = keras.layers.Bidirectional(
                keras.layers.LSTM(encoder_units, return_sequences=True), name="encoder"
            )
        self.token = keras.layers.Dense(token_dim, activation="relu", name="token")
        self.stack_cell = keras.layers.LSTMCell(lstm_units, name="stack_lstm")
        self.buffer_cell = keras.layers.LSTMCell(lstm_units, name="buffer_lstm")
        self.history_cell = keras.layers.LSTMCell(lstm_units, name="action_lstm")
        self.compose = keras.layers.Dense(token_dim, activation="tanh", name="composition")
        self.state = keras.layers.Dense(state_units, activation="relu", name="parser_state")
        self.action_scores = keras.layers.Dense(3, name="action_scores")
        self.relation_scores = keras.layers.Dense(num_labels, name="relation_scores")
        self.drop = keras.layers.Dropout(dropout)

    def build(self, input_shape=None):
        self.word_embedding.build((None, None))
        features = self.embedding_dim
        if self.upos_embedding is not None:
            self.upos_embedding.build((None, None))
            features += self.upos_dim
        if self.encoder is not None:
            self.encoder.build((None, None, features))
            features = 2 * self.encoder_units
        self.token.build((None, features))
        for cell, dim in (
            (self.stack_cell, self.token_dim),
            (self.buffer_cell, self.token_dim),
            (self.history_cell, self.action_dim),
        ):
            cell.build((None, dim))
        self.action_embedding = self.add_weight((3, self.action_dim), name="action_embedding")
        self.relation_embedding = self.add_weight(
            (self.num_labels, self.relation_dim), name="relation_embedding"
        )
        self.compose.build((None, 2 * self.token_dim + self.relation_dim))
        self.state.build((None, 3 * self.lstm_units))
        self.action_scores.build((None, self.state_units))
        self.relation_scores.build((None, self.state_units))
        self.built = True

    def _tokens(self, inputs, training):
        words = ops.cast(inputs["words"], "int32")
        x = self.word_embedding(words)
        if self.upos_embedding is not None:
            x = ops.concatenate([x, self.upos_embedding(ops.cast(inputs["upos"], "int32"))], -1)
        x = self.drop(x, training=training)
        if self.encoder is not None:
            x = self.drop(self.encoder(x, mask=ops.greater(words, 0)), training=training)
        return self.token(x)

    def _buffer_states(self, tokens, lengths):
        """`(h, c)` `[B, P + 1, units]`: the buffer LSTM after reading words P-1 .. j, at j."""
        batch, positions = ops.shape(tokens)[0], ops.shape(tokens)[1]
        zeros = ops.zeros((batch, self.lstm_units), tokens.dtype)
        memory = ops.zeros((batch, positions + 1, self.lstm_units), tokens.dtype)

        def body(i, carry):
            h, c, hs, cs = carry
            j = ops.full((batch,), positions - 1 - i, "int32")
            out, (h2, c2) = self.buffer_cell(_take(tokens, j), [h, c])
            word = ops.logical_and(ops.less_equal(j, lengths), ops.greater(j, 0))[:, None]
            h, c = ops.where(word, h2, h), ops.where(word, c2, c)
            return h, c, _write(hs, j, h, word[:, 0]), _write(cs, j, c, word[:, 0])

        _, _, hs, cs = bounded_loop(positions, body, (zeros, zeros, memory, memory))
        return hs, cs

    def _parse_loop(self, inputs, teacher, training=False, explore=None):
        """Runs `2 * (P - 1)` transitions; returns `(states, trace, heads, labels)`.

        `trace[:, t]` is the legal-action mask, or with `explore` (a callable of
        `stack_lstm_exploration` that chooses each action and records what it
        did, `explore.width` columns) that record.
        """
        words = ops.cast(inputs["words"], "int32")
        batch, positions = ops.shape(words)[0], ops.shape(words)[1]
        steps = 2 * (positions - 1)
        lengths = ops.sum(ops.cast(ops.greater(words, 0), "int32"), axis=1) - 1
        tokens = self._tokens(inputs, training)
        buffer_h, buffer_c = self._buffer_states(tokens, lengths)
        action_table = ops.convert_to_tensor(self.action_embedding)
        relation_table = ops.convert_to_tensor(self.relation_embedding)
        units, dtype = self.lstm_units, tokens.dtype
        hybrid = self.system == "arc-hybrid"
        if teacher is not None:
            gold_actions = ops.cast(teacher[0], "int32")
            gold_relations = ops.cast(teacher[1], "int32")

        # The root starts on the stack, read by the stack LSTM from a zero state.
        zeros = ops.zeros((batch, units), dtype)
        _, (h0, c0) = self.stack_cell(tokens[:, 0], [zeros, zeros])
        memory = ops.zeros((batch, positions + 1, 2 * units + 1), dtype)
        first = ops.concatenate([h0, c0, ops.zeros((batch, 1), dtype)], axis=-1)
        everyone = ops.ones((batch,), "bool")
        memory, size = stack_push(memory, ops.zeros((batch,), "int32"), first, everyone)
        front = ops.ones((batch,), "int32")
        heads = ops.zeros((batch, positions), "int32")

        def body(t, carry):
            memory, size, front, tree, hist_h, hist_c, heads, labels, states, legal_out = carry
            legal = legal_actions(size, front, lengths, self.system)
            active = ops.any(legal, axis=1)
            top = stack_top(memory, size)
            s0 = ops.cast(top[:, -1], "int32")
            s1 = ops.cast(stack_top(memory, size, 1)[:, -1], "int32")
            has_buffer = ops.less_equal(front, lengths)[:, None]
            after = ops.minimum(front + 1, positions)
            b_h, _ = self.buffer_cell(
                _take(tree, front), [_take(buffer_h, after), _take(buffer_c, after)]
            )
            b_h = ops.where(has_buffer, b_h, 0.0)
            p = self.state(ops.concatenate([top[:, :units], b_h, hist_h], axis=-1))
            if explore is not None:
                action, relation, record = explore(self, t, p, legal, memory, size, front)
            elif teacher is None:
                # Illegal actions are masked: every parse ends in a well-formed tree.
                action = argmax(ops.where(legal, self.action_scores(p), _NEG))
                relation = argmax(self.relation_scores(p))
            else:
                step = _one_hot(ops.full((batch,), t, "int32"), steps, "int32")
                action = ops.sum(gold_actions * step, axis=1)
                relation = ops.maximum(ops.sum(gold_relations * step, axis=1), 0)
            action = ops.where(active, ops.cast(action, "int32"), -1)
            relation = ops.cast(relation, "int32")
            shift, left = ops.equal(action, SHIFT), ops.equal(action, LEFT_ARC)
            right = ops.equal(action, RIGHT_ARC)
            arc = ops.logical_or(left, right)
            if hybrid:
                head, dependent = ops.where(left, front, s1), s0
            else:
                head, dependent = ops.where(left, s0, s1), ops.where(left, s1, s0)
            relation_vector = ops.matmul(_one_hot(relation, self.num_labels, dtype), relation_table)
            composed = self.compose(
                ops.concatenate([_take(tree, head), _take(tree, dependent), relation_vector], -1)
            )
            pushed_vector = ops.where(shift[:, None], _take(tree, front), composed)
            tree = _write(tree, head, composed, arc)
            heads = _write(heads, dependent, head, arc)
            labels = _write(labels, dependent, relation, arc)
            # Arc-standard arcs and RIGHT_ARC pop two items and push the head back
            # with its composed vector; arc-hybrid LEFT_ARC only pops s0.
            pop_only = ops.logical_and(left, hybrid)
            push = ops.logical_or(shift, ops.logical_and(arc, ops.logical_not(pop_only)))
            size = stack_pop(stack_pop(size, arc), ops.logical_and(arc, ops.logical_not(pop_only)))
            under = stack_top(memory, size)
            _, (h, c) = self.stack_cell(pushed_vector, [under[:, :units], under[:, units:-1]])
            item = ops.cast(ops.where(shift, front, head), dtype)[:, None]
            memory, size = stack_push(memory, size, ops.concatenate([h, c, item], -1), push)
            front = front + ops.cast(shift, "int32")
            action_vector = ops.matmul(_one_hot(action, 3, dtype), action_table)
            _, (h2, c2) = self.history_cell(action_vector, [hist_h, hist_c])
            hist_h = ops.where(active[:, None], h2, hist_h)
            hist_c = ops.where(active[:, None], c2, hist_c)
            at = ops.full((batch,), t, "int32")
            states = _write(states, at, p, everyone)
            record = ops.cast(legal, dtype) if explore is None else record
            legal_out = _write(legal_out, at, record, everyone)
            return memory, size, front, tree, hist_h, hist_c, heads, labels, states, legal_out

        carry = (memory, size, front, tokens, zeros, zeros, heads, heads)
        trace = ops.zeros((batch, steps, 3 if explore is None else explore.width))
        carry += (ops.zeros((batch, steps, self.state_units), dtype), trace)
        carry = bounded_loop(steps, body, carry)
        return carry[8], carry[9], carry[6], carry[7]

    def call(self, inputs, training=None):
        if "actions" not in inputs:  # no gold transitions: the greedy parse (what `export` saves)
            heads, labels = self.decode(inputs)
            return {"heads": heads, "labels": labels}
        teacher = (inputs["actions"], inputs["relations"])
        states, legal, _, _ = self._parse_loop(inputs, teacher, training)
        states = self.drop(states, training=training)
        actions = ops.where(ops.greater(legal, 0), self.action_scores(states), _NEG)
        return {"actions": actions, "relations": self.relation_scores(states)}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss, keys = 0.0, ("actions", "relations")
        if "oracle" in y:  # [B, T, 3] zero-cost actions: -log of their summed probability
            allowed = ops.greater(ops.cast(y["oracle"], y_pred["actions"].dtype), 0)
            logits = y_pred["actions"]
            ce = ops.logsumexp(logits, axis=-1)
            ce = ce - ops.logsumexp(ops.where(allowed, logits, _NEG), axis=-1)
            valid = ops.cast(ops.any(allowed, axis=-1), logits.dtype)
            loss, keys = ops.sum(ce * valid) / ops.maximum(ops.sum(valid), 1.0), ("relations",)
        for key in keys:
            target = ops.cast(y[key], "int32")
            valid = ops.cast(target >= 0, y_pred[key].dtype)
            ce = ops.sparse_categorical_crossentropy(
                ops.maximum(target, 0), y_pred[key], from_logits=True
            )
            loss = loss + ops.sum(ce * valid) / ops.maximum(ops.sum(valid), 1.0)
        losses = self.losses
        return loss + ops.sum(ops.stack(losses)) if losses else loss

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kw):
        """`keras.Model.export` of the greedy decoder: int `words` (and `upos`) `[B, P]` in,
        `{"heads", "labels"}` out (the default signature is the teacher-forced call's)."""
        if input_signature is None:
            names = ("words", "upos") if self.upos_embedding is not None else ("words",)
            spec = keras.InputSpec(shape=(None, None), dtype="int32")
            input_signature = [{name: spec for name in names}]
        return super().export(filepath, format, verbose, input_signature, **kw)

    def decode(self, inputs):
        """Greedy parse of `{"words"(, "upos")}` `[B, P]`: `(heads, labels)` int tensors `[B, P]`."""
        _, _, heads, labels = self._parse_loop(inputs, None, False)
        return heads, labels

    def parse(self, x, projective=True, batch_size=64, jit_compile=True):
        """Decodes well-formed projective trees: `(heads, labels, None)` as `[B, P]` int arrays.

        Same contract as `BiaffineParserModel.parse` (position 0 and padding are 0;
        no tags). `projective` is accepted for that reason: the output of a
        transition system is always projective. Sentences are batched by length.
        `jit_compile=False` traces one graph per width, `None` runs eagerly (cheap
        for a handful of tiny sentences, where tracing would dominate).
        """
        if not isinstance(x, dict) or "words" not in x:
            raise ValueError(
                f"Argument `x` must be a dict with 'words'. Received: x={type(x).__name__}"
            )
        if getattr(self, "_decoder", None) is None or self._decoder[0] != jit_compile:
            fn = self.decode if jit_compile is None else compiled(self.decode, jit_compile)
            self._decoder = (jit_compile, fn)
        words = np.asarray(x["words"])
        lengths = (words > 0).sum(-1)
        heads, labels = np.zeros(words.shape, "int32"), np.zeros(words.shape, "int32")
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = min(words.shape[1], -(-int(lengths[idx].max()) // 16) * 16)
            batch = {k: np.asarray(a)[idx, :width].astype("int32") for k, a in x.items()}
            batch = {k: a for k, a in batch.items() if k in ("words", "upos")}
            h, rel = self._decoder[1](batch)
            heads[idx, :width] = ops.convert_to_numpy(h)
            labels[idx, :width] = ops.convert_to_numpy(rel)
        return heads, labels, None

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "num_labels": self.num_labels,
            "system": self.system,
            "upos_vocabulary_size": self.upos_vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "upos_dim": self.upos_dim,
            "encoder_units": self.encoder_units,
            "token_dim": self.token_dim,
            "lstm_units": self.lstm_units,
            "action_dim": self.action_dim,
            "relation_dim": self.relation_dim,
            "state_units": self.state_units,
            "dropout": self.dropout,
        }


def StackLSTMParser(vocabulary_size, num_labels, *, system="arc-standard", **kwargs):
    """Builds a stack-LSTM dependency parser (uncompiled `StackLSTMParserModel`).

    Args:
        vocabulary_size: int. Word ids in `[0, vocabulary_size)`; 0 = padding,
            position 0 of each sentence holds a ROOT word id.
        num_labels: int. Number of dependency relations.
        system: `"arc-standard"` or `"arc-hybrid"`. Defaults to `"arc-standard"`.
        upos_vocabulary_size: optional int. When set, the model also reads
            `"upos"` ids `[B, P]` (0 = padding).
        embedding_dim: int. Word embedding size. Defaults to 64.
        upos_dim: int. UPOS embedding size. Defaults to 16.
        encoder_units: int. Units per direction of a BiLSTM over the sentence
            before the token layer (Kiperwasser & Goldberg 2016); 0 = none, as in
            Dyer et al. Defaults to 0.
        token_dim: int. Size of token and composed subtree vectors. Defaults to 64.
        lstm_units: int. Units of the stack, buffer and action LSTMs. Defaults to 64.
        action_dim: int. Action embedding size. Defaults to 16.
        relation_dim: int. Relation embedding size (composition input). Defaults to 16.
        state_units: int. Size of the parser state `p_t`. Defaults to 64.
        dropout: float in [0, 1). On embeddings, encoder outputs and `p_t`. Defaults to 0.2.

    Returns:
        A `StackLSTMParserModel`: `model(x)` with `x = {"words", "actions",
        "relations"(, "upos")}` gives teacher-forced logits, `fit(x, y)` with
        `y = {"actions", "relations"}` (the same arrays) needs no `loss=`, and
        `model.parse({"words"})` returns `(heads, labels, None)`.

    Example:

    ```python
    from keras_dlss.applications.transition_systems import transition_targets

    words = np.array([[2, 5, 6, 7, 0], [2, 8, 5, 0, 0]], "int32")  # 2 = ROOT, 0 = pad
    heads = np.array([[-1, 2, 0, 2, -1], [-1, 0, 1, -1, -1]], "int32")
    labels = np.where(heads >= 0, 1, -1).astype("int32")
    actions, relations, _ = transition_targets(heads, labels)
    x = {"words": words, "actions": actions, "relations": relations}
    model = keras_dlss.applications.StackLSTMParser(10, 3, lstm_units=8, token_dim=8,
                                                    state_units=8, embedding_dim=8)
    model.compile(optimizer="adam", run_eagerly=True)  # tiny example: no graph to trace
    model.fit(x, {"actions": actions, "relations": relations}, epochs=1, verbose=0)
    tree_heads, tree_labels, _ = model.parse({"words": words}, jit_compile=None)  # [2, 5] trees
    ```
    """
    return StackLSTMParserModel(
        vocabulary_size,
        num_labels,
        system=system,
        name=kwargs.pop("name", "stack_lstm_parser"),
        **kwargs,
    )
