"""focus/surface.py: grid order, plane fit, prediction and summary on plain arrays."""

import math

import numpy as np
import pytest

from octoprint_autofocus.focus.surface import fit_plane, grid_points, predict_z, summarize


def test_grid_is_a_serpentine_covering_the_rectangle():
    points = grid_points(10.0, 40.0, 20.0, 60.0, rows=3, cols=4)
    assert [p.index for p in points] == list(range(12))
    assert [(p.row, p.col) for p in points[:8]] == [(0, 0), (0, 1), (0, 2), (0, 3),
                                                    (1, 3), (1, 2), (1, 1), (1, 0)]
    assert {p.x for p in points} == {10.0, 20.0, 30.0, 40.0}
    assert {p.y for p in points} == {20.0, 40.0, 60.0}
    # every move is one grid step
    steps = [math.hypot(b.x - a.x, b.y - a.y) for a, b in zip(points, points[1:])]
    assert max(steps) == pytest.approx(20.0)


def test_grid_refuses_bad_shapes():
    with pytest.raises(ValueError):
        grid_points(0, 1, 0, 1, rows=0, cols=3)
    with pytest.raises(ValueError):
        grid_points(5, 1, 0, 1, rows=2, cols=2)


def test_plane_fit_recovers_a_plane_and_refuses_a_line():
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 200, 30), rng.uniform(0, 200, 30)
    z = 3.0 + 0.002 * x - 0.001 * y
    plane = fit_plane(x, y, z)
    assert plane.slope_x == pytest.approx(0.002)
    assert plane.slope_y == pytest.approx(-0.001)
    assert plane.at(100, 50) == pytest.approx(3.0 + 0.2 - 0.05)
    assert fit_plane([0, 10, 20], [5, 5, 5], [1, 2, 3]) is None
    assert fit_plane([0, 10], [0, 5], [1, 2]) is None


def tilted(x, y):
    return 4.0 + 0.0015 * x + 0.0008 * y


def test_prediction_from_one_point_is_its_height():
    assert predict_z([(10, 10, 4.2)], 30, 10) == (pytest.approx(4.2), pytest.approx(0.0))


def test_prediction_along_a_row_follows_the_row_slope():
    known = [(x, 10.0, tilted(x, 10.0)) for x in (10, 30, 50)]
    z, spread = predict_z(known, 70, 10)
    assert z == pytest.approx(tilted(70, 10), abs=1e-6)
    assert spread == pytest.approx(0.0, abs=1e-9)
    # the next row starts above the last point: the undetermined Y slope counts as level
    z, _ = predict_z(known, 50, 30)
    assert z == pytest.approx(tilted(50, 10), abs=1e-6)


def test_prediction_on_a_plane_is_exact_once_it_is_determined():
    points = grid_points(10, 190, 10, 190, 4, 4)
    known = [(p.x, p.y, tilted(p.x, p.y)) for p in points[:6]]
    for p in points[6:]:
        z, spread = predict_z(known, p.x, p.y)
        assert z == pytest.approx(tilted(p.x, p.y), abs=1e-6)
        assert spread < 1e-6
        known.append((p.x, p.y, z))


def test_prediction_spread_grows_on_a_curved_surface():
    bump = lambda x, y: 4.0 + 0.3 * math.exp(-((x - 100) ** 2 + (y - 100) ** 2) / (2 * 40.0 ** 2))
    points = grid_points(10, 190, 10, 190, 5, 5)
    known = [(p.x, p.y, bump(p.x, p.y)) for p in points[:12]]
    _, spread = predict_z(known, points[12].x, points[12].y)
    assert spread > 0.005
    with pytest.raises(ValueError):
        predict_z([], 0, 0)


def test_summary_of_a_tilted_plane():
    points = grid_points(10, 190, 10, 190, 5, 5)
    xs = [p.x for p in points]
    ys = [p.y for p in points]
    zs = [tilted(x, y) for x, y in zip(xs, ys)]
    summary = summarize(xs, ys, zs, (10, 190, 10, 190))
    assert summary["measured"] == 25
    assert summary["min"] == pytest.approx(tilted(10, 10))
    assert summary["max"] == pytest.approx(tilted(190, 190))
    assert summary["range"] == pytest.approx(180 * (0.0015 + 0.0008))
    assert summary["rms"] == pytest.approx(0.0, abs=1e-9)
    assert summary["tilt_x"] == pytest.approx(0.15)
    assert summary["tilt_y"] == pytest.approx(0.08)
    assert summary["high_corner"] == "back right"
    assert summary["low_corner"] == "front left"
    assert summary["high_by"] == pytest.approx(180 * (0.0015 + 0.0008))


def test_summary_rms_is_the_deviation_from_the_plane():
    xs = [0, 100, 0, 100, 50]
    ys = [0, 0, 100, 100, 50]
    zs = [1.0, 1.0, 1.0, 1.0, 1.5]  # a bump in the middle of a level square
    summary = summarize(xs, ys, zs, (0, 100, 0, 100))
    plane = fit_plane(xs, ys, zs)
    residual = np.array(zs) - np.array([plane.at(x, y) for x, y in zip(xs, ys)])
    assert summary["rms"] == pytest.approx(float(np.sqrt(np.mean(residual ** 2))))
    assert summary["rms"] > 0.15
    assert summary["tilt_x"] == pytest.approx(0.0, abs=1e-9)
    assert summary["high_by"] == pytest.approx(0.0, abs=1e-9)


def test_summary_without_a_plane_keeps_the_plain_figures():
    summary = summarize([0, 50], [0, 0], [1.0, 1.2], (0, 50, 0, 50))
    assert summary["range"] == pytest.approx(0.2)
    assert summary["tilt_x"] is None and summary["high_corner"] is None
    assert summarize([], [], [], (0, 1, 0, 1))["min"] is None


def test_corner_names_follow_the_axes():
    xs, ys = [0, 100, 0, 100], [0, 0, 100, 100]
    assert summarize(xs, ys, [0.0, 0.0, 0.3, 0.3], (0, 100, 0, 100))["high_corner"] in ("back left", "back right")
    assert summarize(xs, ys, [0.3, 0.0, 0.3, 0.0], (0, 100, 0, 100))["high_corner"] in ("front left", "back left")
    # a tilt in both directions has one high corner
    summary = summarize(xs, ys, [0.0, 0.1, 0.2, 0.3], (0, 100, 0, 100))
    assert (summary["high_corner"], summary["low_corner"]) == ("back right", "front left")
    assert summary["high_by"] == pytest.approx(0.3)
