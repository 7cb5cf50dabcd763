"""Generated sentiment sentences: the negation probe set and the CLI's default data.

The curriculum's point about bag-of-words classifiers (DLSS 2018, Neubig,
"Language Understanding") is that a sum of per-word scores cannot represent
negation: "not good" and "not bad" share "not", so a BoW model that gets one
right gets the other wrong unless "not" carries opposite evidence in each.
`negation_probe` measures that with templated sentences whose gold labels
follow from the template: `"plain"` (no negation, the control),
`"not_good"`, `"not_bad"`, `"not_only"` ("not only good but also clever":
negation without a flip) and `"double"` ("it is not true that it is not
good"). The words are frequent ones in movie reviews, so a model trained on
SST-2 knows them.

`sentiment_sentences` generates the CLI's default training data from the
same vocabulary: plain, negated ("not", "never", "did n't think") and
contrastive ("X but Y": the second clause decides) sentences. SST-2 is not
shipped: the treebank is distributed without a license (its reviews come
from Rotten Tomatoes via Pang & Lee 2005), so the package generates its
default data; `benchmarks/sst2.py` reads SST-2 from the user's disk.
"""

import numpy as np

from keras_dlss import _validation as v

SUBJECTS = (
    "the movie", "this film", "the acting", "the plot", "the story", "the script",
    "the cast", "the ending", "the dialogue", "the soundtrack", "the direction", "it",
)  # fmt: skip
POSITIVE = (
    "good", "great", "wonderful", "charming", "funny", "moving", "brilliant",
    "delightful", "enjoyable", "clever", "beautiful", "entertaining",
)  # fmt: skip
NEGATIVE = (
    "bad", "boring", "dull", "awful", "terrible", "tedious", "bland", "weak",
    "clumsy", "predictable", "silly", "mediocre",
)  # fmt: skip
INTENSIFIERS = ("", "very", "really", "quite", "truly")
VERBS = ("is", "was", "seems", "feels")
PROBE_CATEGORIES = ("plain", "not_good", "not_bad", "not_only", "double")


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _phrase(rng, adjective):
    intensifier = _pick(rng, INTENSIFIERS)
    return f"{intensifier} {adjective}".strip()


def _probe_sentence(rng, category):
    subject, verb = _pick(rng, SUBJECTS), _pick(rng, VERBS)
    positive = bool(rng.integers(2))
    adjectives = POSITIVE if positive else NEGATIVE
    adjective = _pick(rng, adjectives)
    if category == "plain":
        return f"{subject} {verb} {_phrase(rng, adjective)}", int(positive)
    if category == "not_good":
        return f"{subject} {verb} not {_pick(rng, POSITIVE)}", 0
    if category == "not_bad":
        return f"{subject} {verb} not {_pick(rng, NEGATIVE)}", 1
    if category == "not_only":
        other = _pick(rng, [a for a in adjectives if a != adjective])
        return f"{subject} {verb} not only {adjective} but also {other}", int(positive)
    return f"it is not true that {subject} {verb} not {adjective}", int(positive)


def negation_probe(per_category=40, seed=0):
    """Templated sentences that test negation, with gold labels (1 = positive).

    Args:
        per_category: int. Sentences per category. Defaults to `40`.
        seed: int. Seed of the template choices.

    Returns:
        `(texts, labels, categories)`: lists of str, an int32 array, and the
        category of each sentence, one of `"plain"`, `"not_good"`,
        `"not_bad"`, `"not_only"`, `"double"`.

    Example:

    ```python
    texts, labels, categories = negation_probe(per_category=2)
    assert len(texts) == 10 and set(categories) == set(PROBE_CATEGORIES)
    ```
    """
    per_category = v.check_positive_int("per_category", per_category)
    rng = np.random.default_rng(seed)
    texts, labels, categories = [], [], []
    for category in PROBE_CATEGORIES:
        for _ in range(per_category):
            text, label = _probe_sentence(rng, category)
            texts.append(text)
            labels.append(label)
            categories.append(category)
    return texts, np.array(labels, "int32"), categories


def _clause(rng):
    subject, verb = _pick(rng, SUBJECTS), _pick(rng, VERBS)
    positive = bool(rng.integers(2))
    adjective = _pick(rng, POSITIVE if positive else NEGATIVE)
    form = rng.random()
    if form < 0.55:
        return f"{subject} {verb} {_phrase(rng, adjective)}", positive
    if form < 0.8:
        return f"{subject} {verb} not {_phrase(rng, adjective)}", not positive
    if form < 0.9:
        return f"{subject} {verb} never {adjective}", not positive
    return f"i did n't think {subject} {verb} {adjective}", not positive


def sentiment_sentences(n=3000, seed=0):
    """Generated movie-review sentences with their sentiment (1 = positive).

    A quarter of them are contrastive, "A but B", labelled by the second
    clause; about 35% of the clauses are negated ("not", "never",
    "did n't think").

    Args:
        n: int. Number of sentences. Defaults to `3000`.
        seed: int. Seed of the generator.

    Returns:
        `(texts, labels)`: a list of str and an int32 array.

    Example:

    ```python
    texts, labels = sentiment_sentences(8)
    assert len(texts) == 8 and set(labels.tolist()) <= {0, 1}
    ```
    """
    n = v.check_positive_int("n", n)
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        text, positive = _clause(rng)
        if rng.random() < 0.25:
            second, positive = _clause(rng)
            text = f"{text} , but {second}"
        texts.append(text + " .")
        labels.append(int(positive))
    return texts, np.array(labels, "int32")
