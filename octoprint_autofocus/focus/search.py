"""The autofocus search: coarse sweep, extension, refinement, and a peak checked like a person would.

How a run goes (every scored Z is reached from the ``approach`` side, see :mod:`.plan`):

1. **Coarse sweep** over ``coarse_points`` evenly spaced Zs across the *window*
   ``[z_min, z_max]``, starting at the end nearer the current Z. Each sample is scored at
   full resolution and on a pyramid of reduced copies (:mod:`.sampling`), whose curves
   reach much further from focus, so even a coarse grid on a narrow depth of field sees
   which way the peak lies. The sweep stops early once the peak is clearly behind it (the
   combined score of all levels fell below half its best, or the full-resolution score
   below half its height), but only when the full-resolution top stands out (varies by
   ``EARLY_STOP_CONTRAST``): a side lobe of a periodic scene makes a bump in the coarse
   levels only. While the coarsest level rises steeply and steadily, the sweep skips the
   grid points between it and the peak that rise predicts (:meth:`_Run._next_coarse`);
   when it falls so from the start, past an end the run may pass, the sweep turns back
   (:meth:`_Run._behind_start`).
2. **Extension**: the window is a first guess, not a wall. While the curve still rises
   towards an end of the range searched so far (that end is the best point, or its rise
   would reach the best within a few steps), the search steps past it (one coarse step,
   then growing steps, see :meth:`_Run._extend`), up to the hard ``limits`` and
   ``max_extension`` mm past the window. Later phases extend the same way whenever they
   find the curve still rising into an end. A window that shows nothing at all (its
   scores are faint, see step 5) gives no direction: the search then steps past both
   ends in turn, the nearer first, until something shows, going on the same way after a
   step where the coarsest level rose steeply (:meth:`_Run._look_past_blank_window`).
3. **Refinement**: successive parabolic interpolation on ``1 / combined score`` through the
   best point and its neighbours, safeguarded by golden-section steps
   (:func:`.plan.propose`), until a Lorentzian or Gaussian fit (:mod:`.fit`) of the
   full-resolution samples near the top is trusted (:meth:`_Run._converged`).
4. **Pin and confirm**: on each side of the fitted peak a point one to 2.5 tolerances away
   must score lower (one is taken where none does): a fit over far points follows the
   model, not an asymmetric curve or the slices of a replayed stack. Then a frame at the
   fitted peak must score what the fit predicts; otherwise refinement goes on. A refinement
   sample closer than ``SNAP_REACH`` tolerances to the fitted peak is that frame (its Z is
   taken as the peak's, see :meth:`_Run._frame_at_peak`). Out of refinement samples, one
   frame checks the fitted peak (:meth:`_Run._fallback`); a peak fitted past the Zs the fit
   was made from needs that frame as high as the best sample, else one more round refines
   with it. The tolerance (unless given) is the half-width of the fitted curve's sharp band
   (80% of its height over the floor).
5. **Is the peak real?** The ROI must have texture; the full- and half-resolution scores
   must vary by ``MIN_CONTRAST`` (a focus changes the image at every scale; pixel noise
   that varies is no peak), and the half resolution must score high at the peak too; the
   peak must stand out of the score noise (a free relative bound, else a t-test of
   repeated frames against the points off the peak); on each side
   some sample must score lower beyond the noise, in fresh frames too when the frames near
   the peak drift in time (a lamp warming up, flicker, an auto-exposure hunting); and a
   blurred best (full resolution
   varying by less than ``EARLY_STOP_CONTRAST``) is trusted only once the rest of the
   window was seen and the sharpness died away on both sides within the range searched
   (else the focus may lie beyond; at a hard bound, a fall into it, to its lowest, will do);
   a hard bound within a coarse step of the peak towards which the curve climbs again past
   a dip fails there (the flank of a focus just outside).
   Before refusing a faint or blurred result, or a curve rising into an end it may not
   pass, the run looks at the whole window. A peak whose coarsest level still tops at an
   end of the range, clearly above its score at the peak, is a lesser layer: the run
   steps past that end first (:meth:`_Run._coarsest_tops_past`).
6. **Rescan**: a run that would refuse with no_peak, poor_fit, verify_failed or
   peak_at_edge first samples the window at ``RESCAN_POINTS`` evenly spaced Zs (the midpoints
   of its grid when that is finer: a narrow depth of field can hide a peak between coarse
   points, and leave a blur brighter at an end) and the coarse steps past the window that
   growing extension steps jumped over, and judges again only if one of them tops the
   combined curve. A run that would refuse with low_texture looks at the midpoints of its
   grid only: far from a narrow focus a dim sparse scene may be blurred to nothing at every
   coarse point, but its texture shows from much further than its peak.
7. **Slack**: a later look at a Z scoring far below an earlier one there (the carriage did not
   come back: backlash larger than the overscan, see :meth:`.verdict.PeakVerdict._slipped`)
   grows the overscan and refines again from the coarse samples, before a peak is taken or a
   refusal stands (:meth:`_Run._took_up_slack`).

Neighbouring samples with identical scores (a camera replaying a recorded focus stack
returns the same slice between slice positions) are merged into one point, so a plateau
does not pose as a peak (:mod:`.curve`). Where the run may not extend any further (a hard
limit, or the extension budget spent) a curve still rising into that end makes the run end
as ``peak_at_edge``, naming that edge (``edge_z``, ``edge_kind``), once the rest of the window
was seen too.

Failures are reported, not guessed around: ``low_texture``, ``no_peak``,
``peak_at_edge``, ``poor_fit``, ``verify_failed``, device errors and ``cancelled``
(see :data:`~.result.REASONS`). A failed run whose camera stayed dark (frames still dark
after their retakes, see :data:`~.verdict.DARK_SHARE`) is ``camera_dark`` whatever the
search found: a person would look at the light first. After a failure the stage returns to
the start Z if ``restore_on_failure`` and the start lies where the run may move; never after
a stage error or a cancel (a cancel means: stop moving now). ``samples`` hold the
brightness-corrected scores the search used (see :mod:`.sampling`).

The parts: the checks are pure functions in :mod:`.checks`, the noise statistics in
:mod:`.noise`, the curve's points in :mod:`.curve`, where to go next and how in
:mod:`.plan`, the sentences for people in :mod:`.messages`; this module runs the phases.
"""

