"""The autofocus search: success, safety, backlash, failure reasons, callbacks, arguments."""

import json
import threading

import numpy as np
import pytest

from octoprint_autofocus.focus import FocusResult, autofocus
from octoprint_autofocus.focus.errors import Cancelled
from octoprint_autofocus.focus.options import DEFAULTS
from octoprint_autofocus.focus.run_state import DARK_GIVE_UP, DARK_RETAKES
from octoprint_autofocus.focus.search import SLACK_GROWTH, SLACK_ROUNDS, SNAP_REACH
from octoprint_autofocus.simulator import SCENES, make_rig
from octoprint_autofocus.focus.verdict import RESCAN_POINTS
from tests.fakes import BlurringCamera, DarkeningCamera, DriftingCamera, FakeStage, StackCamera

SIZE = (320, 240)


def run_rig(z_min=1.0, z_max=5.0, **rig_args):
    """Build a simulated rig (stage limits wider than the range) and focus it."""
    rig_args.setdefault("z_limits", (z_min - 1.0, z_max + 1.0))
    rig_args.setdefault("size", SIZE)
    options = rig_args.pop("options", {})
    rig = make_rig(**rig_args)
    result = autofocus(rig.stage, rig.camera, z_min, z_max, sleep=rig.clock.sleep,
                       clock=rig.clock.now, **options)
    return rig, result


def run_fake(focus_z=3.0, start=2.0, limits=(0.0, 6.0), z_range=(1.0, 5.0), camera_args=None,
             **options):
    """Focus a FakeStage + BlurringCamera pair; returns (stage, camera, result)."""
    stage = FakeStage(limits=limits, start=start, backlash=options.pop("backlash", 0.0),
                      fail_after=options.pop("fail_after", None))
    camera = BlurringCamera(stage, focus_z, seed=3, **(camera_args or {}))
    result = autofocus(stage, camera, *z_range, sleep=lambda s: None, **options)
    return stage, camera, result


def frames_after_moves(log, start):
    """For each frame in the log: its Z and the direction (+1 up, -1 down) of the move before."""
    directions, last_z, last_dir = [], start, 0
    for kind, z in log:
        if kind == "move":
            if z != last_z:
                last_dir = 1 if z > last_z else -1
            last_z = z
        else:
            directions.append((last_z, last_dir))
    return directions


# ~~ success


@pytest.mark.parametrize("scene", ["pcb", "texture", "cells"])
@pytest.mark.parametrize("start", [1.0, 5.0])
def test_focus_is_found_from_far_starts_on_both_sides(scene, start):
    rig, result = run_rig(scene=scene, seed=4, focal_z=3.3, dof=0.1, start_z=start)
    assert result.ok, result.message
    assert rig.optical_error() <= rig.dof / 2


@pytest.mark.parametrize("dof", [1.3, 0.2, 0.03])
def test_focus_is_found_for_wide_and_very_narrow_depths_of_field(dof):
    rig, result = run_rig(scene="pcb", seed=8, focal_z=2.2, dof=dof, start_z=4.5)
    assert result.ok, result.message
    assert rig.optical_error() <= rig.dof / 2


def test_start_in_a_featureless_blur_still_finds_focus():
    rig, result = run_rig(scene="texture", seed=2, focal_z=1.4, dof=0.04, start_z=4.9)
    assert result.ok, result.message
    assert rig.optical_error() <= rig.dof / 2


NARROW_ON_A_COARSE_GRID = [
    # (window, rig), drawn by the benches on a 7-point grid: DOF 1/50 to 1/120 of the window,
    # JPEG, flicker, a little backlash
    ((3.006, 4.006), dict(scene="pcb", seed=5587, focal_z=3.7397, dof=0.0085, z_limits=(2.0, 5.0),
                          start_z=3.006, noise=0.02, jpeg_quality=85, flicker=0.08, backlash=0.02)),
    ((12.9, 13.9), dict(scene="pcb", seed=9968, focal_z=12.2091, dof=0.0191,
                        z_limits=(-5.0, 35.0), start_z=13.4, noise=0.02, jpeg_quality=85,
                        backlash=0.02, options={"limits": (0.0, 30.0)})),
    ((4.242, 5.242), dict(scene="cells", seed=9101, focal_z=4.7878, dof=0.01165,
                          z_limits=(3.242, 6.242), start_z=4.82, noise=0.02, jpeg_quality=85,
                          flicker=0.03, backlash=0.02)),
]


