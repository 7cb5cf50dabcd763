"""SQuAD exact match and token F1, as the official v1.1 evaluation script defines them.

Both compare normalised strings: lowercased, punctuation removed, the articles "a", "an" and
"the" removed, whitespace collapsed. Exact match is string equality after normalisation; F1
is the harmonic mean of precision and recall of the shared normalised tokens (a bag, so a
repeated word counts as often as both sides have it). Each prediction is scored against every
gold answer and keeps the best, and the corpus score is the mean in percent (Rajpurkar et
al. 2016, `evaluate-v1.1.py`).

These are Python functions on strings, not `keras.metrics.Metric`s: answers are text spans
decoded from the model's start/end outputs (`keras_dlss.decoding.best_span`), not tensors.
"""

import collections
import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text):
    """Lowercase, strip punctuation and articles, collapse whitespace (official order)."""
    text = "".join(ch for ch in str(text).lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _exact(prediction, gold):
    return float(normalize_answer(prediction) == normalize_answer(gold))


def _f1(prediction, gold):
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    same = sum((collections.Counter(predicted) & collections.Counter(expected)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


def _pairs(predictions, references):
    if isinstance(predictions, str):
        predictions, references = [predictions], [references]
    predictions, references = list(predictions), list(references)
    if len(predictions) != len(references) or not predictions:
        raise ValueError(
            "Argument `references` must hold one list of gold answers per prediction. "
            f"Received: {len(predictions)} predictions and {len(references)} references"
        )
    pairs = []
    for prediction, golds in zip(predictions, references):
        golds = [golds] if isinstance(golds, str) else list(golds)
        if not golds:
            raise ValueError(
                "Argument `references` must give at least one gold answer per prediction. "
                f"Received: references entry {golds!r} for prediction {prediction!r}"
            )
        pairs.append((str(prediction), golds))
    return pairs


def _score(fn, predictions, references):
    pairs = _pairs(predictions, references)
    return 100.0 * sum(max(fn(p, g) for g in golds) for p, golds in pairs) / len(pairs)


def squad_exact_match(predictions, references):
    """SQuAD v1.1 exact match in percent: normalised prediction equals a gold answer.

    Args:
        predictions: str, or a list of predicted answer strings.
        references: for one prediction, its gold answer (str) or list of gold answers;
            for a list of predictions, one such entry per prediction.

    Returns:
        float in [0, 100]: the mean over predictions of the best match over their golds.

    Example:

    ```python
    from keras_dlss.metrics import squad_exact_match

    print(squad_exact_match("The Eiffel tower!", ["eiffel tower", "Paris"]))   # 100.0
    print(squad_exact_match(["Paris", "1889"], [["Paris"], ["in 1889"]]))       # 50.0
    ```

    References:
        Rajpurkar et al. 2016, https://arxiv.org/abs/1606.05250 (evaluate-v1.1.py).
    """
    return _score(_exact, predictions, references)


def squad_f1(predictions, references):
    """SQuAD v1.1 token F1 in percent, best over each prediction's gold answers.

    Args:
        predictions: str, or a list of predicted answer strings.
        references: for one prediction, its gold answer (str) or list of gold answers;
            for a list of predictions, one such entry per prediction.

    Returns:
        float in [0, 100]: the mean over predictions of the best token F1 over their golds.

    Example:

    ```python
    from keras_dlss.metrics import squad_f1

    print(round(squad_f1("in Paris, France", ["Paris"]), 2))   # 50.0: P = 1/3, R = 1
    ```

    References:
        Rajpurkar et al. 2016, https://arxiv.org/abs/1606.05250 (evaluate-v1.1.py).
    """
    return _score(_f1, predictions, references)