import logging
import math
from typing import Any, List, Optional, Sequence

import numpy as np

from . import checks
from .checks import CONFIRM_HIGH, MIN_CONTRAST, MIN_R2, MIN_TEXTURE, VERIFY_RATIO
from .curve import combined
from .devices import FrameSource, ZStage
from .errors import BadImageError, Cancelled, CameraError, CameraStalled, StageError
from .fit import vertex_of_three
from .options import DEFAULTS, checked_limits, checked_range, checked_roi, parse_options
from .plan import coarse_grid, propose
from .result import FocusResult
from .run_state import AtEdge, ExploreFirst, SearchFailed
from .sampling import Sample
from .scoring import measure_for
from .verdict import EXTENSION_STEPS_MAX, RESCAN_POINTS, PeakVerdict

__all__ = ["autofocus", "DEFAULTS"]

logger = logging.getLogger(__name__)

EARLY_STOP_DROP = 0.5
"""The coarse sweep stops once the combined score falls to this fraction of its best (or the
full-resolution score below this share of its height), the top being sharp."""
EARLY_STOP_DROP_FIRST = 0.25
"""The same, when the best is the sweep's first sample (no rise seen before the fall)."""
SKIP_RISE = 1.15
"""The coarse sweep may skip grid points only after the coarsest level rose by this factor at
each of its last two steps (see :meth:`_Run._next_coarse`);..."""
SKIP_MARGIN = 0.5
"""... it then goes on at the grid point this many steps short of the peak they predict
(rounded down)."""
TURN_BACK_AFTER = 3
"""After this many samples falling steeply from the start, the sweep turns back (see
:meth:`_Run._behind_start`)."""
EXTENSION_GROWTH = 2.0
"""Each further extension step on one side is this many times the previous one, up to
``EXTENSION_STEPS_MAX`` coarse steps."""
MAX_FINE = 12
"""At most this many refinement samples a round."""
HELD_END_PROBES = 2
"""At most this many samples a run between a held end and its inner neighbour (see
:meth:`_Run._probe_inside_held_end`)."""
SNAP_REACH = 0.15
"""A refinement sample closer than this many tolerances to a fitted peak stands for a frame
there (see :meth:`_Run._frame_at_peak`)."""
REFINE_ROUNDS = 2
"""Rounds of refinement: one more when the last round's checks took new samples (frames at the
fitted peak, flanks to pin it down) and did not end in a trusted peak."""
FAINT_EXPLAINS = ("poor_fit", "verify_failed")
"""Failures that scores varying too little to hold a peak (faint) explain as no_peak."""
SLACK_GROWTH = 3.0
"""When a later look at a Z disagrees with an earlier one (backlash larger than the overscan),
the run's overscan grows this many times (see :meth:`_Run._took_up_slack`)..."""
SLACK_ROUNDS = 2
"""... at most this many times a run."""
SLACK_REASONS = ("poor_fit", "verify_failed", "peak_at_edge")
"""Failures that a stage not coming back to the Zs it was sent to can explain."""
RESCAN_REASONS = ("no_peak", "poor_fit", "verify_failed", "peak_at_edge", "low_texture")
"""Failures after which the run first looks at a finer grid over the window (and the
steps an extension jumped over): a narrow peak between two coarse points leaves a curve with
no peak, or one that still rises into an end, and a dim sparse scene (stars) blurred to
nothing at every coarse point looks featureless."""


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


