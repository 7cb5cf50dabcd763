"""CLI recipe `keras-dlss train music-vae` and `keras-dlss generate music-vae MODEL.keras`.

Trains `MusicVAE` on 2-bar top-voice melodies of the embedded Bach chorales
(or of a folder of `.mid` files given with `--data`); `--decoder flat|
hierarchical` picks the decoder. The reported metrics add the reconstruction
accuracy of held-out melodies, teacher forced and greedily decoded (sampled)
from the posterior mean. `generate` writes `--length` (default 4) melodies
sampled from the prior, one after the other, as MIDI with a piano roll, and
beside them the latent interpolation between two held-out melodies
(`*_interpolation.mid` / `.png`).
"""

import os

import numpy as np

from keras_dlss.applications.base import Task, TaskData
from keras_dlss.applications.music_generation import midi_files, plot_piano_roll
from keras_dlss.applications.music_vae_data import (
    STEP_SECONDS,
    STEPS_PER_BAR,
    load_melody_data,
    melody_to_notes,
    melody_windows,
    notes_to_melody,
)
from keras_dlss.datasets import music

__all__ = ["MusicVAETask", "write_melodies"]

NUM_PIECES = 24  # ~400 windows; reading a chorale costs ~0.3 s, paid by every CLI run
ACCURACY_EXAMPLES = 64


def write_melodies(melodies, path, title=None, step_seconds=STEP_SECONDS):
    """Writes melodies `[N, T]` one after the other to MIDI `path` and a piano roll beside it.

    Returns:
        `[path, png_path]`.
    """
    melodies = np.asarray(melodies)
    length = melodies.shape[-1] * step_seconds
    notes = [
        note
        for i, melody in enumerate(melodies)
        for note in melody_to_notes(melody, step_seconds, offset=i * length)
    ]
    music.write_midi(notes, path)
    png = os.path.splitext(path)[0] + ".png"
    return [path, plot_piano_roll(notes, png, title=title or f"{len(melodies)} melodies")]


def _load_midi_folder(path, seed):
    files = midi_files(path)
    melodies = [notes_to_melody(music.read_midi(f)) for f in files]
    order = np.random.default_rng(seed).permutation(len(melodies))
    n_held = max(1, len(melodies) // 10)
    splits = [order[:n_held], order[n_held : 2 * n_held], order[2 * n_held :]]
    test, val, train = ([melodies[i] for i in part] for part in splits)
    test_windows = melody_windows(test)
    info = {
        "source": str(path),
        "sequence_length": 2 * STEPS_PER_BAR,
        "bars": 2,
        "step_seconds": STEP_SECONDS,
        "preview": test_windows[[0, -1]].tolist(),
    }
    train, val = melody_windows(train), melody_windows(val)
    return TaskData((train, train), (val, val), (test_windows, test_windows), info)


class MusicVAETask(Task):
    name = "music-vae"
    summary = "MusicVAE over 2-bar chorale melodies (flat or hierarchical decoder), MIDI samples"
    default_data = "top voice of J. S. Bach chorales bundled with music21 (no download)"
    data_license = "music21 corpus: public-domain scores, encodings used by permission"
    default_epochs = 40
    default_batch_size = 64
    monitor = "val_loss"
    patience = 8
    options = {
        "decoder": {"choices": ("flat", "hierarchical"), "help": "default hierarchical"},
        "latent-dim": {"type": int, "help": "size of z (default 32)"},
        "units": {"type": int, "help": "encoder and decoder LSTM units (default 128)"},
        "conductor-units": {"type": int, "help": "conductor LSTM units (default 64)"},
        "embedding-dim": {"type": int, "help": "event embedding size (default 32)"},
    }

    def load_data(self, path=None, seed=0):
        if path is None:
            return load_melody_data(NUM_PIECES, seed=seed)
        return _load_midi_folder(path, seed)

    def build_model(self, data, *, jit_compile=True, seed=0, **hparams):
        import keras

        from keras_dlss.applications.music_vae import MusicVAE

        keras.utils.set_random_seed(seed)
        units = hparams.pop("units", 128)
        hparams = {"encoder_units": units, "decoder_units": units, **hparams}
        model = MusicVAE(
            sequence_length=data.info["sequence_length"],
            bars=data.info["bars"],
            seed=seed,
            **hparams,
        )
        model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
        return model

    def evaluate(self, model, data):
        from keras_dlss.applications.music_vae import reconstruction_accuracy

        metrics = super().evaluate(model, data)
        forced, sampled = reconstruction_accuracy(model, data.test[0][:ACCURACY_EXAMPLES])
        metrics["test_teacher_forced_accuracy"] = forced
        metrics["test_sampled_accuracy"] = sampled
        return metrics

    def generate(self, model, metadata, out, temperature=1.0, seed=0, length=4, **options):
        """Writes `length` prior samples (MIDI + PNG) and a 5-point interpolation beside them."""
        for name in ("top_p", "top_k", "condition", "primer"):
            if options.get(name) is not None:
                raise ValueError(
                    f"Argument `{name}` is not used by music-vae. Received: {name}={options[name]!r}"
                )
        samples = model.sample(length, temperature=temperature, seed=seed)
        paths = write_melodies(samples, out, title=f"music-vae: {length} samples, T={temperature}")
        a, b = np.asarray(metadata["preview"], "int32")
        path = model.interpolate(a, b, steps=5)
        stem = os.path.splitext(out)[0]
        paths += write_melodies(
            path, stem + "_interpolation.mid", title="music-vae: interpolation, 5 points"
        )
        return paths

    def save_artifacts(self, model, data, out_dir):
        """Prior samples and an interpolation (`sample*.mid`, `sample*.png`) next to the model."""
        return self.generate(model, data.info, os.path.join(out_dir, "sample.mid"))
