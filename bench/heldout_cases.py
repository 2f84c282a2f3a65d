"""The held-out bench's cases, drawn from a seed, and the rig each one builds.

Groups (``Case.group``):

- ``model``: focusable cases through the pupil optics, lead-screw stage and USB camera of
  :mod:`bench.heldout_optics` / :mod:`bench.heldout_devices` on the scenes of
  :mod:`bench.heldout_scenes`; microscope scale (DOF 4-30 um) or a webcam on a printer
  head (DOF 0.05-0.4 mm), window / DOF 5 to 150.
- ``near``: focus just inside a window edge (0.3-1.5 DOF in: focusable) or just outside
  it (1.5-4 DOF out: must be refused, the window being the hard bound by default).
- ``fail``: must be refused: a featureless field, focus 4-30 DOF outside the window, and a
  small noisy ROI (40x30 to 64x48 px) with focus 10-60 DOF outside.
- ``real``: the real stacks of :mod:`bench.real_stacks` replayed (nearest slice) through the
  same stage and camera, every ROI with an unambiguous truth; plus windows cut off 3+ slices
  before the sharp band of a stack (must be refused).
- ``window``: only when the search takes ``limits=`` (issue 7's search windows): focus 0.3-0.9
  window widths outside the window but inside the hard limits (must extend and find it),
  and focus 2-10 DOF beyond a hard limit next to the window (must be refused).

A focusable case whose measured focus lies more than its tolerance past a hard end of the
range the search may move in (:func:`past_reach`; the optics shifted it there) has no right
answer: it is judged as a should-fail case (a refusal is right, an ok is a wrong ok).

A focusable case counts only if its focus is *visible through the camera*
(:func:`visible`): frames taken at rest at the measured focus must score (gradient energy
of the decoded ROI) at least ``VISIBLE_MARGIN`` and 3 standard deviations above frames
``VISIBLE_OFFSET`` DOFs to either side. Cases that fail this (a faint sample drowned in
sensor noise) are reported apart, not counted in the success rate.

Truth of a model case (:func:`model_truth`): the ROI is rendered clean (optics only: no
stage error, no sensor) on a dense grid of optical Z and scored with the gradient energy of
``stack_rig``; the focus is the best grid point refined on a grid 1/12 of the nominal DOF,
the DOF the width of the band where the score stays >= ``DOF_LEVEL`` of its peak. Runs are
judged by the stage's *optical* Z at the end (lead-screw error, backlash, lost steps included).
"""

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional, Tuple

import cv2
import numpy as np

from bench.heldout_devices import CameraSpec, ScrewStage, StageSpec, UsbCamera
from bench.heldout_optics import MARGIN_PX, Lens, PupilOptics
from bench.heldout_scenes import FOCUSABLE_SCENES, SCENES
from bench.real_stacks import RealStack, roi_grid, roi_truth
from bench.stack_rig import DOF_LEVEL, crop, gradient_energy, sharp_band
from octoprint_autofocus.simulator import SimClock

__all__ = ["Case", "Rig", "draw_cases", "build", "model_truth", "past_reach"]

SIZE = (320, 240)
"""Frame size (w, h)."""
MARGIN = 1.06
"""Samples are drawn this much larger than the frame plus the optics' margin, for lens breathing."""
WAVES_PER_DOF = 0.6
"""Defocus waves across one nominal DOF (sets ``Lens.z_per_wave`` from the drawn DOF)."""
VISIBLE_FRAMES = 3
"""Frames per Z of the visibility check."""
VISIBLE_OFFSET = 3.0
"""The visibility check compares the focus with this many DOFs to either side."""
VISIBLE_MARGIN = 0.1
"""... and wants the focus at least this fraction higher."""

Roi = Optional[Tuple[int, int, int, int]]


