import datetime

import pytest

from keras_dlss.datasets import generate_dates, load_dates


def test_deterministic_valid_and_varied():
    pairs = generate_dates(400, seed=3)
    assert pairs == generate_dates(400, seed=3)
    assert pairs != generate_dates(400, seed=4)
    for source, target in pairs:
        d = datetime.date.fromisoformat(target)
        assert datetime.date(1950, 1, 1) <= d <= datetime.date(2049, 12, 31)
        assert source.strip()
    sources = [s for s, _ in pairs]
    assert any("/" in s for s in sources) and any("." in s for s in sources)
    assert any(s.isupper() for s in sources) and any(" of " in s.lower() for s in sources)


def test_noise_free_sources_contain_the_year():
    for source, target in generate_dates(200, seed=1, noise=0.0):
        assert target[:4] in source


def test_splits_are_disjoint_streams():
    splits = load_dates(50, 20, 20, seed=0)
    assert [len(splits[k]) for k in ("train", "validation", "test")] == [50, 20, 20]
    assert splits["train"][:20] != splits["test"]


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_examples"):
        generate_dates(-1)
    with pytest.raises(ValueError, match="noise"):
        generate_dates(3, noise=2.0)
