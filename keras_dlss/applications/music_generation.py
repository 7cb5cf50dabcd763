"""Generating performances from event language models, shared by both music models.

`MusicTransformer` (`music_transformer.py`) and `PerformanceRNN`
(`performance_rnn.py`) read and predict the 388-event performance vocabulary of
Oore et al. (plus a START and an END token) and expose the same decoding
interface: `initial_decoding_state(batch_size, max_length, primer)` and
`step(tokens, state) -> (log-probs, state)`, with a cache so each new token costs
one position, not a whole forward pass. This module holds what is written once
against that interface: the primer handling inside `step`, `generate_performance`
(sampling with `keras_dlss.decoding.sample`: temperature, top-k, nucleus), the
piano-roll plot, and the CLI recipe both tasks share (data windows of Bach
chorales, compilation, `generate`).

References:
    - Oore et al., "This Time with Feeling: Learning Expressive Musical
      Performance", 2018. https://arxiv.org/abs/1808.03715
"""

import os

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_positive_int
from keras_dlss.applications.base import Task, TaskData, compiled
from keras_dlss.datasets import music

__all__ = ["MusicTask", "generate_performance", "load_music_data", "plot_piano_roll"]


def override_tokens(tokens, state):
    """Feeds the primer's last token instead of START at the first step."""
    override = state["override"]
    tokens = ops.where(override >= 0, override, ops.cast(tokens, "int32"))
    return tokens, ops.full_like(override, -1)


def primer_state(primer, batch_size):
    """`(prefill tokens [B, P] or None, override [B])` for a primer without START."""
    if primer is None or len(primer) == 0:
        return None, np.full((batch_size,), -1, "int32")
    primer = np.asarray(primer, "int32").reshape(-1)
    prefill = np.concatenate([[music.START_ID], primer[:-1]]).astype("int32")
    return np.tile(prefill, (batch_size, 1)), np.full((batch_size,), primer[-1], "int32")


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


def midi_files(path):
    """The `.mid`/`.midi` files under `path` (a folder, searched recursively), sorted.

    Raises:
        ValueError: fewer than 3 files (train, validation and test need one each).
    """
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
            f"Argument `data` must be a folder with >= 3 .mid files. Received: data={path!r} "
            f"({len(files)} files)"
        )
    return files


def load_music_data(path=None, seed=0, window=128, num_pieces=32, transpositions=(0,)):
    """Windows of the embedded Bach chorales, or of the `.mid` files under `path`.

    Pieces (not windows) are split 80/10/10 into train/validation/test so no
    window of a test piece is seen in training.
    """
    if path is None:
        pieces = music.load_bach_chorales(num_pieces)
        source = f"music21 Bach chorales ({len(pieces)} pieces, embedded)"
    else:
        pieces = [music.midi_to_events(f) for f in midi_files(path)]
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


class MusicTask(Task):
    """The recipe both music applications share: chorale windows, compilation, `generate`."""

    default_data = "J. S. Bach chorales bundled with music21 (no download)"
    # music21/corpus/license.txt: the chorales are public domain, the encodings are
    # distributed by permission of their encoders.
    data_license = "music21 corpus: public-domain scores, encodings used by permission"
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
