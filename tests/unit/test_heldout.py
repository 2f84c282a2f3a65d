"""Tests of the held-out bench's models and truth (bench/heldout_*.py, bench/real_stacks.py)."""

from dataclasses import replace

import cv2
import numpy as np
import pytest

from bench.bench_heldout import sweep_parabola, supports_windows
from bench.heldout_cases import draw_cases, model_truth, past_reach
from bench.heldout_devices import CameraSpec, ScrewStage, StageSpec, UsbCamera
from bench.heldout_optics import MAX_WAVES, Lens, PupilOptics, defocused, psf
from bench.heldout_scenes import SCENES
from bench.real_stacks import roi_truth
from bench.stack_rig import gradient_energy, sharp_band
from octoprint_autofocus.focus.errors import MoveRefused
from octoprint_autofocus.focus.options import DEFAULTS
from octoprint_autofocus.simulator import SimClock

SIZE = (320, 240)


def _texture(seed: int = 1) -> np.ndarray:
    """A sharp fibre texture larger than the frame plus the optics' margin."""
    return SCENES["fibres"](np.random.default_rng(seed), (460, 380))


def _spread(kernel: np.ndarray) -> float:
    """RMS radius (px) of a PSF."""
    h = kernel.shape[0] // 2
    y, x = np.mgrid[-h : h + 1, -h : h + 1]
    return float(np.sqrt((kernel * (x * x + y * y)).sum() / kernel.sum()))


