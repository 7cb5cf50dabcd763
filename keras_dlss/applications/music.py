"""Music generation over performance events: Performance RNN and Music Transformer.

Both models read and predict the 388-event performance vocabulary of Oore et
al. (plus a START and an END token) and generate with
`keras_dlss.decoding.sample` (temperature, top-k, nucleus) through a step
function with a cache, so each new token costs one position, not a whole
forward pass. `PerformanceRNN` is an LSTM language model over events (Simon &
Oore, 2017); `MusicTransformer` is a decoder-only Transformer with relative
self-attention computed by the memory-efficient skew (Huang et al., 2018).

References:
    - Simon & Oore, "Performance RNN", Magenta 2017; Oore et al., "This Time
      with Feeling", 2018. https://arxiv.org/abs/1808.03715
    - Huang et al., "Music Transformer", 2018. https://arxiv.org/abs/1809.04281
"""

import os

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.applications.base import Task, TaskData, compiled
from keras_dlss.datasets import music
from keras_dlss.layers.transformer import TransformerDecoderBlock

__all__ = [
    "MusicTransformer",
    "MusicTransformerTask",
    "PerformanceRNN",
    "PerformanceRNNTask",
    "generate_performance",
    "plot_piano_roll",
]


def _override_tokens(tokens, state):
    """Feeds the primer's last token instead of START at the first step."""
    override = state["override"]
    tokens = ops.where(override >= 0, override, ops.cast(tokens, "int32"))
    return tokens, ops.full_like(override, -1)


def _primer_state(primer, batch_size):
    """`(prefill tokens [B, P] or None, override [B])` for a primer without START."""
    if primer is None or len(primer) == 0:
        return None, np.full((batch_size,), -1, "int32")
    primer = np.asarray(primer, "int32").reshape(-1)
    prefill = np.concatenate([[music.START_ID], primer[:-1]]).astype("int32")
    return np.tile(prefill, (batch_size, 1)), np.full((batch_size,), primer[-1], "int32")


@keras.saving.register_keras_serializable(package="keras_dlss")
class MusicTransformer(keras.Model):
    """Decoder-only Transformer with relative self-attention over performance events.

    Token embedding (scaled by `sqrt(hidden_dim)`), `num_layers` pre-norm
    `TransformerDecoderBlock`s with `RelativeMultiHeadAttention` (no absolute
    positions: the relative term carries order), a final layer norm and a
    float32 vocabulary projection (logits).

    Args:
        vocabulary_size: int. Defaults to 390 (388 events + START + END).
        num_layers: int. Defaults to `2`.
        hidden_dim: int. Defaults to `128`.
        num_heads: int. Defaults to `4`.
        intermediate_dim: int. Feed-forward width. Defaults to `256`.
        max_relative_position: int. Clipping distance of relative attention.
            Defaults to `256`.
        dropout: float. Defaults to `0.1`.
        **kwargs: `keras.Model` arguments.

    Call: int tokens `[B, T]` -> float32 logits `[B, T, vocabulary_size]`.

    Example:

    ```python
    model = MusicTransformer(num_layers=2, hidden_dim=64)
    logits = model(np.zeros((2, 32), "int32"))  # (2, 32, 390)
    events = generate_performance(model, length=64, seed=0)
    ```

    References:
        Huang et al., 2018, https://arxiv.org/abs/1809.04281.
    """

    def __init__(
        self,
        vocabulary_size=music.VOCABULARY_SIZE,
        num_layers=2,
        hidden_dim=128,
        num_heads=4,
        intermediate_dim=256,
        max_relative_position=256,
        dropout=0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size, minimum=2)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.intermediate_dim = check_positive_int("intermediate_dim", intermediate_dim)
        self.max_relative_position = check_positive_int(
            "max_relative_position", max_relative_position
        )
        self.dropout = float(check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False))
        self.embedding = keras.layers.Embedding(vocabulary_size, hidden_dim, name="token_embedding")
        self.embedding_dropout = keras.layers.Dropout(dropout, name="embedding_dropout")
        self.blocks = [
            TransformerDecoderBlock(
                num_heads,
                intermediate_dim,
                max_relative_position=max_relative_position,
                dropout=dropout,
                name=f"decoder_block_{i}",
            )
            for i in range(num_layers)
        ]
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        self.head = keras.layers.Dense(vocabulary_size, dtype="float32", name="logits")

    @property
    def input_dtype(self):
        # Token ids: export signatures and input conversion use int32, not floats.
        return "int32"

    def _build_layers(self):
        """Builds sublayers for decoding without calling the model (keeps its export shape)."""
        if self.head.built:
            return
        self.embedding.build((None, None))
        for block in self.blocks:
            block.build((None, None, self.hidden_dim))
        self.final_norm.build((None, None, self.hidden_dim))
        self.head.build((None, None, self.hidden_dim))

    def _embed(self, tokens, training=None):
        x = self.embedding(tokens) * ops.cast(self.hidden_dim**0.5, self.compute_dtype)
        return self.embedding_dropout(x, training=training)

    def call(self, tokens, training=None):
        x = self._embed(tokens, training)
        for block in self.blocks:
            x = block(x, training=training)
        return self.head(self.final_norm(x))

    def initial_decoding_state(self, batch_size, max_length, primer=None):
        """State for `step`: caches of `max_length` positions, prefilled with `primer`."""
        self._build_layers()
        prefill, override = _primer_state(primer, batch_size)
        caches = [block.initial_cache(batch_size, max_length) for block in self.blocks]
        index = 0
        if prefill is not None:
            x = self._embed(prefill)
            for i, block in enumerate(self.blocks):
                x, caches[i] = block(x, cache=caches[i], cache_update_index=0)
            index = prefill.shape[1]
        return {
            "caches": tuple(caches),
            "index": ops.full((batch_size,), index, "int32"),
            "override": ops.convert_to_tensor(override),
        }

    def step(self, tokens, state):
        """Decoding step `([N] tokens, state) -> ([N, V] log-probs, state)`."""
        tokens, override = _override_tokens(tokens, state)
        index = state["index"][0]
        x = self._embed(tokens[:, None])
        caches = []
        for block, cache in zip(self.blocks, state["caches"]):
            x, cache = block(x, cache=cache, cache_update_index=index)
            caches.append(cache)
        logits = self.head(self.final_norm(x))[:, 0]
        new_state = {"caches": tuple(caches), "index": state["index"] + 1, "override": override}
        return ops.log_softmax(logits, axis=-1), new_state

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "num_layers": self.num_layers,
            "hidden_dim": self.hidden_dim,
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "max_relative_position": self.max_relative_position,
            "dropout": self.dropout,
        }


