"""The autofocus search: coarse sweep, model-guided refinement, fitted and confirmed peak.

How a run goes (every scored Z is reached from the ``approach`` side, see :mod:`.plan`):

1. **Coarse sweep** over ``coarse_points`` evenly spaced Zs from ``z_min`` to ``z_max``,
   starting at the end nearer the current Z. Each sample is scored at full resolution and
   on a pyramid of reduced copies (:mod:`.sampling`), whose curves reach much further from
   focus, so even a coarse grid on a narrow depth of field sees which way the peak lies.
   The sweep stops early once the combined score (all levels) has fallen below half its
   best: the peak is behind it, as in a camera's contrast autofocus (a quarter, when the
   best is the sweep's first sample and no rise has been seen).
2. **Refinement**: successive parabolic interpolation on ``1 / combined score`` through the
   best point and its neighbours (a Lorentzian focus curve is exactly such a parabola, so
   the guess is good even from the tails), safeguarded by golden-section steps and kept
   half a tolerance away from earlier samples.
3. **Fit**: a Lorentzian or Gaussian peak (:mod:`.fit`, whichever fits better) on the
   full-resolution samples near the top gives the sub-step best Z. It is trusted once at
   least three samples are near the top, the top sample has near-top neighbours on both
   sides, the samples either side of the fitted peak are within ``4 * tolerance`` and half
   the fitted width of each other, R^2 >= ``MIN_R2``, and the combined and the
   full-resolution curves agree on the best sample. Without a ``tolerance`` it is a
   quarter of the fitted full width at half height, so narrow depths of field get finer
   steps by themselves.
4. **Confirm**: move to the fitted peak and take a ``verify`` frame. It must reach
   ``CONFIRM_LOW`` of the best earlier sample and at most ``CONFIRM_HIGH`` times the
   fitted height; otherwise it is one more sample and refinement goes on. After
   ``MAX_FINE`` refinement samples the fitted (else, if clearly interior, the best) Z is
   verified once against ``VERIFY_RATIO``.
5. **Noise check**: unless the scores span many times a free bound of their noise (and
   always for a poor fit's best sample), up to
   ``NOISE_REPEATS`` more frames at the chosen Z measure the noise (frames at one Z differ
   by noise alone) and must show, in a one-sided t-test, that the chosen Z scores above
   the median sample; a small or noisy ROI looking at pure noise ends as ``no_peak``.
6. **Bracket check**: on each side of the chosen Z some sample must score lower beyond the
   noise (by the free bound, else in a t-test on frames repeated there and at the chosen
   Z). A top that reaches a range edge without falling (a replayed stack's end slice seen
   at several Zs, a carriage that cannot get closer to the edge) ends as ``peak_at_edge``:
   the focus may lie beyond it.

Neighbouring samples with identical scores (a camera replaying a recorded focus stack
returns the same slice between slice positions) are merged into one point, so a plateau
does not pose as a peak. Near a range edge, a peak fitted outside the range or a curve
that is still rising into the edge at the finest step taken ends as ``peak_at_edge``; a
focus just inside the edge is found like any other.

Failures are reported, not guessed around: ``low_texture``, ``no_peak``,
``peak_at_edge``, ``poor_fit``, ``verify_failed``, device errors and ``cancelled``
(see :data:`~.result.REASONS`). After a failure the stage returns to the start Z if
``restore_on_failure`` and the start lies inside the range; never after a stage error or a
cancel (a cancel means: stop moving now). ``samples`` hold the brightness-corrected scores
the search used (see :mod:`.sampling`).
"""

import logging
import math
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from .devices import FrameSource, ZStage
from .errors import BadImageError, Cancelled, CameraError, CameraStalled, StageError
from .fit import NEAR_TOP, PeakFit, fit_peak, vertex_of_three
from .options import DEFAULTS, Options, checked_range, checked_roi, parse_options
from .plan import Motion, coarse_grid
from .result import Fit, FocusResult, REASONS
from .sampling import FrameScorer, Sample
from .scoring import measure_for

__all__ = ["autofocus", "DEFAULTS"]

logger = logging.getLogger(__name__)

