"""read_squad_json: character offsets to word spans, malformed entries named; the generated set."""

import json

import numpy as np
import pytest

from keras_dlss.datasets import (
    generate_reading_comprehension,
    parse_squad,
    read_squad_json,
    squad_vocabulary,
    vectorize_squad,
)

CONTEXT = "The Eiffel Tower, built in 1889, is in Paris (France)."


def _squad(answers, context=CONTEXT):
    qas = [{"id": "q1", "question": "When was it built?", "answers": answers}]
    return {"data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}


def _write(tmp_path, data):
    path = tmp_path / "train-v1.1.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_offsets_become_word_spans(tmp_path):
    answers = [
        {"text": "1889", "answer_start": CONTEXT.index("1889")},
        {"text": "Eiffel Tower", "answer_start": 4},
        {"text": "Paris (France)", "answer_start": CONTEXT.index("Paris")},
    ]
    (ex,) = read_squad_json(_write(tmp_path, _squad(answers)))
    tokens = ex["context_tokens"]
    assert tokens[:5] == ["the", "eiffel", "tower", ",", "built"]
    got = [" ".join(tokens[s : e + 1]) for s, e in ex["answer_spans"]]
    assert got == ["1889", "eiffel tower", "paris ( france )"]
    assert ex["answers"] == ["1889", "Eiffel Tower", "Paris (France)"]
    for (s, e), text in zip(ex["answer_spans"], ex["answers"]):
        start, end = ex["context_offsets"][s][0], ex["context_offsets"][e][1]
        assert CONTEXT[start:end] == text


@pytest.mark.parametrize(
    "answer, why",
    [
        ({"text": "Paris", "answer_start": 200}, "outside the context"),
        ({"text": "Paris", "answer_start": -1}, "outside the context"),
        ({"text": "Paris", "answer_start": 3}, "the context reads"),
        ({"text": "Paris"}, "`answer_start`"),
    ],
)
def test_malformed_answers_name_path_and_entry(tmp_path, answer, why):
    path = _write(tmp_path, _squad([answer]))
    with pytest.raises(ValueError, match="`path`") as info:
        read_squad_json(path)
    assert why in str(info.value) and "q1" in str(info.value) and path in str(info.value)


def test_malformed_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="`path`.*invalid JSON"):
        read_squad_json(str(bad))
    with pytest.raises(ValueError, match="`path`.*Received"):
        read_squad_json(str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="`path`.*`data` list"):
        parse_squad({"version": "1.1"})


def test_generated_set_is_answerable_and_round_trips(tmp_path):
    data = generate_reading_comprehension(20, seed=3)
    examples = parse_squad(data)
    assert len(examples) == 40
    assert read_squad_json(_write(tmp_path, data))[0] == examples[0]
    for ex in examples:
        (s, e), (text,) = ex["answer_spans"][0], ex["answers"]
        assert ex["context"][ex["context_offsets"][s][0] : ex["context_offsets"][e][1]] == text
        # The answer lies in a sentence about the person the question names.
        name = [w for w in ex["question_tokens"] if w in ex["context_tokens"][: s + 1]]
        assert name, ex["question"]
    assert generate_reading_comprehension(2, seed=3) == generate_reading_comprehension(2, seed=3)
    with pytest.raises(ValueError, match="`num_paragraphs`"):
        generate_reading_comprehension(0)


def test_vectorize_marks_answers_cut_with_the_context():
    examples = parse_squad(generate_reading_comprehension(10))
    vocab = squad_vocabulary(examples)
    contexts, questions, spans = vectorize_squad(examples, vocab, 30, 8)
    assert contexts.shape == (20, 30) and questions.shape == (20, 8) and spans.shape == (20, 2)
    for ex, (s, e) in zip(examples, spans):
        if ex["answer_spans"][0][1] >= 30:
            assert (s, e) == (-1, -1)
        else:
            assert (s, e) == ex["answer_spans"][0]
    assert np.all(contexts[:, 0] > 1)  # every context starts with a known word
