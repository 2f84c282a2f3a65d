"""focus/focus_map.py on the simulated XY rig over known focal surfaces, and with scripted searches."""

import threading

import numpy as np
import pytest

from octoprint_autofocus.focus import FocusResult
from octoprint_autofocus.focus import focus_map as fm
from octoprint_autofocus.focus.errors import StageError
from octoprint_autofocus.focus.surface import fit_plane, grid_points
from octoprint_autofocus.simulator.focal_surface import FocalSurface
from octoprint_autofocus.simulator.map_rig import make_map_rig
from tests.fakes import DarkeningCamera

DOF = 0.1
LIMITS = (0.0, 20.0)


class Recorder:
    """Wraps a rig's stages: ``moves`` lists ("z", z) and ("xy", x, y, z_then) in order."""

    def __init__(self, rig):
        self.rig = rig
        self.moves = []
        self.stage = self
        self.fail_xy_after = None

    # ZStage
    def move_to(self, z):
        self.moves.append(("z", z))
        self.rig.stage.move_to(z)

    def position(self):
        return self.rig.stage.position()

    # XYStage
    def move_xy(self, x, y):
        if self.fail_xy_after is not None and self.xy_moves() >= self.fail_xy_after:
            raise StageError("the X axis stalled")
        self.moves.append(("xy", x, y, self.rig.stage.position()))
        self.rig.xy.move_xy(x, y)

    def xy_moves(self):
        return sum(1 for move in self.moves if move[0] == "xy")


def run_map(surface, rows=4, cols=4, seed=1, start_z=4.3, recorder=None, camera=None, **kwargs):
    """Map ``surface`` on a simulated rig through ``recorder(rig)`` and ``camera(rig)`` (by
    default the rig's own); returns (result, rig, recorder)."""
    rig = make_map_rig(surface, seed=seed, dof=DOF, z_limits=(-5.0, 25.0), start_z=start_z)
    rec = recorder(rig) if recorder else Recorder(rig)
    kwargs.setdefault("limits", LIMITS)
    kwargs.setdefault("first_window", (start_z - 2.0, start_z + 2.0))
    options = dict(overscan=0.05, sleep=rig.clock.sleep, clock=rig.clock.now)
    options.update(kwargs.pop("search_options", {}))
    result = fm.measure_map(rec, rec, camera(rig) if camera else rig.camera, grid_points(10, 190, 10, 190, rows, cols),
                            search_options=options, clock=rig.clock.now, **kwargs)
    return result, rig, rec


def test_tilted_surface_is_measured_within_a_fraction_of_the_depth_of_field():
    surface = FocalSurface("tilted", focal_z=4.0, height=0.3)
    result, rig, rec = run_map(surface, rows=4, cols=5)
    assert result.ok and result.reason == ""
    assert len(result.points) == 20 and all(p.ok for p in result.points)
    for p in result.points:
        assert abs(p.z - surface.z_at(p.x, p.y)) < DOF / 4
    truth = fit_plane([p.x for p in result.points], [p.y for p in result.points],
                      [surface.z_at(p.x, p.y) for p in result.points])
    assert result.summary["tilt_x"] == pytest.approx(100 * truth.slope_x, rel=0.05)
    assert result.summary["tilt_y"] == pytest.approx(100 * truth.slope_y, rel=0.05)
    assert result.summary["high_corner"] == "back right"
    assert result.summary["failed"] == 0 and result.summary["points"] == 20
    heights = [p.height for p in result.points]
    assert np.mean(heights) == pytest.approx(0.0, abs=1e-9)
    assert result.frames == sum(p.frames for p in result.points)


def test_points_after_the_first_search_a_narrow_predicted_window():
    surface = FocalSurface("tilted", focal_z=4.0, height=0.3)
    result, _, _ = run_map(surface, rows=3, cols=3)
    first, rest = result.points[0], result.points[1:]
    assert first.predicted is None and first.window == [2.3, 6.3]
    assert result.fwhm is not None and 0.5 * DOF < result.fwhm < 5 * DOF
    for p in rest:
        assert p.predicted is not None
        width = p.window[1] - p.window[0]
        assert width >= 2 * fm.WINDOW_FWHM * result.fwhm - 1e-9
        assert width < 4 * result.fwhm
        assert p.window[0] <= p.predicted <= p.window[1]
    assert np.median([p.frames for p in rest]) < first.frames


def test_travel_is_at_the_lift_height_and_every_target_inside_the_limits():
    surface = FocalSurface("warped", focal_z=4.0, height=0.3)
    result, rig, rec = run_map(surface, rows=3, cols=4, lift=1.5)
    assert result.ok
    assert rig.stage.violations == [] and rig.xy.violations == []
    assert all(LIMITS[0] <= z <= LIMITS[1] for z in rig.stage.commanded)
    focused = {(p.x, p.y): p.z for p in result.points}
    last_z = 4.3
    for move in rec.moves:
        if move[0] == "xy":
            # the head travels 1.5 mm above the Z it last focused at
            assert move[3] == pytest.approx(last_z + 1.5)
            last_z = focused[(move[1], move[2])]
    # and the map ends lifted above the last point
    assert rig.stage.position() == pytest.approx(result.points[-1].z + 1.5)


