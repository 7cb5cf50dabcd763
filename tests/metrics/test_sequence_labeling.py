"""Span P/R/F1 against hand-computed, seqeval/conlleval cases; token accuracy."""

import numpy as np
import pytest

from keras_dlss.metrics import TokenAccuracy, get_entities, span_f1, token_accuracy


@pytest.mark.parametrize(
    "tags, spans",
    [
        (["B-PER", "I-PER", "O", "B-LOC"], [("PER", 0, 1), ("LOC", 3, 3)]),
        (["I-PER", "I-PER", "O"], [("PER", 0, 1)]),  # I- after O starts a chunk
        (["B-PER", "I-LOC", "I-LOC"], [("PER", 0, 0), ("LOC", 1, 2)]),  # type change
        (["B-PER", "B-PER", "I-PER"], [("PER", 0, 0), ("PER", 1, 2)]),
        (["O", "O"], []),
        (["B-X", "E-X", "S-Y", "I-X"], [("X", 0, 1), ("Y", 2, 2), ("X", 3, 3)]),  # BIOES
    ],
)
def test_get_entities_conlleval_semantics(tags, spans):
    assert get_entities(tags) == spans


def test_span_f1_seqeval_readme_example():
    y_true = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    y_pred = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    result = span_f1(y_true, y_pred)
    assert result["precision"] == 0.5 and result["recall"] == 0.5 and result["f1"] == 0.5
    assert result["per_type"]["PER"]["f1"] == 1.0 and result["per_type"]["MISC"]["f1"] == 0.0


def test_span_f1_hand_computed():
    # gold: PER(0-1), LOC(3), ORG(5-6); pred: PER(0-1), LOC(3-4), ORG(5-6), MISC(7)
    y_true = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG", "O"]]
    y_pred = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC"]]
    r = span_f1(y_true, y_pred)
    assert r["precision"] == pytest.approx(2 / 4) and r["recall"] == pytest.approx(2 / 3)
    assert r["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert r["support"] == 3
    # Chunks never cross sentences.
    assert span_f1([["B-X"], ["I-X"]], [["B-X"], ["I-X"]])["support"] == 2
    assert span_f1([["O"]], [["O"]])["f1"] == 0.0


def test_alignment_errors():
    with pytest.raises(ValueError, match="same number of sentences"):
        span_f1([["O"]], [])
    with pytest.raises(ValueError, match="sentence 0 with 2 and 1 tags"):
        token_accuracy([["O", "O"]], [["O"]])


def test_token_accuracy_and_keras_metric_masking():
    assert token_accuracy([["A", "B"], ["C"]], [["A", "C"], ["C"]]) == pytest.approx(2 / 3)
    metric = TokenAccuracy()
    y_true = np.array([[1, 2, 0], [3, 0, 0]])
    tags = np.array([[1, 0, 3], [3, 1, 1]])  # padded positions are wrong on purpose
    mask = np.array([[1, 1, 0], [1, 0, 0]], "float32")
    metric.update_state(y_true, tags, sample_weight=mask)
    assert float(metric.result()) == pytest.approx(2 / 3)
    metric.reset_state()
    scores = np.eye(4)[tags].astype("float32")  # softmax-head style [B, T, K]
    metric.update_state(y_true, scores, sample_weight=mask)
    assert float(metric.result()) == pytest.approx(2 / 3)
    assert TokenAccuracy.from_config(metric.get_config()).name == "token_accuracy"