@pytest.mark.parametrize("window, rig_args", NARROW_ON_A_COARSE_GRID)
def test_a_fit_of_the_coarse_points_alone_far_wider_than_the_peak_still_gets_refined(window, rig_args):
    # the coarse points make a broad bump whose fit is far wider than the peak: its
    # tolerance left no room for a refinement sample, and the unrefined vertex (3 to 6 DOF
    # off) was verified and said ok; the bracket around the best point leaves room
    rig_args = dict(rig_args, options=dict(rig_args.get("options", {}), settle=0.05,
                                           coarse_points=7))
    rig, result = run_rig(*window, **rig_args)
    assert "fine" in result.phases
    assert result.ok, result.detail
    assert rig.optical_error() <= rig.dof / 2


def test_focus_just_inside_the_range_edge_succeeds():
    rig, result = run_rig(scene="pcb", seed=5, focal_z=1.05, dof=0.1, start_z=3.0)
    assert result.ok, result.message
    assert rig.optical_error() <= rig.dof / 2


def test_backlash_case_lands_within_half_a_dof():
    rig, result = run_rig(scene="pcb", seed=6, focal_z=2.7, dof=0.05, start_z=1.2, backlash=0.08)
    assert result.ok, result.message
    assert rig.optical_error() <= rig.dof / 2


@pytest.mark.parametrize("metric", ["laplacian", "normalized_variance", "brenner", "vollath_f4"])
def test_every_image_metric_finds_focus(metric):
    rig, result = run_rig(scene="texture", seed=9, focal_z=3.6, dof=0.1, start_z=1.0,
                          options={"metric": metric})
    assert result.ok, result.message
    assert rig.optical_error() <= rig.dof / 2


def test_spot_metric_on_one_star_finds_focus_though_far_frames_score_zero():
    image = SCENES["stars"](2, SIZE)
    y, x = np.unravel_index(np.argmax(image[40:200, 40:280]), (160, 240))
    rig, result = run_rig(scene="stars", seed=2, focal_z=2.7, dof=0.1, start_z=5.0,
                          options={"metric": "spot", "roi": (x, y, 80, 80)})
    assert any(score == 0 for _, score in result.samples)
    assert result.ok, result.message
    assert rig.optical_error() <= rig.dof / 2


def test_start_outside_the_range_is_brought_inside_by_the_first_move():
    rig, result = run_rig(scene="pcb", seed=1, focal_z=3.0, dof=0.1, start_z=5.8)
    assert result.ok, result.message
    assert 1.0 <= rig.stage.commanded[0] <= 5.0


def test_averaging_frames_takes_that_many_frames_per_position():
    _, _, result = run_fake(frames_per_position=3)
    assert result.ok, result.message
    assert result.frames == 3 * len(result.samples)


@pytest.mark.parametrize("seed", [1, 3])
def test_the_focused_z_is_a_frame_at_the_fitted_peak_between_the_samples(seed):
    rig, result = run_rig(scene="grid", seed=seed, focal_z=2.5, dof=0.2, start_z=1.0)
    assert result.ok, result.message
    assert result.fit is not None and result.fit.z_lo <= result.fit.z_peak <= result.fit.z_hi
    assert rig.stage.position() == result.z
    at_z = [phase for (z, _), phase in zip(result.samples, result.phases) if z == result.z]
    # the last frame, at the fitted peak, or a refinement sample within the snap's reach of it
    # (a tolerance is at most 0.3 of the fitted width: a quarter of a Lorentzian's, 0.28 of a Gaussian's)
    assert at_z and (result.phases[-1] == "verify" and result.samples[-1][0] == result.z
                     or "fine" in at_z)
    assert abs(result.z - result.fit.z_peak) <= SNAP_REACH * 0.3 * result.fit.params["fwhm"]


# ~~ safety and backlash


@pytest.mark.parametrize("seed", range(12))
def test_no_z_outside_the_range_is_ever_commanded(seed):
    rng = np.random.default_rng(seed)
    z_min = float(rng.uniform(0, 3))
    z_max = z_min + float(rng.choice([0.5, 2.0, 6.0]))
    focal = float(rng.uniform(z_min - 0.5, z_max + 0.5))
    rig, result = run_rig(z_min=z_min, z_max=z_max, scene=str(rng.choice(["pcb", "cells", "flat"])),
                          seed=seed, focal_z=focal,
                          dof=(z_max - z_min) / float(rng.uniform(3, 150)),
                          start_z=float(rng.uniform(z_min - 0.9, z_max + 0.9)),
                          backlash=float(rng.choice([0.0, 0.05])))
    assert rig.stage.violations == []
    assert all(z_min <= z <= z_max for z in rig.stage.commanded)