@dataclass(frozen=True)
class Case:
    """One held-out case. Z in mm; ``dof`` is the nominal DOF the case was drawn with.

    ``limits`` is passed to the search as ``limits=`` (window group only); the stage's own
    hard limits are ``stage.limits``. ``allowed`` is where a commanded Z is legal.
    ``real`` names a real stack and holds ``(roi index, first slice Z, slice spacing,
    first slice, last slice)``.
    """

    name: str
    group: str
    kind: str
    seed: int
    window: Tuple[float, float]
    start: float
    stage: StageSpec
    camera: CameraSpec
    dof: float
    expect_fail: bool = False
    scene: str = ""
    lens: Optional[Lens] = None
    roi: Roi = None
    limits: Optional[Tuple[float, float]] = None
    real: Optional[Tuple[str, int, float, float, int, int]] = None
    tags: Tuple[str, ...] = field(default_factory=tuple)

    @property
    def allowed(self) -> Tuple[float, float]:
        """Where the search may command Z: the limits if given, else the window."""
        return self.limits or self.window


@dataclass
class Rig:
    """A built case: clock, stage, camera and the truth (``peak``, ``band``; None if none)."""

    clock: SimClock
    stage: ScrewStage
    camera: UsbCamera
    peak: Optional[float]
    band: Optional[Tuple[float, float]]
    tolerance: float
    visible: bool = True
    reachable: bool = True  # the optics can reach the focus (see past_reach)


# ----------------------------------------------------------------------------- drawing


def _devices(rng: np.random.Generator, dof: float, hard: Tuple[float, float]) -> Tuple[StageSpec, CameraSpec, Tuple[str, ...]]:
    """Random stage and camera nuisances for one case (and their tags)."""
    tags = []
    backlash = float(rng.choice([0.0, rng.uniform(0.005, 0.08)]))
    lost_p = float(rng.choice([0.0, 0.0, 0.03]))
    stage = StageSpec(
        limits=hard, speed=float(rng.uniform(4, 12)), accel=float(rng.uniform(40, 200)),
        overhead=float(rng.uniform(0.02, 0.08)), backlash=backlash,
        pitch_error=float(rng.uniform(0.0, 0.008)), lead=float(rng.choice([2.0, 8.0])),
        phase=float(rng.uniform(0, 2 * math.pi)), lost_step=min(0.0025, 0.2 * dof), lost_step_p=lost_p,
        amplitude=float(rng.uniform(0.0, 0.5)) * dof, tau=float(rng.uniform(0.03, 0.12)),
        ring_hz=float(rng.uniform(15, 40)))
    fps = float(rng.choice([10.0, 15.0, 30.0]))
    pwm = rng.random() < 0.3
    late = rng.random() < 0.25
    camera = CameraSpec(
        fps=fps, exposure=float(rng.uniform(0.005, 0.8 / fps)), readout=0.6 / fps,
        latency=float(rng.uniform(0.03, 0.15)), late_p=0.05 if late else 0.0,
        repeat_p=float(rng.choice([0.0, 0.0, 0.03])), ae_speed=float(rng.choice([0.0, 0.25, 0.5])),
        awb_drift=float(rng.choice([0.0, 0.003])), pwm_hz=float(rng.choice([100.0, 120.0, 500.0, 1000.0])),
        pwm_duty=float(rng.uniform(0.3, 0.8)), pwm_depth=float(rng.uniform(0.1, 0.5)) if pwm else 0.0,
        full_well=float(rng.uniform(1500, 8000)), read_noise=float(rng.uniform(1.0, 4.0)),
        jpeg_min=int(rng.integers(50, 80)), jpeg_max=int(rng.integers(80, 96)))
    tags += ["backlash"] if backlash else []
    tags += ["lost-steps"] if lost_p else []
    tags += ["pwm-flicker"] if pwm else []
    tags += ["late-frames"] if late else []
    tags += ["repeats"] if camera.repeat_p else []
    tags += ["auto-exposure"] if camera.ae_speed else []
    return stage, camera, tuple(tags)


def _geometry(rng: np.random.Generator) -> Tuple[float, float, str]:
    """A nominal DOF, a window width and the scale's name."""
    ratio = float(np.exp(rng.uniform(np.log(5.0), np.log(150.0))))
    if rng.random() < 0.5:
        dof, scale = float(rng.uniform(0.004, 0.03)), "microscope"
    else:
        dof, scale = float(rng.uniform(0.05, 0.4)), "webcam"
    return dof, dof * ratio, scale


