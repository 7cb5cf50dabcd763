"""bAbI question answering: the original release format, generated stories, and arrays.

`read_babi` parses the files of Weston et al. (2015), "Towards AI-complete question
answering: a set of prerequisite toy tasks" (https://arxiv.org/abs/1502.05698):
numbered lines, numbering restarting at 1 for a new story, and question lines
`question<TAB>answer<TAB>supporting fact ids`. Each question becomes one example whose
story is every statement of its story seen so far (questions are not statements).

`generate_babi` writes bAbI-like stories of tasks 1-3 (one, two and three supporting
facts) with its own random world, so applications have an embedded default that needs
no download; the real 20 tasks (CC BY 3.0) are read from the user's copy.

`vectorize_babi` turns examples into the arrays `EndToEndMemory` takes: memories ordered
*most recent first* (slot 0 is the latest statement), as Sukhbaatar et al. (2015) index
the temporal encoding, so padding memories sit at the end.
"""

import os
import re

import numpy as np

from keras_dlss.datasets.conll import Vocabulary

_TOKEN = re.compile(r"[\w']+")
_PEOPLE = ("mary", "john", "daniel", "sandra")
_PLACES = ("bathroom", "hallway", "garden", "office", "kitchen", "bedroom")
_OBJECTS = ("football", "apple", "milk")
_MOVES = ("moved to", "went to", "journeyed to", "travelled to", "went back to")
_GRABS = ("picked up", "grabbed", "got", "took")
_DROPS = ("dropped", "discarded", "put down", "left")


def tokenize(text):
    """Lowercased word tokens of a bAbI sentence ("Where is Mary?" -> ["where", "is", "mary"])."""
    return _TOKEN.findall(text.lower())


def _malformed(path, number, line, why):
    return ValueError(
        f"Argument `path` holds a malformed bAbI line ({why}) at {path}:{number}. "
        f"Received: {line.rstrip()[:80]!r}"
    )


def _parse_line(path, number, line, story_length):
    head, sep, rest = line.strip().partition(" ")
    if not sep or not head.isdigit():
        raise _malformed(path, number, line, "it must start with a line number and a space")
    index = int(head)
    if index != story_length + 1 and index != 1:
        raise _malformed(path, number, line, f"line number {index} after {story_length}")
    if "\t" not in rest:
        return index, tokenize(rest), None
    fields = rest.split("\t")
    if len(fields) != 3 or not fields[1].strip():
        raise _malformed(path, number, line, "a question needs question<TAB>answer<TAB>facts")
    try:
        facts = [int(f) for f in fields[2].split()]
    except ValueError:
        raise _malformed(path, number, line, "supporting facts must be line numbers") from None
    return index, tokenize(fields[0]), (fields[1].strip(), facts)


def read_babi(path):
    """Reads one bAbI task file in the original release format.

    Args:
        path: str. A `qaN_*_train.txt` / `_test.txt` file of the bAbI release.

    Returns:
        A list of examples, one per question, each a dict with `story` (list of
        token lists, the statements before the question, in order), `question`
        (token list), `answer` (str; comma-separated for the path-finding task)
        and `supporting_facts` (0-based indices into `story`).

    Raises:
        ValueError: naming `path` and the file:line of a malformed line.

    Example:

    ```python
    import os, tempfile
    from keras_dlss.datasets import read_babi

    text = "1 Mary moved to the bathroom.\\n2 Where is Mary?\\tbathroom\\t1\\n"
    path = os.path.join(tempfile.mkdtemp(), "qa1_train.txt")
    with open(path, "w") as f:
        f.write(text)
    print(read_babi(path))
    ```

    References:
        Weston et al. 2015, https://arxiv.org/abs/1502.05698.
    """
    if not os.path.isfile(str(path)):
        raise ValueError(f"Argument `path` must be a bAbI file. Received: path={path!r}")
    examples, lines, story_length = [], {}, 0
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            index, tokens, qa = _parse_line(path, number, line, story_length)
            if index == 1:
                lines = {}
            story_length = index
            if qa is None:
                lines[index] = tokens
                continue
            answer, facts = qa
            statement_ids = sorted(lines)
            position = {line_id: i for i, line_id in enumerate(statement_ids)}
            if any(fact not in position for fact in facts):
                raise _malformed(path, number, line, f"supporting facts {facts} are not statements")
            examples.append(
                {
                    "story": [lines[i] for i in statement_ids],
                    "question": tokens,
                    "answer": answer,
                    "supporting_facts": [position[fact] for fact in facts],
                }
            )
    if not examples:
        raise ValueError(f"Argument `path` holds no bAbI question. Received: path={path!r}")
    return examples


