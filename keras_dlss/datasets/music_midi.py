"""MIDI files <-> performance events (Performance RNN vocabulary).

A performance is a stream of 388 event tokens (Oore et al., 2018):

| tokens    | event                                              |
|-----------|----------------------------------------------------|
| 0-127     | NOTE_ON(pitch)                                     |
| 128-255   | NOTE_OFF(pitch)                                    |
| 256-355   | TIME_SHIFT(k * 10 ms), k = 1..100                  |
| 356-387   | VELOCITY(bin), 32 bins of 4 MIDI velocities each   |

Times are quantized to the nearest 10 ms (so onsets and offsets move by at most
5 ms), a VELOCITY event is emitted only when the bin changes, and the sustain
pedal (control 64) lengthens notes as a pianist hears them. Files are read and
written with `mido`.

References:
    - Oore et al., "This Time with Feeling: Learning Expressive Musical
      Performance", 2018. https://arxiv.org/abs/1808.03715
    - Simon & Oore, "Performance RNN: Generating Music with Expressive Timing
      and Dynamics", Magenta blog, 2017.
"""

import dataclasses
import os

import numpy as np

__all__ = [
    "NUM_EVENTS",
    "Note",
    "describe_event",
    "events_to_midi",
    "events_to_notes",
    "midi_to_events",
    "notes_to_events",
    "read_midi",
    "write_midi",
]

NUM_PITCHES = 128
NOTE_ON = 0
NOTE_OFF = 128
TIME_SHIFT = 256
NUM_TIME_SHIFTS = 100
STEP_SECONDS = 0.01
VELOCITY = 356
NUM_VELOCITY_BINS = 32
NUM_EVENTS = 388
_DEFAULT_VELOCITY = 64
_SUSTAIN = 64


@dataclasses.dataclass(frozen=True)
class Note:
    """One note: MIDI `pitch` and `velocity` (1-127), `start`/`end` in seconds."""

    pitch: int
    velocity: int
    start: float
    end: float


def velocity_to_bin(velocity):
    return int(velocity) * NUM_VELOCITY_BINS // 128


def bin_to_velocity(velocity_bin):
    """Centre of the bin; maps back to the same bin."""
    width = 128 // NUM_VELOCITY_BINS
    return int(velocity_bin) * width + width // 2


def describe_event(token):
    """Human-readable name of one event token, e.g. `"NOTE_ON(60)"`."""
    token = int(token)
    if not 0 <= token < NUM_EVENTS:
        raise ValueError(f"Argument `token` must be in [0, {NUM_EVENTS}). Received: token={token}")
    if token < NOTE_OFF:
        return f"NOTE_ON({token})"
    if token < TIME_SHIFT:
        return f"NOTE_OFF({token - NOTE_OFF})"
    if token < VELOCITY:
        return f"TIME_SHIFT({(token - TIME_SHIFT + 1) * 10}ms)"
    return f"VELOCITY({token - VELOCITY})"


# ----------------------------------------------------------------------------- notes <-> events


def _quantized(notes):
    """`(on_step, off_step, pitch, velocity)`, same-pitch overlaps cut at the next onset."""
    rows = sorted(
        (round(n.start / STEP_SECONDS), round(n.end / STEP_SECONDS), int(n.pitch), int(n.velocity))
        for n in notes
    )
    last = {}
    out = []
    for on, off, pitch, velocity in rows:
        if pitch in last:
            prev = last[pitch]
            prev[1] = min(prev[1], on)
        row = [on, max(off, on + 1), pitch, velocity]
        last[pitch] = row
        out.append(row)
    return [r for r in out if r[1] > r[0]]


def notes_to_events(notes):
    """Encodes notes as an int32 array of performance events.

    Args:
        notes: iterable of `Note` (pitch 0-127, velocity 1-127, times >= 0).

    Returns:
        int32 array `[num_events]` with tokens in `[0, 388)`.

    Example:

    ```python
    events = notes_to_events([Note(60, 80, 0.0, 0.5)])
    [describe_event(e) for e in events]
    # ['VELOCITY(20)', 'NOTE_ON(60)', 'TIME_SHIFT(500ms)', 'NOTE_OFF(60)']
    ```
    """
    notes = list(notes)
    for n in notes:
        if not (0 <= n.pitch < NUM_PITCHES and 1 <= n.velocity <= 127 and 0 <= n.start <= n.end):
            raise ValueError(
                "Argument `notes` must hold pitches in [0, 128), velocities in [1, 127] "
                f"and 0 <= start <= end. Received: notes containing {n}"
            )
    timeline = []
    for on, off, pitch, velocity in _quantized(notes):
        timeline.append((on, 1, pitch, velocity))
        timeline.append((off, 0, pitch, 0))  # offs sort before ons at the same step
    timeline.sort()
    events, step, velocity_bin = [], 0, None
    for when, is_on, pitch, velocity in timeline:
        while when > step:
            shift = min(when - step, NUM_TIME_SHIFTS)
            events.append(TIME_SHIFT + shift - 1)
            step += shift
        if is_on:
            b = velocity_to_bin(velocity)
            if b != velocity_bin:
                events.append(VELOCITY + b)
                velocity_bin = b
            events.append(NOTE_ON + pitch)
        else:
            events.append(NOTE_OFF + pitch)
    return np.asarray(events, dtype="int32")