def _lens(rng: np.random.Generator, focus: float, dof: float, width: float, colour: bool) -> Tuple[Lens, Tuple[str, ...]]:
    """Random lens aberrations for a case (and their tags)."""
    spherical = float(rng.choice([0.0, 1.0]) * rng.choice([-1, 1]) * rng.uniform(0.3, 1.0))
    curvature = float(rng.uniform(0.5, 2.0) * dof) if rng.random() < 0.3 else 0.0
    tilt = float(rng.uniform(1.0, 3.0) * dof * rng.choice([-1, 1])) if rng.random() < 0.2 else 0.0
    breathing = float(rng.uniform(0.0, 0.03)) / width
    lens = Lens(focus_z=focus, z_per_wave=dof / WAVES_PER_DOF, spherical=spherical, breathing=breathing,
                curvature=curvature, tilt=tilt, chroma=float(rng.uniform(0.5, 1.5) * dof) if colour else 0.0,
                vignette=float(rng.uniform(0.0, 0.4)))
    tags = (("spherical",) if spherical else ()) + (("curvature",) if curvature else ()) + (("tilt",) if tilt else ())
    return lens, tags


def _start(rng: np.random.Generator, window: Tuple[float, float], focus: float) -> Tuple[float, str]:
    """A start Z in the window: an end, the middle, anywhere, or the end far from focus."""
    lo, hi = window
    kind = str(rng.choice(["low", "high", "middle", "random", "far"]))
    far = lo if focus > 0.5 * (lo + hi) else hi
    return {"low": lo, "high": hi, "middle": 0.5 * (lo + hi), "random": float(rng.uniform(lo, hi)),
            "far": far}[kind], kind


def _model_case(seed: int, name: str, group: str, kind: str, where: Callable[[np.random.Generator, float, float, float], float],
                expect_fail: bool = False, scene: Optional[str] = None, small_roi: bool = False,
                windowed: bool = False) -> Case:
    """A case through the pupil optics; ``where(rng, lo, hi, dof)`` places the focus."""
    rng = np.random.default_rng(seed)
    dof, width, scale = _geometry(rng)
    if small_roi:
        dof, width = 0.1, 2.0
    # Room below the window for hard limits up to 3 widths away, all at Z >= 0.
    lo = float(np.round(3.5 * width + rng.uniform(0.5, 20.0), 3))
    window = (lo, lo + width)
    scene = scene or str(rng.choice(FOCUSABLE_SCENES))
    focus = where(rng, window[0], window[1], dof)
    colour = scene in ("solder", "layers")
    lens, lens_tags = _lens(rng, focus, dof, width, colour)
    hard = (window[0] - width * float(rng.uniform(1.0, 3.0)), window[1] + width * float(rng.uniform(1.0, 3.0)))
    if windowed and not expect_fail:  # hard limits with room for the focus beyond the window
        hard = (min(hard[0], focus - 3 * dof), max(hard[1], focus + 3 * dof))
    stage, camera, dev_tags = _devices(rng, dof, hard)
    start, start_kind = _start(rng, window, min(max(focus, window[0]), window[1]))
    roi: Roi = None
    if small_roi:
        w, h = int(rng.integers(40, 65)), int(rng.integers(30, 49))
        roi = (int(rng.integers(0, SIZE[0] - w)), int(rng.integers(0, SIZE[1] - h)), w, h)
        camera = replace(camera, read_noise=4.0, full_well=1500.0, jpeg_min=55, jpeg_max=75)
    elif rng.random() < 0.3:
        w, h = int(rng.integers(80, 200)), int(rng.integers(60, 150))
        roi = (int(rng.integers(0, SIZE[0] - w)), int(rng.integers(0, SIZE[1] - h)), w, h)
    tags = (scene, scale, f"start-{start_kind}") + lens_tags + dev_tags + (("roi",) if roi else ())
    return Case(name=name, group=group, kind=kind, seed=seed, window=window, start=start, stage=stage,
                camera=camera, dof=dof, expect_fail=expect_fail, scene=scene, lens=lens, roi=roi,
                limits=hard if windowed else None, tags=tags)