@keras.saving.register_keras_serializable(package="keras_dlss")
class PerformanceRNN(keras.Model):
    """LSTM language model over performance events (Performance RNN).

    Token embedding, `num_layers` stacked `keras.layers.LSTM`s with dropout,
    and a float32 vocabulary projection (logits).

    Args:
        vocabulary_size: int. Defaults to 390 (388 events + START + END).
        embedding_dim: int. Defaults to `64`.
        units: int. LSTM units per layer. Defaults to `256`.
        num_layers: int. Defaults to `2`.
        dropout: float. Dropout between layers. Defaults to `0.1`.
        **kwargs: `keras.Model` arguments.

    Call: int tokens `[B, T]` -> float32 logits `[B, T, vocabulary_size]`.

    Example:

    ```python
    model = PerformanceRNN(units=128)
    events = generate_performance(model, length=64, temperature=0.9, seed=0)
    ```

    References:
        Simon & Oore, 2017; Oore et al., 2018, https://arxiv.org/abs/1808.03715.
    """

    def __init__(
        self,
        vocabulary_size=music.VOCABULARY_SIZE,
        embedding_dim=64,
        units=256,
        num_layers=2,
        dropout=0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size, minimum=2)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.units = check_positive_int("units", units)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.dropout = float(check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False))
        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, name="token_embedding"
        )
        self.lstms = [
            keras.layers.LSTM(units, return_sequences=True, return_state=True, name=f"lstm_{i}")
            for i in range(num_layers)
        ]
        self.dropout_layer = keras.layers.Dropout(dropout, name="dropout")
        self.head = keras.layers.Dense(vocabulary_size, dtype="float32", name="logits")

    @property
    def input_dtype(self):
        # Token ids: export signatures and input conversion use int32, not floats.
        return "int32"

    def _build_layers(self):
        """Builds sublayers for decoding without calling the model (keeps its export shape)."""
        if self.head.built:
            return
        self.embedding.build((None, None))
        width = self.embedding_dim
        for lstm in self.lstms:
            lstm.build((None, None, width))
            width = self.units
        self.head.build((None, None, self.units))

    def _run(self, x, states, training=None):
        new_states = []
        for lstm, state in zip(self.lstms, states):
            x, h, c = lstm(x, initial_state=state, training=training)
            x = self.dropout_layer(x, training=training)
            new_states.append((h, c))
        return x, new_states

    def call(self, tokens, training=None):
        x, _ = self._run(self.embedding(tokens), [None] * self.num_layers, training)
        return self.head(x)

    def initial_decoding_state(self, batch_size, max_length=None, primer=None):
        """State for `step`: LSTM states after the primer (zeros without one)."""
        self._build_layers()
        prefill, override = _primer_state(primer, batch_size)
        zeros = ops.zeros((batch_size, self.units), self.compute_dtype)
        states = [[zeros, zeros] for _ in self.lstms]
        if prefill is not None:
            _, states = self._run(self.embedding(prefill), states)
        return {
            "h": tuple(s[0] for s in states),
            "c": tuple(s[1] for s in states),
            "override": ops.convert_to_tensor(override),
        }

    def step(self, tokens, state):
        """Decoding step `([N] tokens, state) -> ([N, V] log-probs, state)`."""
        tokens, override = _override_tokens(tokens, state)
        states = [[h, c] for h, c in zip(state["h"], state["c"])]
        x, states = self._run(self.embedding(tokens[:, None]), states)
        logits = self.head(x)[:, 0]
        new_state = {
            "h": tuple(s[0] for s in states),
            "c": tuple(s[1] for s in states),
            "override": override,
        }
        return ops.log_softmax(logits, axis=-1), new_state

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
        }