class _World:
    """People carry objects between places; the log of statements is the story."""

    def __init__(self, rng):
        self.rng = rng
        self.story, self.where, self.holder, self.history = [], {}, {}, {}

    def _say(self, text):
        self.story.append(tokenize(text))
        return len(self.story) - 1

    def move(self, person):
        place = self.rng.choice([p for p in _PLACES if p != self.where.get(person, (None,))[0]])
        line = self._say(f"{person} {self.rng.choice(_MOVES)} the {place}")
        self.where[person] = (place, line)
        for obj, (holder, _) in self.holder.items():
            if holder == person:
                self.history.setdefault(obj, []).append((place, line))

    def grab_or_drop(self, person):
        held = [o for o, (h, _) in self.holder.items() if h == person]
        free = [o for o in _OBJECTS if o not in self.holder]
        if held and (not free or self.rng.random() < 0.5):
            obj = self.rng.choice(held)
            self._say(f"{person} {self.rng.choice(_DROPS)} the {obj}")
            del self.holder[obj]
        elif free:
            obj = self.rng.choice(free)
            line = self._say(f"{person} {self.rng.choice(_GRABS)} the {obj}")
            self.holder[obj] = (person, line)
            self.history[obj] = [self.where[person]]

    def step(self, task):
        person = self.rng.choice([p for p in _PEOPLE if p in self.where] or _PEOPLE)
        if task == 1 or person not in self.where or self.rng.random() < 0.6:
            self.move(self.rng.choice(_PEOPLE))
        else:
            self.grab_or_drop(person)

    def question(self, task):
        """A (question, answer, supporting statement indices) pair, or None if none is askable."""
        if task == 1:
            person = self.rng.choice(list(self.where))
            place, line = self.where[person]
            return f"where is {person}", place, [line]
        held = [o for o in self.holder if self.where.get(self.holder[o][0])]
        if task == 2 and held:
            obj = self.rng.choice(held)
            person, grab = self.holder[obj]
            place, line = self.where[person]
            return f"where is the {obj}", place, sorted({grab, line})
        moved = [o for o, h in self.history.items() if len(h) >= 2]
        if task == 3 and moved:
            obj = self.rng.choice(moved)
            (before, line_a), (after, line_b) = self.history[obj][-2:]
            return f"where was the {obj} before the {after}", before, [line_a, line_b]
        return None


def generate_babi(num_examples, task=1, seed=0, story_length=(2, 12)):
    """Generates bAbI-like examples of tasks 1-3 ("where is X", "where was the O before P").

    Task 1 needs one supporting fact (the person's last move), task 2 two (who holds the
    object, where that person went), task 3 three-fact style history ("where was the
    apple before the kitchen"). The vocabulary and phrasing follow the bAbI release.

    Args:
        num_examples: int. Number of questions.
        task: int. 1, 2 or 3. Defaults to `1`.
        seed: int. Seed of the random world. Defaults to `0`.
        story_length: (int, int). Range of statements per story before its question.

    Returns:
        A list of examples in `read_babi`'s format.

    Example:

    ```python
    from keras_dlss.datasets import generate_babi

    example = generate_babi(1, task=2, seed=1)[0]
    print(example["question"], example["answer"], example["supporting_facts"])
    ```
    """
    if isinstance(num_examples, bool) or not isinstance(num_examples, int) or num_examples < 1:
        raise ValueError(
            f"Argument `num_examples` must be an integer >= 1. Received: num_examples={num_examples!r}"
        )
    if task not in (1, 2, 3):
        raise ValueError(f"Argument `task` must be one of [1, 2, 3]. Received: task={task!r}")
    low, high = story_length
    if not 1 <= low <= high:
        raise ValueError(
            f"Argument `story_length` must be (low, high) with 1 <= low <= high. Received: story_length={story_length!r}"
        )
    rng = np.random.default_rng(seed)
    examples = []
    while len(examples) < num_examples:
        world = _World(rng)
        for _ in range(int(rng.integers(low, high + 1))):
            world.step(task)
        for _ in range(4 * high):  # keep acting until the story can ask this task's question
            qa = world.question(task) if world.where else None
            if qa is not None:
                break
            world.step(task)
        if qa is None:
            continue
        question, answer, facts = qa
        examples.append(
            {
                "story": [list(s) for s in world.story],
                "question": tokenize(question),
                "answer": str(answer),
                "supporting_facts": [int(f) for f in facts],
            }
        )
    return examples


def babi_vocabulary(*example_lists):
    """A `Vocabulary` (id 0 padding, 1 unknown) of every story, question and answer word."""

    def words():
        for examples in example_lists:
            for ex in examples:
                yield from ex["story"]
                yield ex["question"]
                yield [ex["answer"]]

    return Vocabulary.build(words())


def vectorize_babi(examples, vocabulary, memory_size=50, sentence_length=None):
    """Encodes examples as `(stories, questions, answers)` id arrays.

    Args:
        examples: list of examples from `read_babi` or `generate_babi`.
        vocabulary: a `keras_dlss.datasets.Vocabulary` (see `babi_vocabulary`).
        memory_size: int. Keep the `memory_size` most recent statements (the paper's 50).
        sentence_length: int or None. Words per sentence (longer ones are cut);
            None uses the longest sentence or question.

    Returns:
        `stories` `[N, memory_size, sentence_length]` int32 (slot 0 = most recent
        statement, 0 = padding), `questions` `[N, sentence_length]` int32, and
        `answers` `[N]` int32 word ids.
    """
    if isinstance(memory_size, bool) or not isinstance(memory_size, int) or memory_size < 1:
        raise ValueError(
            f"Argument `memory_size` must be an integer >= 1. Received: memory_size={memory_size!r}"
        )
    if sentence_length is None:
        sentence_length = max(
            max([len(s) for ex in examples for s in ex["story"]] + [1]),
            max(len(ex["question"]) for ex in examples),
        )
    n = len(examples)
    stories = np.zeros((n, memory_size, sentence_length), "int32")
    questions = np.zeros((n, sentence_length), "int32")
    answers = np.zeros((n,), "int32")
    for i, ex in enumerate(examples):
        recent = ex["story"][::-1][:memory_size]
        if recent:
            stories[i, : len(recent)] = vocabulary.encode(recent, max_length=sentence_length)
        questions[i] = vocabulary.encode([ex["question"]], max_length=sentence_length)[0]
        answers[i] = vocabulary.encode([[ex["answer"]]], max_length=1)[0, 0]
    return stories, questions, answers
