"""Human-written dates -> ISO 8601: a generated sequence-to-sequence task.

The classic toy translation task for attention models (used in Andrew Ng's
deep learning course and many attention tutorials): inputs are dates written
the way people write them ("the 3rd of march 1987", "Mar 3, 1987",
"03.03.1987", "TUESDAY 3 MAR 1987"), with noise (case, spacing, dropped
letters and commas); outputs are "1987-03-03". Attention plots on it are easy
to read: each output digit looks at the day, month or year of the input.

Nothing is downloaded; the same seed gives the same data.
"""

import datetime
import random

MONTHS = (
    "january february march april may june july august september october november december"
).split()
WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
FIRST_DATE = datetime.date(1950, 1, 1)
LAST_DATE = datetime.date(2049, 12, 31)


def _ordinal(day):
    if 10 <= day % 100 <= 20:
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th') }"


def _formats(d):
    """Ways a person might write date `d` (day-first numeric formats only: no ambiguity)."""
    month, short = MONTHS[d.month - 1], MONTHS[d.month - 1][:3]
    weekday = WEEKDAYS[d.weekday()]
    return [
        f"{d.day} {month} {d.year}",
        f"{d.day} {short} {d.year}",
        f"{month} {d.day}, {d.year}",
        f"{short} {d.day}, {d.year}",
        f"{short} {d.day} {d.year}",
        f"the {_ordinal(d.day)} of {month} {d.year}",
        f"{month} {_ordinal(d.day)}, {d.year}",
        f"{weekday}, {d.day} {month} {d.year}",
        f"{weekday[:3]} {short} {d.day} {d.year}",
        f"{d.day:02d}.{d.month:02d}.{d.year}",
        f"{d.day}/{d.month}/{d.year}",
        f"{d.year}/{d.month:02d}/{d.day:02d}",
        f"{d.day}-{short}-{d.year}",
        f"{d.year} {month} {d.day}",
    ]


def _noisy(text, rng, noise):
    if rng.random() < noise:  # drop one letter of a word (a typo)
        letters = [i for i, ch in enumerate(text) if ch.isalpha()]
        if len(letters) > 4:
            i = rng.choice(letters)
            text = text[:i] + text[i + 1 :]
    if rng.random() < noise:
        text = text.replace(",", "")
    if rng.random() < noise:
        text = text.replace(" ", "  ", 1)
    case = rng.random()
    if case < 0.2:
        text = text.upper()
    elif case < 0.45:
        text = text.title()
    return text


def generate_dates(num_examples, seed=0, noise=0.1):
    """Generates `(human_written, iso)` string pairs.

    Args:
        num_examples: int. Number of pairs.
        seed: int. Random seed. Defaults to `0`.
        noise: float in [0, 1]. Probability of each kind of noise (a dropped
            letter, dropped commas, a doubled space). Defaults to `0.1`.

    Returns:
        A list of `(source, target)` strings, e.g. `("Mar 3, 1987", "1987-03-03")`.

    Example:

    ```python
    from keras_dlss.datasets.dates import generate_dates

    generate_dates(2, seed=1)  # [('...', 'YYYY-MM-DD'), ...]
    ```
    """
    if not isinstance(num_examples, int) or num_examples < 0:
        raise ValueError(
            f"Argument `num_examples` must be an integer >= 0. Received: num_examples={num_examples!r}"
        )
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"Argument `noise` must be in [0, 1]. Received: noise={noise!r}")
    rng = random.Random(seed)
    span = (LAST_DATE - FIRST_DATE).days
    pairs = []
    for _ in range(num_examples):
        d = FIRST_DATE + datetime.timedelta(days=rng.randrange(span + 1))
        source = _noisy(rng.choice(_formats(d)), rng, noise)
        pairs.append((source, d.isoformat()))
    return pairs


def load_dates(num_train=8000, num_validation=1000, num_test=1000, seed=0, noise=0.1):
    """Train / validation / test splits of `generate_dates` (disjoint seeds).

    Returns:
        A dict with keys "train", "validation", "test", each a list of
        `(source, target)` string pairs.
    """
    return {
        "train": generate_dates(num_train, seed=seed * 3 + 0, noise=noise),
        "validation": generate_dates(num_validation, seed=seed * 3 + 1, noise=noise),
        "test": generate_dates(num_test, seed=seed * 3 + 2, noise=noise),
    }
