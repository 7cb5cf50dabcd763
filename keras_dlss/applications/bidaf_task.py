"""`keras-dlss train bidaf`: extractive reading comprehension with BiDAF (Seo et al. 2017).

The embedded default is `datasets.generate_reading_comprehension` (generated paragraphs,
2 questions each: 1,600 training, 200 validation and 400 test questions). `--data FILE` reads
a SQuAD v1.1 JSON file; its `dev` sibling (`train-v1.1.json` -> `dev-v1.1.json`) is the test
split when it exists, otherwise a tenth of the questions is held out. Contexts are cut at the
longest training context or `--max-context-length` words, and questions whose answer the cut
removes are dropped (their count is in `metadata.json`).

Besides the loss and per-pointer accuracy, `evaluate` decodes spans with `best_span` and
reports SQuAD exact match and F1 (`test_exact_match`, `test_f1`, in percent) against the gold
answer strings, read from the context's characters as the official script compares them.
"""

import os

import numpy as np

from keras_dlss.applications.base import Task, TaskData
from keras_dlss.datasets.conll import Vocabulary
from keras_dlss.datasets.squad import (
    generate_reading_comprehension,
    parse_squad,
    read_squad_json,
    squad_vocabulary,
    tokenize_with_offsets,
    vectorize_squad,
)

MAX_ANSWER_LENGTH = 15  # words; SQuAD answers are short (Seo et al. decode without a bound)


def _splits(path, seed):
    if path is None:
        return (
            parse_squad(generate_reading_comprehension(800, seed=seed)),
            parse_squad(generate_reading_comprehension(100, seed=seed + 1)),
            parse_squad(generate_reading_comprehension(200, seed=seed + 2)),
            "generated reading comprehension (keras_dlss.datasets.generate_reading_comprehension)",
        )
    path = str(path)
    train = read_squad_json(path)
    dev = os.path.join(os.path.dirname(path), os.path.basename(path).replace("train", "dev"))
    test = read_squad_json(dev) if dev != path and os.path.isfile(dev) else None
    order = np.random.default_rng(seed).permutation(len(train))
    train = [train[i] for i in order]
    n = max(1, len(train) // 10)
    validation, train = train[:n], train[n:]
    if test is None:
        test, train = train[:n], train[n:]
    return train, validation, test, path


def load_reading_data(path=None, seed=0, max_context_length=300, max_question_length=40):
    """`(TaskData, test examples)`: `{"context", "question"}` ids -> `[N, 2]` spans."""
    train, validation, test, source = _splits(path, seed)
    vocab = squad_vocabulary(train)
    context_length = min(max_context_length, max(len(ex["context_tokens"]) for ex in train))
    question_length = min(max_question_length, max(len(ex["question_tokens"]) for ex in train))
    dropped, kept_test = {}, []

    def arrays(examples, name):
        c, q, spans = vectorize_squad(examples, vocab, context_length, question_length)
        keep = spans[:, 1] >= 0
        dropped[name] = int((~keep).sum())
        if name == "test":
            kept_test.extend(ex for ex, k in zip(examples, keep) if k)
        return {"context": c[keep], "question": q[keep]}, spans[keep]

    splits = [
        arrays(examples, name)
        for examples, name in ((train, "train"), (validation, "validation"), (test, "test"))
    ]
    info = {
        "source": source,
        "vocabulary": vocab.tokens,
        "context_length": int(context_length),
        "question_length": int(question_length),
        "dropped_answers_past_context_length": dropped,
    }
    return TaskData(*splits, info), kept_test


def answer_text(example, start, end):
    """The context's characters from word `start` to word `end` (inclusive)."""
    offsets = example["context_offsets"]
    return example["context"][offsets[start][0] : offsets[end][1]]


def decode_answers(model, x, examples, batch_size=64):
    """Answer strings for `examples` (their arrays `x`) via `best_span`."""
    from keras_dlss.decoding import best_span

    logits = model.predict(x, batch_size=batch_size, verbose=0)
    start, end, _ = best_span(
        logits[:, 0], logits[:, 1], x["context"] > 0, max_answer_length=MAX_ANSWER_LENGTH
    )
    start, end = np.asarray(start), np.asarray(end)
    return [answer_text(ex, int(s), int(e)) for ex, s, e in zip(examples, start, end)]


class BiDAFTask(Task):
    name = "bidaf"
    summary = "BiDAF span-selection reader (bidirectional attention flow): SQuAD-style QA"
    default_data = (
        "generated: templated paragraphs with span-answer questions "
        "(keras_dlss.datasets.generate_reading_comprehension); --data takes SQuAD v1.1 JSON"
    )
    data_license = "generated"
    default_epochs = 15
    default_batch_size = 32
    monitor = "val_loss"
    patience = 3
    options = {
        "units": {"type": int, "help": "LSTM units per direction d (default 32)"},
        "embedding-dim": {"type": int, "help": "word embedding size (default 50)"},
        "modeling-layers": {"type": int, "help": "modelling BiLSTM layers (default 2)"},
        "max-context-length": {"type": int, "help": "cut contexts at this many words (300)"},
    }
    data_options = ("max_context_length",)

    def __init__(self):
        self._test_examples = []

    def load_data(self, path=None, seed=0, max_context_length=300):
        data, self._test_examples = load_reading_data(path, seed, max_context_length)
        return data

    def build_model(self, data, *, jit_compile=True, seed=0, **hparams):
        from keras_dlss.applications.bidaf import BiDAF

        model = BiDAF(len(data.info["vocabulary"]), **hparams)
        model.compile(jit_compile=jit_compile)
        return model

    def evaluate(self, model, data):
        results = super().evaluate(model, data)
        x, _ = data.test
        examples = self._test_examples[: len(x["context"])]  # `--limit` cuts the arrays' heads
        if len(examples) == len(x["context"]):
            from keras_dlss.metrics.squad import squad_exact_match, squad_f1

            predicted = decode_answers(model, x, examples)
            golds = [ex["answers"] for ex in examples]
            results["test_exact_match"] = squad_exact_match(predicted, golds)
            results["test_f1"] = squad_f1(predicted, golds)
        return results

    def search_space(self, hp):
        return {
            "units": hp.Choice("units", [16, 32, 64]),
            "embedding_dim": hp.Choice("embedding_dim", [32, 50, 100]),
            "modeling_layers": hp.Int("modeling_layers", 1, 2),
        }

    def predict(self, model, inputs, metadata):
        """Each input is `context | question`; prints the answer span and its probability."""
        from keras_dlss.decoding import best_span

        vocab = Vocabulary(metadata["vocabulary"])
        out = []
        for text in inputs:
            context, sep, question = text.rpartition("|")
            tokens, offsets = tokenize_with_offsets(context)
            question_tokens = tokenize_with_offsets(question)[0]
            if not sep or not tokens or not question_tokens:
                raise ValueError(
                    "Argument `inputs` must be 'context | question' with both non-empty. "
                    f"Received: {text!r}"
                )
            x = {
                "context": vocab.encode([tokens], len(tokens)).astype("int32"),
                "question": vocab.encode([question_tokens], len(question_tokens)).astype("int32"),
            }
            logits = model.predict(x, verbose=0)
            s, e, p = best_span(logits[:, 0], logits[:, 1], max_answer_length=MAX_ANSWER_LENGTH)
            s, e = int(np.asarray(s)[0]), int(np.asarray(e)[0])
            answer = context[offsets[s][0] : offsets[e][1]]
            out.append(f"{answer} (words {s}-{e}, p={float(np.asarray(p)[0]):.3f})")
        return out