def _inside(rng: np.random.Generator, lo: float, hi: float, dof: float) -> float:
    """Focus in the middle 80% of the window."""
    return lo + (hi - lo) * float(rng.uniform(0.1, 0.9))


def _near_edge(inside: bool) -> Callable[[np.random.Generator, float, float, float], float]:
    """Focus just inside (0.3-1.5 DOF) or just outside (1.5-4 DOF) a random window edge."""
    def place(rng: np.random.Generator, lo: float, hi: float, dof: float) -> float:
        d = float(rng.uniform(0.3, 1.5) if inside else -rng.uniform(1.5, 4.0)) * dof
        return lo + d if rng.random() < 0.5 else hi - d
    return place


def _beyond(low: float, high: float) -> Callable[[np.random.Generator, float, float, float], float]:
    """Focus ``low``-``high`` DOF beyond a random window edge."""
    def place(rng: np.random.Generator, lo: float, hi: float, dof: float) -> float:
        d = float(rng.uniform(low, high)) * dof
        return hi + d if rng.random() < 0.5 else lo - d
    return place


def _past_window(rng: np.random.Generator, lo: float, hi: float, dof: float) -> float:
    """Focus 0.3-0.9 window widths past a random edge (the search must extend to it)."""
    d = float(rng.uniform(0.3, 0.9)) * (hi - lo)
    return hi + d if rng.random() < 0.5 else lo - d


def _real_cases(stacks: List[RealStack], seed: int, count: int) -> List[Case]:
    """Focusable and cut-off cases from the real stacks (see the module docstring)."""
    rng = np.random.default_rng(seed)
    valid = []
    for stack in stacks:
        gray = stack.gray
        for i, roi in enumerate(roi_grid(gray[0].shape)):
            truth = roi_truth(gray, roi)
            if truth.ok:
                valid.append((stack, i, truth))
    out: List[Case] = []
    for k in range(count if valid else 0):
        stack, i, truth = valid[k % len(valid)]
        out.append(_real_case(rng, seed * 1000 + k, stack, i, truth, cut=False))
    cut = [(s, i, t) for s, i, t in valid if math.floor(t.band[0]) - 3 >= 5]
    for k in range(min(4, len(cut) * 2)):
        stack, i, truth = cut[k % len(cut)]
        out.append(_real_case(rng, seed * 1000 + 500 + k, stack, i, truth, cut=True))
    return out


def _real_case(rng: np.random.Generator, seed: int, stack: RealStack, roi_index: int, truth, cut: bool) -> Case:
    """One replay of a real stack: random Z scale and place, window around (or short of) the band."""
    n = len(stack.slices)
    micro = "microscope" in stack.meta["kind"]
    spacing = float(rng.uniform(0.002, 0.01) if micro else rng.uniform(0.1, 0.5))
    z0 = float(np.round(rng.uniform(0.5, 20.0), 3))
    if cut:
        first, last = 0, int(math.floor(truth.band[0])) - 3
    else:
        first = int(rng.integers(0, max(1, int(math.floor(truth.band[0])) - 1)))
        last = int(rng.integers(min(n - 1, int(math.ceil(truth.band[1])) + 1), n))
    window = (z0 + first * spacing, z0 + last * spacing)
    dof = (truth.band[1] - truth.band[0]) * spacing
    hard = (window[0] - 1.0, window[1] + 1.0)
    stage, camera, dev_tags = _devices(rng, dof, hard)
    start, start_kind = _start(rng, window, z0 + truth.peak * spacing)
    roi = roi_grid(stack.gray[0].shape)[roi_index]
    kind = "cut-off" if cut else "replay"
    return Case(name=f"real/{stack.name}/roi{roi_index}/{kind}#{seed % 1000}", group="real", kind=kind,
                seed=seed, window=window, start=start, stage=stage, camera=camera, dof=dof, expect_fail=cut,
                scene=stack.name, roi=roi, real=(stack.name, roi_index, z0, spacing, first, last),
                tags=(stack.name, f"start-{start_kind}") + dev_tags + (("roi",) if roi else ()))