def test_pupil_psf_is_normalised_and_grows_with_defocus():
    sizes = [_spread(psf(w)) for w in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert all(abs(float(psf(w).sum()) - 1.0) < 1e-5 for w in (0.0, 1.3, 4.0))
    assert sizes == sorted(sizes) and sizes[-1] > 4 * sizes[1]
    # Blended between grid points: no jump from one cached PSF to the next.
    assert abs(_spread(psf(1.02)) - _spread(psf(1.0))) < 0.1 * _spread(psf(1.0))


def test_geometric_regime_continues_the_curve_past_max_waves():
    img = _texture()[:240, :320]
    inside = gradient_energy(defocused(img, MAX_WAVES - 0.01))
    outside = gradient_energy(defocused(img, MAX_WAVES + 0.01))
    far = gradient_energy(defocused(img, 3 * MAX_WAVES))
    assert abs(inside - outside) < 0.15 * inside
    assert far < 0.5 * outside


def _curve(spherical: float, offsets: np.ndarray) -> np.ndarray:
    """Clean full-frame scores at ``focus + offsets`` (mm) for a lens with ``spherical``."""
    optics = PupilOptics(_texture(), Lens(focus_z=5.0, z_per_wave=0.01, spherical=spherical), SIZE)
    return np.array([gradient_energy(optics.render(5.0 + d)) for d in offsets])


def test_spherical_aberration_makes_the_focus_curve_asymmetric():
    offsets = np.array([-0.02, 0.02])
    plain = _curve(0.0, offsets)
    aberrated = _curve(0.8, offsets)
    assert abs(plain[0] - plain[1]) < 0.05 * plain.max()
    assert abs(aberrated[0] - aberrated[1]) > 0.3 * aberrated.max()


def test_a_smooth_field_does_not_sharpen_at_focus():
    # A ramp blurred with the scene beyond the frame edges stays the same ramp at any defocus.
    ramp = SCENES["blank"](np.random.default_rng(4), (460, 380))
    optics = PupilOptics(ramp, Lens(focus_z=5.0, z_per_wave=0.01, vignette=0.3), SIZE)
    energies = [gradient_energy(optics.render(5.0 + d)) for d in (0.0, 0.005, 0.02, 0.2)]
    assert max(energies) - min(energies) < 0.01 * max(energies)


def test_model_truth_finds_the_focus_and_a_band_around_it():
    optics = PupilOptics(_texture(), Lens(focus_z=5.0, z_per_wave=0.01), SIZE)
    peak, band = model_truth(optics, None, 5.03, 0.006)
    assert abs(peak - 5.0) <= 0.006 / 12 + 1e-9
    assert band[0] < peak < band[1] and 0.001 < band[1] - band[0] < 0.02


def test_sharp_band_interpolates_the_crossings():
    zs = np.arange(11, dtype=float)
    scores = 1.0 - 0.1 * np.abs(zs - 5)  # 0.8 of the peak at 5 +- 2
    assert sharp_band(zs, scores, 0.8) == pytest.approx((3.0, 7.0))
    assert sharp_band(zs, 1.0 - 0.05 * np.abs(zs - 5), 0.8) == pytest.approx((1.0, 9.0))


def _blurred_stack(focus: int, n: int = 25) -> list:
    """A synthetic stack: a texture blurred more with distance from slice ``focus``."""
    img = _texture()[:240, :320]
    return [cv2.GaussianBlur(img, (0, 0), 0.3 + 0.8 * abs(i - focus)) for i in range(n)]


def test_real_stack_truth_is_the_measured_peak_and_band():
    truth = roi_truth(_blurred_stack(12))
    assert truth.ok and abs(truth.peak - 12) < 0.3
    assert truth.band[0] < 12 < truth.band[1] and truth.band[1] - truth.band[0] < 4


def test_real_stack_truth_excludes_ambiguous_stacks():
    assert roi_truth(_blurred_stack(0)).reason == "peak on an end slice"
    img = _texture()[:240, :320]
    slow = [cv2.GaussianBlur(img, (0, 0), 0.3 + 0.03 * abs(i - 4)) for i in range(25)]
    assert roi_truth(slow).reason == "sharp band reaches an end of the stack"
    # A lamp dimming towards slice 20: the normalised variance peaks there, not at the focus.
    dimmed = [s - (s.mean() - 5.0) * max(0.0, 1.0 - abs(i - 20) / 3.0) for i, s in enumerate(_blurred_stack(12))]
    assert roi_truth(dimmed).reason.startswith("normalised_variance peaks at slice 20")


def test_stage_refuses_records_and_lags_up_moves_by_the_backlash():
    stage = ScrewStage(StageSpec(limits=(0.0, 10.0), backlash=0.05), SimClock(), 5.0, np.random.default_rng(0))
    with pytest.raises(MoveRefused):
        stage.move_to(10.5)
    assert stage.violations == [10.5] and stage.position() == 5.0
    stage.move_to(6.0)
    assert stage.rest_z() == pytest.approx(5.95)
    stage.move_to(5.5)
    assert stage.rest_z() == pytest.approx(5.5)


def test_stage_screw_error_and_ringing_that_decays():
    clock = SimClock()
    spec = StageSpec(limits=(0.0, 10.0), pitch_error=0.004, lead=2.0, amplitude=0.01, tau=0.05)
    stage = ScrewStage(spec, clock, 5.0, np.random.default_rng(0))
    stage.move_to(5.5)
    rest = stage.rest_z()
    assert rest == pytest.approx(5.5 + 0.004 * np.sin(2 * np.pi * 5.5 / 2.0))
    t = clock.now()
    early = max(abs(stage.optical_z_at(t + dt) - rest) for dt in np.linspace(0.0, 0.05, 50))
    late = max(abs(stage.optical_z_at(t + 0.5 + dt) - rest) for dt in np.linspace(0.0, 0.05, 50))
    assert early > 0.003 and late < 1e-5


def _camera(render, spec: CameraSpec, stage_spec: StageSpec = StageSpec(limits=(0.0, 10.0))):
    """A camera on a fresh clock and stage at Z 5."""
    clock = SimClock()
    stage = ScrewStage(stage_spec, clock, 5.0, np.random.default_rng(0))
    return clock, stage, UsbCamera(spec, clock, stage, render, 0.01, np.random.default_rng(1))


def _decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE).astype(float)


def test_camera_frames_start_after_the_call_and_can_repeat():
    clock, _, camera = _camera(lambda z: np.full((240, 320), 100.0, np.float32), CameraSpec(repeat_p=1.0))
    clock.sleep(1.234)
    first = camera.frame()
    assert clock.now() > 1.234 + CameraSpec().exposure
    assert camera.frame() == first and camera.frames == 2


