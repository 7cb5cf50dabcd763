"""Extractive reading comprehension data: SQuAD v1.1 JSON, a generated set, and arrays.

`read_squad_json` reads the format of Rajpurkar et al. (2016), "SQuAD: 100,000+ Questions for
Machine Comprehension of Text" (https://arxiv.org/abs/1606.05250): `data[].paragraphs[]` with a
`context` string and `qas[]` whose `answers[]` give the answer `text` and its character offset
`answer_start`. Character offsets become inclusive word spans over our tokenization (words and
single punctuation marks, each with its character offsets), which is what a span reader predicts.

`generate_reading_comprehension` writes SQuAD-format data from templated paragraphs about
invented people (birthplace, year, job, instrument, sibling), with two or three people per
paragraph so that a question is answerable only by reading the right sentence. It is the
embedded default of `keras-dlss train bidaf` and needs no download.
"""

import json
import os
import re

import numpy as np

from keras_dlss.datasets.conll import Vocabulary

_TOKEN = re.compile(r"\w+|[^\w\s]")
_NAMES = (
    "alice", "bruno", "chiara", "dmitri", "elena", "farid", "greta", "hiro", "ines", "jonas",
    "kofi", "lena", "marco", "nadia", "oscar", "priya", "quentin", "rosa", "sven", "tara",
)  # fmt: skip
_CITIES = (
    "paris", "lagos", "lima", "oslo", "cairo", "delhi", "kyoto", "quito", "rome", "perth",
    "dakar", "hanoi", "porto", "tunis", "riga", "sofia",
)  # fmt: skip
_JOBS = ("a teacher", "a nurse", "an engineer", "a baker", "a pilot", "a lawyer", "a painter")
_INSTRUMENTS = ("the violin", "the piano", "the drums", "the flute", "the guitar", "the cello")


def tokenize_with_offsets(text):
    """Words and punctuation marks of `text` with their `(start, end)` character offsets."""
    matches = list(_TOKEN.finditer(text))
    return [m.group().lower() for m in matches], [(m.start(), m.end()) for m in matches]


def _bad(path, entry, why):
    return ValueError(
        f"Argument `path` holds a malformed SQuAD entry ({why}). Received: {path}: {entry}"
    )


def _answer_span(path, qa_id, context, offsets, answer):
    if not isinstance(answer, dict) or "text" not in answer or "answer_start" not in answer:
        raise _bad(path, f"question {qa_id!r}", "an answer needs `text` and `answer_start`")
    text, start = str(answer["text"]), answer["answer_start"]
    end = start + len(text) if isinstance(start, int) else -1
    if not isinstance(start, int) or start < 0 or end > len(context) or not text.strip():
        raise _bad(
            path,
            f"question {qa_id!r}, answer_start={start!r}, text={text!r}",
            f"the answer span lies outside the context of {len(context)} characters",
        )
    if context[start:end] != text:
        raise _bad(
            path,
            f"question {qa_id!r}, answer_start={start}, text={text!r}",
            f"the context reads {context[start:end]!r} there",
        )
    words = [i for i, (s, e) in enumerate(offsets) if s < end and e > start]
    return words[0], words[-1]


def parse_squad(data, path="<data>"):
    """Examples of a SQuAD v1.1 dict (the parsed JSON), as `read_squad_json` returns them.

    Args:
        data: dict. A parsed SQuAD v1.1 file (`{"data": [{"paragraphs": [...]}]}`).
        path: str. How errors name the data. Defaults to `"<data>"`.

    Returns:
        A list of examples (see `read_squad_json`).

    Example:

    ```python
    from keras_dlss.datasets import generate_reading_comprehension, parse_squad

    print(len(parse_squad(generate_reading_comprehension(2))))   # 4 questions
    ```
    """
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise _bad(path, "top level", "it must be an object with a `data` list")
    examples = []
    for article in data["data"]:
        for p_index, paragraph in enumerate(article.get("paragraphs", [])):
            where = f"title {article.get('title')!r}, paragraph {p_index}"
            if not isinstance(paragraph.get("context"), str) or "qas" not in paragraph:
                raise _bad(path, where, "a paragraph needs a `context` string and `qas`")
            context = paragraph["context"]
            context_tokens, offsets = tokenize_with_offsets(context)
            for qa in paragraph["qas"]:
                qa_id = qa.get("id")
                if not isinstance(qa.get("question"), str) or not qa.get("answers"):
                    raise _bad(
                        path, f"{where}, question {qa_id!r}", "needs `question` and `answers`"
                    )
                spans = [_answer_span(path, qa_id, context, offsets, a) for a in qa["answers"]]
                examples.append(
                    {
                        "id": qa_id,
                        "context": context,
                        "context_tokens": context_tokens,
                        "context_offsets": offsets,
                        "question": qa["question"],
                        "question_tokens": tokenize_with_offsets(qa["question"])[0],
                        "answers": [str(a["text"]) for a in qa["answers"]],
                        "answer_spans": spans,
                    }
                )
    return examples