def draw_cases(seed: int, stacks: List[RealStack], windows: bool, scale: float = 1.0) -> List[Case]:
    """Every case of one run, drawn from ``seed`` (``scale`` < 1 for a quick subset)."""
    def n(count: int) -> int:
        return max(1, int(round(count * scale)))

    base = seed * 10_000
    cases: List[Case] = []
    for i in range(n(70)):
        cases.append(_model_case(base + i, f"model/{i}", "model", "focusable", _inside))
    for i in range(n(10)):
        cases.append(_model_case(base + 100 + i, f"near/inside/{i}", "near", "inside", _near_edge(True)))
        cases.append(_model_case(base + 150 + i, f"near/outside/{i}", "near", "outside", _near_edge(False),
                                 expect_fail=True))
    for i in range(n(10)):
        cases.append(_model_case(base + 200 + i, f"fail/featureless/{i}", "fail", "featureless", _inside,
                                 expect_fail=True, scene="blank"))
        cases.append(_model_case(base + 250 + i, f"fail/outside/{i}", "fail", "outside", _beyond(4.0, 30.0),
                                 expect_fail=True))
        cases.append(_model_case(base + 300 + i, f"fail/small-roi/{i}", "fail", "small-roi", _beyond(10.0, 60.0),
                                 expect_fail=True, small_roi=True))
    cases += _real_cases(stacks, seed, n(24))
    if windows:
        for i in range(n(10)):
            cases.append(_model_case(base + 400 + i, f"window/extend/{i}", "window", "extend", _past_window,
                                     windowed=True))
            cases.append(_beyond_limit_case(base + 450 + i, i))
    return cases


def _beyond_limit_case(seed: int, i: int) -> Case:
    """A window touching a hard limit with focus 2-10 DOF beyond that limit (must refuse)."""
    case = _model_case(seed, f"window/beyond-limit/{i}", "window", "beyond-limit", _beyond(2.0, 10.0),
                       expect_fail=True, windowed=True)
    lo, hi = case.window
    above = case.lens.focus_z > hi
    hard = (lo - (hi - lo), hi) if above else (lo, hi + (hi - lo))
    return replace(case, limits=hard, stage=replace(case.stage, limits=hard))


# ----------------------------------------------------------------------------- building


def model_truth(optics: PupilOptics, roi: Roi, around: float, dof: float) -> Tuple[float, Tuple[float, float]]:
    """Peak and sharp band (optical Z) of the clean ROI score near ``around`` (module doc)."""
    lens = optics.lens
    reach = 5.0 * dof + abs(lens.curvature) + abs(lens.tilt) + abs(lens.chroma)

    def scores(zs: np.ndarray) -> np.ndarray:
        return np.array([gradient_energy(optics.roi_gray(float(z), roi)) for z in zs])

    coarse = np.arange(around - reach, around + reach + 1e-12, dof / 3.0)
    best = float(coarse[int(np.argmax(scores(coarse)))])
    fine = np.arange(best - 1.5 * dof, best + 1.5 * dof + 1e-12, dof / 12.0)
    fine_scores = scores(fine)
    return float(fine[int(np.argmax(fine_scores))]), sharp_band(fine, fine_scores, DOF_LEVEL)


def _sample(case: Case) -> np.ndarray:
    """The sharp sample of a model case, drawn larger than the frame by ``MARGIN``."""
    rng = np.random.default_rng(case.seed + 7)
    big = (int((SIZE[0] + 2 * MARGIN_PX) * MARGIN), int((SIZE[1] + 2 * MARGIN_PX) * MARGIN))
    return SCENES[case.scene](rng, big)


def _replay(stack: RealStack, stage_first: float, spacing: float) -> Callable[[float], np.ndarray]:
    """A renderer that returns the slice nearest an optical Z (clamped to the stack)."""
    slices = [s.astype(np.float32) for s in stack.slices]

    def render(z: float) -> np.ndarray:
        i = int(round((z - stage_first) / spacing))
        return slices[min(max(i, 0), len(slices) - 1)]
    return render


_TRUTHS: Dict[Case, Tuple[Optional[float], Optional[Tuple[float, float]], float, bool]] = {}
"""Measured truth per case (peak, band, tolerance, visible): the search and the baseline share it."""