def test_rolling_shutter_rows_see_a_ringing_stage_differently():
    # Brightness encodes the optical Z, so each row band shows the Z it was exposed at.
    def render(z: float) -> np.ndarray:
        return np.full((240, 320), 100.0 + 2000.0 * (z - 5.0), np.float32)

    spec = CameraSpec(readout=0.03, exposure=0.002, full_well=1e7, read_noise=0.0, jpeg_min=95, jpeg_max=95)
    ringing = StageSpec(limits=(0.0, 10.0), amplitude=0.02, tau=1.0, ring_hz=10.0)
    clock, stage, camera = _camera(render, spec, ringing)
    stage.move_to(5.01)
    img = _decode(camera.frame())
    assert abs(img[:60].mean() - img[-60:].mean()) > 5.0


def test_pwm_flicker_bands_the_rows():
    spec = CameraSpec(pwm_hz=100.0, pwm_duty=0.5, pwm_depth=0.5, exposure=0.002, readout=0.03,
                      full_well=1e7, read_noise=0.0, jpeg_min=95, jpeg_max=95)
    _, _, camera = _camera(lambda z: np.full((240, 320), 120.0, np.float32), spec)
    rows = _decode(camera.frame()).mean(axis=1)
    assert rows.max() - rows.min() > 30.0


def test_cases_are_deterministic_and_cover_every_group():
    a = draw_cases(7, [], windows=True, scale=0.2)
    b = draw_cases(7, [], windows=True, scale=0.2)
    assert [c.name for c in a] == [c.name for c in b] and [c.window for c in a] == [c.window for c in b]
    assert {c.group for c in a} == {"model", "near", "fail", "window"}
    assert all(c.expect_fail for c in a if c.kind in ("outside", "featureless", "small-roi", "beyond-limit"))
    for c in a:
        if c.kind == "extend":
            assert c.limits[0] <= c.lens.focus_z <= c.limits[1] and not c.window[0] <= c.lens.focus_z <= c.window[1]
        if c.kind == "beyond-limit":
            assert not c.limits[0] <= c.lens.focus_z <= c.limits[1]


def test_a_focus_more_than_a_tolerance_past_the_optics_reach_has_no_right_answer():
    case = next(c for c in draw_cases(7, [], windows=True, scale=0.2) if c.group == "model")
    flat = replace(case, window=(10.0, 12.0), limits=None, stage=replace(case.stage, pitch_error=0.0))
    assert past_reach(flat, 11.0, 0.1) <= 0 and past_reach(flat, None, 0.1) == 0.0
    assert past_reach(flat, 12.05, 0.1) == pytest.approx(0.5)
    assert past_reach(flat, 9.8, 0.1) == pytest.approx(2.0)
    wide = replace(flat, limits=(9.0, 13.0))  # hard limits past the window: they bound the reach
    assert past_reach(wide, 9.8, 0.1) <= 0
    screwed = replace(flat, stage=replace(flat.stage, pitch_error=0.01, lead=8.0, phase=1.0))
    reach = ScrewStage.optics_over(screwed.stage, 12.0)  # the optics rest off the carriage
    assert reach != 12.0 and past_reach(screwed, reach + 0.1, 0.1) == pytest.approx(1.0)


class _ParabolaRig:
    """A stage and camera whose score is a parabola peaking at Z 3.3 (texture scaled by it)."""

    def __init__(self) -> None:
        self.z = 0.0
        self.commanded: list = []
        self.image = _texture()[:120, :160]

    def move_to(self, z: float) -> None:
        self.z = z
        self.commanded.append(z)

    def position(self) -> float:
        return self.z

    def frame(self) -> np.ndarray:
        gain = np.sqrt(max(0.05, 1.0 - 0.2 * (self.z - 3.3) ** 2))
        return np.clip(128 + (self.image - 128) * gain, 0, 255).astype(np.uint8)


def test_baseline_fits_the_vertex_and_refuses_an_edge_peak():
    rig = _ParabolaRig()
    result = sweep_parabola(rig, rig, 1.0, 5.0, sleep=lambda _s: None)
    assert result.ok and abs(result.z - 3.3) < 0.1 and rig.commanded[-1] == result.z
    assert all(1.0 <= z <= 5.0 for z in rig.commanded)
    assert not sweep_parabola(rig, rig, 3.5, 6.0, sleep=lambda _s: None).ok


def test_window_support_is_probed_through_the_public_call():
    assert supports_windows() == ("limits" in DEFAULTS)
