"""Malformed constrained-decoding calls and grammars: ValueError naming the argument."""

import numpy as np
from keras import ops

from keras_dlss.decoding import Grammar, beam_search, constrain_step_fn, greedy_decode

VOCAB = ["<pad>", "<start>", "<end>", "a", "b"]


def _step(tokens, state):
    return ops.zeros((tokens.shape[0], len(VOCAB))), state


def _wrong_width(tokens, state):
    return ops.ones((tokens.shape[0], 3), "bool"), state


STATE = np.zeros((2, 1), "float32")

CASES = [
    ("Grammar", "productions", lambda: Grammar({"s": ["a"], "t": ["b"]}, "s", VOCAB)),
    ("Grammar", "productions", lambda: Grammar({"s": ["a", "t"], "t": ["b t"]}, "s", VOCAB)),
    ("Grammar", "productions", lambda: Grammar({"s": ["a", "a b"]}, "s", VOCAB)),
    ("Grammar", "productions", lambda: Grammar({"s": ["s a", "b"]}, "s", VOCAB)),
    ("Grammar", "productions", lambda: Grammar({"s": ["c"]}, "s", VOCAB)),
    ("Grammar", "productions", lambda: Grammar({}, "s", VOCAB)),
    ("Grammar", "start", lambda: Grammar({"s": ["a"]}, "q", VOCAB)),
    ("Grammar", "vocabulary", lambda: Grammar({"s": ["a"]}, "s", [])),
    ("Grammar", "end_id", lambda: Grammar({"s": ["a"]}, "s", VOCAB).constraint(2, 3, 4)),
    ("constrain_step_fn", "allowed_tokens_fn", lambda: constrain_step_fn(_step, None)),
    ("constrain_step_fn", "step_fn", lambda: constrain_step_fn(None, _step)),
    (
        "constrain_step_fn",
        "allowed_tokens_fn",
        lambda: greedy_decode(_step, STATE, 1, 2, 3, allowed_tokens_fn=_wrong_width),
    ),
    (
        "greedy_decode",
        "constraint_state",
        lambda: greedy_decode(_step, STATE, 1, 2, 3, constraint_state=STATE),
    ),
    (
        "beam_search",
        "constraint_state",
        lambda: beam_search(_step, STATE, 1, 2, 2, 3, 0.0, _wrong_width, np.zeros((3, 1))),
    ),
]