@pytest.mark.parametrize("approach", ["above", "below"])
def test_every_sample_away_from_the_far_edge_is_approached_from_the_configured_side(approach):
    stage, _, result = run_fake(start=1.5, approach=approach, overscan=0.3)
    assert result.ok, result.message
    arriving = -1 if approach == "above" else 1
    far_edge = 5.0 if approach == "above" else 1.0
    directions = frames_after_moves(stage.log, start=1.5)
    assert directions[-1][1] == arriving
    assert all(d == arriving for z, d in directions if z != far_edge)


@pytest.mark.parametrize("step, points", [(0.5, 9), (0.4, 11), (3.0, 3)])
def test_coarse_step_sets_the_spacing_of_the_coarse_sweep(step, points):
    stage, _, result = run_fake(focus_z=3.0, start=5.0, coarse_step=step)
    coarse = sorted(z for (z, _), phase in zip(result.samples, result.phases) if phase == "coarse")
    gaps = np.diff(coarse)
    assert len(coarse) <= points
    assert np.all(gaps <= step + 1e-9) and np.all(gaps >= 4.0 / (points - 1) - 1e-9)
    assert result.options["coarse_step"] == step


# ~~ failures


@pytest.mark.parametrize("grey", [128.0, 40.0, 6.0])
def test_a_blank_field_fails_for_lack_of_texture_after_a_finer_look_and_restores_the_start(monkeypatch, grey):
    # a dim blank field's noise is no texture either, and a lit one is no dark camera
    monkeypatch.setitem(SCENES, "flat", lambda seed, size: np.full(size[::-1], grey, np.float32))
    rig, result = run_rig(scene="flat", seed=1, focal_z=3.0, dof=0.1, start_z=2.2, noise=0.02,
                          jpeg_quality=85)
    assert result.reason == "low_texture"
    inside = sorted({round(z, 6) for z, _ in result.samples if 1.0 <= z <= 5.0})
    assert inside == [1.0 + 0.5 * i for i in range(9)]  # the window's grid, then its midpoints
    assert rig.stage.position() == pytest.approx(2.2)


def test_stars_blurred_to_nothing_at_every_coarse_point_are_found_on_the_finer_grid():
    # focus 17 DOF from the nearest of five coarse points: every one sees a featureless field
    rig, result = run_rig(3.438, 7.438, scene="stars", seed=3440, focal_z=6.8406, dof=0.023,
                          z_limits=(1.438, 9.438), start_z=3.438, noise=0.02)
    assert result.ok, result.detail
    assert rig.optical_error() <= rig.dof / 2


@pytest.mark.parametrize("focal", [6.0, 0.2])
def test_peak_beyond_the_range_edge_is_reported_not_trusted(focal):
    rig, result = run_rig(scene="pcb", seed=3, focal_z=focal, dof=0.1, start_z=3.0,
                          z_limits=(-3.0, 9.0))
    assert not result.ok
    assert result.reason == "peak_at_edge"
    assert rig.stage.position() == pytest.approx(3.0)


SMALL_NOISY_ROI = dict(dof=0.1, z_limits=(-5.0, 20.0), noise=0.01, jpeg_quality=85,
                      options={"roi": (106, 80, 80, 60)})
"""An 80x60 px ROI of a JPEG frame: a score that noise moves by several per cent."""


@pytest.mark.parametrize("scene", ["pcb", "texture", "cells"])
def test_focus_far_outside_the_range_seen_through_a_small_noisy_roi_never_comes_back_ok(scene):
    for seed in range(6):
        _, result = run_rig(3.0, 5.0, scene=scene, seed=seed, focal_z=10.0, start_z=4.0,
                            **SMALL_NOISY_ROI)
        assert not result.ok, f"seed {seed}: noise accepted as a peak at Z{result.z:.3f}"
        # far from focus the small ROI is a featureless blur: low_texture says so too, or a
        # second look at a best sample that stood out of the noise does not confirm it
        assert result.reason in ("no_peak", "peak_at_edge", "low_texture", "verify_failed"), f"seed {seed}"


def test_a_run_about_to_refuse_looks_at_the_midpoints_of_its_grid_first():
    _, result = run_rig(3.0, 5.0, scene="texture", seed=0, focal_z=10.0, start_z=4.0,
                        **SMALL_NOISY_ROI)
    grid = np.linspace(3.0, 5.0, max(2 * DEFAULTS["coarse_points"] - 1, RESCAN_POINTS))
    zs = np.array([z for z, _ in result.samples])
    coarse = [z for (z, _), phase in zip(result.samples, result.phases) if phase == "coarse"]
    assert all(np.abs(grid - z).min() < 1e-9 for z in coarse)  # the sweep and the rescan keep to the grid
    assert all(np.abs(zs - z).min() <= 0.5 * (grid[1] - grid[0]) for z in grid)  # each point, or one near it
    assert not result.ok and result.reason == "no_peak"  # nothing better there: the refusal stands


