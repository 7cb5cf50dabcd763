"""best_span against brute-force enumeration of every (i, j) pair, on every backend's ops."""

import keras
import numpy as np
import pytest

from keras_dlss.decoding import best_span

_np = keras.ops.convert_to_numpy


def _log_softmax(x, mask):
    x = np.where(mask, x, -np.inf)
    return x - np.log(np.exp(x - x.max()).sum()) - x.max()


def _brute_force(start, end, mask, max_answer_length):
    out = []
    for s_row, e_row, m in zip(start, end, mask):
        ls, le = _log_softmax(s_row, m), _log_softmax(e_row, m)
        best = max(
            (ls[i] + le[j], i, j)
            for i in range(len(m))
            for j in range(len(m))
            if m[i] and m[j] and i <= j and (max_answer_length is None or j < i + max_answer_length)
        )
        out.append((best[1], best[2], np.exp(best[0])))
    return out


@pytest.mark.parametrize("max_answer_length", [1, 3, None, 40])
def test_matches_brute_force(max_answer_length):
    rng = np.random.default_rng(max_answer_length or 0)
    start = rng.normal(scale=2.0, size=(16, 11)).astype("float32")
    end = rng.normal(scale=2.0, size=(16, 11)).astype("float32")
    mask = np.arange(11)[None, :] < rng.integers(1, 12, size=(16, 1))
    s, e, p = (_np(x) for x in best_span(start, end, mask, max_answer_length))
    for row, (i, j, prob) in enumerate(_brute_force(start, end, mask, max_answer_length)):
        assert (s[row], e[row]) == (i, j)
        np.testing.assert_allclose(p[row], prob, rtol=1e-4)
    assert s.dtype == np.int32 and e.dtype == np.int32


def test_jit_compiled_equals_eager():
    rng = np.random.default_rng(1)
    start = rng.normal(size=(4, 9)).astype("float32")
    end = rng.normal(size=(4, 9)).astype("float32")
    inputs = [keras.Input((9,)), keras.Input((9,))]
    s, e, p = best_span(*inputs, max_answer_length=4)
    model = keras.Model(inputs, [keras.ops.cast(s, "float32"), keras.ops.cast(e, "float32"), p])
    model.compile(jit_compile=True)
    compiled = model.predict([start, end], verbose=0)
    eager = best_span(start, end, max_answer_length=4)
    for a, b in zip(compiled, eager):
        np.testing.assert_allclose(a, _np(b), rtol=1e-5)


def test_bad_inputs():
    x = np.zeros((2, 5), "float32")
    with pytest.raises(ValueError, match="`end_logits`.*Received"):
        best_span(x, np.zeros((2, 6), "float32"))
    with pytest.raises(ValueError, match="`max_answer_length`.*Received"):
        best_span(x, x, max_answer_length=0)
    with pytest.raises(ValueError, match="`mask`.*Received"):
        best_span(x, x, mask=np.ones((2, 4), bool))
