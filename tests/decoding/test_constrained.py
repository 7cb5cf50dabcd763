"""Constrained greedy / beam search and the LL(1) grammar mask (issue #17 item 7)."""

import itertools

import keras
import numpy as np
import pytest
from decoding_chains import markov_chain, markov_step
from keras import ops

from keras_dlss.applications.base import compiled
from keras_dlss.decoding import Grammar, beam_search, constrain_step_fn, greedy_decode

V, B, END = 7, 3, 2
VOCAB = ["<pad>", "<start>", "<end>", "(", ")", "x", "+"]
EXPR = {"expr": ["term rest"], "rest": ["", "+ term rest"], "term": ["x", "( expr )"]}
TERMINALS = ["(", ")", "x", "+"]


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _static_mask(seed):
    rng = np.random.default_rng(seed)
    mask = rng.random((B, V)) < 0.5
    mask[:, END] = True
    return mask


def _fixed_mask_fn(mask):
    def allowed_tokens_fn(tokens, state):
        return ops.convert_to_tensor(mask), state

    return allowed_tokens_fn


def _all_allowed(tokens, state):
    return ops.ones((tokens.shape[0], V), "bool"), state


@pytest.mark.parametrize("seed", [0, 1])
def test_never_emits_a_disallowed_token(seed):
    step = markov_step(markov_chain(V, seed))
    mask = _static_mask(seed)
    state0 = np.zeros((B, 1), "float32")
    sequences, _ = greedy_decode(step, state0, 1, END, 6, allowed_tokens_fn=_fixed_mask_fn(mask))
    for row, seq in zip(mask, _np(sequences)):
        assert row[seq].all()
    beam = 3
    sequences, scores = beam_search(
        step, state0, 1, END, beam, 6, allowed_tokens_fn=_fixed_mask_fn(np.repeat(mask, beam, 0))
    )
    for row, hyps, hyp_scores in zip(mask, _np(sequences), _np(scores)):
        for seq, score in zip(hyps, hyp_scores):
            assert np.isfinite(score) and row[seq].all()


def test_equals_unconstrained_when_everything_is_allowed():
    step = markov_step(markov_chain(V, 3))
    state0 = np.zeros((B, 1), "float32")
    plain = greedy_decode(step, state0, 1, END, 6)
    masked = greedy_decode(step, state0, 1, END, 6, allowed_tokens_fn=_all_allowed)
    for a, b in zip(plain, masked):
        np.testing.assert_allclose(_np(a), _np(b))
    plain = beam_search(step, state0, 1, END, 3, 6, length_penalty=0.6)
    masked = beam_search(step, state0, 1, END, 3, 6, 0.6, allowed_tokens_fn=_all_allowed)
    for a, b in zip(plain, masked):
        np.testing.assert_allclose(_np(a), _np(b))


def _language(productions, start, max_len):
    """Every sentence of length <= max_len, by brute-force leftmost derivation (independent)."""
    out, todo, seen = set(), [(start,)], set()
    while todo:
        form = todo.pop()
        if form in seen or sum(s not in productions for s in form) > max_len:
            continue
        seen.add(form)
        i = next((k for k, s in enumerate(form) if s in productions), None)
        if i is None:
            out.add(form)
            continue
        if len(form) > 3 * max_len + 3:
            continue
        for alt in productions[form[i]]:
            todo.append(form[:i] + tuple(alt.split()) + form[i + 1 :])
    return out


@pytest.fixture(scope="module")
def grammar():
    return Grammar(EXPR, "expr", VOCAB)


def test_accepts_matches_brute_force_language(grammar):
    language = _language(EXPR, "expr", 5)
    for n in range(6):
        for seq in itertools.product(TERMINALS, repeat=n):
            assert grammar.accepts(list(seq)) == (seq in language), seq


def test_mask_walk_generates_exactly_the_language(grammar):
    """Following the mask from the start reaches exactly the sentences of length <= L."""
    max_length = 5
    fn, state0 = grammar.constraint(1, END, max_length)
    found = set()

    def walk(prefix, token, state):
        mask, state = fn(ops.convert_to_tensor([token], "int32"), state)
        mask = _np(mask)[0]
        if mask[END]:
            found.add(tuple(prefix))
        if len(prefix) == max_length:
            return
        for t in np.flatnonzero(mask):
            if t != END:
                walk(prefix + [VOCAB[t]], int(t), state)

    walk([], 1, state0)
    assert found == _language(EXPR, "expr", max_length)


@pytest.mark.parametrize("max_length", [1, 7])
def test_constrained_outputs_are_sentences_in_every_mode(grammar, max_length):
    step = markov_step(markov_chain(V, 5))
    state0 = np.zeros((B, 1), "float32")

    def run(state0):
        fn, cstate = grammar.constraint(B, END, max_length)
        greedy = greedy_decode(step, state0, 1, END, max_length, fn, cstate)
        beams = beam_search(step, state0, 1, END, 2, max_length, 0.0, fn, cstate)
        return greedy[0], greedy[1], beams[0], beams[1]

    eager = [_np(x) for x in run(state0)]
    for seq in eager[0]:
        assert grammar.accepts([t for t in seq if t != END]), seq
    for hyps, scores in zip(eager[2], eager[3]):
        for seq, score in zip(hyps, scores):
            if np.isfinite(score):
                assert grammar.accepts([t for t in seq if t != END]), seq
    if keras.config.backend() == "tensorflow" and max_length == 7:
        # Greedy only: compiling the beam loop too would triple the test's time.
        def run_greedy(state0):
            fn, cstate = grammar.constraint(B, END, max_length)
            return greedy_decode(step, state0, 1, END, max_length, fn, cstate)

        for jit in (False, True):
            traced = [_np(x) for x in compiled(run_greedy, jit_compile=jit)(state0)]
            for a, b in zip(eager[:2], traced):
                np.testing.assert_allclose(a, b, rtol=1e-5)


def test_grammar_config_round_trips(grammar):
    again = Grammar.from_config(grammar.get_config())
    assert again.get_config() == grammar.get_config()
    assert again.accepts("x + ( x )".split())


def test_constrain_step_fn_wraps_the_state():
    step = constrain_step_fn(markov_step(markov_chain(V, 0)), _all_allowed)
    log_probs, (state, cstate) = step(
        ops.zeros((2,), "int32"), (np.zeros((2, 1), "float32"), np.zeros((2, 1), "int32"))
    )
    assert tuple(log_probs.shape) == (2, V) and tuple(cstate.shape) == (2, 1)