def generate_performance(
    model,
    primer=None,
    length=512,
    temperature=1.0,
    top_k=None,
    top_p=None,
    seed=None,
    jit_compile=True,
):
    """Continues `primer` (events) with `length` sampled events.

    Args:
        model: a `MusicTransformer` or `PerformanceRNN` (anything with
            `initial_decoding_state` and `step`).
        primer: optional int events (no START); the sample continues it.
        length: int. Events to sample (stops early at END).
        temperature: float > 0. Defaults to `1.0`.
        top_k: int or None. Sample among the k most probable events.
        top_p: float in (0, 1] or None. Nucleus sampling.
        seed: int or None.
        jit_compile: bool. Run the sampling loop as one XLA program (TensorFlow
            backend; a few seconds of compile, then fast). Defaults to `True`.

    Returns:
        int32 array of performance events: the primer then the continuation
        (START, END and padding removed).
    """
    from keras_dlss.decoding import sample

    length = check_positive_int("length", length)
    primer = None if primer is None else np.asarray(primer, "int32").reshape(-1)
    if (
        primer is not None
        and primer.size
        and (primer.min() < 0 or primer.max() >= music.NUM_EVENTS)
    ):
        raise ValueError(
            f"Argument `primer` must hold event tokens in [0, {music.NUM_EVENTS}). "
            f"Received: primer containing {int(primer.max())}"
        )
    state = model.initial_decoding_state(1, length + (0 if primer is None else primer.size), primer)

    def run(state):
        return sample(
            model.step,
            state,
            music.START_ID,
            music.END_ID,
            length,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
        )

    sequences, _ = compiled(run, jit_compile)(state)
    tokens = np.asarray(ops.convert_to_numpy(sequences))[0]
    end = np.flatnonzero(tokens == music.END_ID)
    tokens = tokens[: end[0]] if end.size else tokens
    tokens = tokens[tokens < music.NUM_EVENTS]
    prefix = np.zeros((0,), "int32") if primer is None else primer
    return np.concatenate([prefix, tokens]).astype("int32")