def test_absolute_travel_height():
    surface = FocalSurface("flat", focal_z=4.0)
    result, _, rec = run_map(surface, rows=2, cols=2, lift=None, travel_z=7.0)
    assert result.ok
    assert [move[3] for move in rec.moves if move[0] == "xy"] == [7.0] * 4


def test_travel_is_capped_at_the_top_limit():
    surface = FocalSurface("flat", focal_z=4.0)
    result, rig, _ = run_map(surface, rows=2, cols=2, lift=5.0, limits=(0.0, 6.0), first_window=(2.3, 6.0))
    assert result.ok
    assert max(rig.stage.commanded) == pytest.approx(6.0)


def test_a_bare_spot_fails_its_point_and_the_map_goes_on():
    surface = FocalSurface("tilted", focal_z=4.0, height=0.3, bare_spot=(130.0, 70.0, 5.0))
    result, _, _ = run_map(surface, rows=4, cols=4)
    assert result.ok
    failed = [p for p in result.points if not p.ok]
    assert [(p.x, p.y) for p in failed] == [(130.0, 70.0)]
    assert failed[0].reason in fm.POINT_FAILURES and failed[0].message
    assert failed[0].z is None and failed[0].height is None
    assert result.summary["failed"] == 1 and result.summary["measured"] == 15
    assert "1 failed" in result.message


class Over:
    """Frame numbers taken while the head is over ``spot`` (x, y): the ``dark`` frames of a
    :class:`~tests.fakes.DarkeningCamera` over a spot of the bed the light does not reach."""

    def __init__(self, xy, spot):
        self.xy, self.spot = xy, spot

    def __contains__(self, index):
        return self.xy.position_xy() == self.spot


def test_a_point_where_the_picture_stays_dark_fails_alone_and_the_map_goes_on():
    surface = FocalSurface("tilted", focal_z=4.0, height=0.3)
    result, rig, _ = run_map(surface, rows=3, cols=3,
                             camera=lambda rig: DarkeningCamera(Over(rig.xy, (100.0, 100.0)), rig.camera))
    assert result.ok and result.reason == ""
    failed = [p for p in result.points if not p.ok]
    assert [(p.x, p.y, p.reason) for p in failed] == [(100.0, 100.0, "camera_dark")]
    assert failed[0].message.startswith("The camera's picture was dark")
    assert result.summary["failed"] == 1 and result.summary["measured"] == 8
    assert all(abs(p.z - surface.z_at(p.x, p.y)) < DOF / 4 for p in result.points if p.ok)
    assert rig.stage.violations == []


def test_too_many_failed_points_stop_the_map():
    surface = FocalSurface("flat", focal_z=4.0, bare_spot=(100.0, 100.0, 500.0))
    result, rig, _ = run_map(surface, rows=3, cols=3, max_failed=0.25)
    assert not result.ok and result.reason == "too_many_failed"
    assert len(result.points) == 3  # 3 of 9 is more than a quarter
    assert "3 of 9" in result.message


def test_cancel_stops_at_once():
    surface = FocalSurface("flat", focal_z=4.0)
    cancel = threading.Event()
    moves_at_cancel = []

    def on_point(point, done, total):
        if done == 2:
            cancel.set()
            moves_at_cancel.append(len(rec_holder[0].moves))

    rec_holder = []

    def recorder(rig):
        rec_holder.append(Recorder(rig))
        return rec_holder[0]

    result, _, rec = run_map(surface, rows=3, cols=3, cancel=cancel, on_point=on_point, recorder=recorder)
    assert result.reason == "cancelled" and not result.ok
    assert len(result.points) == 2
    assert len(rec.moves) == moves_at_cancel[0]  # nothing moved after the cancel


def test_a_device_error_ends_the_map_with_the_point_so_far():
    surface = FocalSurface("flat", focal_z=4.0)

    def recorder(rig):
        rec = Recorder(rig)
        rec.fail_xy_after = 2
        return rec

    result, _, _ = run_map(surface, rows=2, cols=2, recorder=recorder)
    assert not result.ok and result.reason == "stage_error"
    assert "stalled" in result.message
    assert len(result.points) == 2 and all(p.ok for p in result.points)


# ~~ the window extension, with a scripted search


