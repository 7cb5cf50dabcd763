"""`keras-dlss train seq2seq`: human-written dates -> ISO dates with attention.

The embedded default data is generated (`keras_dlss.datasets.dates`); `--data`
takes a tab-separated file of `source<TAB>target` lines instead. Inputs and
outputs are character sequences. Metrics include exact-match accuracy under
greedy and beam decoding; artifacts include an attention heatmap.
"""

import os

import keras
import numpy as np

from keras_dlss.applications.base import Task, TaskData
from keras_dlss.applications.seq2seq import ATTENTIONS, REGIMES, Seq2SeqTranslator

PAD, UNK = 0, 1  # source ids
START, END = 1, 2  # target ids (0 is padding, ignored by the loss)
MAX_SOURCE_LENGTH = 64


def _read_pairs(path):
    pairs = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            if "\t" not in line:
                raise ValueError(
                    f"Argument `path` must be a file of `source<TAB>target` lines. "
                    f"Received: line {number} of {path!r} without a tab: {line[:60]!r}"
                )
            source, target = line.split("\t", 1)
            pairs.append((source, target))
    if len(pairs) < 10:
        raise ValueError(
            f"Argument `path` must hold at least 10 pairs. Received: {len(pairs)} in {path!r}"
        )
    return pairs


def encode_sources(texts, info):
    """Lowercased characters -> `[N, source_length]` ids (0 = padding, 1 = unknown)."""
    index = {ch: i for i, ch in enumerate(info["source_vocab"])}
    out = np.zeros((len(texts), info["source_length"]), "int32")
    for row, text in enumerate(texts):
        ids = [index.get(ch, UNK) for ch in text.lower()[: info["source_length"]]]
        out[row, : len(ids)] = ids
    return out


def encode_targets(texts, info):
    index = {ch: i for i, ch in enumerate(info["target_vocab"])}
    out = np.zeros((len(texts), info["target_length"]), "int32")
    for row, text in enumerate(texts):
        ids = [index[ch] for ch in text[: info["target_length"] - 1]] + [END]
        out[row, : len(ids)] = ids
    return out


def decode_targets(ids, info):
    """`[..., T]` target ids -> strings, cut at the first end token."""
    vocab = info["target_vocab"]
    ids = np.asarray(ids)
    flat = ids.reshape(-1, ids.shape[-1])
    texts = []
    for row in flat:
        chars = []
        for i in row:
            if i == END:
                break
            if i > END:
                chars.append(vocab[i])
        texts.append("".join(chars))
    return np.array(texts, dtype=object).reshape(ids.shape[:-1]).tolist()