def build(case: Case, stacks: List[RealStack]) -> Rig:
    """Make a fresh clock, stage and camera for ``case``, with its (once measured) truth."""
    clock = SimClock()
    stage = ScrewStage(case.stage, clock, case.start, np.random.default_rng(case.seed + 11))
    if case.real is not None:
        name, roi_index, z0, spacing, _, _ = case.real
        stack = next(s for s in stacks if s.name == name)
        render = _replay(stack, z0, spacing)
    else:
        optics = PupilOptics(_sample(case), case.lens, SIZE)
        render = optics.render
    if case not in _TRUTHS:
        _TRUTHS[case] = _truth(case, stacks, render, optics if case.real is None else None)
    peak, band, tolerance, seen = _TRUTHS[case]
    camera = UsbCamera(case.camera, clock, stage, render, case.dof, np.random.default_rng(case.seed + 13))
    return Rig(clock, stage, camera, peak, band, tolerance, seen, past_reach(case, peak, tolerance) <= 1.0)


def past_reach(case: Case, peak: Optional[float], tolerance: float) -> float:
    """How many ``tolerance`` the measured focus ``peak`` lies past the optics' reach: where
    they rest with the carriage at an end of the allowed range (the screw's pitch error
    included); 0 or less inside it, and without a peak.

    The focus of a case is placed inside the window, but the optics move what the ROI sees
    sharpest (spherical aberration, field curvature, a chromatic shift): the measured focus
    can lie past a hard end. More than one tolerance past, no answer is right (the rig's
    ``reachable`` is False) and the search must refuse.
    """
    if peak is None:
        return 0.0
    lo, hi = (ScrewStage.optics_over(case.stage, end) for end in case.allowed)
    return max(lo - peak, peak - hi) / tolerance


def _truth(case: Case, stacks: List[RealStack], render: Callable[[float], np.ndarray],
           optics: Optional[PupilOptics]) -> Tuple[Optional[float], Optional[Tuple[float, float]], float, bool]:
    """Peak, band, tolerance and visibility of a case (no peak for should-fail model cases)."""
    if case.real is not None:
        name, roi_index, z0, spacing, _, _ = case.real
        stack = next(s for s in stacks if s.name == name)
        truth = roi_truth(stack.gray, roi_grid(stack.gray[0].shape)[roi_index])
        band = (z0 + truth.band[0] * spacing, z0 + truth.band[1] * spacing)
        peak, tolerance = z0 + truth.peak * spacing, max((band[1] - band[0]) / 2.0, spacing)
    elif case.expect_fail:
        return None, None, case.dof / 2.0, True
    else:
        peak, band = model_truth(optics, case.roi, case.lens.focus_z, case.dof)
        tolerance = (band[1] - band[0]) / 2.0
    seen = case.expect_fail or visible(case, render, peak, band[1] - band[0])
    return peak, band, tolerance, seen


def visible(case: Case, render: Callable[[float], np.ndarray], peak: float, dof: float) -> bool:
    """Whether the camera shows the focus at rest (see the module docstring)."""
    def frames(z: float) -> np.ndarray:
        clock = SimClock()
        stage = ScrewStage(StageSpec(limits=(-np.inf, np.inf)), clock, z, np.random.default_rng(0))
        spec = replace(case.camera, late_p=0.0, repeat_p=0.0)
        camera = UsbCamera(spec, clock, stage, render, case.dof, np.random.default_rng(case.seed + 17))
        out = []
        for _ in range(VISIBLE_FRAMES):
            gray = cv2.imdecode(np.frombuffer(camera.frame(), np.uint8), cv2.IMREAD_GRAYSCALE)
            out.append(gradient_energy(crop(gray.astype(np.float32), case.roi)))
        return np.array(out)

    at = frames(peak)
    for side in (-1.0, 1.0):
        off = frames(peak + side * VISIBLE_OFFSET * dof)
        spread = 3.0 * float(np.hypot(at.std(ddof=1), off.std(ddof=1)))
        if at.mean() - off.mean() < max(VISIBLE_MARGIN * at.mean(), spread):
            return False
    return True

