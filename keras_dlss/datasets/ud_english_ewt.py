"""The slice of UD English EWT embedded in the package (CC BY-SA 4.0).

Universal Dependencies English Web Treebank (Silveira et al., 2014): web
text in five genres (weblogs, newsgroups, emails, reviews, question
answers) with Universal POS tags and dependency trees. The package ships a
compressed slice so that the `tagger` application trains on real English
without a download:

| split | file | sentences | tokens |
|---|---|---|---|
| `"dev"` | all of `en_ewt-ud-dev.conllu` | 2,001 | 25,147 |
| `"test"` | every second document of `en_ewt-ud-test.conllu` | 1,068 | 12,572 |

Only ID, FORM, UPOS, XPOS, HEAD and DEPREL are kept (LEMMA, FEATS, DEPS and
MISC are `_`), so the files stay valid CoNLL-U and also serve dependency
parsing. `data/ud_english_ewt/README.md` gives the source, the changes and
the license; `make_slice.py` beside it rebuilds the files. The data is
CC BY-SA 4.0: a model trained on it is yours, but redistributed copies or
modifications of the *data* must keep the attribution and the license.

References:
    - Silveira et al., "A Gold Standard Dependency Corpus for English",
      LREC 2014.
    - Nivre et al., "Universal Dependencies v2", LREC 2020
      (https://universaldependencies.org/treebanks/en_ewt/).
"""

import os

from keras_dlss import _validation as v
from keras_dlss.datasets.conll import read_conllu

DIRECTORY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "ud_english_ewt")
FILES = {"dev": "en_ewt-ud-dev.conllu.xz", "test": "en_ewt-ud-test-half.conllu.xz"}
LICENSE = "CC BY-SA 4.0 (UD English EWT)"


def ud_english_ewt_path(split="dev"):
    """Path of the embedded `.conllu.xz` file of `split` (`"dev"` or `"test"`).

    For columns `load_ud_english_ewt` does not return (HEAD with DEPREL),
    read this file with any CoNLL-U reader that opens `.xz` files.
    """
    v.check_one_of("split", split, tuple(FILES))
    return os.path.join(DIRECTORY, FILES[split])


def load_ud_english_ewt(split="dev", column="upos", max_sentences=None):
    """Word and tag sequences of the embedded UD English EWT slice.

    Args:
        split: `"dev"` (2,001 sentences; the `tagger` application splits it
            90/10 into train and validation) or `"test"` (1,068 held-out
            sentences). Defaults to `"dev"`.
        column: str. Tag column: `"upos"` (17 tags), `"xpos"` (Penn
            Treebank tags) or `"deprel"`. Defaults to `"upos"`.
        max_sentences: optional int. Keep only the first `max_sentences`
            sentences (for quick tests). Defaults to all.

    Returns:
        `(words, tags)`: two lists of equal-length lists of strings.

    Example:

    ```pycon
    >>> words, tags = load_ud_english_ewt("dev", max_sentences=1)
    >>> list(zip(words[0], tags[0]))[:3]
    [('From', 'ADP'), ('the', 'DET'), ('AP', 'PROPN')]
    ```
    """
    v.check_one_of("column", column, ("upos", "xpos", "deprel"))
    if max_sentences is not None:
        v.check_positive_int("max_sentences", max_sentences)
    words, tags = read_conllu(ud_english_ewt_path(split), column=column)
    return words[:max_sentences], tags[:max_sentences]
