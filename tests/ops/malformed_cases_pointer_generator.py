"""Malformed calls of the pointer-generator ops and layer: each raises a ValueError naming the argument."""

import numpy as np

from keras_dlss.layers import PointerGenerator
from keras_dlss.ops import extend_vocabulary, extended_ids_to_tokens, final_distribution

_P = np.full((2, 4), 0.25, "float32")
_A = np.full((2, 3), 1 / 3, "float32")
_IDS = np.array([[1, 4, 5], [0, 2, 3]])
_GATE = np.full((2, 1), 0.5, "float32")
_VOCAB = ["<pad>", "<unk>", "a", "b"]


def _layer(**overrides):
    args = {
        "attention": _A,
        "context": np.zeros((2, 3), "float32"),
        "decoder_state": np.zeros((2, 5), "float32"),
        "decoder_input": np.zeros((2, 2), "float32"),
        "source_ids": _IDS,
        **overrides,
    }
    return PointerGenerator(2)(np.zeros((2, 4), "float32"), **args)


CASES = [
    ("final_distribution", "source_ids", lambda: final_distribution(_P, _A, _IDS + 9, _GATE, 6)),
    ("final_distribution", "attention", lambda: final_distribution(_P, _A[0], _IDS, _GATE, 6)),
    ("final_distribution", "mask", lambda: final_distribution(_P, _A, _IDS, _GATE, 6, _A[:, :2])),
    ("extend_vocabulary", "max_oovs", lambda: extend_vocabulary([["a"]], _VOCAB, 0)),
    ("extend_vocabulary", "source_tokens", lambda: extend_vocabulary(["a b"], _VOCAB, 2)),
    ("extend_vocabulary", "vocabulary", lambda: extend_vocabulary([["a"]], "ab", 2)),
    (
        "extended_ids_to_tokens",
        "oovs",
        lambda: extended_ids_to_tokens(np.array([[2, 3]]), _VOCAB, [[], []]),
    ),
    ("PointerGenerator", "max_oovs", lambda: PointerGenerator(0)),
    ("PointerGenerator", "decoder_state", lambda: _layer(decoder_state=np.zeros((3, 5), "f4"))),
]
