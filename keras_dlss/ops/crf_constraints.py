"""Allowed tag transitions for chunking schemes (BIO/IOB2, IOB1, BIOES/BILOU).

A CRF over span tags should never output an `I-PER` right after `O` (BIO).
`allowed_transitions` turns a label list into boolean matrices that
`crf_decode`, `crf_log_likelihood` etc. accept as `constraints=`, so forbidden
moves get a score of -1e4 and never win.

References:
    - Ramshaw & Marcus, "Text Chunking using Transformation-Based Learning", 1995 (IOB1).
    - Ratinov & Roth, "Design Challenges and Misconceptions in Named Entity
      Recognition", CoNLL 2009 (BIO vs BILOU/BIOES).
"""

import numpy as np

from keras_dlss import _validation as v

_SCHEMES = ("BIO", "IOB1", "BIOES", "BILOU")
_PREFIXES = {"BIO": "BIO", "IOB1": "BIO", "BIOES": "BIOES", "BILOU": "BILOU"}


def _split(label, scheme, index):
    if label == "O":
        return "O", None
    prefix, sep, entity = label.partition("-")
    if not sep or prefix not in _PREFIXES[scheme] or prefix == "O" or not entity:
        raise ValueError(
            f"Argument `labels` must hold tags of the {scheme} scheme ('O' or "
            f"'<{'|'.join(p for p in _PREFIXES[scheme] if p != 'O')}>-TYPE'). "
            f"Received: labels[{index}]={label!r}"
        )
    # BILOU spelled as BIOES: Unit -> Single, Last -> End.
    return {"U": "S", "L": "E"}.get(prefix, prefix), entity


def _allowed(scheme, prev, cur):
    (pp, pe), (cp, ce) = prev, cur
    if scheme == "BIO":
        return cp != "I" or (pp in "BI" and pe == ce)
    if scheme == "IOB1":
        return cp != "B" or (pp in "BI" and pe == ce)
    # BIOES: inside a chunk only I/E of the same type may follow.
    if pp in "BI":
        return cp in "IE" and pe == ce
    return cp in "OBS"


def _allowed_start(scheme, cur):
    return cur[0] in {"BIO": "OB", "IOB1": "OI"}.get(scheme, "OBS")


def _allowed_end(scheme, prev):
    return scheme in ("BIO", "IOB1") or prev[0] in "OES"


def allowed_transitions(labels, scheme="BIO", with_start_end=False):
    """Boolean matrix of the transitions a chunking scheme allows.

    Args:
        labels: sequence of `K` tag strings, e.g. `["O", "B-PER", "I-PER"]`.
        scheme: `"BIO"` (IOB2), `"IOB1"`, `"BIOES"` or `"BILOU"`. Defaults to `"BIO"`.
        with_start_end: bool. Also return which tags may start and end a
            sequence. Defaults to `False`.

    Returns:
        `allowed [K, K]` bool NumPy array (`allowed[i, j]`: tag i may be
        followed by tag j); with `with_start_end=True`, the tuple
        `(allowed, allowed_start [K], allowed_end [K])`. Both forms are
        accepted as `constraints=` by the `crf_*` functions and `layers.CRF`.

    Example:

    ```pycon
    >>> allowed_transitions(["O", "B-PER", "I-PER"])
    array([[ True,  True, False],
           [ True,  True,  True],
           [ True,  True,  True]])
    ```
    """
    v.check_one_of("scheme", scheme, _SCHEMES)
    labels = list(labels)
    if not labels:
        raise ValueError(
            "Argument `labels` must be a non-empty sequence of tags. Received: labels=[]"
        )
    parsed = [_split(str(label), scheme, i) for i, label in enumerate(labels)]
    internal = "BIO" if scheme == "BIO" else ("IOB1" if scheme == "IOB1" else "BIOES")
    allowed = np.array([[_allowed(internal, p, c) for c in parsed] for p in parsed], dtype=bool)
    if not with_start_end:
        return allowed
    start = np.array([_allowed_start(internal, c) for c in parsed], dtype=bool)
    end = np.array([_allowed_end(internal, p) for p in parsed], dtype=bool)
    return allowed, start, end
