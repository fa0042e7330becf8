"""Starting a voice straight through the compiled entry point cannot write outside the renderer's arrays."""

import numpy as np
import pytest

from iirnn_core.rt import library as rt
from iirnn_core.rt.voice_layout import BANK_RNN
from iirnn_core.synth.renderer import Renderer

BLOCK = 64


def start(renderer, bank=BANK_RNN, hidden=3, w_hh=None, gains=None, offset=0):
    w_hh = np.eye(3) * 0.5 if w_hh is None else w_hh
    gains = np.ones(2) if gains is None else gains
    return rt.start_voice(renderer.table, bank, hidden, w_hh, np.ones(3), np.ones(3), gains, 0.1, offset, 69, 0.5)


@pytest.mark.parametrize("bad", [dict(offset=BLOCK), dict(offset=-1), dict(hidden=4), dict(hidden=0), dict(bank=2),
                                 dict(bank=-1), dict(gains=np.ones(1)), dict(w_hh=np.eye(2))])
def test_a_voice_that_does_not_fit_is_refused_with_one_line_and_starts_nothing(bad):
    renderer = Renderer(channels=2, max_voices=4, rnn_hidden=3, block_max=BLOCK)
    assert start(renderer) == 0  # a voice that fits
    before = renderer.table.copy(), [a.copy() for a in (renderer.ctl, renderer.params)]
    with pytest.raises(ValueError, match="does not fit this renderer") as caught:
        start(renderer, **bad)
    assert "\n" not in str(caught.value)
    assert renderer.stats.voices_started == 1 and renderer.active_voices == 1
    np.testing.assert_array_equal(renderer.table, before[0])
    out = np.zeros((BLOCK, 2))
    assert rt.render_voices(renderer.table, out) == 0 and np.abs(out).max() > 0  # the good voice still plays