EARLY_STOP_DROP = 0.5
"""The coarse sweep stops once the combined score falls to this fraction of its best."""
EARLY_STOP_DROP_FIRST = 0.25
"""The same, when the best is the sweep's first sample (no rise seen before the fall)."""
MIN_CONTRAST = 0.1
"""Below this (max - min) / max of the full-resolution scores, the curve has no peak."""
MIN_TEXTURE = 0.01
"""Below this relative contrast at the best Z the ROI is too featureless to focus on."""
MIN_R2 = 0.8
"""The peak fit must explain at least this share of the variance of its samples."""
VERIFY_RATIO = 0.6
"""The verification frame must score this fraction of the best sample (above the floor)."""
CONFIRM_LOW = 0.9
"""A frame at the fitted peak must score this fraction of the best sample (above the floor)..."""
CONFIRM_HIGH = 1.33
"""... and at most this multiple of the fitted peak height (else the peak is narrower)."""
EDGE_FLAT = 0.9
"""An edge sample is the peak's shoulder once its inward neighbour scores this fraction of it
(heights above the floor, the lowest score of the run)."""
EDGE_FLAT_ABSOLUTE = 0.97
"""... or this fraction of its whole score (a high floor with noise never gets closer)."""
MAX_FINE = 12
"""At most this many refinement samples."""
NOISE_SURE = 6.0
"""A run whose score range is this many times its neighbour-difference noise bound is no
noise: its peak is accepted without a repeat frame (see :meth:`_Run._check_noise`)."""
NOISE_LEVEL = 0.005
"""Otherwise the frames at the chosen Z must beat the median sample at this significance."""
NOISE_REPEATS = 3
"""At most this many repeat frames at the chosen Z, taken one by one until the test passes."""
_T_SMALL = (63.657, 9.925, 5.841, 4.604, 4.032)
"""Student's t quantiles at 1 - ``NOISE_LEVEL`` for 1 to 5 degrees of freedom."""
_Z_LEVEL = 2.5758
"""The normal quantile at 1 - ``NOISE_LEVEL``."""
_MAD_OF_DIFFERENCE = 0.6745 * math.sqrt(2.0)
"""median |a - b| of two independent normal draws, in units of their SD."""
PLATEAU_REL = 1e-6
"""Neighbouring samples whose full-resolution scores differ by less than this share match."""
_GOLDEN = 0.381966


def _combined(levels: np.ndarray) -> np.ndarray:
    """Per row of per-level scores: the mean over levels of score / that level's maximum.

    Far from focus only the coarse levels change; near it the full resolution dominates
    the change: one curve with long tails and a sharp top, all peaking at focus.
    """
    return np.mean(levels / np.maximum(levels.max(axis=0), 1e-300), axis=1)


def _union(starts: np.ndarray, ends: np.ndarray) -> List[Tuple[float, float]]:
    """The union of the intervals ``(starts[i], ends[i])`` as disjoint sorted intervals."""
    merged: List[Tuple[float, float]] = []
    for start, end in sorted(zip(starts.tolist(), ends.tolist())):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _neighbour_noise(scores: np.ndarray) -> float:
    """A bound of the noise SD of ``scores`` (ordered by Z): their neighbours' median difference.

    On a flat stretch the differences are noise alone; a slope only adds to them.
    """
    if len(scores) < 2:
        return math.inf
    return float(np.median(np.abs(np.diff(scores)))) / _MAD_OF_DIFFERENCE


def _t_quantile(freedom: int) -> float:
    """Student's t quantile at 1 - ``NOISE_LEVEL`` (a table, then its Cornish-Fisher series)."""
    if freedom <= len(_T_SMALL):
        return _T_SMALL[max(freedom, 1) - 1]
    z, v = _Z_LEVEL, float(freedom)
    return z + (z ** 3 + z) / (4 * v) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * v * v)