@pytest.mark.parametrize("scene", ["pcb", "texture", "cells"])
def test_a_real_peak_seen_through_the_same_small_noisy_roi_is_still_found(scene):
    for seed in range(6):
        rig, result = run_rig(3.0, 5.0, scene=scene, seed=seed, focal_z=4.3, start_z=3.0,
                              **SMALL_NOISY_ROI)
        assert result.ok, f"seed {seed}: {result.reason}"
        assert rig.optical_error() <= rig.dof / 2, f"seed {seed}"


class SharpAlsoAtTheLowerEnd(BlurringCamera):
    """Focus at Z4.5; towards Z1 the image sharpens again, a little less (a reflection of
    the lamp, a contrast that grows with defocus): the window's lower end scores high."""

    def frame(self):
        actual = self.stage.actual_z
        self.stage.actual_z = self.focus_z + min(abs(actual - self.focus_z), 0.08 + 0.6 * (actual - 1.0))
        try:
            return super().frame()
        finally:
            self.stage.actual_z = actual


def test_a_curve_rising_into_a_wall_is_refused_only_once_the_rest_of_the_window_was_seen():
    stage = FakeStage(limits=(0.0, 6.0), start=1.0)
    result = autofocus(stage, SharpAlsoAtTheLowerEnd(stage, 4.5, seed=2), 1.0, 5.0, sleep=lambda s: None)
    before_refining = [z for z, _ in result.samples[:result.phases.index("fine")]]
    assert max(before_refining) < 2.5  # the sweep stopped early, the lower end looking best
    assert result.ok, result.detail
    assert result.z == pytest.approx(4.5, abs=0.02)


class LesserBumpBeforeTheWall(BlurringCamera):
    """Focus at ``focus_z``, just past the window's upper end; a lesser sharp bump inside at
    ``bump_z`` (a reflection), then a dip, and the curve climbing again into the end."""

    def __init__(self, stage, focus_z, bump_z, **kwargs):
        super().__init__(stage, focus_z, **kwargs)
        self.bump_z = bump_z

    def frame(self):
        actual = self.stage.actual_z
        defocus = min(abs(actual - self.focus_z), 0.03 + 3.0 * abs(actual - self.bump_z))
        self.stage.actual_z = self.focus_z + defocus
        try:
            return super().frame()
        finally:
            self.stage.actual_z = actual


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_curve_turning_up_again_into_a_wall_next_to_the_peak_is_refused(seed):
    stage = FakeStage(limits=(0.0, 10.0), start=4.0)
    camera = LesserBumpBeforeTheWall(stage, 5.06, 4.93, seed=seed)
    # a 0.5 mm grid, on which the edge check passes and the turn-up check has to refuse
    result = autofocus(stage, camera, 1.0, 5.0, sleep=lambda s: None, coarse_points=9)
    assert not result.ok  # the old check said ok at the bump, 4.93
    assert result.reason == "peak_at_edge" and result.edge_z == 5.0
    assert "rises again towards Z5.0000" in result.detail
    at_bump = [score for z, score in result.samples if abs(z - 4.93) < 0.005]
    assert result.verify_score in at_bump  # a frame at the peak, not one the check took at the end


def test_a_bump_next_to_a_wall_the_curve_falls_into_is_taken():
    stage = FakeStage(limits=(0.0, 10.0), start=4.0)
    camera = LesserBumpBeforeTheWall(stage, 5.2, 4.93, seed=0)  # the end scores below the dip
    result = autofocus(stage, camera, 1.0, 5.0, sleep=lambda s: None)
    assert result.ok, result.detail
    assert result.z == pytest.approx(4.93, abs=0.005)


def focus_darkening(dark, dim=0.0):
    """Focus at 3.0 from 2.0 over the window 1..5 (limits 0..6) through a
    :class:`~tests.fakes.DarkeningCamera`; returns (stage, camera, result)."""
    stage = FakeStage(limits=(0.0, 6.0), start=2.0)
    camera = DarkeningCamera(dark, BlurringCamera(stage, 3.0, seed=3), dim)
    result = autofocus(stage, camera, 1.0, 5.0, limits=(0.0, 6.0), sleep=lambda s: None)
    return stage, camera, result


@pytest.mark.parametrize("first_dark, dim", [(0, 0.0), (0, 0.003), (0, 0.007), (5, 0.05), (8, 0.0)],
                         ids=["black", "near black", "grey levels 0 and 1 only", "light out mid-run",
                              "light out at the last look"])
