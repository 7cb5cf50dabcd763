"""bAbI reader (original release format), generated stories and arrays."""

import os

import numpy as np
import pytest

from keras_dlss.datasets import babi_vocabulary, generate_babi, read_babi, vectorize_babi

STORY = """1 Mary moved to the bathroom.
2 John went to the hallway.
3 Where is Mary? \tbathroom\t1
4 Daniel went back to the hallway.
5 Where is Daniel? \thallway\t4
1 Sandra got the milk there.
2 Sandra went to the office.
3 Where is the milk?\toffice\t1 2
"""


def _write(tmp_path, text, name="qa1_train.txt"):
    path = os.path.join(tmp_path, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_read_babi_stories_questions_and_restarting_numbers(tmp_path):
    examples = read_babi(_write(tmp_path, STORY))
    assert len(examples) == 3
    second = examples[1]
    assert second["story"] == [
        ["mary", "moved", "to", "the", "bathroom"],
        ["john", "went", "to", "the", "hallway"],
        ["daniel", "went", "back", "to", "the", "hallway"],
    ]  # statements only: the earlier question is not a memory
    assert second["question"] == ["where", "is", "daniel"]
    assert second["answer"] == "hallway" and second["supporting_facts"] == [2]
    third = examples[2]  # numbering restarted: a new story
    assert len(third["story"]) == 2 and third["supporting_facts"] == [0, 1]


@pytest.mark.parametrize(
    "line, why",
    [
        ("x Mary moved.\n", "line number"),
        ("1 Mary moved.\n3 John moved.\n", "line number 3 after 1"),
        ("1 Mary moved.\n2 Where is Mary?\tkitchen\n", "question"),
        ("1 Mary moved.\n2 Where is Mary?\tkitchen\tone\n", "supporting facts"),
        ("1 Mary moved.\n2 Where is Mary?\tkitchen\t5\n", "not statements"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, line, why):
    path = _write(tmp_path, line)
    number = line.count("\n")
    with pytest.raises(ValueError, match=f"`path`.*{why}.*qa1_train.txt:{number}"):
        read_babi(path)


@pytest.mark.parametrize("task", [1, 2, 3])
def test_generated_answers_follow_from_the_supporting_facts(task):
    for ex in generate_babi(50, task=task, seed=task):
        facts = [ex["story"][i] for i in ex["supporting_facts"]]
        assert facts and all(isinstance(i, int) for i in ex["supporting_facts"])
        assert any(f[-1] == ex["answer"] for f in facts)  # a supporting move went there
        if task == 2:  # and one fact is the grab of the object asked about
            assert any(f[-1] == ex["question"][-1] for f in facts)
    assert len({tuple(map(tuple, e["story"])) for e in generate_babi(20, task=task)}) > 10


def test_vectorize_orders_memories_most_recent_first():
    examples = generate_babi(5, task=1, seed=3)
    vocab = babi_vocabulary(examples)
    stories, questions, answers = vectorize_babi(examples, vocab, memory_size=30)
    latest = vocab.encode([examples[0]["story"][-1]], max_length=stories.shape[-1])[0]
    np.testing.assert_array_equal(stories[0, 0], latest)
    n = len(examples[0]["story"])
    assert not stories[0, n:].any() and stories[0, n - 1].any()
    assert vocab.tokens[answers[0]] == examples[0]["answer"]
    assert questions.shape == (5, stories.shape[-1])


def test_bad_arguments():
    with pytest.raises(ValueError, match="`task`"):
        generate_babi(3, task=4)
    with pytest.raises(ValueError, match="`num_examples`"):
        generate_babi(0)
    with pytest.raises(ValueError, match="`memory_size`"):
        vectorize_babi(generate_babi(2), babi_vocabulary(generate_babi(2)), memory_size=0)
    with pytest.raises(ValueError, match="`path`"):
        read_babi("/nonexistent/qa1_train.txt")


def test_real_babi_when_present():
    path = "/work/shared/data/babi-en-1k/qa2_two-supporting-facts_train.txt"
    if not os.path.exists(path):
        pytest.skip("the shared bAbI data is not on this machine")
    examples = read_babi(path)
    assert len(examples) == 1000
    assert all(len(ex["supporting_facts"]) == 2 for ex in examples)
