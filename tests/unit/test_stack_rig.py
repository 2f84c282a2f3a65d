"""Tests of the focus-stack rig the stack bench judges the search with (bench/stack_rig.py)."""

from dataclasses import replace

import cv2
import numpy as np
import pytest

from bench.stack_rig import (
    Case,
    Nuisance,
    Optics,
    StackCamera,
    StackStage,
    gradient_energy,
    make_cases,
    render_stack,
)
from octoprint_autofocus.focus.errors import MoveRefused


def _case(**kw) -> Case:
    """A small symmetric case: 21 slices over 0..2, focus at slice 12, DOF 2 slices."""
    base = dict(name="t", scene="texture", seed=3, z_min=0.0, z_max=2.0, slices=21,
                dof_slices=2.0, focus_z=1.2, start_z=0.5, nuisance=Nuisance(noise=0.0))
    base.update(kw)
    return Case(**base)


def test_stage_refuses_and_records_targets_outside_its_limits():
    stage = StackStage((1.0, 2.0), start=1.5)
    with pytest.raises(MoveRefused):
        stage.move_to(2.5)
    assert stage.violations == [2.5] and stage.position() == 1.5
    stage.move_to(1.0)
    assert stage.commanded == [2.5, 1.0] and stage.optical_z == 1.0


def test_stage_backlash_lags_moves_up_only():
    stage = StackStage((0.0, 10.0), start=5.0, backlash=0.3)
    stage.move_to(6.0)
    assert stage.optical_z == pytest.approx(5.7)
    stage.move_to(4.0)
    assert stage.optical_z == 4.0


def test_camera_replays_the_nearest_slice_without_interpolation():
    stack = render_stack(_case())
    stage = StackStage((0.0, 2.0), start=0.0)
    camera = StackCamera(stack, stage)
    stage.move_to(1.04)  # slices at 1.0 and 1.1: nearest is 1.0
    assert np.array_equal(camera.frame(), stack.baked[10])
    stage.move_to(1.06)
    assert np.array_equal(camera.frame(), stack.baked[11])
    assert camera.slices_seen == [10, 11] and camera.frames == 2


def test_recorded_frames_repeat_and_live_frames_do_not():
    recorded = StackCamera(render_stack(_case(nuisance=Nuisance(noise=3.0))), StackStage((0, 2), 1.0))
    assert np.array_equal(recorded.frame(), recorded.frame())
    live = StackCamera(render_stack(_case(nuisance=Nuisance(noise=3.0, recorded=False))), StackStage((0, 2), 1.0))
    assert not np.array_equal(live.frame(), live.frame())


def test_camera_formats_bgr_and_jpeg_bytes():
    stage = StackStage((0.0, 2.0), start=1.2)
    bgr = StackCamera(render_stack(_case(color=True)), stage).frame()
    assert bgr.shape[2] == 3 and bgr.dtype == np.uint8
    data = StackCamera(render_stack(_case(nuisance=Nuisance(as_bytes=True))), stage).frame()
    assert isinstance(data, bytes) and cv2.imdecode(np.frombuffer(data, np.uint8), 0) is not None


def test_clean_curve_peaks_at_the_focus_slice_and_the_band_holds_it():
    stack = render_stack(_case())
    scores = [gradient_energy(s) for s in stack.clean]
    assert int(np.argmax(scores)) == 12
    lo, hi = stack.band
    assert lo < 0 < hi and 0.5 * 0.2 < stack.dof < 4 * 0.2  # about the nominal 2 slices
    assert stack.error(1.2) == 0 and stack.error(1.2 + 1.01 * stack.tolerance(1.3)) > 1


def test_asymmetric_optics_give_an_asymmetric_band():
    stack = render_stack(_case(optics=Optics(asym=0.5)))
    lo, hi = stack.band
    assert -lo > 1.5 * hi  # blur grows slower below focus: the band reaches further down


def test_tilted_sample_roi_focuses_at_focus_z():
    case = _case(optics=Optics(tilt=3.0), roi=(0, 0, 160, 240))
    stack = render_stack(case)
    scores = [gradient_energy(s[:, :160]) for s in stack.clean]
    assert abs(int(np.argmax(scores)) - 12) <= 1
    whole = render_stack(replace(case, roi=None))
    assert whole.dof > stack.dof  # the whole tilted frame is sharp over a wider Z


def test_case_list_is_large_fixed_and_focus_in_the_middle():
    cases = make_cases()
    assert len(cases) >= 60 and [c.name for c in cases] == [c.name for c in make_cases()]
    focusable = [c for c in cases if not c.expect_fail]
    for c in focusable:
        assert 20 <= c.slices <= 100
        assert c.z_min + 0.1 * (c.z_max - c.z_min) <= c.focus_z <= c.z_max - 0.1 * (c.z_max - c.z_min)
    outside = [c for c in cases if "outside" in c.tags]
    assert outside and all(not c.z_min <= c.focus_z <= c.z_max for c in outside)