def scripted(truth):
    """A search that extends its window as the engine does (``max_extension`` per side within
    ``limits``) and finds ``truth()`` when it lies in that range, else reports the edge."""
    calls = []

    def search(stage, camera, z_min, z_max, *, roi, metric, cancel, limits, **options):
        calls.append((z_min, z_max, dict(options, limits=limits)))
        reach = options.get("max_extension")
        reach = z_max - z_min if reach is None else reach
        z_min, z_max = max(z_min - reach, limits[0]), min(z_max + reach, limits[1])
        focus = truth()
        stage.move_to((z_min + z_max) / 2)
        if z_min <= focus <= z_max:
            stage.move_to(focus)
            return FocusResult(ok=True, z=focus, z_min=z_min, z_max=z_max, final_z=focus, frames=6)
        edge = z_max if focus > z_max else z_min
        return FocusResult(ok=False, z=edge, reason="peak_at_edge", message="focus beyond the edge",
                           z_min=z_min, z_max=z_max, final_z=(z_min + z_max) / 2, frames=5)

    return search, calls


class Head:
    def __init__(self):
        self.z, self.x, self.y = 5.0, 0.0, 0.0
        self.zs = []

    def move_to(self, z):
        self.zs.append(z)
        self.z = z

    def position(self):
        return self.z

    def move_xy(self, x, y):
        self.x, self.y = x, y


STEP = {(10.0, 10.0): 4.0, (190.0, 10.0): 4.0, (190.0, 190.0): 4.9, (10.0, 190.0): 4.9}
"""Heights of a 2 x 2 map whose second row lies 0.9 mm higher: far outside its window."""


def test_a_missed_window_is_extended_by_the_search_within_the_limits():
    head = Head()
    search, calls = scripted(lambda: STEP[(head.x, head.y)])
    result = fm.measure_map(head, head, None, grid_points(10, 190, 10, 190, 2, 2), limits=(1.0, 19.0),
                            first_window=(3.0, 7.0), search=search, max_extension=1.5)
    assert result.ok and [p.z for p in result.points] == [4.0, 4.0, 4.9, 4.9]
    third = result.points[2]
    assert third.window[1] < 4.9 <= third.searched[1] <= third.window[1] + 1.5
    assert calls[0][2] == {"limits": (1.0, 19.0)}  # the first point: a normal autofocus
    for _, _, options in calls[1:]:
        assert options == {"coarse_points": fm.NARROW_COARSE_POINTS, "limits": (1.0, 19.0), "max_extension": 1.5}


def test_an_overscan_a_point_grew_is_passed_on_to_the_points_after_it():
    head = Head()
    search, calls = scripted(lambda: STEP[(head.x, head.y)])

    def growing_at_the_second_point(*args, **kwargs):
        result = search(*args, **kwargs)
        if len(calls) == 2:  # backlash larger than the overscan showed there
            result.overscan_grown = 0.6
        return result

    result = fm.measure_map(head, head, None, grid_points(10, 190, 10, 190, 2, 2), limits=(1.0, 19.0),
                            first_window=(3.0, 7.0), search=growing_at_the_second_point,
                            search_options={"overscan": 0.2}, max_extension=1.5)
    assert result.ok
    assert [options["overscan"] for _, _, options in calls] == [0.2, 0.2, 0.6, 0.6]


def test_a_miss_beyond_the_extension_fails_the_point():
    head = Head()
    search, _ = scripted(lambda: STEP[(head.x, head.y)])
    result = fm.measure_map(head, head, None, grid_points(10, 190, 10, 190, 2, 2), limits=(0.0, 20.0),
                            first_window=(3.0, 7.0), search=search, max_extension=0.3, max_failed=1.0)
    assert result.ok
    # the second row lies beyond every window predicted from the first
    assert [p.ok for p in result.points] == [True, True, False, False]
    assert {p.reason for p in result.points[2:]} == {"peak_at_edge"}
    assert max(head.zs) <= 20.0


def test_windows_stay_inside_the_limits():
    head = Head()
    search, calls = scripted(lambda: 19.95)
    result = fm.measure_map(head, head, None, grid_points(10, 190, 10, 190, 2, 2), limits=(0.0, 20.0),
                            first_window=(16.0, 20.0), search=search)
    assert result.ok
    for z_min, z_max, _ in calls:
        assert 0.0 <= z_min < z_max <= 20.0
    assert max(head.zs) <= 20.0


@pytest.mark.parametrize("kwargs", [
    dict(limits=(5.0, 5.0)),
    dict(first_window=(-1.0, 3.0)),
    dict(lift=1.0, travel_z=5.0),
    dict(lift=None),
    dict(lift=-1.0),
    dict(lift=None, travel_z=30.0),
    dict(max_failed=1.5),
    dict(window_fwhm=0.0),
])
def test_bad_arguments_are_refused_before_anything_moves(kwargs):
    head = Head()
    arguments = dict(limits=(0.0, 20.0), first_window=(3.0, 7.0), lift=1.0)
    arguments.update(kwargs)
    with pytest.raises(ValueError):
        fm.measure_map(head, head, None, grid_points(0, 10, 0, 10, 2, 2), **arguments)
    assert head.zs == []
