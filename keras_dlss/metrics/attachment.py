"""Unlabeled and labeled attachment scores (UAS, LAS) of dependency parses.

The CoNLL 2018 shared task's evaluation script (`conll18_ud_eval.py`) scores
*every* syntactic word, punctuation included: UAS is the fraction of words
whose predicted HEAD is the gold head; LAS also requires the DEPREL to match,
comparing only the universal part of the relation (`nmod:poss` counts as
`nmod`). With gold tokenization its precision, recall and F1 coincide, so one
number per score is reported. The older CoNLL-X convention, still common in
parsing papers (Dozat & Manning 2017, Dyer et al. 2015 on the Penn Treebank),
leaves punctuation out; `attachment_scores` reports both, punctuation being
the words whose UPOS is `PUNCT`.

References:
    - Zeman et al., "CoNLL 2018 Shared Task: Multilingual Parsing from Raw Text
      to Universal Dependencies", CoNLL 2018
      (https://universaldependencies.org/conll18/evaluation.html).
    - Buchholz & Marsi, "CoNLL-X Shared Task on Multilingual Dependency
      Parsing", CoNLL 2006.
"""


def _universal(relation):
    return str(relation).split(":")[0]


def _check_parallel(name, values, reference):
    if values is None:
        return
    if len(values) != len(reference) or any(len(a) != len(b) for a, b in zip(values, reference)):
        lengths = [len(s) for s in values][:5]
        raise ValueError(
            f"Argument `{name}` must have one entry per word of `gold_heads` "
            f"({[len(s) for s in reference][:5]}...). Received: {name} lengths {lengths}..."
        )


def attachment_scores(gold_heads, gold_rels, pred_heads, pred_rels, upos=None):
    """UAS and LAS over all words (CoNLL 2018) and without punctuation (CoNLL-X).

    Args:
        gold_heads: list of sequences of int. Gold 1-based heads per sentence, 0 = root.
        gold_rels: list of sequences of str. Gold dependency relations.
        pred_heads: list of sequences of int. Predicted heads, same lengths.
        pred_rels: list of sequences of str. Predicted relations, same lengths.
        upos: optional list of sequences of str. Gold UPOS tags; words tagged
            `PUNCT` are left out of `uas_no_punct` / `las_no_punct`. Defaults to None
            (those keys are then absent).

    Returns:
        dict with `uas`, `las` and `words` (every word scored), plus
        `uas_no_punct`, `las_no_punct` and `words_no_punct` when `upos` is given.

    Example:

    ```pycon
    >>> scores = attachment_scores(
    ...     [[2, 0, 2]], [["nsubj", "root", "punct"]],
    ...     [[2, 0, 1]], [["nsubj:pass", "root", "punct"]],
    ...     upos=[["PRON", "VERB", "PUNCT"]])
    >>> scores["uas"], scores["las"], scores["uas_no_punct"]
    (0.6666666666666666, 0.6666666666666666, 1.0)
    ```
    """
    gold_heads = [list(s) for s in gold_heads]
    for name, values in (
        ("gold_rels", gold_rels),
        ("pred_heads", pred_heads),
        ("pred_rels", pred_rels),
        ("upos", upos),
    ):
        _check_parallel(name, values, gold_heads)
    counts = {
        "words": 0,
        "uas": 0,
        "las": 0,
        "words_no_punct": 0,
        "uas_no_punct": 0,
        "las_no_punct": 0,
    }
    for s, heads in enumerate(gold_heads):
        for i, head in enumerate(heads):
            attached = int(pred_heads[s][i]) == int(head)
            labeled = attached and _universal(pred_rels[s][i]) == _universal(gold_rels[s][i])
            keys = ("", "_no_punct") if upos is not None and upos[s][i] != "PUNCT" else ("",)
            for suffix in keys:
                counts["words" + suffix] += 1
                counts["uas" + suffix] += attached
                counts["las" + suffix] += labeled
    if counts["words"] == 0:
        raise ValueError(
            "Argument `gold_heads` must hold at least one word. Received: gold_heads=[]"
        )
    result = {"words": counts["words"]}
    result["uas"] = counts["uas"] / counts["words"]
    result["las"] = counts["las"] / counts["words"]
    if upos is not None:
        n = max(counts["words_no_punct"], 1)
        result.update(
            words_no_punct=counts["words_no_punct"],
            uas_no_punct=counts["uas_no_punct"] / n,
            las_no_punct=counts["las_no_punct"] / n,
        )
    return result
