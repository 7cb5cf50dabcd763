"""squad_exact_match / squad_f1 on hand-made cases worked out from evaluate-v1.1.py's definitions."""

import pytest

from keras_dlss.metrics import squad_exact_match, squad_f1
from keras_dlss.metrics.squad import normalize_answer


def test_normalization_follows_the_official_order():
    assert (
        normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    )  # punctuation removed, not spaced
    assert normalize_answer("a cat, an owl and THE dog") == "cat owl and dog"
    assert normalize_answer("Theatre anthem") == "theatre anthem"  # articles only as whole words
    assert normalize_answer("  ") == ""


def test_exact_match_is_max_over_golds_and_mean_over_examples():
    assert squad_exact_match("the Broncos.", ["Denver Broncos", "Broncos"]) == 100.0
    assert squad_exact_match("Denver", ["Denver Broncos"]) == 0.0
    assert squad_exact_match(
        ["Paris", "1889", "x"], [["paris"], ["in 1889"], "x"]
    ) == pytest.approx(200 / 3)


def test_f1_by_hand():
    # prediction tokens {in, paris, france}, gold {paris}: P = 1/3, R = 1, F1 = 0.5.
    assert squad_f1("in Paris, France", "Paris") == pytest.approx(50.0)
    # Bag overlap counts repeats: pred [new, york, new], gold [new, york]: same = 2, P = 2/3, R = 1.
    assert squad_f1("new york new", ["New York"]) == pytest.approx(80.0)
    # Best gold wins; no overlap is 0; articles alone vanish (empty prediction scores 0).
    assert squad_f1("the denver broncos", ["Carolina", "Denver"]) == pytest.approx(200 / 3)
    assert squad_f1("the", ["the"]) == 0.0
    assert squad_f1(["x y", "c"], [["x"], ["d"]]) == pytest.approx((2 / 3 * 100 + 0) / 2)


def test_bad_references():
    with pytest.raises(ValueError, match="`references`.*Received"):
        squad_f1(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="`references`.*Received"):
        squad_exact_match("a", [])
