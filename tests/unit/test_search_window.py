"""Search windows: the window is a first guess, the search extends past it into the limits,
never past the limits or the extension budget, and says where and why it stopped."""

import json

import numpy as np
import pytest

from octoprint_autofocus.focus import FocusResult, autofocus
from octoprint_autofocus.focus.options import DEFAULTS
from octoprint_autofocus.simulator import make_rig

SIZE = (320, 240)
DOF = 0.1


def run(focal_z, window=(4.0, 8.0), limits=(0.0, 20.0), start_z=6.0, **options):
    """Focus a simulated rig whose stage allows far more than ``limits``."""
    rig = make_rig(scene="pcb", seed=2, focal_z=focal_z, dof=DOF, z_limits=(-30.0, 50.0),
                   start_z=start_z, size=SIZE)
    result = autofocus(rig.stage, rig.camera, *window, limits=limits, sleep=rig.clock.sleep,
                       clock=rig.clock.now, **options)
    return rig, result


def inside(rig, lo, hi):
    return all(lo <= z <= hi for z in rig.stage.commanded)


@pytest.mark.parametrize("focal_z", [4.0, 3.5, 8.0, 8.6, 1.2])
def test_focus_at_or_past_a_window_edge_is_found_by_extending_towards_it(focal_z):
    rig, result = run(focal_z)
    assert result.ok, result.detail
    assert rig.optical_error() <= DOF / 2
    below, above = result.extended
    assert (below > 0) == (focal_z <= 4.0) or focal_z < 3.0  # 1.2: the window shows nothing,
    assert (above > 0) == (focal_z >= 8.0) or focal_z < 3.0  # so both sides are looked at
    assert below > 0 if focal_z <= 4.0 else above > 0
    assert result.z_min == pytest.approx(4.0 - below) and result.z_max == pytest.approx(8.0 + above)
    assert inside(rig, result.z_min, result.z_max + 0.2)  # the overscan may pass the top end


def test_focus_inside_the_window_needs_no_extension():
    rig, result = run(5.3)
    assert result.ok and result.extended == [0.0, 0.0]
    assert (result.z_min, result.z_max) == (4.0, 8.0)


def test_focus_beyond_the_extension_budget_stops_at_the_budget_and_says_so():
    rig, result = run(1.5, max_extension=1.0)
    assert not result.ok and result.reason == "peak_at_edge"
    assert result.edge_kind == "budget" and result.edge_z == pytest.approx(3.0)
    assert result.extended[0] == pytest.approx(1.0)  # (the window shows nothing: above too)
    assert inside(rig, 3.0, 9.0 + 0.2)
    assert "3.000 mm" in result.message and "further below" in result.message


def test_focus_beyond_a_hard_limit_stops_at_the_limit_and_says_so():
    rig, result = run(2.0, limits=(3.2, 20.0))
    assert not result.ok and result.reason == "peak_at_edge"
    assert result.edge_kind == "limit" and result.edge_z == pytest.approx(3.2)
    assert min(rig.stage.commanded) >= 3.2
    assert "lower Z limit (3.200 mm)" in result.message


def test_without_limits_the_window_is_a_wall():
    rig, result = run(3.5, limits=None)
    assert not result.ok and result.reason == "peak_at_edge" and result.edge_kind == "limit"
    assert result.edge_z == 4.0 and result.limits == [4.0, 8.0]
    assert inside(rig, 4.0, 8.0)


def test_no_extension_behaves_exactly_like_a_wall_but_calls_it_the_budget():
    _, wall = run(3.5, limits=None)
    _, zero = run(3.5, max_extension=0)
    assert zero.samples == wall.samples and zero.reason == wall.reason == "peak_at_edge"
    assert zero.edge_kind == "budget" and wall.edge_kind == "limit"


def test_focus_within_the_backlash_distance_of_the_top_is_reached_once_the_limits_allow_it():
    rig = make_rig(scene="pcb", seed=6, focal_z=7.95, dof=DOF, z_limits=(-30.0, 50.0),
                   start_z=6.0, size=SIZE, backlash=0.1)
    result = autofocus(rig.stage, rig.camera, 4.0, 8.0, limits=(0.0, 20.0),
                       sleep=rig.clock.sleep, clock=rig.clock.now)
    assert result.ok, result.detail
    assert rig.optical_error() <= DOF / 2


def test_the_record_keeps_window_limits_extension_and_edge_through_json():
    _, result = run(1.5, max_extension=1.0)
    again = FocusResult.from_dict(json.loads(json.dumps(result.to_dict())))
    for name in FocusResult.__dataclass_fields__:
        assert getattr(again, name) == getattr(result, name), name
    assert again.window == [4.0, 8.0] and again.limits == [0.0, 20.0]
    assert again.edge_kind == "budget"


def test_the_message_is_for_people_and_the_detail_for_the_record():
    _, ok = run(3.5)
    _, failed = run(1.5, max_extension=1.0)
    for result in (ok, failed):
        assert "mm" in result.message and "R^2" not in result.message
        numbers = [w for w in result.message.replace("(", " ").split() if w[:1].isdigit()]
        assert all(len(n.rstrip(".,)").split(".")[1]) == 3 for n in numbers if "." in n)
        assert result.detail and result.detail != result.message
    assert ok.message.startswith("Focused at Z %.3f mm." % ok.z)


