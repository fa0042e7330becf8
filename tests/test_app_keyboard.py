"""The piano widget: as many octaves as its width fits, centred on (and following) the computer keyboard's keys;
click plays and release ends, drag glides, vertical position sets velocity, lit keys from any source."""

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor

from app.keyboard import ACCENT, MARK, MARK_STRIP, MIN_VELOCITY, PianoKeyboard, is_black
from app.keyboard_layout import MIN_WHITE_WIDTH, white_index, white_midi
from app.keymap import key_labels
from iirnn_core.dsp.notes import note_to_midi

A0, C8 = 21, 108
HEIGHT = 150


def make_piano(qtbot, width, shift=0):
    """The default piano (A0..C8) ``width`` pixels wide, marked for the computer keyboard at octave ``shift``,
    recording its signals in ``events``."""
    widget = PianoKeyboard()
    qtbot.addWidget(widget)
    widget.set_key_labels(key_labels(shift))
    widget.resize(width, HEIGHT)
    widget.show()
    qtbot.waitExposed(widget)
    events = []
    widget.note_on.connect(lambda midi, vel: events.append(("on", midi, vel)))
    widget.note_off.connect(lambda midi: events.append(("off", midi)))
    widget.events = events
    return widget


@pytest.fixture
def piano(qtbot):
    return make_piano(qtbot, 900)


def _point(piano, note, frac=0.9):
    """A point inside ``note``'s key at ``frac`` of its height (below the black keys for white keys)."""
    rect = piano.key_rect(note_to_midi(note))
    return QPoint(int(rect.center().x()), int(rect.top() + frac * rect.height()))


def _every_key_is_hit_where_it_is_drawn(piano):
    low, high = piano.shown_range()
    for midi in range(low, high + 1):
        rect = piano.key_rect(midi)
        assert 0 <= rect.left() and rect.right() <= piano.width() + 1e-9
        y = rect.top() + (0.5 if is_black(midi) else 0.9) * rect.height()
        assert piano.key_at(QPointF(rect.center().x(), y)) == midi


def test_white_key_numbering_round_trips():
    whites = [m for m in range(128) if not is_black(m)]
    assert [white_index(m) for m in whites] == list(range(len(whites)))
    assert [white_midi(i) for i in range(len(whites))] == whites
    assert all(white_index(m) == white_index(m - 1) for m in range(1, 128) if is_black(m))


def test_1500_pixels_show_at_least_four_whole_octaves_around_the_computer_keys(qtbot):
    piano = make_piano(qtbot, 1500)
    low, high = piano.shown_range()
    assert high - low >= 48 and low % 12 == 0 and high % 12 == 0  # whole octaves, C to C
    assert low <= 60 and 84 <= high  # the computer keyboard's C4..C6 ...
    assert abs((low + high) / 2 - 72) <= 6  # ... in the middle (within half an octave)
    assert len(piano.white_keys()) < 52  # not every key: those would be narrower than a playable key
    assert piano.key_rect(low).width() >= MIN_WHITE_WIDTH
    _every_key_is_hit_where_it_is_drawn(piano)


def test_2600_pixels_show_all_88_keys(qtbot):
    piano = make_piano(qtbot, 2600)
    low, high = piano.shown_range()
    assert (low, high) == (A0, C8) and high - low + 1 == 88
    assert len(piano.white_keys()) == 52
    _every_key_is_hit_where_it_is_drawn(piano)


def test_a_narrow_piano_still_shows_two_octaves(qtbot):
    piano = make_piano(qtbot, 200)  # below the minimum width: the widget stays 360 wide
    low, high = piano.shown_range()
    assert high - low >= 24 and (low, high) == piano.marked_range() == (60, 84)
    _every_key_is_hit_where_it_is_drawn(piano)


def test_resizing_changes_the_range_and_keeps_the_mark_in_it(qtbot, piano):
    ranges = []
    for width in (400, 900, 1500, 2600, 1200, 400):
        piano.resize(width, HEIGHT)
        qtbot.waitUntil(lambda: piano.width() == width)
        ranges.append(piano.shown_range())
        low, high = ranges[-1]
        assert low <= 60 and 84 <= high
        _every_key_is_hit_where_it_is_drawn(piano)
    spans = [high - low for low, high in ranges]
    assert spans[:4] == sorted(spans[:4]) and len(set(spans)) >= 4  # wider shows more ...
    assert spans[4] < spans[3] and ranges[5] == ranges[0]  # ... and narrower fewer again