def test_a_camera_that_stays_dark_fails_as_camera_dark_and_restores_the_start(first_dark, dim):
    stage, camera, result = focus_darkening(range(first_dark, 10**6), dim)
    assert not result.ok and result.reason == "camera_dark", result.detail
    assert result.message.startswith("The camera's picture was dark, so focus could not be judged.")
    assert stage.violations == [] and all(0.0 <= z <= 6.0 for z in stage.commanded)
    assert stage.position() == result.final_z == 2.0
    assert camera.taken == result.frames and result.frames > first_dark
    # it stops once six frames in a row stayed dark (one more: identical black frames after a
    # move are taken once more as a camera's old frame sent again)
    assert result.frames <= first_dark + (1 + DARK_RETAKES) * DARK_GIVE_UP + 1


def test_the_light_goes_out_above_before_the_run_would_have_focused():
    _, _, clean = focus_darkening(())
    assert clean.ok and clean.z == pytest.approx(3.0, abs=0.01)
    assert clean.frames == 9 and clean.phases[-1] == "verify"  # frame 8: the last look at the peak


@pytest.mark.parametrize("dropped, dim", [({0}, 0.0), ({4}, 0.02), ({4, 5}, 0.02)],
                         ids=["black first frame", "dropped frame", "two dropped frames"])
def test_a_dropped_frame_is_no_dark_camera_and_the_run_focuses(dropped, dim):
    _, _, clean = focus_darkening(())
    _, _, result = focus_darkening(dropped, dim)
    assert result.ok, result.detail
    assert result.z == pytest.approx(clean.z, abs=0.005)
    assert result.frames == clean.frames + len(dropped)  # each taken again once


def test_a_curve_of_zeros_fails_cleanly_and_restores_the_start():
    stage, _, result = run_fake(start=2.5, metric="spot",
                                camera_args={"texture": 0.0, "noise": 0.0})
    assert not result.ok
    assert result.reason in ("no_peak", "low_texture")
    assert stage.position() == pytest.approx(2.5)


def test_restore_on_failure_false_leaves_the_stage_where_the_search_ended():
    rig, result = run_rig(scene="flat", seed=1, focal_z=3.0, dof=0.1, start_z=2.2,
                          options={"restore_on_failure": False})
    assert not result.ok
    assert rig.stage.position() == pytest.approx(result.final_z)
    assert rig.stage.position() != pytest.approx(2.2)


def test_stalled_camera_ends_the_search_and_only_the_restore_move_follows():
    stage, camera, result = run_fake(start=2.0, camera_args={"stall_after": 3})
    assert result.reason == "camera_stalled"
    assert camera.frames == 3
    last_frame = max(i for i, (kind, _) in enumerate(stage.log) if kind == "frame")
    after = [z for kind, z in stage.log[last_frame + 1:] if kind == "move"]
    assert after[-1] == pytest.approx(2.0)
    assert len(after) <= 3


def test_camera_error_is_reported_as_camera_error():
    _, _, result = run_fake(camera_args={"fail_after": 2})
    assert result.reason == "camera_error"
    assert not result.ok


def test_stage_failure_ends_the_search_without_another_move():
    stage, _, result = run_fake(fail_after=4)
    assert result.reason == "stage_error"
    assert len(stage.commanded) == 5  # four moves worked, the fifth failed, nothing after


def test_cancel_after_some_samples_stops_before_any_further_move_or_frame():
    cancel = threading.Event()
    seen = []
    stage = FakeStage(start=2.0)
    camera = BlurringCamera(stage, 3.0, seed=1)

    def on_sample(z, score, phase):
        seen.append(z)
        if len(seen) == 3:
            cancel.set()
            seen.append(len(stage.log))

    result = autofocus(stage, camera, 1.0, 5.0, cancel=cancel, on_sample=on_sample,
                       sleep=lambda s: None)
    assert result.reason == "cancelled"
    assert len(stage.log) == seen[3]
    assert len(result.samples) == 3


def test_a_cancel_that_arrives_while_a_move_awaits_confirmation_is_a_cancel_and_nothing_follows():
    cancel = threading.Event()

    class ConfirmsLate(FakeStage):
        """Its fourth move is cancelled while the stage waits for the printer's confirmation."""

        def move_to(self, z):
            super().move_to(z)
            if len(self.commanded) == 4:
                cancel.set()
                raise Cancelled("cancelled")

    stage = ConfirmsLate(start=2.0)
    result = autofocus(stage, BlurringCamera(stage, 3.0, seed=1), 1.0, 5.0, cancel=cancel, sleep=lambda s: None)
    assert (result.reason, result.ok) == ("cancelled", False)
    assert len(stage.commanded) == 4 and result.moves == 3  # no move back, the cut-short one not counted
    assert stage.log[-1] == ("move", stage.commanded[-1])  # no frame after it either
    assert stage.violations == []