def plot_piano_roll(notes, path, title=None):
    """Saves a piano-roll PNG (time vs pitch, shade = velocity); returns `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4))
    for n in notes:
        ax.broken_barh(
            [(n.start, n.end - n.start)],
            (n.pitch - 0.4, 0.8),
            color=plt.cm.viridis(n.velocity / 127.0),
        )
    if notes:
        pitches = [n.pitch for n in notes]
        ax.set_ylim(min(pitches) - 2, max(pitches) + 2)
        ax.set_xlim(0, max(n.end for n in notes))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title or f"{len(notes)} notes")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- CLI tasks


def load_music_data(path=None, seed=0, window=128, num_pieces=32, transpositions=(0,)):
    """Windows of the embedded Bach chorales, or of the `.mid` files under `path`.

    Pieces (not windows) are split 80/10/10 into train/validation/test so no
    window of a test piece is seen in training.
    """
    if path is None:
        pieces = music.load_bach_chorales(num_pieces)
        source = f"music21 Bach chorales ({len(pieces)} pieces, embedded)"
    else:
        files = (
            [path]
            if os.path.isfile(path)
            else sorted(
                os.path.join(root, f)
                for root, _, names in os.walk(path)
                for f in names
                if f.lower().endswith((".mid", ".midi"))
            )
        )
        if len(files) < 3:
            raise ValueError(
                f"Argument `data` must be a folder with >= 3 .mid files. Received: data={path!r} ({len(files)} files)"
            )
        pieces = [music.midi_to_events(f) for f in files]
        source = str(path)
    order = np.random.default_rng(seed).permutation(len(pieces))
    n_held = max(1, len(pieces) // 10)
    test = [pieces[i] for i in order[:n_held]]
    val = [pieces[i] for i in order[n_held : 2 * n_held]]
    train = [pieces[i] for i in order[2 * n_held :]]
    info = {
        "source": source,
        "window": int(window),
        "vocabulary_size": music.VOCABULARY_SIZE,
        "start_id": music.START_ID,
        "end_id": music.END_ID,
        "primer": [int(t) for t in test[0][:32]],
    }
    return TaskData(
        music.make_windows(train, window, transpositions=transpositions),
        music.make_windows(val, window),
        music.make_windows(test, window),
        info,
    )


class _MusicTask(Task):
    default_data = "J. S. Bach chorales bundled with music21 (no download)"
    default_batch_size = 32
    monitor = "val_loss"
    patience = 3
    window = 128
    learning_rate = 1e-3

    def load_data(self, path=None, seed=0):
        return load_music_data(path, seed, window=self.window)

    def _compile(self, model, jit_compile):
        model.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=jit_compile,
        )
        return model

    def generate(
        self,
        model,
        metadata,
        out,
        primer=None,
        temperature=1.0,
        top_p=None,
        top_k=None,
        seed=0,
        length=512,
        **options,
    ):
        """Writes a sampled performance to `out` (MIDI) and a piano roll beside it."""
        primer_events = (
            music.midi_to_events(primer)[-metadata.get("window", 128) :] if primer else None
        )
        events = generate_performance(
            model,
            primer_events,
            length=length,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
        )
        notes = music.events_to_notes(events)
        music.write_midi(notes, out)
        png = plot_piano_roll(
            notes, os.path.splitext(out)[0] + ".png", title=f"{self.name}: {len(events)} events"
        )
        return [out, png]

    def save_artifacts(self, model, data, out_dir):
        """A short unprimed sample (`sample.mid`, `sample.png`) next to the model."""
        return self.generate(model, data.info, os.path.join(out_dir, "sample.mid"), length=256)


class MusicTransformerTask(_MusicTask):
    name = "music-transformer"
    summary = "MusicTransformer (relative self-attention) on performance events"
    # The first epoch is mostly XLA compilation (~50 s on 2 busy cores); later ones ~5 s.
    default_epochs = 10

    def build_model(self, data, *, jit_compile=True, seed=0, **hparams):
        keras.utils.set_random_seed(seed)
        hparams = {
            "num_layers": 2,
            "hidden_dim": 96,
            "num_heads": 4,
            "intermediate_dim": 192,
            "max_relative_position": self.window,
            **hparams,
        }
        return self._compile(MusicTransformer(**hparams), jit_compile)

    def search_space(self, hp):
        return {
            "num_layers": hp.Int("num_layers", 1, 3),
            "hidden_dim": hp.Choice("hidden_dim", [64, 96, 128]),
            "dropout": hp.Float("dropout", 0.0, 0.3, step=0.1),
        }


class PerformanceRNNTask(_MusicTask):
    name = "performance-rnn"
    summary = "PerformanceRNN (LSTM over performance events)"
    default_epochs = 5
    default_batch_size = 16
    learning_rate = 3e-3

    def build_model(self, data, *, jit_compile=True, seed=0, **hparams):
        keras.utils.set_random_seed(seed)
        hparams = {"units": 192, "num_layers": 1, **hparams}
        return self._compile(PerformanceRNN(**hparams), jit_compile)

    def search_space(self, hp):
        return {
            "units": hp.Choice("units", [128, 192, 256]),
            "num_layers": hp.Int("num_layers", 1, 2),
            "dropout": hp.Float("dropout", 0.0, 0.3, step=0.1),
        }
