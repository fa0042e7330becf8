"""The loss plot's one-item curves: what they keep, which key the pointer names, and that they paint."""

import numpy as np
import pyqtgraph as pg
import pytest

from app.loss_curves import MAX_POINTS, LossCurves, curve_pen


@pytest.fixture
def plot(qtbot):
    widget = pg.PlotWidget()
    widget.getPlotItem().setLogMode(y=True)
    widget.resize(400, 300)
    qtbot.addWidget(widget)
    return widget


def test_points_are_kept_as_log10_with_gaps_for_losses_a_log_axis_cannot_show(plot):
    curves = LossCurves(["A4", "C5"])
    curves.append([0.0, 1.0], [[1.0, 10.0], [0.01, 0.0]])
    curves.append([2.0], [[np.nan, 1e-3]])
    steps, logs = curves.data
    assert steps.tolist() == [0.0, 1.0, 2.0]
    # numpy's log10 is vectorised per CPU (SVML on AVX-512): a tolerance, NaN where the plot leaves a gap
    np.testing.assert_allclose(logs[:, 0], [0.0, -2.0, np.nan], rtol=0, atol=1e-14)
    np.testing.assert_allclose(logs[:, 1], [1.0, np.nan, -3.0], rtol=0, atol=1e-14)


def test_the_pointer_names_the_key_whose_curve_is_nearest(plot):
    curves = LossCurves(["A0", "C4", "C8"])
    curves.append(np.arange(10.0), np.tile([1e-1, 1e-4, 1e-7], (10, 1)))
    assert curves.key_at(4.5, -0.8) == "A0"
    assert curves.key_at(4.5, -4.4) == "C4"
    assert curves.key_at(30.0, -9.0) == "C8"  # past the last step: the last point counts
    assert LossCurves(["A4"]).key_at(0.0, 0.0) is None


def test_a_long_run_keeps_at_most_max_points_spread_over_the_whole_run(plot):
    curves = LossCurves(["A4"])
    total = 10 * MAX_POINTS + 7
    for start in range(0, total, 13):  # polls of 13 points
        steps = np.arange(start, min(start + 13, total), dtype=np.float64)
        curves.append(steps, (1.0 + steps)[:, None])
    steps, logs = curves.data
    assert MAX_POINTS // 2 <= len(steps) <= MAX_POINTS
    assert steps[0] == 0.0 and steps[-1] >= total - 16 and np.all(np.diff(steps) > 0)
    assert np.ptp(np.diff(steps)) == 0  # evenly spaced: one stride for the whole run
    np.testing.assert_allclose(logs[:, 0], np.log10(1.0 + steps))


def test_selecting_a_key_makes_it_bold_and_the_curves_paint_in_their_hues(plot):
    curves = LossCurves(["A4", "C5"])
    plot.addItem(curves, ignoreBounds=True)
    steps = np.arange(50.0)
    curves.append(steps, np.stack([10 ** (-steps / 10), 10 ** (-steps / 20)], axis=1))
    plot.setRange(xRange=(0, 50), yRange=(-5, 0), padding=0)
    curves.select(1)
    assert curves.pen(1).width() == 3 and curves.pen(0).width() == 1
    image = plot.grab().toImage()
    colours = {image.pixelColor(x, y).rgb() & 0xFFFFFF for x in range(0, image.width(), 2)
               for y in range(0, image.height(), 2)}
    for index in (0, 1):
        assert curve_pen(index, 2).color().rgb() & 0xFFFFFF in colours