def test_a_camera_that_raises_cancelled_while_it_waits_for_a_frame_ends_the_run_as_cancelled():
    stage = FakeStage(start=2.0)

    class CancelledWhileWaiting(BlurringCamera):
        def frame(self):
            if self.frames == 3:
                raise Cancelled("cancelled")
            return super().frame()

    camera = CancelledWhileWaiting(stage, 3.0, seed=1)
    result = autofocus(stage, camera, 1.0, 5.0, sleep=lambda s: None)
    assert (result.reason, result.ok) == ("cancelled", False)  # not a camera_error
    assert stage.position() == pytest.approx(result.final_z)  # and no move back to the start


def test_a_cancel_during_the_move_back_after_a_failure_keeps_the_failure_and_says_so():
    class CancelsTheMoveBack(FakeStage):
        def move_to(self, z):
            if z == pytest.approx(2.35):  # no grid point nor overshoot of the search
                raise Cancelled("cancelled")
            super().move_to(z)

    stage = CancelsTheMoveBack(limits=(0.0, 6.0), start=2.35)
    camera = BlurringCamera(stage, 3.0, seed=3, texture=0.0, noise=0.0)
    result = autofocus(stage, camera, 1.0, 5.0, metric="spot", sleep=lambda s: None)
    assert result.reason == "low_texture"
    assert result.detail.startswith("relative contrast 0.0000 at most")  # the failure's own
    assert result.detail.endswith("; the move back to the start Z was cancelled")
    assert stage.position() != pytest.approx(2.35) and result.final_z == pytest.approx(stage.position())


# ~~ callbacks, record, arguments


def test_on_sample_sees_every_sample_in_the_order_measured():
    calls = []
    stage = FakeStage(start=4.0)
    camera = BlurringCamera(stage, 2.5, seed=2)
    result = autofocus(stage, camera, 1.0, 5.0, on_sample=lambda *a: calls.append(a),
                       sleep=lambda s: None)
    assert result.ok, result.message
    assert [(z, s) for z, s, _ in calls] == result.samples
    assert [p for _, _, p in calls] == result.phases


def test_settle_sleeps_after_every_arrival():
    sleeps = []
    stage = FakeStage(start=4.0)
    camera = BlurringCamera(stage, 2.5, seed=2)
    result = autofocus(stage, camera, 1.0, 5.0, settle=0.25, sleep=sleeps.append)
    assert sleeps.count(0.25) >= len(result.samples)


def test_the_record_serialises_to_json_and_back():
    _, _, result = run_fake(roi=(20, 15, 100, 80))
    assert result.ok and result.fit is not None, result.message
    text = json.dumps(result.to_dict(), allow_nan=False)
    again = FocusResult.from_dict(json.loads(text))
    assert again == result  # every field, the fit and the ROI included
    assert isinstance(again.samples[0], tuple) and isinstance(again.roi, tuple)


@pytest.mark.parametrize("z_range, metric, options", [
    ((3.0, 3.0), "tenengrad", {}),
    ((4.0, 2.0), "tenengrad", {}),
    ((1.0, float("nan")), "tenengrad", {}),
    ((1.0, 5.0), "sharpest", {}),
    ((1.0, 5.0), "tenengrad", {"coarse_points": 2}),
    ((1.0, 5.0), "tenengrad", {"tolerance": -0.1}),
    ((1.0, 5.0), "tenengrad", {"overscan": -1}),
    ((1.0, 5.0), "tenengrad", {"approach": "sideways"}),
    ((1.0, 5.0), "tenengrad", {"frames_per_position": 0}),
    ((1.0, 5.0), "tenengrad", {"decode_scale": 3}),
    ((1.0, 5.0), "tenengrad", {"cancel": object()}),
    ((1.0, 5.0), "tenengrad", {"speed": 3}),
    ((1.0, 5.0), "tenengrad", {"coarse_step": 0}),
    ((1.0, 5.0), "tenengrad", {"coarse_step": 0.5, "coarse_points": 9}),
    ((1.0, 5.0), "tenengrad", {"limits": (2.0, 9.0)}),  # the window reaches below the limits
    ((1.0, 5.0), "tenengrad", {"limits": (0.0, 4.0)}),  # and above
    ((1.0, 5.0), "tenengrad", {"limits": (0.0, "x")}),
    ((1.0, 5.0), "tenengrad", {"limits": "0 9"}),
    ((1.0, 5.0), "tenengrad", {"limits": (9.0, 0.0)}),
    ((1.0, 5.0), "tenengrad", {"limits": (0.0, float("inf"))}),
    ((1.0, 5.0), "tenengrad", {"max_extension": -1.0}),
    ((1.0, 5.0), "tenengrad", {"max_extension": float("nan")}),
    ((1.0, 5.0), "tenengrad", {"max_extension": True}),
])
def test_bad_arguments_raise_value_error_before_anything_moves(z_range, metric, options):
    stage = FakeStage(start=2.0)
    camera = BlurringCamera(stage, 3.0)
    with pytest.raises(ValueError):
        autofocus(stage, camera, *z_range, metric=metric, **options)
    assert stage.commanded == [] and camera.frames == 0


