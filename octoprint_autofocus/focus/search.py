"""The autofocus search: coarse sweep, extension, model-guided refinement, checked peak.

How a run goes (every scored Z is reached from the ``approach`` side, see :mod:`.plan`):

1. **Coarse sweep** over ``coarse_points`` evenly spaced Zs across the *window*
   ``[z_min, z_max]``, starting at the end nearer the current Z. Each sample is scored at
   full resolution and on a pyramid of reduced copies (:mod:`.sampling`), whose curves
   reach much further from focus, so even a coarse grid on a narrow depth of field sees
   which way the peak lies. The sweep stops early once the combined score (all levels)
   has fallen below half its best: the peak is behind it, as in a camera's contrast
   autofocus (a quarter, when the best is the sweep's first sample and no rise has been
   seen), provided the full-resolution scores show the top clearly (a side lobe of a
   periodic scene makes a bump in the coarse levels only).
2. **Extension**: the window is a first guess, not a wall. While the best point is an end
   of the range searched so far, the search steps past that end (one coarse step, then
   growing steps, see :meth:`_Run._extend`) until the curve falls on that side, up to the
   hard ``limits`` and ``max_extension`` mm past the window. Later phases extend the same
   way whenever they find the curve still rising into an end (below).
3. **Refinement**: successive parabolic interpolation on ``1 / combined score`` through the
   best point and its neighbours, safeguarded by golden-section steps (:func:`.plan.propose`).
4. **Fit**: a Lorentzian or Gaussian peak (:mod:`.fit`, whichever fits better) on the
   full-resolution samples near the top gives the sub-step best Z. It is trusted once at
   least three samples are near the top, the top sample has near-top neighbours on both
   sides, the samples either side of the fitted peak are within ``4 * tolerance`` and half
   the fitted width of each other, R^2 >= ``MIN_R2``, and the combined and the
   full-resolution curves agree on the best sample. Without a ``tolerance`` it is a
   quarter of the fitted full width at half height, so narrow depths of field get finer
   steps by themselves.
5. **Confirm**: move to the fitted peak and take a ``verify`` frame. It must reach
   ``CONFIRM_LOW`` of the best earlier sample and at most ``CONFIRM_HIGH`` times the
   fitted height; otherwise it is one more sample and refinement goes on. After
   ``MAX_FINE`` refinement samples the fitted (else, if clearly interior, the best) Z is
   verified once against ``VERIFY_RATIO``.
6. **Noise check**: unless the scores span many times a free bound of their noise (and
   always for a poor fit's best sample), up to
   ``NOISE_REPEATS`` more frames at the chosen Z measure the noise (frames at one Z differ
   by noise alone) and must show, in a one-sided t-test, that the chosen Z scores above
   the median sample; a small or noisy ROI looking at pure noise ends as ``no_peak``.
7. **Bracket check**: on each side of the chosen Z some sample must score lower beyond the
   noise (by the free bound, else in a t-test on frames repeated there and at the chosen
   Z).

Neighbouring samples with identical scores (a camera replaying a recorded focus stack
returns the same slice between slice positions) are merged into one point, so a plateau
does not pose as a peak (:mod:`.curve`). A peak fitted beyond an end of the searched range,
a curve still rising into an end at the finest step taken, or a top that reaches an end
without falling (a replayed stack's end slice seen at several Zs) make the search extend
past that end; where it may not (a hard limit, or the extension budget spent) the run ends
as ``peak_at_edge``, naming that edge (``edge_z``, ``edge_kind``). A focus just inside an
end is found like any other.

Failures are reported, not guessed around: ``low_texture``, ``no_peak``,
``peak_at_edge``, ``poor_fit``, ``verify_failed``, device errors and ``cancelled``
(see :data:`~.result.REASONS`). After a failure the stage returns to the start Z if
``restore_on_failure`` and the start lies where the run may move; never after a stage
error or a cancel (a cancel means: stop moving now). ``samples`` hold the
brightness-corrected scores the search used (see :mod:`.sampling`).

The parts: the checks are pure functions in :mod:`.checks`, the noise statistics in
:mod:`.noise`, the curve's points in :mod:`.curve`, where to go next and how in
:mod:`.plan`, the sentences for people in :mod:`.messages`; this module runs the phases.
"""

