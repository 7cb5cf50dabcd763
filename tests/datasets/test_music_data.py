import mido
import numpy as np
import pytest

from keras_dlss.datasets import music
from keras_dlss.datasets.music import Note


def _random_notes(seed=0, count=60):
    rng = np.random.default_rng(seed)
    notes = []
    for _ in range(count):
        start = float(rng.uniform(0, 12))
        notes.append(
            Note(
                int(rng.integers(21, 109)),
                int(rng.integers(1, 128)),
                start,
                start + float(rng.uniform(0.02, 3.0)),
            )
        )
    # One pitch per start so matching notes across the round trip is unambiguous.
    seen, unique = set(), []
    for n in sorted(notes, key=lambda n: n.start):
        if n.pitch not in seen:
            seen.add(n.pitch)
            unique.append(n)
    return unique


def test_midi_events_midi_round_trip_preserves_notes(tmp_path):
    notes = _random_notes()
    source = music.write_midi(notes, str(tmp_path / "in.mid"), tempo_bpm=93.0)
    events = music.midi_to_events(source)
    assert events.dtype == np.int32 and events.min() >= 0 and events.max() < music.NUM_EVENTS
    back = music.read_midi(music.events_to_midi(events, str(tmp_path / "out.mid")))
    assert len(back) == len(notes)
    by_pitch = {n.pitch: n for n in back}
    for n in notes:
        got = by_pitch[n.pitch]
        assert got.velocity // 4 == n.velocity // 4  # same of the 32 velocity bins
        assert abs(got.start - n.start) <= 0.01
        assert abs(got.end - n.end) <= 0.01


def test_event_vocabulary_and_long_shifts():
    events = music.notes_to_events([Note(60, 100, 0.0, 2.5), Note(64, 10, 0.0, 0.01)])
    names = [music.describe_event(e) for e in events]
    assert names == [
        "VELOCITY(25)",
        "NOTE_ON(60)",
        "VELOCITY(2)",
        "NOTE_ON(64)",
        "TIME_SHIFT(10ms)",
        "NOTE_OFF(64)",
        "TIME_SHIFT(1000ms)",
        "TIME_SHIFT(1000ms)",
        "TIME_SHIFT(490ms)",
        "NOTE_OFF(60)",
    ]
    assert music.NUM_EVENTS == 388


def test_repeated_and_overlapping_same_pitch():
    notes = [Note(60, 80, 0.0, 1.0), Note(60, 80, 0.5, 1.5), Note(60, 80, 1.5, 2.0)]
    back = music.events_to_notes(music.notes_to_events(notes))
    assert [(n.start, n.end) for n in back] == [(0.0, 0.5), (0.5, 1.5), (1.5, 2.0)]


def test_sustain_pedal_extends_notes(tmp_path):
    track = mido.MidiTrack()
    track.append(mido.Message("control_change", control=64, value=127, time=0))
    track.append(mido.Message("note_on", note=60, velocity=90, time=0))
    track.append(mido.Message("note_off", note=60, velocity=0, time=240))
    track.append(mido.Message("control_change", control=64, value=0, time=480))
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(track)
    midi.save(tmp_path / "pedal.mid")
    (note,) = music.read_midi(str(tmp_path / "pedal.mid"))
    assert note.start == 0.0 and abs(note.end - 0.75) < 1e-6  # 720 ticks at 120 bpm


def test_malformed_and_empty_files_name_the_file(tmp_path):
    bad = tmp_path / "garbage.mid"
    bad.write_bytes(b"this is not midi at all")
    with pytest.raises(ValueError, match="garbage.mid"):
        music.read_midi(str(bad))
    empty = tmp_path / "empty.mid"
    midi = mido.MidiFile()
    midi.tracks.append(mido.MidiTrack())
    midi.save(empty)
    with pytest.raises(ValueError, match="empty.mid.*no notes"):
        music.midi_to_events(str(empty))
    with pytest.raises(FileNotFoundError, match="missing.mid"):
        music.read_midi(str(tmp_path / "missing.mid"))


def test_transpose_and_time_stretch():
    events = music.notes_to_events([Note(60, 80, 0.0, 1.0), Note(126, 80, 0.5, 1.0)])
    up = music.events_to_notes(music.transpose(events, 3))
    assert [n.pitch for n in up] == [63]  # 129 leaves the MIDI range and is dropped
    slow = music.events_to_notes(music.time_stretch(events, 1.5))
    assert [(n.pitch, n.start, n.end) for n in slow] == [(60, 0.0, 1.5), (126, 0.75, 1.5)]
    with pytest.raises(ValueError, match="factor"):
        music.time_stretch(events, 0)


def test_bad_events_raise():
    with pytest.raises(ValueError, match="events"):
        music.events_to_notes([1, 400])
    with pytest.raises(ValueError, match="notes"):
        music.notes_to_events([Note(130, 80, 0.0, 1.0)])


def test_bach_chorales_embedded_and_windows():
    pieces = music.load_bach_chorales(3)
    assert len(pieces) == 3 and all(len(p) > 100 for p in pieces)
    notes = music.load_bach_chorales(1, as_notes=True)[0]
    assert len({n.pitch for n in notes}) > 10
    # Four voices: many onsets are shared by several notes.
    starts = [n.start for n in notes]
    assert len(starts) > 2 * len(set(starts))
    x, y = music.make_windows(pieces, 32, transpositions=(0, 2))
    assert x.shape == y.shape and x.shape[1] == 32
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    assert x[0, 0] == music.START_ID and x.max() < music.VOCABULARY_SIZE
    with pytest.raises(ValueError, match="num_pieces"):
        music.load_bach_chorales(0)
    with pytest.raises(ValueError, match="velocity"):
        music.load_bach_chorales(1, velocity=0)
