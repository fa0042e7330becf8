"""The piano widget: click plays and release ends, drag glides, vertical position sets velocity, lit keys."""

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from app.keyboard import PianoKeyboard, is_black
from iirnn_core.dsp.notes import note_to_midi


@pytest.fixture
def piano(qtbot):
    widget = PianoKeyboard("C4", "C6")
    qtbot.addWidget(widget)
    widget.resize(900, 150)
    widget.show()
    qtbot.waitExposed(widget)
    events = []
    widget.note_on.connect(lambda midi, vel: events.append(("on", midi, vel)))
    widget.note_off.connect(lambda midi: events.append(("off", midi)))
    widget.events = events
    return widget


def _point(piano, note, frac=0.9):
    """A point inside ``note``'s key at ``frac`` of its height (below the black keys for white keys)."""
    rect = piano.key_rect(note_to_midi(note))
    return QPoint(int(rect.center().x()), int(rect.top() + frac * rect.height()))


def test_layout_c4_to_c6(piano):
    assert len(piano.white_keys()) == 15
    assert sum(is_black(m) for m in range(piano.low, piano.high + 1)) == 10
    for midi in range(piano.low, piano.high + 1):  # every key is hit where it is drawn
        rect = piano.key_rect(midi)
        y = rect.top() + (0.5 if is_black(midi) else 0.9) * rect.height()
        assert piano.key_at(QPointF(rect.center().x(), y)) == midi


def test_click_plays_and_release_ends(qtbot, piano):
    qtbot.mousePress(piano, Qt.LeftButton, pos=_point(piano, "A4"))
    assert piano.events[-1][:2] == ("on", 69)
    assert piano.lit_notes() == [69]
    qtbot.mouseRelease(piano, Qt.LeftButton, pos=_point(piano, "A4"))
    assert piano.events[-1] == ("off", 69)
    assert piano.lit_notes() == []
    qtbot.mouseClick(piano, Qt.LeftButton, pos=_point(piano, "C#5", 0.4))
    assert [e[:2] for e in piano.events[-2:]] == [("on", 73), ("off", 73)]


def test_vertical_position_sets_velocity(qtbot, piano):
    qtbot.mouseClick(piano, Qt.LeftButton, pos=_point(piano, "E4", 0.1))
    soft = piano.events[-2][2]
    qtbot.mouseClick(piano, Qt.LeftButton, pos=_point(piano, "E4", 0.98))
    loud = piano.events[-2][2]
    assert 1 <= soft < 50 < 120 <= loud <= 127


def test_drag_glides_from_key_to_key(qtbot, piano):
    qtbot.mousePress(piano, Qt.LeftButton, pos=_point(piano, "C4"))
    for note in ("D4", "E4", "E4", "F4"):
        qtbot.mouseMove(piano, _point(piano, note))
    qtbot.mouseRelease(piano, Qt.LeftButton, pos=_point(piano, "F4"))
    assert [e[:2] for e in piano.events] == [("on", 60), ("off", 60), ("on", 62), ("off", 62), ("on", 64),
                                             ("off", 64), ("on", 65), ("off", 65)]
    assert piano.lit_notes() == []


def test_lit_keys_count_their_sources(piano):
    piano.set_lit(60, True)
    piano.set_lit(60, True)
    piano.set_lit(60, False)
    assert piano.lit_notes() == [60]
    piano.set_lit(60, False)
    assert piano.lit_notes() == []
    piano.set_lit(61, True)
    piano.clear_lit()
    assert piano.lit_notes() == []


def test_a_range_must_end_on_white_keys(qtbot):
    with pytest.raises(ValueError):
        PianoKeyboard("C#4", "C6")