def test_empty_roi_is_a_bad_argument():
    stage = FakeStage(start=2.0)
    with pytest.raises(ValueError):
        autofocus(stage, BlurringCamera(stage, 3.0), 1.0, 5.0, roi=(0, 0, 0, 10))
    assert stage.commanded == []


# ~~ replayed focus stacks


def run_stack(focus_z, slices, z_range, seed, noise=2.0):
    """Focus a StackCamera replaying ``slices`` over ``z_range``; returns the result."""
    stage = FakeStage(limits=(z_range[0] - 1.0, z_range[1] + 1.0), start=z_range[0])
    camera = StackCamera(stage, focus_z, slices, seed=seed, noise=noise, blur_per_mm=40.0)
    return autofocus(stage, camera, *z_range, sleep=lambda s: None)


STACK_PAST_ITS_EDGE = {
    # the range is 30% wider than the stack: Zs past its end all show its sharpest slice
    "end slices repeat": (np.linspace(1.0, 4.0, 31), 4.3, (1.0, 4.9)),
    # the range ends at the last slice, which is the sharpest one
    "edge slice sharpest": (np.linspace(1.0, 4.0, 61), 4.1, (1.0, 4.0)),
}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("layout", sorted(STACK_PAST_ITS_EDGE))
def test_a_replayed_stack_with_focus_beyond_the_range_edge_is_never_ok(layout, seed):
    slices, focus_z, z_range = STACK_PAST_ITS_EDGE[layout]
    result = run_stack(focus_z, slices, z_range, seed)
    assert not result.ok, f"a plateau at the edge taken as a peak at Z{result.z:.3f}"
    assert result.reason in ("peak_at_edge", "poor_fit")


@pytest.mark.parametrize("seed", range(4))
def test_a_stack_with_focus_a_few_slices_inside_its_end_is_found(seed):
    slices = np.linspace(1.0, 4.0, 61)
    result = run_stack(3.8, slices, (1.0, 4.0), seed)
    assert result.ok, result.reason
    assert abs(result.z - 3.8) <= 0.05 + 1e-9


# ~~ accuracy: what the engine really achieves


def accuracy_rigs():
    """Sixteen seeded rigs: four scenes, depths of field 0.05-0.3 mm, random focus and start."""
    for i in range(16):
        rng = np.random.default_rng(i)
        dof = float(rng.choice([0.05, 0.1, 0.3]))
        yield make_rig(scene=["pcb", "texture", "cells", "grid"][i % 4], seed=i,
                       focal_z=float(rng.uniform(1.5, 4.5)), dof=dof, z_limits=(0.0, 6.0),
                       start_z=float(rng.uniform(1.0, 5.0)), size=SIZE)


def test_the_focused_z_is_the_fitted_peak_within_a_few_hundredths_of_a_dof():
    errors = []
    for rig in accuracy_rigs():
        result = autofocus(rig.stage, rig.camera, 1.0, 5.0, sleep=rig.clock.sleep, clock=rig.clock.now)
        assert result.ok, result.detail
        # the fit's peak (or a refinement sample within the snap's reach of it), not the best sample
        assert abs(result.z - result.fit.z_peak) <= SNAP_REACH * 0.3 * result.fit.params["fwhm"]
        errors.append(rig.optical_error() / rig.dof)
    assert np.median(errors) <= 0.03 and max(errors) <= 0.25


def test_cancel_is_checked_between_the_frames_averaged_at_one_position():
    cancel = threading.Event()
    stage = FakeStage(start=2.0)

    class CancellingCamera(BlurringCamera):
        def frame(self):
            image = super().frame()
            if self.frames == 4:  # the first frame of the second position
                cancel.set()
            return image

    camera = CancellingCamera(stage, 3.0, seed=1)
    result = autofocus(stage, camera, 1.0, 5.0, frames_per_position=3, cancel=cancel,
                       sleep=lambda s: None)
    assert result.reason == "cancelled"
    assert camera.frames == 4


