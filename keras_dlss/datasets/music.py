"""Music data: the embedded Bach chorale corpus, augmentation and training windows.

The default corpus is the set of J. S. Bach chorales that ships inside the
`music21` package (no download): each chorale's four voices become one
performance (`keras_dlss.datasets.music_midi`, Oore et al. 2018) at a fixed
tempo. Conversions are cached in memory, so only the first call parses.
Augmentation follows the Music Transformer / Performance RNN recipe: pitch
transposition and uniform time stretch.

References:
    - Oore et al., "This Time with Feeling", 2018. https://arxiv.org/abs/1808.03715
    - Huang et al., "Music Transformer", 2018. https://arxiv.org/abs/1809.04281
    - Cuthbert & Ariza, "music21: A Toolkit for Computer-Aided Musicology", 2010.
"""

import numpy as np

from keras_dlss.datasets.music_midi import (
    NOTE_OFF,
    NOTE_ON,
    NUM_EVENTS,
    NUM_PITCHES,
    TIME_SHIFT,
    Note,
    describe_event,
    events_to_midi,
    events_to_notes,
    midi_to_events,
    notes_to_events,
    read_midi,
    write_midi,
)

__all__ = [
    "END_ID",
    "NUM_EVENTS",
    "START_ID",
    "VOCABULARY_SIZE",
    "Note",
    "bach_chorale_paths",
    "describe_event",
    "events_to_midi",
    "events_to_notes",
    "load_bach_chorales",
    "make_windows",
    "midi_to_events",
    "notes_to_events",
    "read_midi",
    "time_stretch",
    "transpose",
    "write_midi",
]

START_ID = NUM_EVENTS  # 388: primer token of generation
END_ID = NUM_EVENTS + 1  # 389: end of a piece
VOCABULARY_SIZE = NUM_EVENTS + 2

_CACHE = {}


def bach_chorale_paths():
    """Sorted paths of the `.mxl` Bach chorales bundled with `music21`."""
    from music21 import corpus

    paths = [str(p) for p in corpus.getComposer("bach") if str(p).endswith(".mxl")]
    if not paths:
        raise ValueError(
            "The music21 corpus holds no Bach chorales (.mxl); reinstall music21. "
            "Received: corpus.getComposer('bach') without .mxl files"
        )
    return sorted(paths)


def _part_notes(part, seconds_per_quarter, velocity):
    """Notes of one voice; tied notes are merged (cheaper than `stripTies`)."""
    notes, pending = [], {}
    for element in part.flatten().notes:  # notes and chords
        start = float(element.offset) * seconds_per_quarter
        end = start + float(element.duration.quarterLength) * seconds_per_quarter
        tie = element.tie.type if element.tie is not None else None
        for pitch in element.pitches:
            midi = int(pitch.midi)
            if not (end > start and 0 <= midi < NUM_PITCHES):
                continue
            if tie in ("continue", "stop") and midi in pending:
                pending[midi][1] = end
                if tie == "stop":
                    notes.append(Note(midi, velocity, *pending.pop(midi)))
            elif tie in ("start", "continue"):
                if midi in pending:
                    notes.append(Note(midi, velocity, *pending.pop(midi)))
                pending[midi] = [start, end]
            else:
                notes.append(Note(midi, velocity, start, end))
    notes.extend(Note(midi, velocity, s, e) for midi, (s, e) in pending.items())
    return notes


def _chorale_notes(path, seconds_per_quarter, velocity):
    key = (path, seconds_per_quarter, velocity)
    if key not in _CACHE:
        from music21 import converter

        try:
            score = converter.parse(path)
        except Exception as e:
            raise ValueError(f"Could not read score file {path!r}: {type(e).__name__}: {e}") from e
        parts = list(score.parts) or [score]
        notes = [n for part in parts for n in _part_notes(part, seconds_per_quarter, velocity)]
        if not notes:
            raise ValueError(f"Score file {path!r} contains no notes")
        _CACHE[key] = sorted(notes, key=lambda n: (n.start, n.pitch))
    return _CACHE[key]