def compile_translator(model, learning_rate, jit_compile):
    """Teacher-forced token cross-entropy (padding id 0 ignored), clipped Adam, accuracy."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    return model


def _vocabularies(train_pairs):
    source_chars = sorted({ch for s, _ in train_pairs for ch in s.lower()})
    target_chars = sorted({ch for _, t in train_pairs for ch in t})
    return {
        "source_vocab": ["<pad>", "<unk>", *source_chars],
        "target_vocab": ["<pad>", "<start>", "<end>", *target_chars],
        "source_length": min(MAX_SOURCE_LENGTH, max(len(s) for s, _ in train_pairs)),
        "target_length": max(len(t) for _, t in train_pairs) + 1,
    }


class Seq2SeqTask(Task):
    name = "seq2seq"
    summary = "attention seq2seq (BiLSTM -> attention LSTM): human-written dates -> ISO dates"
    default_data = "generated: keras_dlss.datasets.dates (human-written dates, with noise)"
    default_epochs = 8
    default_batch_size = 64
    monitor = "val_loss"
    patience = 3

    def load_data(self, path=None, seed=0):
        if path is None:
            from keras_dlss.datasets.dates import load_dates

            splits = load_dates(num_train=6000, num_validation=500, num_test=500, seed=seed)
            train, validation, test = splits["train"], splits["validation"], splits["test"]
        else:
            pairs = _read_pairs(path)
            rng = np.random.default_rng(seed)
            order = rng.permutation(len(pairs))
            n_test = max(1, len(pairs) // 10)
            test = [pairs[i] for i in order[:n_test]]
            validation = [pairs[i] for i in order[n_test : 2 * n_test]]
            train = [pairs[i] for i in order[2 * n_test :]]
        info = _vocabularies(train)

        def arrays(pairs):
            source = encode_sources([s for s, _ in pairs], info)
            target = encode_targets([t for _, t in pairs], info)
            return {"source": source, "target": target}, target

        info["test_sources"] = [s for s, _ in test[:4]]
        return TaskData(arrays(train), arrays(validation), arrays(test), info)

    def build_model(
        self,
        data,
        *,
        jit_compile=True,
        seed=0,
        units=64,
        embedding_dim=32,
        attention="bahdanau",
        regime="teacher_forcing",
        learning_rate=3e-3,
        dropout=0.0,
    ):
        info = data.info
        model = Seq2SeqTranslator(
            source_vocab_size=len(info["source_vocab"]),
            target_vocab_size=len(info["target_vocab"]),
            embedding_dim=embedding_dim,
            units=units,
            attention=attention,
            regime=regime,
            start_id=START,
            end_id=END,
            max_output_length=info["target_length"],
            dropout=dropout,
            seed=seed,
        )
        return compile_translator(model, learning_rate, jit_compile)

    def fit(self, model, data, *, epochs, batch_size, callbacks, verbose=1):
        callbacks = list(callbacks or [])
        if model.regime == "scheduled_sampling":
            from keras_dlss.callbacks import ScheduledSampling
            from keras_dlss.schedules import InverseSigmoidDecay

            steps = epochs * int(np.ceil(len(data.train[1]) / batch_size))
            # k chosen so epsilon reaches ~0.5 around 60% of training.
            k = max(1.0, steps / 8.0)
            callbacks.append(ScheduledSampling(InverseSigmoidDecay(k), update="batch"))
        return super().fit(
            model, data, epochs=epochs, batch_size=batch_size, callbacks=callbacks, verbose=verbose
        )

    def exact_match(self, model, data, beam_width=None, batch_size=256):
        source, target = data.test[0]["source"], data.test[1]
        truth = decode_targets(target, data.info)
        predictions = []
        for i in range(0, len(source), batch_size):
            chunk = source[i : i + batch_size]
            if beam_width is None:
                ids = model.greedy_search(chunk)[0]
            else:
                ids = model.beam_search(chunk, beam_width=beam_width)[0][:, 0]
            predictions += decode_targets(keras.ops.convert_to_numpy(ids), data.info)
        return float(np.mean([p == t for p, t in zip(predictions, truth)]))

    def evaluate(self, model, data):
        metrics = super().evaluate(model, data)
        metrics["test_exact_match_greedy"] = self.exact_match(model, data)
        metrics["test_exact_match_beam4"] = self.exact_match(model, data, beam_width=4)
        return metrics

    def save_artifacts(self, model, data, out_dir):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        info = data.info
        texts, outputs, weights = self._attention(model, info)
        fig, axes = plt.subplots(1, len(texts[:2]), figsize=(6 * len(texts[:2]), 4), squeeze=False)
        for ax, text, out, w in zip(axes[0], texts, outputs, weights):
            n_in, n_out = min(len(text), info["source_length"]), len(out) + 1
            ax.imshow(w[:n_out, :n_in], cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
            ax.set_xticks(range(n_in), list(text.lower()[:n_in]))
            ax.set_yticks(range(n_out), [*out, "</s>"])
            ax.set_title(f"{text!r} -> {out!r}", fontsize=9)
        fig.suptitle("Attention weights (rows: output characters, columns: input characters)")
        fig.tight_layout()
        path = os.path.join(out_dir, "attention.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return [path]

    @staticmethod
    def _attention(model, info, n=2):
        """(source texts, greedy outputs, attention weights [n, T_out, T_in]) for test sources."""
        texts = (info.get("test_sources") or ["3rd of march 1987"])[:n]
        source = encode_sources(texts, info)
        predicted = keras.ops.convert_to_numpy(model.greedy_search(source)[0])
        weights = keras.ops.convert_to_numpy(model.attention_weights(source, predicted))
        return texts, decode_targets(predicted, info), weights

    def tensorboard_images(self, model, data):
        texts, outputs, weights = self._attention(model, data.info)
        maps = [
            w[: len(out) + 1, : min(len(text), data.info["source_length"])]
            for text, out, w in zip(texts, outputs, weights)
        ]
        return {f"attention/{i}": m for i, m in enumerate(maps)}

    def predict(self, model, inputs, metadata):
        source = encode_sources(list(inputs), metadata)
        sequences, scores = model.beam_search(source, beam_width=4)
        texts = decode_targets(keras.ops.convert_to_numpy(sequences), metadata)
        scores = keras.ops.convert_to_numpy(scores)
        lines = []
        for text, beams, beam_scores in zip(inputs, texts, scores):
            options = " | ".join(f"{b} ({s:.3f})" for b, s in zip(beams, beam_scores))
            lines.append(f"{text} -> {options}")
        return lines

    def search_space(self, hp):
        return {
            "units": hp.Choice("units", [32, 64, 128]),
            "attention": hp.Choice("attention", list(ATTENTIONS)),
            "regime": hp.Choice("regime", list(REGIMES[:2])),
            "learning_rate": hp.Float("learning_rate", 1e-3, 1e-2, sampling="log"),
        }