def test_a_narrow_star_peak_beyond_a_faint_window_is_found_not_its_fitted_tails():
    # A star field 25-77 DOF below focus: the search extends up past the window, and a fit of
    # the narrow peak's tails put its vertex 4 DOF off focus, where a last-chance frame scored
    # twice the best sample: a top never refined around (checks.new_top), not the focus.
    rig, result = run_rig(10.187, 12.187, scene="stars", seed=3579, focal_z=13.1704, dof=0.0388,
                          z_limits=(-5.0, 35.0), start_z=11.187, noise=0.005, jpeg_quality=60,
                          backlash=0.02, options={"limits": (0.0, 30.0), "settle": 0.05})
    assert result.ok
    assert rig.optical_error() <= rig.dof / 2


@pytest.mark.parametrize("seed", range(6))
def test_a_drift_in_time_never_makes_a_peak_inside_a_wall_the_focus_lies_beyond(seed):
    # focus 2 mm past the upper wall: inside, the drift grows more than the defocus changes
    stage = FakeStage(limits=(0.0, 10.0), start=5.0)
    camera = DriftingCamera(stage, 12.0, seed=seed, noise=2.0)
    result = autofocus(stage, camera, 0.0, 10.0, sleep=lambda s: None)
    assert not result.ok, f"said ok at Z{result.z:.3f}, {result.frames} frames"


@pytest.mark.parametrize("focus, seed", [(10.5, 0), (12.0, 0), (12.0, 2), (12.0, 3)])
def test_a_fast_drift_over_a_long_run_never_makes_a_peak_next_to_a_wall_the_focus_lies_beyond(
        focus, seed):
    # contrast +4% a frame, 20 px of blur a mm: the frames a refinement takes late near the
    # wall outscore the wall's own frame, taken long before, and a rescan in one direction
    # makes a peak at its last end
    stage = FakeStage(limits=(0.0, 10.0), start=5.0)
    camera = DriftingCamera(stage, focus, gain=0.04, blur_per_mm=20.0, seed=seed, noise=2.0)
    result = autofocus(stage, camera, 0.0, 10.0, sleep=lambda s: None)
    assert not result.ok, f"said ok at Z{result.z:.3f}, {result.frames} frames"


# ~~ backlash larger than the overscan


def focus_with_backlash(backlash, start=4.5, **options):
    """Focus at 3.0 over the window 1..5 (limits 0..6) with the default overscan (0.2 mm)."""
    stage = FakeStage(limits=(0.0, 6.0), start=start, backlash=backlash)
    result = autofocus(stage, BlurringCamera(stage, 3.0, seed=3), 1.0, 5.0, limits=(0.0, 6.0),
                       sleep=lambda s: None, **options)
    return stage, result


@pytest.mark.parametrize("backlash, start", [(0.8, 4.5), (0.8, 3.3), (1.5, 4.5)])
def test_a_stage_that_does_not_come_back_is_refined_again_with_a_longer_overscan(backlash, start):
    # the default overscan (0.2) leaves the carriage short after every move up: a later look at
    # a Z sees another picture there, so the overscan grows (twice: 0.6 is still too short)
    stage, result = focus_with_backlash(backlash, start)
    assert result.ok and stage.actual_z == pytest.approx(3.0, abs=0.01)
    assert result.overscan_grown == pytest.approx(DEFAULTS["overscan"] * SLACK_GROWTH ** SLACK_ROUNDS)
    assert result.message.endswith("its backlash is larger than the backlash overscan, so this run "
                                   "used 1.800 mm.")
    assert len(result.samples) == result.frames  # the samples set aside stay in the record
    assert stage.violations == [] and all(0.0 <= z <= 6.0 for z in stage.commanded)


def test_backlash_within_the_overscan_leaves_it_as_it_is():
    stage, result = focus_with_backlash(0.1)
    assert result.ok and stage.actual_z == pytest.approx(3.0, abs=0.01)
    assert result.overscan_grown is None and "backlash" not in result.message


def test_an_overscan_turned_off_never_grows():
    stage, result = focus_with_backlash(0.8, overscan=0.0)
    assert result.overscan_grown is None
    assert not result.ok and result.reason == "verify_failed"  # the second look still disagrees


def test_the_overscan_grows_at_most_twice_and_a_run_still_failing_says_so():
    stage, result = focus_with_backlash(5.0)
    assert not result.ok and result.overscan_grown == pytest.approx(0.2 * SLACK_GROWTH ** 2)
    assert SLACK_ROUNDS == 2 and "so this run used 1.800 mm" in result.message