def test_click_far_from_c4_c6_plays_the_key_under_the_pointer(qtbot):
    piano = make_piano(qtbot, 2600)  # every key: white key k spans x = 50 k .. 50 (k + 1)
    white = 2600 / 52
    key_height = HEIGHT - 1
    for k, y, expected in ((0, 140, A0), (51, 20, C8), (2, 75, note_to_midi("C1")), (48, 100, note_to_midi("G7"))):
        qtbot.mouseClick(piano, Qt.LeftButton, pos=QPoint(int((k + 0.5) * white), y))
        velocity = round(MIN_VELOCITY + (127 - MIN_VELOCITY) * y / key_height)
        assert piano.events[-2:] == [("on", expected, velocity), ("off", expected)]
    qtbot.mouseClick(piano, Qt.LeftButton, pos=QPoint(int(white), 30))  # on the boundary of A0 and B0, up top
    assert piano.events[-2][:2] == ("on", note_to_midi("A#0"))
    assert piano.lit_notes() == []


def test_glissando_across_an_octave_boundary_outside_c4_c6(qtbot):
    piano = make_piano(qtbot, 2600)
    white = 2600 / 52
    b2 = white_index(note_to_midi("B2")) - white_index(A0)
    qtbot.mousePress(piano, Qt.LeftButton, pos=QPoint(int((b2 - 0.5) * white), 130))  # A2
    for x in range(int((b2 - 0.4) * white), int((b2 + 2.5) * white), 7):  # along the bottom, A2 to D3
        qtbot.mouseMove(piano, QPoint(x, 130))
    qtbot.mouseRelease(piano, Qt.LeftButton, pos=QPoint(int((b2 + 2.5) * white), 130))
    played = [e[1] for e in piano.events if e[0] == "on"]
    assert played == [note_to_midi(n) for n in ("A2", "B2", "C3", "D3")]
    assert [e[:2] for e in piano.events[1::2]] == [("off", m) for m in played]
    assert piano.lit_notes() == []


def test_octave_shift_moves_the_mark_and_the_range_follows(qtbot, piano):
    start = piano.shown_range()
    assert start[1] - start[0] == 36 and piano.marked_range() == (60, 84)  # 900 px: three octaves
    piano.set_key_labels(key_labels(-1))
    assert piano.marked_range() == (48, 72) and piano.shown_range() == start  # still in view: no scroll
    seen = []
    for shift in (0, 1, 2, 3, 2, 1, 0, -1, -2, -3, -4):
        piano.set_key_labels(key_labels(shift))
        low, high = piano.marked_range()
        assert (low, high) == (60 + 12 * shift, 84 + 12 * shift)
        shown = piano.shown_range()
        assert shown[0] <= max(low, A0) and min(high, C8) <= shown[1]  # the mark (on the piano) is in view
        assert shown[1] - shown[0] == 36 and A0 <= shown[0] and shown[1] <= C8
        seen.append(shown)
    assert seen[3] == (72, C8) and seen[-1][0] == A0 and len(set(seen)) >= 5


def test_the_mark_and_its_letters_are_drawn_on_the_computer_keys(qtbot, piano):
    image = piano.grab().toImage()
    y = int(piano.key_rect(60).bottom() - 1 - MARK_STRIP / 2)

    def colour(note):
        return image.pixelColor(int(piano.key_rect(note_to_midi(note)).center().x()), y)

    assert colour("C4") == MARK and colour("E5") == MARK and colour("C6") == MARK
    assert colour("B3") != MARK and colour("G3") != MARK
    piano.set_key_labels(key_labels(1))
    image = piano.grab().toImage()
    assert colour("C4") != MARK and colour("C7") == MARK
    assert piano._labels[note_to_midi("C6")] == "q" and note_to_midi("C4") not in piano._labels


def test_lit_keys_off_the_shown_range_point_from_its_edges(qtbot):
    piano = make_piano(qtbot, 400)
    low, high = piano.shown_range()

    def edges():
        image = piano.grab().toImage()
        y = int(HEIGHT * 0.75)
        return image.pixelColor(9, y) == ACCENT, image.pixelColor(piano.width() - 9, y) == ACCENT

    assert edges() == (False, False)
    for midi in (A0, 5, C8, 127):  # from MIDI: keys off the run, and off the piano
        piano.set_lit(midi, True)
    assert piano.lit_notes() == [5, A0, C8, 127] and edges() == (True, True)
    piano.set_lit(5, False)
    piano.set_lit(A0, False)
    assert edges() == (False, True)
    piano.clear_lit()
    assert edges() == (False, False) and (low, high) == piano.shown_range()


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


def test_a_piano_must_end_on_white_keys(qtbot):
    with pytest.raises(ValueError):
        PianoKeyboard("C#4", "C6")
    small = PianoKeyboard("C4", "C6")  # a smaller instrument shows all of itself once it fits
    qtbot.addWidget(small)
    small.resize(900, HEIGHT)
    assert small.shown_range() == (60, 84)
