"""Monophonic melodies for `MusicVAE`: the 130-class 16th-note representation of Roberts et al.

A melody is one event per 16th note: `0-127` NOTE_ON(pitch), `128` NOTE_OFF
and `129` NO_EVENT (hold the current note, or keep resting), as in MusicVAE
(Roberts et al. 2018, Section 5.1). Melodies come from the top voice of the
Bach chorales bundled with `music21` (the skyline: the highest sounding pitch
at each step, which is the soprano except where she rests), cut into 2-bar
(32-step) windows with a one-bar hop; windows with fewer than two notes are
dropped. The chorales are read at 100 quarter notes per minute (the
`datasets.music` default), so one step lasts 0.15 s; bars are counted from
the first onset (a pickup bar shifts the bar lines, which the model does not
need to know).
"""

import numpy as np

from keras_dlss._validation import check_positive_int
from keras_dlss.applications.base import TaskData
from keras_dlss.datasets import music

__all__ = [
    "NOTE_OFF",
    "NO_EVENT",
    "NUM_CLASSES",
    "START",
    "STEPS_PER_BAR",
    "load_melody_data",
    "melody_to_notes",
    "melody_windows",
    "notes_to_melody",
]

NOTE_OFF = 128
NO_EVENT = 129
NUM_CLASSES = 130
START = 130  # decoder input before the first step; never a target
STEPS_PER_BAR = 16
STEP_SECONDS = 60.0 / 100.0 / 4  # a 16th note at the chorales' 100 bpm


def notes_to_melody(notes, step_seconds=STEP_SECONDS):
    """The skyline of `notes` as 130-class melody events, one per 16th-note step.

    Args:
        notes: sequence of `datasets.music.Note`.
        step_seconds: float. Duration of one step. Defaults to 0.15 (a 16th
            note at 100 bpm).

    Returns:
        int32 array `[steps]` of events in `[0, 130)`.

    Example:

    ```python
    from keras_dlss.datasets import music
    notes = [music.Note(60, 80, 0.0, 0.6), music.Note(67, 80, 0.0, 0.3)]
    notes_to_melody(notes)   # [67, 129, 60, 129]: the soprano, then the lower voice
    ```
    """
    if not notes:
        raise ValueError("Argument `notes` must hold at least one note. Received: notes=[]")
    first = min(n.start for n in notes)
    starts = np.array([round((n.start - first) / step_seconds) for n in notes])
    ends = np.maximum(np.array([round((n.end - first) / step_seconds) for n in notes]), starts + 1)
    top = np.full(int(ends.max()), -1)
    onset = np.zeros(len(top), bool)
    for pitch, s, e in sorted(zip((n.pitch for n in notes), starts, ends)):
        # Ascending pitch: higher notes overwrite lower ones (the skyline).
        top[s:e] = pitch
        onset[s] = True  # marks a re-attack only when this pitch is the top at s
        onset[s + 1 : e] = False
    previous = np.concatenate([[-1], top[:-1]])
    events = np.full(len(top), NO_EVENT)
    attack = (top >= 0) & (onset | (top != previous))
    events[attack] = top[attack]
    events[(top < 0) & (previous >= 0)] = NOTE_OFF
    return events.astype("int32")


def melody_to_notes(events, step_seconds=STEP_SECONDS, velocity=80, offset=0.0):
    """`datasets.music.Note`s of a 130-class melody (a note lasts until the next event).

    Args:
        events: int array of melody events.
        step_seconds: float. Defaults to 0.15.
        velocity: int. Defaults to `80`.
        offset: float. Start time of the first step, in seconds.

    Returns:
        list of `Note`.

    Example:

    ```python
    melody_to_notes([60, 129, 128, 64])  # C4 for 0.3 s, a rest, E4 from 0.45 s
    ```
    """
    events = np.asarray(events).reshape(-1)
    if events.size and (events.min() < 0 or events.max() >= NUM_CLASSES):
        raise ValueError(
            f"Argument `events` must hold melody events in [0, {NUM_CLASSES}). "
            f"Received: events with values in [{int(events.min())}, {int(events.max())}]"
        )
    notes, pitch, start = [], None, 0
    for t, event in enumerate(list(events) + [NOTE_OFF]):
        if event == NO_EVENT:
            continue
        if pitch is not None:
            notes.append(
                music.Note(
                    int(pitch), velocity, offset + start * step_seconds, offset + t * step_seconds
                )
            )
        pitch, start = (int(event), t) if event < NOTE_OFF else (None, t)
    return notes


def melody_windows(melodies, bars=2, hop_bars=1, min_notes=2):
    """Windows of `bars` bars (16 steps each) every `hop_bars` bars; `[N, 16 * bars]` int32.

    A window starting inside a held note begins with NO_EVENT, as in
    MusicVAE's data pipeline; windows with fewer than `min_notes` onsets are
    dropped.
    """
    length = STEPS_PER_BAR * check_positive_int("bars", bars)
    hop = STEPS_PER_BAR * check_positive_int("hop_bars", hop_bars)
    windows = [
        melody[begin : begin + length]
        for melody in melodies
        for begin in range(0, len(melody) - length + 1, hop)
    ]
    windows = [w for w in windows if np.sum(w < NOTE_OFF) >= min_notes]
    if not windows:
        raise ValueError(
            f"Argument `melodies` must hold at least one {bars}-bar window with {min_notes} "
            f"notes. Received: {len(melodies)} melodies"
        )
    return np.stack(windows).astype("int32")


def load_melody_data(num_pieces=24, bars=2, seed=0, transpositions=(0,)):
    """2-bar melody windows of the embedded chorales, split by piece 80/10/10.

    Args:
        num_pieces: int. Chorales to read (about 0.3 s each the first time).
        bars: int. Bars per window. Defaults to `2`.
        seed: int. Seed of the piece split.
        transpositions: semitone shifts applied to the training pieces.

    Returns:
        `TaskData` with `(windows, windows)` splits and `info` (source, length,
        and two test melodies `preview` for interpolation).
    """
    pieces = music.load_bach_chorales(check_positive_int("num_pieces", num_pieces), as_notes=True)
    melodies = [notes_to_melody(p) for p in pieces]
    order = np.random.default_rng(seed).permutation(len(melodies))
    n_held = max(1, len(melodies) // 10)
    test = [melodies[i] for i in order[:n_held]]
    val = [melodies[i] for i in order[n_held : 2 * n_held]]
    train = [
        _transpose(melodies[i], shift) for i in order[2 * n_held :] for shift in transpositions
    ]
    test_windows = melody_windows(test, bars)
    info = {
        "source": f"music21 Bach chorales, top voice ({len(pieces)} pieces, embedded)",
        "sequence_length": STEPS_PER_BAR * bars,
        "bars": bars,
        "step_seconds": STEP_SECONDS,
        "preview": test_windows[[0, -1]].tolist(),
    }
    # `(x, x)`: the model reconstructs its input (its step ignores the target).
    train, val = melody_windows(train, bars), melody_windows(val, bars)
    return TaskData((train, train), (val, val), (test_windows, test_windows), info)


def _transpose(melody, semitones):
    """Shifts NOTE_ONs by `semitones`; a shift that leaves [0, 127] is clipped."""
    melody = np.asarray(melody)
    shifted = np.where(melody < NOTE_OFF, np.clip(melody + semitones, 0, 127), melody)
    return shifted.astype("int32")
