"""MemN2N question answering (Sukhbaatar et al. 2015) and `keras-dlss train memn2n`.

`MemN2N` is `EndToEndMemory` followed by the answer matrix W (softmax over the word
vocabulary: a bAbI answer is one word, or one comma-joined token for path finding).
The `memn2n` task trains it jointly on generated bAbI-like stories of tasks 1-3
(`keras_dlss.datasets.generate_babi`), or on the user's bAbI files with `--data` (a
`qaN_*_train.txt` file, whose `_test.txt` sibling is used as the test split when it
exists, or a folder of them for joint training).
"""

import glob
import os

import keras
import numpy as np

from keras_dlss._validation import check_positive_int
from keras_dlss.applications.base import Task, TaskData
from keras_dlss.applications.preset_compile import PresetCompile
from keras_dlss.datasets.babi import (
    babi_vocabulary,
    generate_babi,
    read_babi,
    tokenize,
    vectorize_babi,
)
from keras_dlss.layers.end_to_end_memory import EndToEndMemory, LinearStart


@keras.saving.register_keras_serializable(package="keras_dlss")
class MemN2N(PresetCompile, keras.Model):
    """End-to-end memory network for bAbI-style question answering.

    Inputs are a dict `{"story": [batch, memory_size, sentence_length],
    "question": [batch, sentence_length]}` of word ids; the output is answer
    probabilities over the vocabulary. `compile()` with no arguments uses Adam
    (learning rate 0.01, gradient norm clipped at 40 as in the paper), sparse
    categorical cross-entropy, accuracy and XLA.

    Args:
        vocabulary_size: int. Words, padding (0) included.
        memory_size: int. Memory slots (the paper keeps the 50 latest statements).
        sentence_length: int. Words per sentence and question.
        embedding_dim: int. Defaults to `20`.
        hops: int. Defaults to `3`.
        weight_tying: str. `"adjacent"` or `"layerwise"`. Defaults to `"adjacent"`.
        position_encoding: bool or str. `True` or `"paper"` (Sec. 4.1), `"released_code"`
            (the authors' released formula), or `False` (bag of words). Defaults to `True`.
        temporal_encoding: bool. Defaults to `True`.
        linear_start: bool. Defaults to `True` (pair with the `LinearStart` callback).
        learning_rate: float. Preset Adam learning rate. Defaults to `0.01`.
        random_noise: float. In training, the rate of empty memories inserted between
            statements (RN, Sec. 4.1; the paper's 0.1). Defaults to `0.0`.
        tied_answer: bool. With adjacent tying, the answer matrix is the last hop's output
            embedding (`W^T = C^K`, Sec. 2.2) instead of a separate `Dense`.
            Defaults to `False`.

    Example:

    ```python
    from keras_dlss.applications import MemN2N
    from keras_dlss.datasets import babi_vocabulary, generate_babi, vectorize_babi

    examples = generate_babi(32, task=1)
    vocab = babi_vocabulary(examples)
    stories, questions, answers = vectorize_babi(examples, vocab, memory_size=12)
    model = MemN2N(len(vocab.tokens), 12, stories.shape[-1], linear_start=False)
    model.compile(jit_compile=False)  # the preset, without XLA's compile time for one step
    model.fit({"story": stories, "question": questions}, answers, epochs=1, verbose=0)
    ```

    References:
        Sukhbaatar et al. 2015, https://arxiv.org/abs/1503.08895.
    """

    def __init__(
        self,
        vocabulary_size,
        memory_size,
        sentence_length,
        embedding_dim=20,
        hops=3,
        weight_tying="adjacent",
        position_encoding=True,
        temporal_encoding=True,
        linear_start=True,
        learning_rate=0.01,
        random_noise=0.0,
        tied_answer=False,
        **kwargs,
    ):
        memory_size = check_positive_int("memory_size", memory_size)
        sentence_length = check_positive_int("sentence_length", sentence_length)
        story = keras.Input((memory_size, sentence_length), dtype="int32", name="story")
        question = keras.Input((sentence_length,), dtype="int32", name="question")
        memory = EndToEndMemory(
            vocabulary_size,
            embedding_dim,
            hops,
            weight_tying=weight_tying,
            position_encoding=position_encoding,
            temporal_encoding=temporal_encoding,
            linear_start=linear_start,
            random_noise=random_noise,
            tied_answer=tied_answer,
            name="memory",
        )
        state = memory([story, question])
        if tied_answer:
            answer = keras.layers.Activation("softmax", name="answer")(state)
        else:
            answer = keras.layers.Dense(
                vocabulary_size,
                use_bias=False,
                activation="softmax",
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.1),
                name="answer",
            )(state)
        super().__init__(inputs={"story": story, "question": question}, outputs=answer, **kwargs)
        self.vocabulary_size = vocabulary_size
        self.memory_size = memory_size
        self.sentence_length = sentence_length
        self.embedding_dim = embedding_dim
        self.hops = hops
        self.weight_tying = weight_tying
        self.position_encoding = position_encoding
        self.temporal_encoding = temporal_encoding
        self.linear_start = linear_start
        self.learning_rate = learning_rate
        self.random_noise = random_noise
        self.tied_answer = tied_answer

    def compile(self, optimizer="auto", loss="auto", metrics="auto", jit_compile=True, **kwargs):
        """Compiles with the preset (Adam, clipnorm 40) unless told otherwise (XLA by default)."""
        self._compile_classifier(
            optimizer,
            loss,
            metrics,
            jit_compile,
            kwargs,
            preset_optimizer=lambda: keras.optimizers.Adam(self.learning_rate, clipnorm=40.0),
        )

    def memory_attention(self, inputs):
        """`[batch, hops, memory_size]` attention of each hop over the story's memories."""
        return self.get_layer("memory").memory_attention([inputs["story"], inputs["question"]])

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "vocabulary_size": self.vocabulary_size,
            "memory_size": self.memory_size,
            "sentence_length": self.sentence_length,
            "embedding_dim": self.embedding_dim,
            "hops": self.hops,
            "weight_tying": self.weight_tying,
            "position_encoding": self.position_encoding,
            "temporal_encoding": self.temporal_encoding,
            "linear_start": self.linear_start,
            "learning_rate": self.learning_rate,
            "random_noise": self.random_noise,
            "tied_answer": self.tied_answer,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _babi_files(path):
    """(train files, test files) of a bAbI file or folder."""
    if os.path.isdir(path):
        train = sorted(glob.glob(os.path.join(path, "*_train.txt")))
        if not train:
            raise ValueError(
                f"Argument `data` must hold bAbI `*_train.txt` files. Received: data={path!r}"
            )
    else:
        train = [path]
    test = [f.replace("_train.txt", "_test.txt") for f in train]
    return train, [f for f in test if f != path and os.path.isfile(f)]