def read_squad_json(path):
    """Reads a SQuAD v1.1 JSON file into question examples with word-level answer spans.

    Args:
        path: str. A file in the SQuAD v1.1 format (`train-v1.1.json`, `dev-v1.1.json`).

    Returns:
        A list of examples, one per question: dicts with `id`, `context` (str),
        `context_tokens` (lowercased words and punctuation), `context_offsets` (each
        token's `(start, end)` characters), `question`, `question_tokens`, `answers`
        (the gold answer strings) and `answer_spans` (inclusive `(first, last)` token
        indices of each gold answer).

    Raises:
        ValueError: naming `path` and the entry, for a missing field or an answer whose
            `answer_start` and `text` lie outside (or disagree with) its context.

    Example:

    ```python
    import json, os, tempfile
    from keras_dlss.datasets import read_squad_json

    data = {"data": [{"title": "t", "paragraphs": [{"context": "Ada was born in Paris.",
            "qas": [{"id": "q1", "question": "Where was Ada born?",
                     "answers": [{"text": "Paris", "answer_start": 16}]}]}]}]}
    path = os.path.join(tempfile.mkdtemp(), "squad.json")
    with open(path, "w") as f:
        json.dump(data, f)
    print(read_squad_json(path)[0]["answer_spans"])   # [(4, 4)]
    ```

    References:
        Rajpurkar et al. 2016, https://arxiv.org/abs/1606.05250.
    """
    if not os.path.isfile(str(path)):
        raise ValueError(f"Argument `path` must be a SQuAD JSON file. Received: path={path!r}")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise _bad(path, f"line {e.lineno}", "invalid JSON") from None
    return parse_squad(data, str(path))


def _paragraph(rng):
    people = rng.choice(_NAMES, size=int(rng.integers(2, 4)), replace=False)
    facts, qas = [], []
    for person in people:
        name = person.capitalize()
        city, year = rng.choice(_CITIES), str(int(rng.integers(1900, 2010)))
        job, instrument = rng.choice(_JOBS), rng.choice(_INSTRUMENTS)
        sibling = rng.choice([n for n in _NAMES if n not in people]).capitalize()
        facts += [
            (f"{name} was born in {city.capitalize()} in {year}.", None),
            (f"{name} works as {job}.", None),
            (f"{name} plays {instrument} on weekends.", None),
            (f"The sibling of {name} is called {sibling}.", None),
        ]
        qas += [
            (f"Where was {name} born?", city.capitalize()),
            (f"In which year was {name} born?", year),
            (f"What does {name} work as?", job),
            (f"Which instrument does {name} play?", instrument),
            (f"Who is the sibling of {name}?", sibling),
        ]
    order = rng.permutation(len(facts))
    context = " ".join(facts[i][0] for i in order)
    chosen = rng.choice(len(qas), size=2, replace=False)
    return context, [qas[i] for i in chosen]