def events_to_notes(events):
    """Decodes performance events into notes (inverse of `notes_to_events`).

    Unmatched NOTE_OFFs are ignored, a NOTE_ON of a sounding pitch restarts it,
    and notes still on at the end stop at the final time (at least 10 ms long).

    Args:
        events: int sequence of tokens in `[0, 388)`.

    Returns:
        list of `Note` sorted by start time.
    """
    events = np.asarray(events).reshape(-1)
    if events.size and (events.min() < 0 or events.max() >= NUM_EVENTS):
        bad = int(events.min() if events.min() < 0 else events.max())
        raise ValueError(
            f"Argument `events` must hold tokens in [0, {NUM_EVENTS}). Received: events containing {bad}"
        )
    step, velocity, active, notes = 0, _DEFAULT_VELOCITY, {}, []

    def close(pitch, end):
        start, vel = active.pop(pitch)
        notes.append(Note(pitch, vel, start * STEP_SECONDS, max(end, start + 1) * STEP_SECONDS))

    for token in events.tolist():
        if token < NOTE_OFF:
            if token in active:
                close(token, step)
            active[token] = (step, velocity)
        elif token < TIME_SHIFT:
            if token - NOTE_OFF in active:
                close(token - NOTE_OFF, step)
        elif token < VELOCITY:
            step += token - TIME_SHIFT + 1
        else:
            velocity = bin_to_velocity(token - VELOCITY)
    for pitch in list(active):
        close(pitch, step)
    return sorted(notes, key=lambda n: (n.start, n.pitch))


# ----------------------------------------------------------------------------- MIDI files


def _malformed(path, reason):
    return ValueError(f"Could not read MIDI file {os.fspath(path)!r}: {reason}")


def read_midi(path):
    """Reads the notes of a `.mid` file (all non-drum channels, sustain applied).

    Args:
        path: str or path-like.

    Returns:
        list of `Note` sorted by start time.

    Raises:
        FileNotFoundError: when `path` does not exist.
        ValueError: naming the file when it is malformed or holds no notes.
    """
    import mido

    if not os.path.isfile(path):
        raise FileNotFoundError(f"MIDI file not found: {os.fspath(path)!r}")
    try:
        midi = mido.MidiFile(path)
        messages = list(midi)  # merges tracks, applies tempo: msg.time is in seconds
    except Exception as e:  # mido raises OSError, EOFError, KeyError, ValueError...
        raise _malformed(path, f"{type(e).__name__}: {e}") from e
    now, notes = 0.0, []
    sounding, held = {}, {}  # (channel, pitch) -> (start, velocity)
    pedal = {}

    def finish(key, end):
        start, velocity = sounding.pop(key)
        held.pop(key, None)
        if end > start:
            notes.append(Note(key[1], velocity, start, end))

    for msg in messages:
        now += msg.time
        channel = getattr(msg, "channel", None)
        if channel == 9:  # General MIDI percussion has no pitch
            continue
        if msg.type == "note_on" and msg.velocity > 0:
            key = (channel, msg.note)
            if key in sounding:
                finish(key, now)
            sounding[key] = (now, msg.velocity)
        elif msg.type in ("note_on", "note_off"):
            key = (channel, msg.note)
            if key in sounding:
                if pedal.get(channel, False):
                    held[key] = True
                else:
                    finish(key, now)
        elif msg.type == "control_change" and msg.control == _SUSTAIN:
            down = msg.value >= 64
            pedal[channel] = down
            if not down:
                for key in [k for k in held if k[0] == channel]:
                    finish(key, now)
    for key in list(sounding):
        finish(key, now)
    if not notes:
        raise _malformed(path, "it contains no notes")
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def write_midi(notes, path, *, program=0, tempo_bpm=120.0, ticks_per_beat=480):
    """Writes notes to a playable single-track `.mid` file.

    Args:
        notes: iterable of `Note`.
        path: output path.
        program: int. General MIDI program (0 = acoustic grand piano).
        tempo_bpm: float. Tempo written to the file (timing is in seconds
            either way). Defaults to `120.0`.
        ticks_per_beat: int. Time resolution. Defaults to `480`.

    Returns:
        `path`.
    """
    import mido

    tempo = mido.bpm2tempo(tempo_bpm)
    timeline = []
    for n in notes:
        on = round(mido.second2tick(n.start, ticks_per_beat, tempo))
        off = max(round(mido.second2tick(n.end, ticks_per_beat, tempo)), on + 1)
        timeline.append((on, 1, n.pitch, n.velocity))
        timeline.append((off, 0, n.pitch, 0))
    timeline.sort()
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=tempo, time=0))
    track.append(mido.Message("program_change", program=int(program), time=0))
    last = 0
    for tick, is_on, pitch, velocity in timeline:
        kind = "note_on" if is_on else "note_off"
        track.append(mido.Message(kind, note=pitch, velocity=velocity, time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    midi.tracks.append(track)
    midi.save(path)
    return path


def midi_to_events(path):
    """`notes_to_events(read_midi(path))`."""
    return notes_to_events(read_midi(path))


def events_to_midi(events, path, **kwargs):
    """`write_midi(events_to_notes(events), path, **kwargs)`; returns `path`."""
    return write_midi(events_to_notes(events), path, **kwargs)