import logging
import math
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from . import checks
from .checks import MIN_CONTRAST, MIN_R2, MIN_TEXTURE, NOISE_SURE, VERIFY_RATIO
from .curve import Points, combined, merge_plateaus
from .devices import FrameSource, ZStage
from .errors import BadImageError, Cancelled, CameraError, CameraStalled, StageError
from .fit import PeakFit, fit_peak
from .messages import plain_message
from .noise import relative_noise, repeat_noise
from .options import DEFAULTS, Options, checked_limits, checked_range, checked_roi, parse_options
from .plan import WIDTH_PER_TOLERANCE, Motion, coarse_grid, derived_tolerance, propose
from .result import Fit, FocusResult, REASONS
from .sampling import FrameScorer, Sample
from .scoring import measure_for

__all__ = ["autofocus", "DEFAULTS"]

logger = logging.getLogger(__name__)

EARLY_STOP_DROP = 0.5
"""The coarse sweep stops once the combined score falls to this fraction of its best."""
EARLY_STOP_DROP_FIRST = 0.25
"""The same, when the best is the sweep's first sample (no rise seen before the fall)."""
EARLY_STOP_CONTRAST = 0.5
"""... and only once the full-resolution scores vary by this share of their best."""
EXTENSION_GROWTH = 2.0
"""Each further extension step on one side is this many times the previous one..."""
EXTENSION_STEPS_MAX = 4.0
"""... up to this many coarse steps (the pyramid's coarsest level still sees a peak that far)."""
SHARP_BAND = 0.8
"""The tolerance is the half-width of the band where the fitted curve stays above this share
of its height over the noise floor (the sharp band a person sees as in focus)."""
TAILS_CONTRAST = 0.75
"""A run has seen a focus curve's tails once its lowest score is this share below its best."""
PIN_NEAR = 1.0
"""The fitted peak needs a neighbour on each side at least this many tolerances away..."""
PIN_FAR = 2.5
"""... and at most this many..."""
PIN_STEP = 1.5
"""... else one is taken this many tolerances away."""
MIN_OFF_PEAK = 3
"""The noise test compares the peak with the points off it when there are this many."""
MAX_FINE = 12
REFINE_ROUNDS = 2
"""Rounds of refinement: one more when the samples taken to pin a peak down moved it."""
"""At most this many refinement samples a round."""
NOISE_REPEATS = 3
"""At most this many repeat frames at one Z for a noise test, taken one by one until it passes."""