class _Failed(Exception):
    """Ends a run with a search failure (a key of REASONS)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def autofocus(
    stage: ZStage,
    camera: FrameSource,
    z_min: float,
    z_max: float,
    roi: Optional[Sequence[float]] = None,
    metric: str = "tenengrad",
    **options: Any,
) -> FocusResult:
    """Move ``stage`` to the Z where ``camera`` sees the sharpest image within ``roi``.

    Parameters
    ----------
    stage, camera : ZStage, FrameSource
        See :mod:`.devices`. The search starts at ``stage.position()``; a start outside
        ``[z_min, z_max]`` is fine (the first move brings it inside).
    z_min, z_max : float
        The range searched; no Z outside it is ever commanded.
    roi : (x, y, w, h), optional
        Pixels of the frame as the camera returns it; None for the whole frame.
    metric : str
        A key of :data:`~.measures.MEASURES`.
    **options
        See :data:`DEFAULTS`: ``coarse_points`` (>= 3) or ``coarse_step`` (mm),
        ``tolerance`` (mm, final precision; None derives it from the peak width),
        ``overscan`` (mm of backlash take-up, 0 disables), ``approach`` (``"above"`` or
        ``"below"``), ``settle`` (s after each arrival), ``frames_per_position``,
        ``restore_on_failure``,
        ``cancel`` (has ``is_set()``), ``on_sample(z, score, phase)``, ``sleep``,
        ``clock``, ``decode_scale`` (1, 2, 4 or 8).

    Returns
    -------
    FocusResult
        ``ok`` and ``z`` (the stage is left there when ok), every sample, the fit, costs.

    Raises
    ------
    ValueError
        Bad arguments, before anything moves.
    """
    opts = parse_options(options)
    z_min, z_max = checked_range(z_min, z_max)
    measure_for(metric)
    roi = checked_roi(roi)
    run = _Run(stage, camera, z_min, z_max, roi, metric, opts)
    return run.execute()


class _Run:
    """One autofocus run: the state shared by its phases."""

    def __init__(self, stage, camera, z_min, z_max, roi, metric, opts: Options) -> None:
        self.camera = camera
        self.z_min, self.z_max = z_min, z_max
        self.roi, self.metric, self.opts = roi, metric, opts
        self.started = opts.clock()
        self.motion = Motion(stage, z_min, z_max, opts.approach, opts.overscan, opts.settle,
                             opts.sleep, self._checkpoint)
        self.start_z = self.motion.position
        self.scorer = FrameScorer(metric, roi, opts.decode_scale)
        self.samples: List[Sample] = []
        self.frames = 0
        self.fit: Optional[PeakFit] = None
        self.verify_score: Optional[float] = None
        self.guessed = False  # the peak is a poor fit's best sample (see _fallback)

    # ~~ the run

    def execute(self) -> FocusResult:
        """Run all phases; turn failures, device errors and cancel into the result."""
        try:
            z = self._search()
            return self._result(True, z, "", "focused at Z%.4f" % z)
        except _Failed as failure:
            failure = self._texture_failure() or failure
            return self._failed(failure.reason, str(failure), restore=True)
        except Cancelled:
            return self._failed("cancelled", "cancelled by request", restore=False)
        except StageError as exc:
            return self._failed("stage_error", str(exc), restore=False)
        except CameraStalled as exc:
            return self._failed("camera_stalled", str(exc), restore=True)
        except (CameraError, BadImageError) as exc:
            return self._failed("camera_error", str(exc), restore=True)
        except (ArithmeticError, IndexError, ValueError, np.linalg.LinAlgError) as exc:
            # Numbers no model foresaw: report them as an untrustworthy fit, never crash
            # with the stage somewhere in the range.
            logger.exception("autofocus: unexpected numerical failure")
            return self._failed("poor_fit", f"internal numerical failure: {exc!r}", restore=True)

    def _search(self) -> float:
        """The phases in order; returns the focused Z (the stage is there) or raises."""
        self._coarse()
        self._check_contrast()
        z = self._refine()
        self._check_texture()
        self._check_peak_contrast()
        self._check_noise(z)
        self._check_bracketed(z)
        return z

    def _coarse(self) -> None:
        """Sweep the grid from the nearer end; stop once the peak is clearly behind."""
        grid = coarse_grid(self.z_min, self.z_max, self.opts.grid_points(self.z_max - self.z_min),
                           self.start_z)
        for z in grid:
            self._measure(z, "coarse")
            combined = self._combined()
            best = int(np.argmax(combined))
            drop = EARLY_STOP_DROP if best > 0 else EARLY_STOP_DROP_FIRST
            textured = self.samples[best].texture >= MIN_TEXTURE  # not a blurred side lobe
            if best < len(combined) - 1 and combined[-1] < drop * combined[best] and textured:
                break

    def _check_contrast(self) -> None:
        """Fail early on a curve without a peak (or a featureless ROI: nothing to peak)."""
        levels = np.array([s.levels for s in self.samples])
        top = np.maximum(levels.max(axis=0), 1e-300)
        contrast = (top - levels.min(axis=0)) / top
        if contrast.max() < MIN_CONTRAST:
            self._check_texture()
            raise _Failed("no_peak", f"scores vary by at most {contrast.max():.1%} over the range")

    def _check_peak_contrast(self) -> None:
        """Fail when the full-resolution scores found no peak standing out of their floor.

        The coarse levels may show a broad bump where the full-resolution curve is noise:
        such a "peak" cannot be told from the noise at the resolution focus is judged by.
        """
        scores = [s.score for s in self.samples]
        contrast = (max(scores) - min(scores)) / max(max(scores), 1e-300)
        if contrast < MIN_CONTRAST:
            raise _Failed("no_peak", f"full-resolution scores vary by {contrast:.1%} only")

    def _check_noise(self, z: float) -> None:
        """Fail with no_peak when the peak at ``z`` cannot be told from the score noise.

        Scores spanning ``NOISE_SURE`` times a free bound of their noise hold a real peak
        (:meth:`_clearly_above_noise`), unless the peak was only guessed (a poor fit's best
        sample, see :meth:`_fallback`). Otherwise frames are taken at ``z`` (the stage is
        there), one by one up to ``NOISE_REPEATS``, until they pass :meth:`_stands_out`.
        """
        if not self.guessed and self._clearly_above_noise():
            return
        for _ in range(NOISE_REPEATS):
            self.verify_score = self._measure(z, "verify").score
            if self._stands_out(z):
                return
        height, error, freedom = self._peak_over_noise(z)
        raise _Failed("no_peak", f"the peak stands {height:.4g} above the median sample, "
                      f"within the score noise (standard error {error:.3g}, {freedom} "
                      f"degrees of freedom, from repeated frames)")

    def _check_bracketed(self, z: float) -> None:
        """Fail unless, on each side of ``z``, some sample scores lower than ``z`` beyond the noise.

        An interior peak falls off on both sides before the range ends. Near an edge the
        samples between the peak and the edge may all show the same slice of a replayed
        stack (or a top still rising outwards, flattened by noise): then nothing there is
        lower than ``z`` and the focus may lie beyond the edge (``peak_at_edge``). A side
        passes at once when its lowest sample lies ``NOISE_SURE`` times the free noise
        bound below the frames at ``z``, or below the near-top cut of the fit (``NEAR_TOP``
        of the height above the floor: a fall the noise check already set apart from the
        noise, as the peak's height is); otherwise frames are repeated at ``z`` and at that
        sample's Z (up to ``NOISE_REPEATS`` more at each) until a one-sided t-test at
        ``NOISE_LEVEL`` shows it lower (:meth:`_clearly_lower`). The stage ends at ``z``.
        """
        _, levels, spans = self._points()
        free_bound = NOISE_SURE * _neighbour_noise(levels[:, 0])
        floor = float(levels[:, 0].min())
        for below, edge in ((True, self.z_min), (False, self.z_max)):
            side = [s for s in self.samples if (s.z < z if below else s.z > z)]
            # a plateau holding z (one replayed slice) is no lower sample on either side
            plateau = spans[(spans[:, 0] <= z) & (z <= spans[:, 1])]
            side = [s for s in side if not np.any((plateau[:, 0] <= s.z) & (s.z <= plateau[:, 1]))]
            low_z = min(side, key=lambda s: s.score).z if side else None
            while low_z is None or not self._clearly_lower(z, low_z, free_bound, floor):
                counts = {t: sum(s.z == t for s in self.samples) for t in (z, low_z)}
                target = min(counts, key=counts.get)
                if low_z is None or counts[target] > NOISE_REPEATS:
                    reached = low_z is None or edge in (s.z for s in side)
                    raise _Failed("peak_at_edge" if reached else "no_peak",
                                  f"no sample between Z{z:.4f} and the range edge Z{edge:.4f} "
                                  f"scores lower beyond the score noise: focus may lie outside "
                                  f"[{self.z_min}, {self.z_max}]")
                sample = self._measure(target, "verify")
                if target == z:
                    self.verify_score = sample.score
        if self.motion.position != z:  # the last frames were taken at a lower sample's Z
            self.motion.arrive(z)

    def _clearly_lower(self, z: float, low_z: float, free_bound: float, floor: float) -> bool:
        """Whether the frames at ``low_z`` score below those at ``z`` by ``free_bound``, below
        the near-top cut over ``floor``, or, with repeated frames, in a one-sided t-test at
        level ``NOISE_LEVEL``."""
        at_z = [s.score for s in self.samples if s.z == z]
        at_low = [s.score for s in self.samples if s.z == low_z]
        peak = float(np.mean(at_z))
        height = peak - float(np.mean(at_low))
        if height >= min(free_bound, (1.0 - NEAR_TOP) * (peak - floor)):
            return True
        sigma, freedom = self._repeat_noise()
        error = sigma * math.sqrt(1.0 / len(at_z) + 1.0 / len(at_low))
        return freedom > 0 and height > _t_quantile(freedom) * error

    def _clearly_above_noise(self) -> bool:
        """Whether the scores span ``NOISE_SURE`` times a bound of their noise.

        The bound comes free: the median difference of neighbouring points
        (:func:`_neighbour_noise`; a peak's flanks only inflate it).
        """
        _, levels, _ = self._points()
        scores = levels[:, 0]
        return bool(scores.max() - scores.min() >= NOISE_SURE * _neighbour_noise(scores))

    def _stands_out(self, z: float) -> bool:
        """Whether the frames at ``z`` score above the median sample beyond the noise.

        Frames at one Z differ by noise alone, so their spread measures it
        (:meth:`_repeat_noise`); the frames at ``z`` must beat the median sample in a
        one-sided t-test at level ``NOISE_LEVEL``. Fresh frames at ``z`` are fair
        measurements, unlike the best sample, which won its place partly by noise.
        """
        height, error, freedom = self._peak_over_noise(z)
        return height > _t_quantile(freedom) * error

    def _peak_over_noise(self, z: float) -> Tuple[float, float, int]:
        """How far the frames at ``z`` stand above the median other point (:meth:`_points`),
        its standard error and the degrees of freedom of that error's noise estimate."""
        at_z = [s.score for s in self.samples if s.z == z]
        _, levels, spans = self._points()  # a replayed slice seen at several Zs counts once
        others = levels[(spans[:, 0] > z) | (spans[:, 1] < z), 0]
        sigma, freedom = self._repeat_noise()
        if not len(others):
            return 0.0, math.inf, freedom
        # the median of n normal draws has the variance pi / 2n of one draw
        error = sigma * math.sqrt(1.0 / len(at_z) + math.pi / (2.0 * len(others)))
        return float(np.mean(at_z) - np.median(others)), error, freedom

    def _repeat_noise(self) -> Tuple[float, int]:
        """The score noise (SD) and its degrees of freedom, from samples at the same Z.

        Pooled over every Z sampled more than once; the stage was at the same place, so
        only the camera's noise (and anything that drifts) differs between the frames.
        """
        groups: dict = {}
        for s in self.samples:
            groups.setdefault(s.z, []).append(s.score)
        squares = sum(float(np.sum((np.array(g) - np.mean(g)) ** 2)) for g in groups.values())
        freedom = sum(len(g) - 1 for g in groups.values())
        return math.sqrt(squares / max(freedom, 1)), freedom

    def _check_texture(self) -> None:
        """Fail when the ROI is nearly featureless at the sharpest sample."""
        failure = self._texture_failure()
        if failure is not None:
            raise failure

    def _texture_failure(self) -> Optional[_Failed]:
        """A low_texture failure if the sharpest sample's ROI is nearly featureless.

        It explains any other search failure better (a featureless ROI has no peak).
        """
        best = max(self.samples, key=lambda s: s.score)
        if best.texture >= MIN_TEXTURE:
            return None
        return _Failed("low_texture", f"relative contrast {best.texture:.4f} at the best Z "
                       f"is below {MIN_TEXTURE}")

    def _refine(self) -> float:
        """Sample towards the peak until a fitted peak is confirmed by a frame taken there.

        A fit made from the curve's tails predicts a low, broad bump: a frame at its vertex
        that scores far above it shows the real peak is narrower, one far below the best
        sample shows the fit missed it (see :meth:`_confirms`); both go on refining.
        """
        rejected = False
        for _ in range(MAX_FINE):
            self.fit = self._fit()
            self._check_edge()
            if not rejected and self._converged():
                z = self._peak_z()
                sample = self._measure(z, "verify")
                if self._confirms(sample):
                    return z
                rejected = True  # refine before trying to confirm again
                continue
            rejected = False
            z = self._propose()
            if z is None:
                break
            self._measure(z, "fine")
        self.fit = self._fit()
        return self._fallback()

    def _check_edge(self) -> None:
        """Fail when the curve still rises into a range edge at the finest step taken.

        Refinement walks towards an edge that holds the best sample (golden-section
        steps). A focus just inside the edge shows up as a sample that clearly beats the
        edge one and a fitted peak inside the range. If instead the edge sample and every
        sample between it and the best one score within ``EDGE_FLAT`` of the best (above
        the floor; or ``EDGE_FLAT_ABSOLUTE`` of its whole score), after at least one
        refinement sample there, the curve is flat at this resolution and still rising
        outwards: the focus lies beyond the edge.
        """
        if self._fit_inside():
            return
        order = np.argsort([s.z for s in self.samples], kind="stable")
        ordered = [self.samples[i] for i in order]
        scores = np.array([s.score for s in ordered])
        combined = self._combined()[order]
        b = int(np.argmax(scores))
        edge = 0 if b < len(ordered) / 2 else len(ordered) - 1
        if ordered[edge].z not in (self.z_min, self.z_max):
            return
        if abs(int(np.argmax(combined)) - edge) > abs(b - edge):
            return  # the combined curve peaks further inside
        if b == edge:  # the edge itself is best: judge it with its inward neighbour
            b = 1 if edge == 0 else len(ordered) - 2
        between = ordered[min(edge, b): max(edge, b) + 1]
        floor, best = scores.min(), scores.max()
        flat = all(s.score - floor >= EDGE_FLAT * (best - floor)
                   or s.score >= EDGE_FLAT_ABSOLUTE * best for s in between)
        if flat and any(s.phase != "coarse" for s in between):
            raise _Failed("peak_at_edge", f"the sharpness still rises into the range edge "
                          f"Z{ordered[edge].z:.4f}: focus may lie outside "
                          f"[{self.z_min}, {self.z_max}]")

    def _fit_inside(self) -> bool:
        """Whether the current fit puts the peak inside the range."""
        return self.fit is not None and self.z_min <= self.fit.z_peak <= self.z_max

    def _confirms(self, sample: Sample) -> bool:
        """Whether ``sample``, taken at the fitted peak, scores what the fit predicts.

        Above the floor it must reach ``CONFIRM_LOW`` of the best earlier sample and stay
        below ``CONFIRM_HIGH`` times the fitted height.
        """
        self.verify_score = sample.score
        floor = self.fit.floor
        best_other = max(s.score for s in self.samples[:-1])
        return (sample.score - floor >= CONFIRM_LOW * (best_other - floor)
                and sample.score <= CONFIRM_HIGH * self.fit.height)

    def _fallback(self) -> float:
        """Out of refinement budget: check the fitted (or else the best) Z once.

        Without a trusted fit (poor_fit) the best sample is only a guess: it is tried when
        it is clearly interior, and if verified :meth:`_check_noise` always tests it
        against the noise with repeated frames. A curve whose best sample does not even
        stand out of the noise fails as no_peak rather than verify_failed.
        """
        best = max(self.samples, key=lambda s: s.score)
        try:
            z = self._peak_z()
        except _Failed as failure:
            if failure.reason != "poor_fit" or not self._clearly_interior(best):
                raise
            z, self.guessed = best.z, True
        floor = min(s.score for s in self.samples)
        for target in dict.fromkeys((z, best.z)):
            sample = self._measure(target, "verify")
            self.verify_score = sample.score
            if sample.score - floor >= VERIFY_RATIO * (best.score - floor):
                return target
        if not self._clearly_above_noise() and not self._stands_out(best.z):
            raise _Failed("no_peak", "the best sample does not stand out of the score noise "
                          "of the frames repeated at its Z")
        raise _Failed("verify_failed", f"verification score {self.verify_score:.4g} is below "
                      f"{VERIFY_RATIO} x the best sample's {best.score:.4g}")

    def _clearly_interior(self, best: Sample) -> bool:
        """Whether samples on both sides of ``best`` score clearly (not just noise) lower."""
        floor = min(s.score for s in self.samples)
        low = floor + EDGE_FLAT * (best.score - floor)
        return (any(s.z < best.z and s.score < low for s in self.samples)
                and any(s.z > best.z and s.score < low for s in self.samples))

    def _interior(self, z: float) -> bool:
        """Whether there are samples on both sides of ``z``."""
        zs = [s.z for s in self.samples]
        return min(zs) < z < max(zs)

    def _converged(self) -> bool:
        """Whether the fitted peak can be trusted enough to go and confirm it.

        Three samples near the top, both levels agreeing on the best, the nearest samples
        either side of the peak within ``4 * tolerance`` and half the fitted width of each
        other, R^2 >= ``MIN_R2``, and near-top samples on both sides of the top one.
        """
        if self.fit is None or self.fit.strong < 3 or not self._levels_agree():
            return False
        zs = np.array(sorted(s.z for s in self.samples))
        below, above = zs[zs <= self.fit.z_peak], zs[zs >= self.fit.z_peak]
        if not below.size or not above.size:
            return False  # a peak fitted beyond the samples: _check_edge decides
        gap = above[0] - below[-1]
        return (gap <= min(4 * self._tolerance(), 0.5 * self.fit.fwhm) and self.fit.r2 >= MIN_R2
                and self._straddled())

    def _straddled(self) -> bool:
        """Whether the top point has near-top neighbours on both sides, around the fit's peak.

        A fit whose strong points all lie on one side of the top extrapolates the other
        flank, which an asymmetric curve gets wrong.
        """
        fit = self.fit
        zs, levels, _ = self._points()
        scores = levels[:, 0]
        top = int(np.argmax(scores))
        strong = np.flatnonzero(scores >= fit.floor + NEAR_TOP * (fit.height - fit.floor))
        return (bool(np.any(strong < top)) and bool(np.any(strong > top))
                and zs[strong.min()] < fit.z_peak < zs[strong.max()])

    def _levels_agree(self) -> bool:
        """Whether the combined scores' best sample is (nearly) the full-resolution best too."""
        scores = np.array([s.score for s in self.samples])
        floor = scores.min()
        chosen = scores[int(np.argmax(self._combined()))]
        return chosen - floor >= CONFIRM_LOW * (scores.max() - floor)

    def _tolerance(self) -> float:
        """The ``tolerance`` option, or a quarter of the fitted peak's width (mm)."""
        if self.opts.tolerance is not None:
            return self.opts.tolerance
        width = self.fit.fwhm if self.fit is not None and math.isfinite(self.fit.fwhm) else math.inf
        span = self.z_max - self.z_min
        return max(min(width / 4.0, span / 8.0), span * 1e-4)

    def _propose(self) -> Optional[float]:
        """The next Z: the 3-point parabola's vertex, or a golden-section step."""
        zs, levels, spans = self._points()
        if len(zs) < 2:
            return None
        cs = _combined(levels)
        b = int(np.argmax(cs))
        if b == 0 or b == len(zs) - 1:
            trio = slice(0, 3) if b == 0 else slice(len(zs) - 3, len(zs))
            lo, hi = (zs[0], zs[1]) if b == 0 else (zs[-2], zs[-1])
        else:
            trio = slice(b - 1, b + 2)
            lo, hi = zs[b - 1], zs[b + 1]
        vertex = vertex_of_three(zs[trio], cs[trio]) if len(zs) >= 3 else None
        if vertex is None or not lo < vertex < hi:
            wide_left = zs[b] - lo > hi - zs[b]
            vertex = zs[b] - _GOLDEN * (zs[b] - lo) if wide_left else zs[b] + _GOLDEN * (hi - zs[b])
        return self._spaced(float(vertex), spans, lo, hi)

    def _spaced(self, z: float, spans: np.ndarray, lo: float, hi: float) -> Optional[float]:
        """``z``, or the nearest Z in ``[lo, hi]`` clear of the known points; None if none.

        A point is clear when it is half a tolerance from every sample, and from every
        plateau (Zs known to show the same image) as a whole.
        """
        gap = 0.5 * self._tolerance()
        if self.fit is None or self.fit.strong < 3:  # no reliable width yet: bracket-relative
            gap = min(gap, (hi - lo) / 8.0)
        for start, end in _union(spans[:, 0] - 0.999 * gap, spans[:, 1] + 0.999 * gap):
            if start < z < end:
                inside = [c for c in (start, end) if lo <= c <= hi]
                return float(min(inside, key=lambda c: abs(c - z))) if inside else None
        return z

    def _peak_z(self) -> float:
        """The fitted best Z, after the fit-quality and edge gates."""
        fit = self.fit
        best_z = max(self.samples, key=lambda s: s.score).z
        tol = self._tolerance()
        if fit is None or not self.z_min <= fit.z_peak <= self.z_max:
            if not self._interior(best_z):
                where = "at the range edge" if fit is None else f"fitted at Z{fit.z_peak:.4f}"
                raise _Failed("peak_at_edge", f"the sharpest Z is {where}, outside or at the "
                              f"edge of [{self.z_min}, {self.z_max}]: focus may lie outside")
            raise _Failed("poor_fit", "the samples near the best one do not form a peak")
        if fit.r2 < MIN_R2 or not fit.z_lo - tol <= fit.z_peak <= fit.z_hi + tol:
            raise _Failed("poor_fit", f"peak fit R^2 {fit.r2:.2f} (needs {MIN_R2}), peak "
                          f"Z{fit.z_peak:.4f} for samples Z{fit.z_lo:.4f}..Z{fit.z_hi:.4f}")
        return fit.z_peak

    # ~~ helpers

    def _checkpoint(self) -> None:
        cancel = self.opts.cancel
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")

    def _measure(self, z: float, phase: str) -> Sample:
        """Arrive at ``z``, grab and score the frames, record and report the sample."""
        self.motion.arrive(z)
        frames = []
        for _ in range(self.opts.frames_per_position):
            self._checkpoint()
            frames.append(self._grab())
        sample = self.scorer.sample(self.motion.position, frames, phase)
        self.samples.append(sample)
        if self.opts.on_sample is not None:
            self.opts.on_sample(sample.z, sample.score, phase)
        return sample

    def _grab(self):
        """One frame; any failure of the camera becomes a CameraError."""
        try:
            frame = self.camera.frame()
        except CameraError:
            raise
        except Exception as exc:  # a device's own exception type: report, don't crash
            raise CameraError(f"camera failed: {exc!r}") from exc
        self.frames += 1
        return frame

    def _combined(self) -> np.ndarray:
        """The combined score of every sample, in measured order."""
        return _combined(np.array([s.levels for s in self.samples]))

    def _fit(self) -> Optional[PeakFit]:
        zs, levels, _ = self._points()
        return fit_peak(zs, levels[:, 0], floor=float(levels[:, 0].min()))

    def _points(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sample Zs (ascending), their per-level scores and Z spans, plateaus merged.

        Neighbours in Z with the same full-resolution score saw the same image (a camera
        replaying a recorded focus stack returns one slice between its slice positions):
        they count as one point at their mean Z, so a plateau does not pose as a peak.
        """
        order = np.argsort([s.z for s in self.samples], kind="stable")
        zs = np.array([self.samples[i].z for i in order])
        levels = np.array([self.samples[i].levels for i in order])
        groups = [[0]]
        for i in range(1, len(zs)):
            previous = levels[groups[-1][-1], 0]
            if previous > 0 and abs(levels[i, 0] - previous) <= PLATEAU_REL * previous:
                groups[-1].append(i)
            else:
                groups.append([i])
        return (np.array([zs[g].mean() for g in groups]),
                np.array([levels[g].mean(axis=0) for g in groups]),
                np.array([(zs[g].min(), zs[g].max()) for g in groups]))

    # ~~ results

    def _failed(self, reason: str, message: str, restore: bool) -> FocusResult:
        logger.debug("autofocus failed (%s): %s", reason, message)
        inside = self.z_min <= self.start_z <= self.z_max
        if restore and self.opts.restore_on_failure and inside:
            try:
                self.motion.arrive(self.start_z)
            except Exception as exc:  # restoring is best effort; the first failure is the story
                logger.debug("could not restore the start Z: %r", exc)
        best = max(self.samples, key=lambda s: s.score).z if self.samples else self.start_z
        fitted = self.fit is not None and reason in ("verify_failed", "poor_fit")
        z = self.fit.z_peak if fitted else best
        return self._result(False, z, reason, message or REASONS[reason])

    def _result(self, ok: bool, z: float, reason: str, message: str) -> FocusResult:
        fit = None
        if self.fit is not None:
            f = self.fit
            params = dict(zip(("c2", "c1", "c0"), f.params), centre=f.centre, fwhm=f.fwhm,
                          floor=f.floor, points=f.points)
            fit = Fit(model=f.model, z_peak=f.z_peak, r2=f.r2, z_lo=f.z_lo, z_hi=f.z_hi,
                      params=params)
        return FocusResult(
            ok=ok, z=float(z), reason=reason, message=message,
            samples=[(s.z, s.score) for s in self.samples], phases=[s.phase for s in self.samples],
            fit=fit, metric=self.metric, roi=self.roi, z_min=self.z_min, z_max=self.z_max,
            start_z=self.start_z, final_z=self.motion.position, verify_score=self.verify_score,
            moves=self.motion.moves, frames=self.frames, travel=self.motion.travel,
            elapsed=self.opts.clock() - self.started, options=self.opts.record(),
        )