def test_extension_steps_start_at_the_coarse_step_and_grow_up_to_four_of_them():
    _, result = run(1.2)
    below = [z for (z, _), p in zip(result.samples, result.phases) if p == "coarse" and z < 4.0]
    step = (result.window[1] - result.window[0]) / (DEFAULTS["coarse_points"] - 1)
    assert np.allclose(np.diff([4.0] + below)[:2], [-step, -2.0 * step])
    assert np.all(np.diff([4.0] + below) >= -4.0 * step - 1e-9)
    assert result.ok and result.extended[0] == pytest.approx(4.0 - min(below))


def test_a_side_lobe_of_a_grid_inside_the_window_does_not_stop_the_search_short():
    # focus 5 DOF past the window's top; a defocus side lobe of the grid bumps at -19 DOF
    rig = make_rig(scene="grid", seed=5677, focal_z=20.68263607172061, dof=0.13049332619010923,
                   z_limits=(-5.0, 35.0), start_z=19.014, noise=0.005, flicker=0.08,
                   backlash=0.02, size=SIZE)
    result = autofocus(rig.stage, rig.camera, 18.014, 20.014, limits=(0.0, 30.0), settle=0.05,
                       sleep=rig.clock.sleep, clock=rig.clock.now)
    assert result.ok, result.detail
    assert rig.optical_error() <= rig.dof / 2


@pytest.mark.parametrize("seed", [172, 643, 3513])
def test_a_blurred_bump_next_to_a_focus_beyond_the_limits_is_never_ok(seed):
    # focus 4 to 20 DOF below the hard limit 0.5; grid side lobes make bumps on the way
    rig = make_rig(scene="grid", seed=seed, focal_z=0.1, dof=0.05, z_limits=(-5.0, 9.0),
                   start_z=1.6, noise=0.01, size=SIZE)
    result = autofocus(rig.stage, rig.camera, 1.1, 2.1, limits=(0.5, 3.5), settle=0.05,
                       sleep=rig.clock.sleep, clock=rig.clock.now)
    assert not result.ok, f"a side lobe at Z{result.z:.3f} taken for focus"


@pytest.mark.parametrize("focal_z, start_z", [(1.0, 6.0), (10.5, 6.0), (11.5, 8.0), (1.5, 4.0)])
def test_a_window_that_shows_nothing_is_looked_past_until_the_focus_shows(focal_z, start_z):
    # a depth of field of 0.02 mm: focus 125 to 175 DOF past the window leaves it all blur;
    # where the blur's slope shows no direction, both sides are looked at
    rig = make_rig(scene="pcb", seed=2, focal_z=focal_z, dof=0.02, z_limits=(-30.0, 50.0),
                   start_z=start_z, size=SIZE)
    result = autofocus(rig.stage, rig.camera, 4.0, 8.0, limits=(0.0, 20.0),
                       sleep=rig.clock.sleep, clock=rig.clock.now)
    assert result.ok, result.detail
    assert rig.optical_error() <= 0.01
    assert result.extended[0 if focal_z < 4.0 else 1] > 0
    assert inside(rig, 0.0, 12.0 + 0.2)


HELD_DOF = 0.05


def run_at_a_held_top(scene, backlash, focal_z):
    """A window 6..8 that is a wall (no limits): approached from above, the carriage lags
    ``backlash`` behind any move up to Z8, so nothing above 8 - backlash can be reached."""
    rig = make_rig(scene=scene, seed=0, focal_z=focal_z, dof=HELD_DOF, z_limits=(-30.0, 50.0),
                   start_z=6.0, size=SIZE, backlash=backlash)
    return rig, autofocus(rig.stage, rig.camera, 6.0, 8.0, sleep=rig.clock.sleep, clock=rig.clock.now)


@pytest.mark.parametrize("backlash", [0.05, 0.1])
@pytest.mark.parametrize("scene", ["texture", "grid", "cells"])
def test_focus_just_inside_what_a_held_top_lets_the_optics_reach_is_found(scene, backlash):
    rig, result = run_at_a_held_top(scene, backlash, 8.0 - backlash - 0.3 * HELD_DOF)
    assert result.ok, result.detail
    assert rig.optical_error() <= HELD_DOF / 2


@pytest.mark.parametrize("beyond", [1.0, 2.0, 4.0])
@pytest.mark.parametrize("scene", ["pcb", "cells"])
def test_focus_beyond_what_a_held_top_lets_the_optics_reach_is_never_ok(scene, beyond):
    rig, result = run_at_a_held_top(scene, 0.1, 8.0 - 0.1 + beyond * HELD_DOF)
    assert not result.ok, f"ok at Z{result.z:.4f}, {rig.optical_error() / HELD_DOF:.1f} DOF off"
    assert result.reason in ("peak_at_edge", "poor_fit")
