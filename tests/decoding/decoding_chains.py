"""Step functions with known optima, shared by the decoding tests."""

import itertools

import keras
import numpy as np
from keras import ops


def markov_chain(vocab_size, seed):
    """Log transition matrix [V, V] of a random first-order Markov chain."""
    rng = np.random.default_rng(seed)
    return np.log(rng.dirichlet(np.full(vocab_size, 0.7), size=vocab_size)).astype("float32")


def markov_step(log_transitions):
    def step_fn(tokens, state):
        return ops.take(ops.convert_to_tensor(log_transitions), tokens, axis=0), state

    return step_fn


def second_order_step(log_transitions):
    """log P(next | previous two tokens); the older token lives in the state.

    The state is a dict nest {"prev": [N] int32, "pad": [N, 2] float32} so the
    decoders must gather it along beam ancestry for the chain to be right.
    """
    table = ops.convert_to_tensor(log_transitions)  # [V, V, V]

    def step_fn(tokens, state):
        log_probs = ops.take(
            ops.reshape(table, (-1, table.shape[-1])),
            state["prev"] * table.shape[0] + tokens,
            axis=0,
        )
        return log_probs, {"prev": tokens, "pad": state["pad"] + 1.0}

    return step_fn


def enumerate_sequences(score_fn, vocab_size, end_id, max_length, length_penalty=0.0):
    """All distinct outputs (end_id-padded) with their scores, best first."""
    results = {}
    for seq in itertools.product(range(vocab_size), repeat=max_length):
        if end_id in seq:
            cut = seq.index(end_id) + 1
            seq = seq[:cut] + (end_id,) * (max_length - cut)
        else:
            cut = max_length
        if seq in results:
            continue
        log_prob = score_fn(seq[:cut])
        if length_penalty:
            log_prob /= ((5.0 + cut) / 6.0) ** length_penalty
        results[seq] = log_prob
    return sorted(results.items(), key=lambda kv: -kv[1])


def first_order_score(log_transitions, start_id):
    def score(prefix):
        total, prev = 0.0, start_id
        for tok in prefix:
            total += float(log_transitions[prev, tok])
            prev = tok
        return total

    return score


def second_order_score(log_transitions, start_id, prev0):
    def score(prefix):
        total, prev2, prev = 0.0, prev0, start_id
        for tok in prefix:
            total += float(log_transitions[prev2, prev, tok])
            prev2, prev = prev, tok
        return total

    return score


class GRUDecoder(keras.Model):
    """Embedding -> GRUCell -> Dense decoder whose `call` decodes (for XLA/export tests)."""

    def __init__(self, vocab_size=7, units=8, mode="beam", **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.mode = vocab_size, mode
        self.embed = keras.layers.Embedding(vocab_size, 4)
        self.cell = keras.layers.GRUCell(units)
        self.proj = keras.layers.Dense(vocab_size)

    def step(self, tokens, state):
        out, new_state = self.cell(self.embed(tokens), [state])
        return ops.log_softmax(self.proj(out)), new_state[0]

    def call(self, state):
        from keras_dlss.decoding import beam_search, greedy_decode, sample

        if self.mode == "beam":
            return beam_search(self.step, state, 1, 0, beam_width=3, max_length=5)
        if self.mode == "greedy":
            return greedy_decode(self.step, state, 1, 0, max_length=5)
        return sample(self.step, state, 1, 0, max_length=5, top_k=1)