def peak_predicted(zs: Sequence[float], scores: Sequence[float]) -> Optional[float]:
    """The peak Z three samples on a focus curve's tail predict (:func:`.fit.vertex_of_three`),
    or None when the parabola through their inverse scores falls to zero or below before its
    vertex: the scores rise faster than a focus curve's tail does, and the top may be just
    ahead."""
    vertex = vertex_of_three(zs, scores)
    if vertex is None:
        return None
    inverse = sum(np.prod([(vertex - other) / (z - other) for other in zs if other != z]) / score
                  for z, score in zip(zs, scores))
    return vertex if inverse > 0 else None


class _Run(PeakVerdict):
    """One autofocus run: its phases in order."""

    # ~~ the run

    def execute(self) -> FocusResult:
        """Run all phases; turn failures, device errors and cancel into the result."""
        try:
            z = self._search()
            return self._result(True, z, "", f"focused at Z{z:.4f} after {self.frames} frames")
        except SearchFailed as failure:
            failure = self._explained(failure)
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

    def _explained(self, failure: SearchFailed) -> SearchFailed:
        """The failure as a person would explain it: a camera whose picture stayed dark
        (camera_dark, :meth:`_dark_failure`) explains any failure, and so does a featureless
        ROI (low_texture); scores that never varied (:meth:`_faint`) explain a fit that
        failed (``FAINT_EXPLAINS``) as no_peak: there was no peak to fit."""
        explanation = self._dark_failure() or self._texture_failure()
        if explanation is not None:
            return explanation
        if failure.reason in FAINT_EXPLAINS and self._faint():
            return SearchFailed("no_peak", self._faint_detail())
        return failure

    def _search(self) -> float:
        """The phases in order; returns the focused Z (the stage is there) or raises.

        Whenever a phase finds the curve still rising into an end of the searched range,
        the search extends past that end and goes on; where it may not, it fails there.
        A run that finds no peak it can trust (``RESCAN_REASONS``) looks once more, at a finer
        grid over the window (a narrow peak may hide between coarse points) and the
        steps past it an extension jumped over, and judges again if one of them tops the
        combined curve; else the failure stands.
        """
        self._coarse()
        self._look_past_blank_window()
        self._follow_rising_end()
        try:
            return self._judged_peak(explored=False)
        except SearchFailed as failure:
            featureless = failure.reason == "low_texture"
            if failure.reason not in RESCAN_REASONS or not self._rescan_found_more(featureless):
                raise
        self.guessed = False
        self._follow_rising_end()
        return self._judged_peak(explored=True)

    def _rescan_found_more(self, featureless: bool = False) -> bool:
        """Sample a finer grid over the window and the steps past it left out
        (:meth:`_explore`); whether one of them scores above every earlier sample on the
        combined curve (else the failure stands as it was).

        The finer grid has ``RESCAN_POINTS``, or the midpoints between the coarse grid's
        points when that is finer, or after a ``featureless`` look the midpoints only: texture
        shows many depths of field further from focus than a peak does. The combined curve,
        not the full resolution: a narrow peak glimpsed a few depths of field away shows
        first on the coarse levels.
        """
        taken = len(self.samples)
        midpoints = 2 * self.grid_points - 1
        if not self._explore(midpoints if featureless else max(midpoints, RESCAN_POINTS)):
            return False
        cs = self._combined()
        return bool(cs[taken:].max() > cs[:taken].max())

    def _judged_peak(self, explored: bool) -> float:
        """Refine, check and, where the evidence asks for it, look further until a peak is
        trusted; returns its Z or raises. ``explored``: the whole window was seen.

        A curve rising into an end the run may not pass is refused as peak_at_edge only
        once the whole window was seen: an early stop may have left the sharp peak unseen
        behind a bright blur at that end. A weak best has its ends judged
        (:meth:`_check_weak_ends`; a textured one's only where the run may pass) and the
        whole window seen before it is trusted.
        """
        self._check_contrast()
        while True:
            try:
                z = self._checked_peak(explored)
                if self._took_up_slack():
                    continue
                if self._weak():
                    self._check_weak_ends(walls=not self._textured_image(z))
                    if not explored and self._explore():
                        explored = True
                        continue
                below = self._coarsest_tops_past(z)
                if below is not None and self._extend(below):
                    continue
                return z
            except ExploreFirst:
                explored = True
                if not self._explore():
                    raise SearchFailed("no_peak", self._faint_detail()) from None
            except AtEdge as at_edge:
                if self._extend(at_edge.below) or self._probe_inside_held_end(at_edge.below):
                    continue
                if self._took_up_slack():
                    continue
                if not explored and self._explore():
                    explored = True
                    continue
                self.stopped_below = at_edge.below
                raise
            except SearchFailed as failure:
                if failure.reason in SLACK_REASONS and self._took_up_slack():
                    continue
                raise

    def _checked_peak(self, explored: bool) -> float:
        """Refine to a confirmed peak, then check that it is real; returns its Z.

        A peak too faint at full resolution (``MIN_CONTRAST``) asks for the rest of what the
        run may search to be seen first (:class:`ExploreFirst`), and then fails as no_peak.
        """
        z = self._refine()
        self._check_texture()
        if self._faint():
            if not explored:
                raise ExploreFirst()
            raise SearchFailed("no_peak", self._faint_detail())
        self._check_noise(z)
        self._check_half_resolution(z)
        self._check_bracketed(z)
        self._check_turn_up(z)
        return z

    # ~~ phase 1: the coarse sweep

    def _coarse(self) -> None:
        """Sweep the window's grid from the nearer end; stop once the peak is clearly behind."""
        grid = coarse_grid(*self.window, self.grid_points, self.start_z)
        index = 0
        while index < len(grid):
            self._measure(grid[index], "coarse")
            if index == TURN_BACK_AFTER - 1 and self._behind_start(grid):
                break
            index = self._next_coarse(grid, index)
            cs = self._combined()
            best = int(np.argmax(cs))
            drop = EARLY_STOP_DROP if best > 0 else EARLY_STOP_DROP_FIRST
            textured = self.samples[best].texture >= MIN_TEXTURE  # not a blurred side lobe
            if best < len(cs) - 1 and textured and not self._weak() and (
                    cs[-1] < drop * cs[best] or self._fell_at_full_resolution()):
                break

    def _next_coarse(self, grid: List[float], index: int) -> int:
        """The index of the grid point to sample after ``grid[index]``: the next one, or,
        while the coarsest level rose by ``SKIP_RISE`` at each of the last two steps, the
        point ``SKIP_MARGIN`` steps short of the peak those three samples predict
        (:func:`peak_predicted`; rounded down, so it skips when that lies 2.5 steps ahead
        or more).

        Far from focus the coarsest level's curve is the tail of one broad peak: a steady
        steep rise says where it tops, and the grid points before that show only more of
        the rise. A rise within the noise (a faint star field) never skips.
        """
        if index < 2:
            return index + 1
        last = self.samples[-3:]
        coarsest = [s.levels[-1] for s in last]
        vertex = peak_predicted([s.z for s in last], coarsest)
        rising = SKIP_RISE * coarsest[0] < coarsest[1] and SKIP_RISE * coarsest[1] < coarsest[2]
        if vertex is None or not rising:
            return index + 1
        ahead = (vertex - grid[index]) / (grid[1] - grid[0])
        return max(index + 1, min(index + math.floor(ahead - SKIP_MARGIN), len(grid) - 1))

    def _behind_start(self, grid: List[float]) -> bool:
        """Whether the run's first ``TURN_BACK_AFTER`` samples (its sweep's) say the peak lies
        behind its start, past an end of the window the run may pass: the coarsest level fell by
        ``SKIP_RISE`` at each step away from the start. The sweep then stops and the search
        extends past that end (:meth:`_follow_rising_end`); the rest of the window is seen
        before the run refuses.

        Far from focus the coarsest level's curve is the tail of one broad peak, so a steady
        steep fall from the start shows which way the peak lies, as a steady rise does.
        """
        coarsest = [s.levels[-1] for s in self.samples[:TURN_BACK_AFTER]]
        falling = all(SKIP_RISE * after < before for before, after in zip(coarsest, coarsest[1:]))
        start_bound = self.bounds[0] if grid[0] == self.window[0] else self.bounds[1]
        return falling and grid[0] != start_bound

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
            raise SearchFailed("no_peak", f"scores vary by at most {contrast:.1%} over the range")

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

    def _coarsest_tops_past(self, z: float) -> Optional[bool]:
        """Whether the coarsest level tops at the lower (True) or upper (False) end of the
        searched range, ``SKIP_RISE`` times higher than at the peak ``z``; None if not.

        A focus curve tops at one Z on every level. A coarsest level still rising into an end
        past a sharp peak sees a larger structure beyond (another layer of a layered sample):
        the run looks past that end before it takes the peak.
        """
        points = self._points()
        coarsest = points.levels[:, -1]
        top = int(np.argmax(coarsest))
        at_peak = coarsest[int(np.argmin(np.abs(points.zs - z)))]
        if top not in (0, len(coarsest) - 1) or coarsest[top] <= SKIP_RISE * at_peak:
            return None
        return top == 0

    def _look_past_blank_window(self) -> None:
        """When the window shows nothing (its scores are faint, :meth:`_faint`), step past
        both of its ends in turn, the end the stage is nearer first, until something shows
        or neither end may go further.

        A focus far outside the window leaves every sample in featureless blur, so the
        curve gives no direction to extend in: a careful person looks on both sides. A step
        after which the coarsest level rose by ``SKIP_RISE`` shows a direction: the next
        step goes the same way. Something shows once the scores are no longer faint and
        the last step scores ``SKIP_RISE`` times above the blank window on some level
        (:meth:`_shows_past`): one more sample of noise can widen the range past the faint
        bound without showing anything.
        """
        if not self._faint():
            return
        blank = np.array([s.levels for s in self.samples]).max(axis=0)
        nearer_below = self.motion.position - self.z_min <= self.z_max - self.motion.position
        sides = [nearer_below, not nearer_below]
        while sides:
            below = sides.pop(0)
            end = self._points().levels[0 if below else -1][-1]
            if self._extend(below):
                rose = self.samples[-1].levels[-1] > SKIP_RISE * end
                sides = [below] + sides if rose else sides + [below]
                if not self._faint() and self._shows_past(blank):
                    return

    def _shows_past(self, blank: np.ndarray) -> bool:
        """Whether the last sample scores ``SKIP_RISE`` times above ``blank`` (the best of a
        blank window, per level) on some level."""
        return bool(np.any(np.asarray(self.samples[-1].levels) > SKIP_RISE * blank))

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

    def _probe_inside_held_end(self, below: bool) -> bool:
        """At an end the run may not pass, on the approach side: take one sample halfway
        between the held end point (:func:`.curve.merge_held_end`) and its inner neighbour;
        whether one was taken (at most ``HELD_END_PROBES`` a run).

        Backlash holds the carriage short of targets near that end, so samples there show
        one image whose Z is only known to lie inside them. A peak just inside looks like a
        curve rising into the end until a sample between shows it.
        """
        if below != (self.motion.side < 0) or self.held_probes >= HELD_END_PROBES:
            return False
        points = self._points()
        if len(points) < 2:
            return False
        (lo, hi), inner = points.spans[0 if below else -1], points.spans[1 if below else -2]
        if not any(lo <= z <= hi for z in self.held_zs):
            return False
        z = 0.5 * (hi + inner[0]) if below else 0.5 * (inner[1] + lo)
        self.held_probes += 1
        self._measure(z, "fine")
        return True

    def _took_up_slack(self) -> bool:
        """When a later look at a Z disagreed with an earlier one (:meth:`_slipped`): grow the
        overscan ``SLACK_GROWTH`` times (at most ``SLACK_ROUNDS`` times a run, never from 0)
        and set the samples taken since the coarse sweep aside, so refinement starts again
        with moves that take the slack up; whether it did.

        A carriage held short by backlash larger than the overscan shows, at the Z it was
        sent to, the picture of a Z below it, by how much depending on the moves before: the
        refinement's curve mixes Zs it cannot name. The coarse samples stay (their spacing is
        far wider than a slack that fooled them).
        """
        overscan = self.motion.overscan
        if self.slack_rounds >= SLACK_ROUNDS or overscan <= 0:
            return False
        slipped = self._slipped()
        if slipped is None:
            return False
        self.slack_rounds += 1
        self.motion.overscan = min(SLACK_GROWTH * overscan, self.limits[1] - self.limits[0])
        z, earlier, later = slipped
        logger.info("autofocus: a later look at Z%.4f scored %.4g, an earlier one %.4g: backlash "
                    "larger than the overscan; refining again with an overscan of %.3f mm",
                    z, later, earlier, self.motion.overscan)
        self.samples = [s for s in self.samples if s.phase == "coarse"]
        self.fit, self.verify_score, self.guessed = None, None, False
        return True

    # ~~ phase 3: refinement, fit and confirmation

    def _refine(self) -> float:
        """Sample towards the peak until a fitted peak is confirmed and pinned down.

        A round of refinement ends with a confirmed, pinned peak, or out of samples or
        room; then :meth:`_fallback` verifies the fitted (or best) Z once, which must be
        pinned down too (the samples taken to pin it start one more round). A frame there
        far above every earlier sample found a top no sample bracketed yet (a fit of a
        narrow peak's tails): one more round refines around it.
        """
        for round_ in range(REFINE_ROUNDS):
            z = self._refine_round()
            if z is not None:
                return z
            self.fit = self._fit()
            z = self._fallback(last_round=round_ == REFINE_ROUNDS - 1)
            if z is not None and self._pinned(z) and not self._fit_too_low():
                z = self._settled(z)
                if z is not None:
                    return z
        raise SearchFailed("poor_fit", "the samples around the best Z do not pin its peak down to "
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
                sample = self._frame_at_peak(z)
                z = sample.z
                self.verify_score = sample.score
                best_other = max(s.score for s in self.samples if s is not sample)
                if checks.confirms(sample.score, best_other, self.fit) and self._pinned(z):
                    z = self._settled(z)
                    if z is not None:
                        return z
                rejected = True  # refine before trying to confirm again
                continue
            rejected = False
            z = propose(self._points(), self._tolerance(), self._fit_trusted())
            if z is None and all(s.phase == "coarse" for s in self.samples):
                # a fit of the coarse points alone may be far wider than the peak: its
                # tolerance leaves no room, the bracket does
                z = propose(self._points(), self._tolerance(), width_known=False)
            if z is None:
                return None
            self._measure(z, "fine")
        return None

    def _frame_at_peak(self, z: float) -> Sample:
        """The frame that confirms the fitted peak ``z``: a refinement sample closer than
        ``SNAP_REACH`` tolerances to it (the nearest; its Z becomes the peak's), else a fresh
        frame at ``z``.

        Refinement proposes the vertex of a parabola through the top, which often is where the
        fit then puts the peak: a frame taken there before the fit that includes it was a
        prediction tested already, and a second frame a fraction of a tolerance away would
        only repeat it. Zs where backlash may have held the carriage short do not count.
        """
        reach = SNAP_REACH * self._tolerance()
        near = [s for s in self.samples
                if s.phase == "fine" and abs(s.z - z) < reach and s.z not in self.held_zs]
        if near:
            return min(near, key=lambda s: abs(s.z - z))
        return self._measure(z, "verify")

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
            raise AtEdge(edge == self.z_min, f"the sharpness still rises into the end Z{edge:.4f} "
                          f"of the searched range [{self.z_min:.4f}, {self.z_max:.4f}]")

    def _peak_z(self) -> float:
        """The fitted best Z, after the fit-quality and edge gates."""
        fit = self.fit
        best_z = max(self.samples, key=lambda s: s.score).z
        tol = self._tolerance()
        if fit is None or not self.z_min <= fit.z_peak <= self.z_max:
            if not self._interior(best_z):
                below = fit.z_peak < self.z_min if fit is not None else best_z <= self.z_min
                where = "at an end" if fit is None else f"fitted at Z{fit.z_peak:.4f}"
                raise AtEdge(below, f"the sharpest Z is {where}, outside or at an end of the "
                              f"searched range [{self.z_min:.4f}, {self.z_max:.4f}]")
            raise SearchFailed("poor_fit", "the samples near the best one do not form a peak")
        if fit.r2 < MIN_R2 or not fit.z_lo - tol <= fit.z_peak <= fit.z_hi + tol:
            raise SearchFailed("poor_fit", f"peak fit R^2 {fit.r2:.2f} (needs {MIN_R2}), peak "
                          f"Z{fit.z_peak:.4f} for samples Z{fit.z_lo:.4f}..Z{fit.z_hi:.4f}")
        return fit.z_peak

    def _fit_too_low(self) -> bool:
        """Whether the last frame at the fitted peak stood ``CONFIRM_HIGH`` times higher over
        the fit's floor than the fitted peak: the real peak is narrower than the fit (made
        from its tails) says, and may lie elsewhere."""
        fit, score = self.fit, self.verify_score
        return (fit is not None and score is not None
                and score - fit.floor > CONFIRM_HIGH * (fit.height - fit.floor))

    def _fallback(self, last_round: bool = True) -> Optional[float]:
        """Out of refinement budget: check the fitted (or else the best) Z once; None when
        the frame there found a new top (:func:`.checks.new_top`), or, unless in the
        ``last_round``, when the fitted peak lies past the Zs the fit was made from and its
        frame scores below the best sample (a flat top's fit leaning out over one flank: the
        frame, not the fit, says where the top is), to refine around.

        Without a trusted fit (poor_fit) the best sample is only a guess: it is tried when
        it is clearly interior, and if verified :meth:`_check_noise` always tests it
        against the noise with repeated frames. A curve whose best sample does not even
        stand out of the noise, or whose second look at it scores as background, fails as
        no_peak rather than verify_failed.
        """
        best = max(self.samples, key=lambda s: s.score)
        try:
            z = self._peak_z()
        except SearchFailed as failure:
            zs, scores = [s.z for s in self.samples], [s.score for s in self.samples]
            if failure.reason != "poor_fit" or not checks.clearly_interior(zs, scores, best.z,
                                                                            best.score):
                raise
            z, self.guessed = best.z, True
        floor = min(s.score for s in self.samples)
        fit = self.fit
        extrapolated = not last_round and fit is not None and not fit.z_lo <= z <= fit.z_hi
        for target in dict.fromkeys((z, best.z)):
            sample = self._measure(target, "verify")
            self.verify_score = sample.score
            if checks.verified(sample.score, best.score, floor):
                unconfirmed = target == z and extrapolated and sample.score < best.score
                return None if checks.new_top(sample.score, best.score, floor) or unconfirmed else target
        if not self._clearly_above_noise() and not self._stands_out(best.z):
            raise SearchFailed("no_peak", "the best sample does not stand out of the score noise "
                          "of the frames repeated at its Z")
        if self._fell_to_background(best.z, self.verify_score):
            raise SearchFailed("no_peak", "a second frame at the best Z scored no higher than the "
                          "median other point: the best sample was noise")
        raise SearchFailed("verify_failed", f"verification score {self.verify_score:.4g} is below "
                      f"{VERIFY_RATIO} x the best sample's {best.score:.4g}")