def generate_reading_comprehension(num_paragraphs, seed=0):
    """Generated SQuAD-format data: templated paragraphs and span-answer questions.

    Each paragraph describes two or three invented people (birthplace and year, job,
    instrument, sibling) in shuffled sentences; two questions per paragraph ask about one
    of them, so the answer is a span of the right person's sentence.

    Args:
        num_paragraphs: int. Paragraphs to write (two questions each).
        seed: int. Random seed. Defaults to `0`.

    Returns:
        A SQuAD v1.1 dict (`{"version", "data": [...]}`) for `parse_squad`, or to
        `json.dump` and read back with `read_squad_json`.

    Example:

    ```python
    from keras_dlss.datasets import generate_reading_comprehension, parse_squad

    examples = parse_squad(generate_reading_comprehension(3))
    print(examples[0]["question"], "->", examples[0]["answers"][0])
    ```
    """
    if (
        isinstance(num_paragraphs, bool)
        or not isinstance(num_paragraphs, int)
        or num_paragraphs < 1
    ):
        raise ValueError(
            f"Argument `num_paragraphs` must be an integer >= 1. Received: num_paragraphs={num_paragraphs!r}"
        )
    rng = np.random.default_rng(seed)
    paragraphs = []
    for p in range(num_paragraphs):
        context, qas = _paragraph(rng)
        paragraphs.append(
            {
                "context": context,
                "qas": [
                    {
                        "id": f"generated-{seed}-{p}-{k}",
                        "question": question,
                        "answers": [
                            {"text": answer, "answer_start": _find(context, question, answer)}
                        ],
                    }
                    for k, (question, answer) in enumerate(qas)
                ],
            }
        )
    return {"version": "generated", "data": [{"title": "generated", "paragraphs": paragraphs}]}


def _find(context, question, answer):
    """Offset of `answer` in the sentence about the person the question names."""
    name = [w for w in re.findall(r"[A-Z]\w+", question) if w.lower() in _NAMES][0]
    for sentence_start in [m.start() for m in re.finditer(rf"\b{name}\b", context)]:
        end = context.find(".", sentence_start)
        found = context.find(answer, sentence_start, end)
        if found >= 0:
            return found
    raise AssertionError("unreachable: every question has its fact")  # pragma: no cover


def squad_vocabulary(*example_lists, min_count=1):
    """A `Vocabulary` (0 padding, 1 unknown) of every context and question word.

    Args:
        *example_lists: lists of examples from `read_squad_json` or `parse_squad`.
        min_count: int. Keep words seen at least this often. Defaults to `1`.

    Returns:
        A `keras_dlss.datasets.Vocabulary`, most frequent words first.

    Example:

    ```python
    from keras_dlss.datasets import generate_reading_comprehension, parse_squad
    from keras_dlss.datasets import squad_vocabulary

    vocab = squad_vocabulary(parse_squad(generate_reading_comprehension(5)))
    print(vocab.tokens[:3])   # ['<pad>', '<unk>', '.']
    ```
    """

    def words():
        for examples in example_lists:
            for ex in examples:
                yield ex["context_tokens"]
                yield ex["question_tokens"]

    return Vocabulary.build(words(), min_count=min_count)


def vectorize_squad(examples, vocabulary, context_length, question_length):
    """Encodes examples as word-id arrays and `(start, end)` answer spans for `BiDAF`.

    Longer contexts and questions are cut; an answer cut off with its context gets the span
    `(-1, -1)` (drop those rows for training: `keep = spans[:, 1] >= 0`). The span is the
    first gold answer's.

    Args:
        examples: list of examples from `read_squad_json` or `parse_squad`.
        vocabulary: a `keras_dlss.datasets.Vocabulary` (see `squad_vocabulary`).
        context_length: int. Words per context.
        question_length: int. Words per question.

    Returns:
        `(contexts [N, context_length], questions [N, question_length], spans [N, 2])`
        int32 arrays (0 is padding; spans are inclusive word indices).

    Example:

    ```python
    from keras_dlss.datasets import generate_reading_comprehension, parse_squad
    from keras_dlss.datasets import squad_vocabulary, vectorize_squad

    examples = parse_squad(generate_reading_comprehension(5))
    c, q, spans = vectorize_squad(examples, squad_vocabulary(examples), 100, 10)
    print(c.shape, q.shape, spans.shape)   # (10, 100) (10, 10) (10, 2)
    ```
    """
    contexts = vocabulary.encode([ex["context_tokens"] for ex in examples], context_length)
    questions = vocabulary.encode([ex["question_tokens"] for ex in examples], question_length)
    spans = np.array([ex["answer_spans"][0] for ex in examples], "int32").reshape(-1, 2)
    spans[spans[:, 1] >= context_length] = -1
    return contexts.astype("int32"), questions.astype("int32"), spans