def load_bach_chorales(num_pieces=48, *, tempo_bpm=100.0, velocity=80, as_notes=False):
    """The Bach chorales bundled with `music21`, as performance events.

    Args:
        num_pieces: int or None. How many chorales (in a fixed order); None
            loads all (~400, about 30 s the first time). Defaults to `48`.
        tempo_bpm: float. Quarter notes per minute. Defaults to `100.0`.
        velocity: int. MIDI velocity of every note (the scores carry no
            dynamics). Defaults to `80`.
        as_notes: bool. Return lists of `Note` instead of event arrays.

    Returns:
        list of int32 event arrays (or of note lists), one per chorale.

    Example:

    ```python
    pieces = load_bach_chorales(8)
    len(pieces), pieces[0][:6]
    ```
    """
    paths = bach_chorale_paths()
    if num_pieces is not None:
        if isinstance(num_pieces, bool) or not isinstance(num_pieces, int) or num_pieces < 1:
            raise ValueError(
                f"Argument `num_pieces` must be an integer >= 1 or None. Received: num_pieces={num_pieces!r}"
            )
        paths = paths[:num_pieces]
    if not 0 < float(tempo_bpm) <= 1000:
        raise ValueError(
            f"Argument `tempo_bpm` must be in (0, 1000]. Received: tempo_bpm={tempo_bpm!r}"
        )
    if isinstance(velocity, bool) or not isinstance(velocity, int) or not 1 <= velocity <= 127:
        raise ValueError(
            f"Argument `velocity` must be an integer in [1, 127]. Received: velocity={velocity!r}"
        )
    notes = [_chorale_notes(p, 60.0 / float(tempo_bpm), velocity) for p in paths]
    return notes if as_notes else [notes_to_events(n) for n in notes]


def transpose(events, semitones):
    """Shifts every NOTE_ON/NOTE_OFF by `semitones`; notes leaving [0, 127] are dropped.

    Args:
        events: int array of performance events.
        semitones: int.

    Returns:
        int32 array of events.
    """
    events = np.asarray(events, dtype="int32")
    is_on = events < NOTE_OFF
    is_off = (events >= NOTE_OFF) & (events < TIME_SHIFT)
    pitch = np.where(is_on, events, events - NOTE_OFF) + int(semitones)
    keep = ~(is_on | is_off) | ((pitch >= 0) & (pitch < NUM_PITCHES))
    shifted = np.where(is_on, NOTE_ON + pitch, np.where(is_off, NOTE_OFF + pitch, events))
    return shifted[keep].astype("int32")


def time_stretch(events, factor):
    """Scales every time by `factor` (> 1 slower), re-quantized to 10 ms.

    Args:
        events: int array of performance events.
        factor: float > 0.

    Returns:
        int32 array of events.
    """
    if not float(factor) > 0:
        raise ValueError(f"Argument `factor` must be > 0. Received: factor={factor!r}")
    notes = events_to_notes(events)
    f = float(factor)
    return notes_to_events([Note(n.pitch, n.velocity, n.start * f, n.end * f) for n in notes])


def make_windows(pieces, length, *, stride=None, transpositions=(0,), stretches=(1.0,)):
    """Next-token windows over `[START] + events + [END]` of each (augmented) piece.

    Args:
        pieces: list of event arrays.
        length: int. Tokens per window (model input length).
        stride: int or None. Window step; None uses `length // 2`.
        transpositions: semitone shifts applied to every piece.
        stretches: time-stretch factors applied to every piece.

    Returns:
        `(inputs, targets)`, int32 arrays `[N, length]`, targets shifted by one.
    """
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"Argument `length` must be an integer >= 1. Received: length={length!r}")
    stride = stride or max(length // 2, 1)
    inputs, targets = [], []
    for piece in pieces:
        for factor in stretches:
            stretched = piece if factor == 1.0 else time_stretch(piece, factor)
            for shift in transpositions:
                seq = transpose(stretched, shift) if shift else np.asarray(stretched, "int32")
                seq = np.concatenate([[START_ID], seq, [END_ID]]).astype("int32")
                if len(seq) < length + 1:
                    seq = np.concatenate([seq, np.full(length + 1 - len(seq), END_ID, "int32")])
                for begin in range(0, len(seq) - length, stride):
                    inputs.append(seq[begin : begin + length])
                    targets.append(seq[begin + 1 : begin + length + 1])
    if not inputs:
        raise ValueError(
            f"Argument `pieces` must hold at least one piece. Received: pieces={pieces!r}"
        )
    return np.stack(inputs), np.stack(targets)