def load_babi_task_data(path=None, seed=0, memory_size=50, limit=None):
    """`TaskData` of `{"story", "question"}` -> answer ids from bAbI files or generated stories."""
    rng = np.random.default_rng(seed)
    if path is None:
        train = [ex for t in (1, 2, 3) for ex in generate_babi(600, task=t, seed=seed + t)]
        test = [ex for t in (1, 2, 3) for ex in generate_babi(200, task=t, seed=seed + 10 + t)]
        source = "generated bAbI-like tasks 1-3"
    else:
        train_files, test_files = _babi_files(str(path))
        train = [ex for f in train_files for ex in read_babi(f)]
        test = [ex for f in test_files for ex in read_babi(f)]
        source = str(path)
    train = [train[i] for i in rng.permutation(len(train))]
    n_val = max(1, len(train) // 10)
    validation, train = train[:n_val], train[n_val:]
    if not test:  # one file without a test sibling: hold out another tenth
        test, train = train[:n_val], train[n_val:]
    vocab = babi_vocabulary(train, validation, test)
    sentence_length = max(
        max(len(s) for ex in train for s in ex["story"]), max(len(ex["question"]) for ex in train)
    )

    def arrays(examples):
        s, q, a = vectorize_babi(examples, vocab, memory_size, sentence_length)
        return {"story": s, "question": q}, a

    info = {
        "source": source,
        "vocabulary": vocab.tokens,
        "memory_size": memory_size,
        "sentence_length": sentence_length,
    }
    return TaskData(arrays(train), arrays(validation), arrays(test), info)


class MemN2NTask(Task):
    name = "memn2n"
    summary = "end-to-end memory network (3 hops, PE, TE, linear start): bAbI question answering"
    default_data = "generated: bAbI-like stories of tasks 1-3 (keras_dlss.datasets.generate_babi)"
    default_epochs = 40
    default_batch_size = 32
    monitor = "val_loss"
    patience = 10
    options = {
        "hops": {"type": int, "help": "memory hops K (default 3)"},
        "embedding-dim": {"type": int, "help": "embedding dimension d (default 20)"},
        "weight-tying": {"choices": ["adjacent", "layerwise"], "help": "default adjacent"},
    }

    def load_data(self, path=None, seed=0):
        # Generated stories hold at most ~20 statements; real bAbI files keep the paper's 50.
        return load_babi_task_data(path, seed, memory_size=20 if path is None else 50)

    def build_model(self, data, *, jit_compile=True, seed=0, **hparams):
        info = data.info
        model = MemN2N(
            len(info["vocabulary"]), info["memory_size"], info["sentence_length"], **hparams
        )
        model.compile(jit_compile=jit_compile)
        return model

    def fit(self, model, data, *, epochs, batch_size, callbacks, verbose=1):
        callbacks = [*list(callbacks or []), LinearStart(max_epochs=max(1, epochs // 4))]
        return super().fit(
            model, data, epochs=epochs, batch_size=batch_size, callbacks=callbacks, verbose=verbose
        )

    def search_space(self, hp):
        return {
            "hops": hp.Int("hops", 1, 3),
            "embedding_dim": hp.Choice("embedding_dim", [20, 40]),
            "weight_tying": hp.Choice("weight_tying", ["adjacent", "layerwise"]),
        }

    def predict(self, model, inputs, metadata):
        """Each input is `statement. statement. ... question?`; the last sentence is the question."""
        from keras_dlss.datasets.conll import Vocabulary

        vocab = Vocabulary(metadata["vocabulary"])
        examples = []
        for text in inputs:
            sentences = [tokenize(s) for s in text.replace("?", ".").split(".") if tokenize(s)]
            if len(sentences) < 2:
                raise ValueError(
                    "Argument `inputs` must be statements then a question, separated by '.'. "
                    f"Received: {text!r}"
                )
            examples.append({"story": sentences[:-1], "question": sentences[-1], "answer": "<pad>"})
        s, q, _ = vectorize_babi(
            examples, vocab, metadata["memory_size"], metadata["sentence_length"]
        )
        probs = model.predict({"story": s, "question": q}, verbose=0)
        return [f"{vocab.tokens[int(i)]} (p={p[i]:.3f})" for p, i in zip(probs, probs.argmax(-1))]