class _Failed(Exception):
    """Ends a run with a search failure (a key of REASONS) and its technical detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class _Explore(Exception):
    """The peak found is too faint to judge before the rest of the reachable range is seen."""


class _AtEdge(_Failed):
    """The curve may go on rising past one end of the searched range (``below``: the lower)."""

    def __init__(self, below: bool, detail: str) -> None:
        super().__init__("peak_at_edge", detail)
        self.below = below


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
        The window: where the search starts (a first guess). It may extend past it into
        ``limits``; no Z outside the limits (nor ``max_extension`` past the window) is
        ever commanded.
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
        ``clock``, ``decode_scale`` (1, 2, 4 or 8), ``limits`` (``(low, high)`` hard
        bounds holding the window; None: the window is the wall), ``max_extension`` (mm
        per side past the window; None: one window width; 0: none).

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
    window = checked_range(z_min, z_max)
    limits = checked_limits(opts.limits, window)
    measure_for(metric)
    roi = checked_roi(roi)
    run = _Run(stage, camera, window, limits, roi, metric, opts)
    return run.execute()


class _Run:
    """One autofocus run: the state shared by its phases."""

    def __init__(self, stage, camera, window: Tuple[float, float], limits: Tuple[float, float],
                 roi, metric, opts: Options) -> None:
        self.camera = camera
        self.window, self.limits = window, limits
        width = window[1] - window[0]
        reach = width if opts.max_extension is None else opts.max_extension
        self.bounds = (max(limits[0], window[0] - reach), min(limits[1], window[1] + reach))
        self.z_min, self.z_max = window  # the range searched so far
        self.grid_points = opts.grid_points(width)
        self.step = width / (self.grid_points - 1)
        self.extension_steps = [self.step, self.step]  # the next step below, above
        self.stopped_below: Optional[bool] = None  # the end where a peak_at_edge run stopped
        self.roi, self.metric, self.opts = roi, metric, opts
        self.started = opts.clock()
        self.motion = Motion(stage, *limits, opts.approach, opts.overscan, opts.settle,
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
            return self._result(True, z, "", f"focused at Z{z:.4f} after {self.frames} frames")
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
        """The phases in order; returns the focused Z (the stage is there) or raises.

        Whenever a phase finds the curve still rising into an end of the searched range,
        the search extends past that end and goes on; where it may not, it fails there.
        """
        self._coarse()
        self._follow_rising_end()
        self._check_contrast()
        explored = False
        while True:
            try:
                z = self._checked_peak(explored)
                if self._weak():
                    self._check_weak_ends()
                    if not explored:
                        explored = True
                        if self._explore():
                            continue
                return z
            except _Explore:
                explored = True
                if not self._explore():
                    raise _Failed("no_peak", self._faint_detail()) from None
            except _AtEdge as at_edge:
                if not self._extend(at_edge.below):
                    self.stopped_below = at_edge.below
                    raise

    def _checked_peak(self, explored: bool) -> float:
        """Refine to a confirmed peak, then check that it is real; returns its Z.

        A peak too faint at full resolution (``MIN_CONTRAST``) asks for the rest of what the
        run may search to be seen first (:class:`_Explore`), and then fails as no_peak.
        """
        z = self._refine()
        self._check_texture()
        if self._faint():
            if not explored:
                raise _Explore()
            raise _Failed("no_peak", self._faint_detail())
        self._check_noise(z)
        self._check_bracketed(z)
        return z

    # ~~ phase 1: the coarse sweep

    def _coarse(self) -> None:
        """Sweep the window's grid from the nearer end; stop once the peak is clearly behind."""
        for z in coarse_grid(*self.window, self.grid_points, self.start_z):
            self._measure(z, "coarse")
            cs = self._combined()
            best = int(np.argmax(cs))
            drop = EARLY_STOP_DROP if best > 0 else EARLY_STOP_DROP_FIRST
            textured = self.samples[best].texture >= MIN_TEXTURE  # not a blurred side lobe
            if best < len(cs) - 1 and textured and not self._weak() and (
                    cs[-1] < drop * cs[best] or self._fell_at_full_resolution()):
                break

    def _fell_at_full_resolution(self) -> bool:
        """Whether the last sample's full-resolution score fell below half the best one's
        height above the lowest, the best being an earlier sample (a narrow peak passed)."""
        scores = np.array([s.score for s in self.samples])
        best = int(np.argmax(scores))
        half = scores.min() + EARLY_STOP_DROP * (scores[best] - scores.min())
        return best < len(scores) - 1 and scores[-1] < half

    def _check_contrast(self) -> None:
        """Fail early on a curve without a peak (or a featureless ROI: nothing to peak)."""
        contrast = checks.levels_contrast(np.array([s.levels for s in self.samples]))
        if contrast < MIN_CONTRAST:
            self._check_texture()
            raise _Failed("no_peak", f"scores vary by at most {contrast:.1%} over the range")

    # ~~ phase 2: extension past the window

    def _follow_rising_end(self) -> None:
        """Extend past an end of the searched range while the curve still rises towards it,
        as far as the run may go.

        It rises towards an end that holds the combined curve's best point, or whose rise
        from its neighbour, kept up for ``EXTENSION_STEPS_MAX`` coarse steps, would reach
        the best point (:func:`.checks.worth_extending`): a higher peak may lie beyond,
        behind a lesser bump inside (a dust layer, a lamp that dims with Z).
        """
        while True:
            points = self._points()
            cs = combined(points.levels)
            reach = EXTENSION_STEPS_MAX * self.step
            ends = ((True, 0, 1, self.z_min), (False, len(cs) - 1, len(cs) - 2, self.z_max))
            for below, end, inner, z_end in ends:
                if points.zs[end] != z_end or len(cs) < 2 or points.zs[end] == points.zs[inner]:
                    continue  # that end of the range was never sampled (an early stop)
                slope = (cs[end] - cs[inner]) / abs(points.zs[end] - points.zs[inner])
                if checks.worth_extending(cs[end], slope * reach, cs.max()) and self._extend(below):
                    break
            else:
                return

    def _extend(self, below: bool) -> bool:
        """Take one step past the lower (``below``) or upper end of the searched range,
        within the bounds; False when that end is already a bound.

        The first step on a side is one coarse step; each further one grows by
        ``EXTENSION_GROWTH`` up to ``EXTENSION_STEPS_MAX`` coarse steps, so a focus far out
        is reached in few frames and a near one is not overshot by much.
        """
        end = self.z_min if below else self.z_max
        bound = self.bounds[0] if below else self.bounds[1]
        if end == bound:
            return False
        step = self.extension_steps[not below]
        self.extension_steps[not below] = min(EXTENSION_GROWTH * step, EXTENSION_STEPS_MAX * self.step)
        z = max(end - step, bound) if below else min(end + step, bound)
        if below:
            self.z_min = z
        else:
            self.z_max = z
        self._measure(z, "coarse")
        return True

    # ~~ phase 3: refinement, fit and confirmation

    def _refine(self) -> float:
        """Sample towards the peak until a fitted peak is confirmed and pinned down.

        A round of refinement ends with a confirmed, pinned peak, or out of samples or
        room; then :meth:`_fallback` verifies the fitted (or best) Z once, which must be
        pinned down too (the samples taken to pin it start one more round).
        """
        for _ in range(REFINE_ROUNDS):
            z = self._refine_round()
            if z is not None:
                return z
            self.fit = self._fit()
            z = self._fallback()
            taken = len(self.samples)
            if self._pinned(z):
                return z
            if len(self.samples) == taken:
                break  # nothing new to learn from
        raise _Failed("poor_fit", "the samples around the best Z do not pin its peak down to "
                      f"the tolerance {self._tolerance():.4g}")

    def _refine_round(self) -> Optional[float]:
        """At most ``MAX_FINE`` refinement samples; the confirmed and pinned peak, or None.

        A fit made from the curve's tails predicts a low, broad bump: a frame at its vertex
        that scores far above it shows the real peak is narrower, one far below the best
        sample shows the fit missed it (see :func:`.checks.confirms`); both go on refining.
        """
        rejected = False
        for _ in range(MAX_FINE):
            self.fit = self._fit()
            self._check_edge()
            if not rejected and self._converged():
                z = self._peak_z()
                if self._take_flanks(z):
                    continue  # the fit takes the new flanks in before a frame is taken at z
                sample = self._measure(z, "verify")
                self.verify_score = sample.score
                best_other = max(s.score for s in self.samples[:-1])
                if checks.confirms(sample.score, best_other, self.fit) and self._pinned(z):
                    return z
                rejected = True  # refine before trying to confirm again
                continue
            rejected = False
            z = propose(self._points(), self._tolerance(), self._fit_trusted())
            if z is None:
                return None
            self._measure(z, "fine")
        return None

    def _pinned(self, z: float) -> bool:
        """Whether the neighbours of the fitted peak ``z`` pin it down to the tolerance.

        A fit over points far apart follows the model's shape, which an asymmetric curve
        or the slices of a replayed stack do not have. So on each side of ``z`` some
        point ``PIN_NEAR`` to ``PIN_FAR`` tolerances away must score lower than the point
        at ``z`` (:func:`.checks.pinned`); where none does, one more is taken ``PIN_STEP``
        tolerances away (within the bounds). Otherwise refinement goes on with the new
        samples. The stage ends at ``z``.
        """
        self._take_flanks(z)
        if self.motion.position != z:
            self.motion.arrive(z)
        return checks.pinned(self._points(), z, self._pin_reaches(z))

    def _take_flanks(self, z: float) -> bool:
        """Take the flank samples :meth:`_pinned` lacks around ``z`` (the side approached
        last first, so the final approach to ``z`` needs no overscan); whether any was."""
        taken = len(self.samples)
        reaches = self._pin_reaches(z)
        for index in sorted((0, 1), key=lambda i: (-1, 1)[i] * self.motion.side):
            reach, side = reaches[index], (-1.0, 1.0)[index]
            if reach is None:
                continue
            points = self._points()
            if not checks.pinned(points, z, [reach if i == index else None for i in (0, 1)]):
                end = self._plateau_end(points, z, side)
                room = side * (self.bounds[index] - end)
                self._measure(end + side * min(PIN_STEP * self._tolerance(), room), "fine")
        return len(self.samples) > taken

    def _pin_reaches(self, z: float) -> List[Optional[Tuple[float, float]]]:
        """Below and above ``z``: the distances in which a lower point pins it (None where a
        bound leaves no room: the bracket check judges that side)."""
        tol, points = self._tolerance(), self._points()
        reaches: List[Optional[Tuple[float, float]]] = []
        for side, bound in zip((-1.0, 1.0), self.bounds):
            room = side * (bound - self._plateau_end(points, z, side))
            reaches.append((min(PIN_NEAR * tol, room), PIN_FAR * tol) if room > 0 else None)
        return reaches

    @staticmethod
    def _plateau_end(points: Points, z: float, side: float) -> float:
        """The end (``side`` -1 lower, +1 upper) of the plateau of points holding ``z``."""
        span = points.spans[int(np.argmin(np.abs(points.zs - z)))]
        return min(z, span[0]) if side < 0 else max(z, span[1])

    def _converged(self) -> bool:
        """Whether the fitted peak can be trusted enough to go and confirm it: both levels
        agree on the best sample, the samples pin the peak down, the top is straddled."""
        if self.fit is None:
            return False
        points = self._points()
        scores = [s.score for s in self.samples]
        return (checks.levels_agree(scores, self._combined())
                and checks.converged([s.z for s in self.samples], self.fit, self._tolerance())
                and checks.straddled(points.zs, points.scores, self.fit))

    def _check_edge(self) -> None:
        """Stop refining when the curve still rises into an end of the searched range at the
        finest step taken (:func:`.checks.rising_into_edge`); a fitted peak inside passes."""
        if self._fit_inside():
            return
        edge = checks.rising_into_edge(
            [s.z for s in self.samples], [s.score for s in self.samples], self._combined(),
            [s.phase != "coarse" for s in self.samples], (self.z_min, self.z_max))
        if edge is not None:
            raise _AtEdge(edge == self.z_min, f"the sharpness still rises into the end Z{edge:.4f} "
                          f"of the searched range [{self.z_min:.4f}, {self.z_max:.4f}]")

    def _peak_z(self) -> float:
        """The fitted best Z, after the fit-quality and edge gates."""
        fit = self.fit
        best_z = max(self.samples, key=lambda s: s.score).z
        tol = self._tolerance()
        if fit is None or not self.z_min <= fit.z_peak <= self.z_max:
            if not self._interior(best_z):
                below = fit.z_peak < self.z_min if fit is not None else best_z == self.z_min
                where = "at an end" if fit is None else f"fitted at Z{fit.z_peak:.4f}"
                raise _AtEdge(below, f"the sharpest Z is {where}, outside or at an end of the "
                              f"searched range [{self.z_min:.4f}, {self.z_max:.4f}]")
            raise _Failed("poor_fit", "the samples near the best one do not form a peak")
        if fit.r2 < MIN_R2 or not fit.z_lo - tol <= fit.z_peak <= fit.z_hi + tol:
            raise _Failed("poor_fit", f"peak fit R^2 {fit.r2:.2f} (needs {MIN_R2}), peak "
                          f"Z{fit.z_peak:.4f} for samples Z{fit.z_lo:.4f}..Z{fit.z_hi:.4f}")
        return fit.z_peak

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
            zs, scores = [s.z for s in self.samples], [s.score for s in self.samples]
            if failure.reason != "poor_fit" or not checks.clearly_interior(zs, scores, best.z,
                                                                            best.score):
                raise
            z, self.guessed = best.z, True
        floor = min(s.score for s in self.samples)
        for target in dict.fromkeys((z, best.z)):
            sample = self._measure(target, "verify")
            self.verify_score = sample.score
            if checks.verified(sample.score, best.score, floor):
                return target
        if not self._clearly_above_noise() and not self._stands_out(best.z):
            raise _Failed("no_peak", "the best sample does not stand out of the score noise "
                          "of the frames repeated at its Z")
        raise _Failed("verify_failed", f"verification score {self.verify_score:.4g} is below "
                      f"{VERIFY_RATIO} x the best sample's {best.score:.4g}")

    # ~~ phase 4: is the peak real?

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

    def _check_noise(self, z: float) -> None:
        """Fail with no_peak when the peak at ``z`` cannot be told from the score noise.

        Scores spanning ``NOISE_SURE`` times a free bound of their noise hold a real peak
        (:func:`.checks.clearly_above_noise`), unless the peak was only guessed (a poor
        fit's best sample, see :meth:`_fallback`). Otherwise frames are taken at ``z``
        (the stage is there), one by one up to ``NOISE_REPEATS``, until they pass
        :meth:`_stands_out`.
        """
        if not self.guessed and self._clearly_above_noise():
            return
        for _ in range(NOISE_REPEATS):
            self.verify_score = self._measure(z, "verify").score
            if self._stands_out(z):
                return
        at_z, others, (sigma, freedom) = self._peak_and_others(z)
        height, error = checks.peak_over_noise(at_z, others, sigma, freedom)
        raise _Failed("no_peak", f"the peak stands {height:.4g} above the median sample, "
                      f"within the score noise (standard error {error:.3g}, {freedom} "
                      f"degrees of freedom, from repeated frames)")

    def _check_bracketed(self, z: float) -> None:
        """Fail unless, on each side of ``z``, some sample scores lower than ``z`` beyond the noise.

        An interior peak falls off on both sides before the range ends. Near an end the
        samples between the peak and the end may all show the same slice of a replayed
        stack (or a top still rising outwards, flattened by noise): then nothing there is
        lower than ``z`` and the focus may lie beyond that end (the search extends). A side
        passes at once when its lowest sample lies ``NOISE_SURE`` times the free noise
        bound below the frames at ``z``, or below the near-top cut of the fit; otherwise
        frames are repeated at ``z`` and at that sample's Z (up to ``NOISE_REPEATS`` more
        at each) until a one-sided t-test shows it lower (:func:`.checks.clearly_lower`).
        The stage ends at ``z``.
        """
        points = self._points()
        free_bound = NOISE_SURE * relative_noise(points.scores)
        floor = float(points.scores.min())
        spans = points.spans
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
                    detail = (f"no sample between Z{z:.4f} and the end Z{edge:.4f} of the "
                              f"searched range scores lower beyond the score noise")
                    if low_z is None or edge in (s.z for s in side):
                        raise _AtEdge(below, detail)
                    raise _Failed("no_peak", detail)
                sample = self._measure(target, "verify")
                if target == z:
                    self.verify_score = sample.score
        if self.motion.position != z:  # the last frames were taken at a lower sample's Z
            self.motion.arrive(z)

    def _weak(self) -> bool:
        """Whether the best sample hardly stands out at full resolution (``EARLY_STOP_CONTRAST``):
        a blurred bump (a side lobe of a periodic scene) rather than a sharp image."""
        return checks.relative_contrast([s.score for s in self.samples]) < EARLY_STOP_CONTRAST

    def _fine_contrasts(self) -> List[float]:
        """The relative contrast of the full- and the half-resolution scores (as many as exist)."""
        levels = np.array([s.levels for s in self.samples])
        return [checks.relative_contrast(levels[:, k]) for k in range(min(2, levels.shape[1]))]

    def _faint(self) -> bool:
        """Whether the full- or the half-resolution scores vary by less than ``MIN_CONTRAST``.

        Focus changes an image at every scale up to its blur: a "peak" that the half
        resolution does not see is pixel noise that varies (JPEG, exposure), not detail.
        """
        return min(self._fine_contrasts()) < MIN_CONTRAST

    def _faint_detail(self) -> str:
        contrasts = ", ".join(f"{c:.1%}" for c in self._fine_contrasts())
        return (f"full- and half-resolution scores vary by {contrasts} (needs {MIN_CONTRAST:.0%} "
                f"at both)")

    def _explore(self) -> bool:
        """Sample the window's grid points an early stop left out; whether any was taken.

        A careful person who found only a blurred bump, or nothing clear, looks at the
        whole window before deciding: the sharp peak may lie where the sweep did not look.
        """
        taken = len(self.samples)
        for z in coarse_grid(*self.window, self.grid_points, self.motion.position):
            if min(abs(s.z - z) for s in self.samples) > 0.5 * self.step:
                self._measure(z, "coarse")
        return len(self.samples) > taken

    def _check_weak_ends(self) -> None:
        """For a weak best (:meth:`_weak`): fail at an end of the searched range where the
        combined curve has not fallen below half its height (above the lowest point), or
        still rises enough to reach the best beyond it (:func:`.checks.worth_extending`).

        A sharp peak needs only a fall beyond the noise on each side (the bracket check);
        a blurred bump is trusted only where the sharpness clearly dies away on both sides
        within the range searched, or the real focus may lie beyond (a side lobe of a
        periodic scene rides on the rising flank of a focus outside the range).
        """
        points = self._points()
        cs = combined(points.levels)
        if len(cs) < 2:
            return
        half = cs.min() + 0.5 * (cs.max() - cs.min())
        reach = EXTENSION_STEPS_MAX * self.step
        for below, end, inner in ((True, 0, 1), (False, len(cs) - 1, len(cs) - 2)):
            dz = abs(points.zs[end] - points.zs[inner])
            rising = dz > 0 and checks.worth_extending(cs[end], (cs[end] - cs[inner]) / dz * reach,
                                                        cs.max())
            if rising or cs[end] > half:
                raise _AtEdge(below, f"the best image is blurred (full-resolution scores vary "
                                     f"by less than {EARLY_STOP_CONTRAST:.0%}) and the sharpness "
                                     f"has not died away towards Z{points.zs[end]:.4f}")

    # ~~ helpers

    def _clearly_lower(self, z: float, low_z: float, free_bound: float, floor: float) -> bool:
        """:func:`.checks.clearly_lower` for the frames at ``z`` and ``low_z``."""
        sigma, freedom = self._repeat_noise()
        return checks.clearly_lower(self._scores_at(z), self._scores_at(low_z), free_bound,
                                    floor, sigma, freedom)

    def _clearly_above_noise(self) -> bool:
        """:func:`.checks.clearly_above_noise` of the points (plateaus merged)."""
        return checks.clearly_above_noise(self._points().scores)

    def _stands_out(self, z: float) -> bool:
        """Whether the frames at ``z`` beat the median other point beyond the repeat noise."""
        at_z, others, (sigma, freedom) = self._peak_and_others(z)
        return checks.stands_out(at_z, others, sigma, freedom)

    def _peak_and_others(self, z: float) -> Tuple[List[float], np.ndarray, Tuple[float, int]]:
        """The scores at ``z``, the other points' scores and the repeat noise.

        A replayed slice seen at several Zs counts once. The others are the points off the
        peak (beyond ``PIN_FAR`` tolerances) when there are at least ``MIN_OFF_PEAK``: a
        refinement that sampled the top many times must not make the top its own
        reference.
        """
        points = self._points()
        spans = points.spans
        apart = (spans[:, 0] > z) | (spans[:, 1] < z)
        reach = PIN_FAR * self._tolerance()
        off_peak = (spans[:, 0] > z + reach) | (spans[:, 1] < z - reach)
        others = points.scores[off_peak if off_peak.sum() >= MIN_OFF_PEAK else apart]
        return self._scores_at(z), others, self._repeat_noise()

    def _scores_at(self, z: float) -> List[float]:
        """The scores of every sample taken at exactly ``z``."""
        return [s.score for s in self.samples if s.z == z]

    def _repeat_noise(self) -> Tuple[float, int]:
        """:func:`.noise.repeat_noise` of every sample."""
        return repeat_noise([s.z for s in self.samples], [s.score for s in self.samples])

    def _fit_inside(self) -> bool:
        """Whether the current fit puts the peak inside the range."""
        return self.fit is not None and self.z_min <= self.fit.z_peak <= self.z_max

    def _interior(self, z: float) -> bool:
        """Whether there are samples on both sides of ``z``."""
        zs = [s.z for s in self.samples]
        return min(zs) < z < max(zs)

    def _tolerance(self) -> float:
        """The ``tolerance`` option, or one derived from the peak's width (mm).

        With a trusted fit (:meth:`_fit_trusted`) it is the half-width of the sharp band,
        where the fitted curve stays above ``SHARP_BAND`` of its height over the curve's
        floor. Once the run has seen the curve's tails (its scores fell by
        ``TAILS_CONTRAST``) the floor is the lowest sample, and the tolerance is at most a
        quarter of the bracket of the points below half height around the best one
        (:func:`.checks.half_height_bracket`) on the full-resolution or the combined curve:
        a fit gone wide, or full-resolution scores that are only noise far from a narrow
        peak, cannot loosen it. A narrow window around the focus never sees the tails: its
        lowest sample is no floor, so the noise floor serves
        (:meth:`.sampling.FrameScorer.noise_floor`), and the top's shape, which such a
        window measures best, sets the band.
        """
        if self.opts.tolerance is not None:
            return self.opts.tolerance
        span = self.z_max - self.z_min
        tails = checks.relative_contrast([s.score for s in self.samples]) >= TAILS_CONTRAST
        width = math.inf
        if tails or not self._fit_trusted():
            points = self._points()
            width = min(checks.half_height_bracket(points.zs, points.scores),
                        checks.half_height_bracket(points.zs, combined(points.levels)))
        if self._fit_trusted():
            base = self.fit.floor if tails else min(self.scorer.noise_floor(), self.fit.floor)
            band = self.fit.width_at(base + SHARP_BAND * (self.fit.height - base))
            width = min(width, WIDTH_PER_TOLERANCE * 0.5 * band)
        return derived_tolerance(width, span)

    def _fit_trusted(self) -> bool:
        """Whether the current fit has three points near its top and R^2 >= ``MIN_R2``."""
        return self.fit is not None and self.fit.strong >= 3 and self.fit.r2 >= MIN_R2

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
        return combined(np.array([s.levels for s in self.samples]))

    def _fit(self) -> Optional[PeakFit]:
        points = self._points()
        return fit_peak(points.zs, points.scores, floor=float(points.scores.min()))

    def _points(self) -> Points:
        """The samples as points ascending in Z, plateaus merged (:func:`.curve.merge_plateaus`)."""
        return merge_plateaus([s.z for s in self.samples], [s.levels for s in self.samples])

    # ~~ results

    def _failed(self, reason: str, detail: str, restore: bool) -> FocusResult:
        logger.debug("autofocus failed (%s): %s", reason, detail)
        inside = self.bounds[0] <= self.start_z <= self.bounds[1]
        if restore and self.opts.restore_on_failure and inside:
            try:
                self.motion.arrive(self.start_z)
            except Exception as exc:  # restoring is best effort; the first failure is the story
                logger.debug("could not restore the start Z: %r", exc)
        best = max(self.samples, key=lambda s: s.score).z if self.samples else self.start_z
        fitted = self.fit is not None and reason in ("verify_failed", "poor_fit")
        z = self.fit.z_peak if fitted else best
        return self._result(False, z, reason, detail or REASONS[reason])

    def _result(self, ok: bool, z: float, reason: str, detail: str) -> FocusResult:
        edge_z = edge_kind = None
        if reason == "peak_at_edge" and self.stopped_below is not None:
            edge_z = self.z_min if self.stopped_below else self.z_max
            limit = self.limits[0] if self.stopped_below else self.limits[1]
            edge_kind = "limit" if edge_z == limit else "budget"
        searched = (self.z_min, self.z_max)
        fit = None
        if self.fit is not None:
            f = self.fit
            params = dict(zip(("c2", "c1", "c0"), f.params), centre=f.centre, fwhm=f.fwhm,
                          floor=f.floor, points=f.points)
            fit = Fit(model=f.model, z_peak=f.z_peak, r2=f.r2, z_lo=f.z_lo, z_hi=f.z_hi,
                      params=params)
        return FocusResult(
            ok=ok, z=float(z), reason=reason,
            message=plain_message(reason, z, searched, self.window, edge_z, edge_kind),
            detail=detail, window=list(self.window), limits=list(self.limits),
            extended=[self.window[0] - self.z_min, self.z_max - self.window[1]],
            edge_z=edge_z, edge_kind=edge_kind,
            samples=[(s.z, s.score) for s in self.samples], phases=[s.phase for s in self.samples],
            fit=fit, metric=self.metric, roi=self.roi, z_min=self.z_min, z_max=self.z_max,
            start_z=self.start_z, final_z=self.motion.position, verify_score=self.verify_score,
            moves=self.motion.moves, frames=self.frames, travel=self.motion.travel,
            elapsed=self.opts.clock() - self.started, options=self.opts.record(),
        )
