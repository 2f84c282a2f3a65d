"""The state of one autofocus run and what every phase does with it: measure, look, report.

:class:`RunState` holds the devices, the samples and the range searched, and gives the
phases (:mod:`.search`) and the checks of the peak (:mod:`.verdict`) their common views:
the points of the curve, the current fit, the tolerance, the repeat noise, and the result.
"""

import logging
import math
from typing import List, Optional, Tuple

import numpy as np

from . import checks
from .checks import MIN_R2
from .curve import Points, combined, merge_held_end, merge_plateaus
from .errors import CameraError, Cancelled
from .fit import PeakFit, fit_peak
from .frames import FrameLike, same_frame
from .messages import plain_message
from .noise import repeat_noise
from .options import Options
from .plan import WIDTH_PER_TOLERANCE, Motion, derived_tolerance
from .result import Fit, FocusResult, REASONS
from .sampling import FrameScorer, Sample

__all__ = ["RunState", "SearchFailed", "AtEdge", "ExploreFirst", "SHARP_BAND", "TAILS_CONTRAST",
           "REDUCED_FALL", "DARK_RETAKES", "DARK_GIVE_UP"]

logger = logging.getLogger("octoprint_autofocus.focus.search")

SHARP_BAND = 0.8
"""The tolerance is the half-width of the band where the fitted curve stays above this share
of its height over the curve's floor (the sharp band a person sees as in focus)."""
TAILS_CONTRAST = 0.75
"""A run has seen a focus curve's tails once its lowest score is this share below its best."""
REDUCED_FALL = 0.5
"""A reduced level of the pyramid whose scores vary by this share of their best has fallen past
its half height on the way out; its curve is wider than the full resolution's, so the run has
seen past the top of the peak at the finer scales too."""
DARK_RETAKES = 2
"""Frames taken again in place of a dark one (see :meth:`RunState._lit_frame`)."""
DARK_GIVE_UP = 6
"""Frames scored dark in a row (each after its retakes) after which the run stops as
camera_dark: the picture went dark and stays so (a camera's black warm-up frames end sooner)."""


class SearchFailed(Exception):
    """Ends a run with a search failure (a key of REASONS) and its technical detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class ExploreFirst(Exception):
    """The peak found is too faint to judge before the rest of the reachable range is seen."""


class AtEdge(SearchFailed):
    """The curve may go on rising past one end of the searched range (``below``: the lower)."""

    def __init__(self, below: bool, detail: str) -> None:
        super().__init__("peak_at_edge", detail)
        self.below = below


class RunState:
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
        self.samples: List[Sample] = []  # the samples the search judges by
        self.looks: List[Sample] = []  # every sample, those set aside too (search._Run._took_up_slack)
        self.slack_rounds = 0  # times the overscan grew (search._Run._took_up_slack)
        self.held_zs: List[float] = []  # Zs where backlash may have held the carriage short
        self.held_probes = 0  # samples taken inside a held end (search._Run)
        self.frames = 0
        self.retakes = 0  # frames taken again in place of dark ones (see _lit_frame)
        self.dark_frames = 0  # frames scored still dark after their retakes, or black
        self.dark_streak = 0  # of those, how many in a row up to the last frame scored
        self.last_frame: Optional[FrameLike] = None
        self.moves_at_last_frame = 0
        self.frames_vary = True  # see _fresh_frame
        self.fit: Optional[PeakFit] = None
        self.verify_score: Optional[float] = None
        self.guessed = False  # the peak is a poor fit's best sample (see _fallback)

    # ~~ measuring

    def _checkpoint(self) -> None:
        cancel = self.opts.cancel
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")

    def _measure(self, z: float, phase: str) -> Sample:
        """Arrive at ``z``, grab and score the frames, record and report the sample; fail as
        camera_dark after ``DARK_GIVE_UP`` dark frames in a row."""
        self.motion.arrive(z)
        if self.motion.held:
            self.held_zs.append(self.motion.position)
        frames = []
        for _ in range(self.opts.frames_per_position):
            self._checkpoint()
            frames.append(self._lit_frame())
        sample = self.scorer.sample(self.motion.position, frames, phase)
        self.samples.append(sample)
        self.looks.append(sample)
        if self.opts.on_sample is not None:
            self.opts.on_sample(sample.z, sample.score, phase)
        if self.dark_streak >= DARK_GIVE_UP:
            raise SearchFailed("camera_dark", f"the last {self.dark_streak} frames were dark")
        return sample

    def _lit_frame(self) -> FrameLike:
        """A fresh frame that shows an image: a dark one (a dropped frame, a camera's black
        first frame: :meth:`.sampling.FrameScorer.dark`) is taken again, up to ``DARK_RETAKES``
        times; one still dark then is what the camera sees (the light went out) and is scored.
        The retakes are counted (``retakes``), and so are the frames scored still dark or black
        (:meth:`.sampling.FrameScorer.black`: a camera that only sends black frames sets a
        black reference, and its frames are not taken again): ``dark_frames``, and
        ``dark_streak``, those in a row up to this one (``DARK_GIVE_UP`` in a row end the run
        as camera_dark once their sample is recorded, :meth:`_measure`)."""
        frame = self._fresh_frame()
        dark = self.scorer.dark(frame)
        for _ in range(DARK_RETAKES):
            if not dark:
                break
            self._checkpoint()
            self.retakes += 1
            frame = self._fresh_frame()
            dark = self.scorer.dark(frame)
        dark = dark or self.scorer.black(frame)  # a camera sending only black frames too
        self.dark_frames += dark
        self.dark_streak = self.dark_streak + 1 if dark else 0
        return frame

    def _fresh_frame(self) -> FrameLike:
        """One frame, not the camera's old frame sent again after a move.

        Sensor noise makes every real capture differ, so a frame identical to the last one
        taken before a move is stale: another is taken in its place. If that one is identical
        too, the source repeats an unchanged image exactly (a replayed stack, a noiseless
        simulation) and the check is off for the rest of the run.
        """
        moved = self.motion.moves != self.moves_at_last_frame
        frame = self._grab()
        if self.frames_vary and moved and same_frame(frame, self.last_frame):
            self._checkpoint()
            frame = self._grab()
            self.frames_vary = not same_frame(frame, self.last_frame)
        self.last_frame, self.moves_at_last_frame = frame, self.motion.moves
        return frame

    def _grab(self):
        """One frame; any failure of the camera becomes a CameraError (a cancel stays one)."""
        try:
            frame = self.camera.frame()
        except (CameraError, Cancelled):
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
        """The samples as points ascending in Z, plateaus merged (:func:`.curve.merge_plateaus`)
        and the held end too (:func:`.curve.merge_held_end`)."""
        points = merge_plateaus([s.z for s in self.samples], [s.levels for s in self.samples])
        return merge_held_end(points, self.held_zs, self.motion.side)

    def _scores_at(self, z: float, start: int = 0) -> List[float]:
        """The scores of every sample taken at exactly ``z`` (from the run's sample ``start`` on)."""
        return [s.score for s in self.samples[start:] if s.z == z]

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
        floor. It is at most a quarter of the bracket of the points below half height
        around the best one (:func:`.checks.half_height_bracket`) on the full-resolution
        and the combined curve and every level of the pyramid once the full resolution has
        seen its tails (its scores fell by ``TAILS_CONTRAST``) or without a trusted fit;
        before that on each reduced level whose scores fell by ``REDUCED_FALL``: a fit gone
        wide, or full-resolution scores that are only noise far from a narrow peak (a
        faint, flickering image that a reduced copy shows clearly), cannot loosen it. Once
        the run has seen the tails the band's floor is the lowest sample. A narrow window
        around the focus never sees them: its lowest sample is no floor, so the noise floor
        serves (:meth:`.sampling.FrameScorer.noise_floor`), and the top's shape, which such
        a window measures best, sets the band.
        """
        if self.opts.tolerance is not None:
            return self.opts.tolerance
        span = self.z_max - self.z_min
        tails = checks.relative_contrast([s.score for s in self.samples]) >= TAILS_CONTRAST
        points = self._points()
        seen = tails or not self._fit_trusted()
        curves = [combined(points.levels), points.scores] if seen else []
        curves += [level for level in points.levels.T[1:]
                   if seen or checks.relative_contrast(level) >= REDUCED_FALL]
        width = min((checks.half_height_bracket(points.zs, curve) for curve in curves), default=math.inf)
        if self._fit_trusted():
            base = self.fit.floor if tails else min(self.scorer.noise_floor(), self.fit.floor)
            band = self.fit.width_at(base + SHARP_BAND * (self.fit.height - base))
            width = min(width, WIDTH_PER_TOLERANCE * 0.5 * band)
        return derived_tolerance(width, span)

    def _fit_trusted(self) -> bool:
        """Whether the current fit has three points near its top and R^2 >= ``MIN_R2``."""
        return self.fit is not None and self.fit.strong >= 3 and self.fit.r2 >= MIN_R2

    # ~~ results

    def _failed(self, reason: str, detail: str, restore: bool) -> FocusResult:
        logger.debug("autofocus failed (%s): %s", reason, detail)
        inside = self.bounds[0] <= self.start_z <= self.bounds[1]
        if restore and self.opts.restore_on_failure and inside:
            try:
                self.motion.arrive(self.start_z)
            except Cancelled:
                detail = f"{detail or REASONS[reason]}; the move back to the start Z was cancelled"
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
        grown = self.motion.overscan if self.slack_rounds else None
        fit = None
        if self.fit is not None:
            f = self.fit
            params = dict(zip(("c2", "c1", "c0"), f.params), centre=f.centre, fwhm=f.fwhm,
                          floor=f.floor, points=f.points)
            fit = Fit(model=f.model, z_peak=f.z_peak, r2=f.r2, z_lo=f.z_lo, z_hi=f.z_hi,
                      params=params)
        return FocusResult(
            ok=ok, z=float(z), reason=reason,
            message=plain_message(reason, z, searched, self.window, edge_z, edge_kind, grown),
            detail=detail, window=list(self.window), limits=list(self.limits),
            extended=[self.window[0] - self.z_min, self.z_max - self.window[1]],
            edge_z=edge_z, edge_kind=edge_kind, overscan_grown=grown,
            samples=[(s.z, s.score) for s in self.looks], phases=[s.phase for s in self.looks],
            fit=fit, metric=self.metric, roi=self.roi, z_min=self.z_min, z_max=self.z_max,
            start_z=self.start_z, final_z=self.motion.position, verify_score=self.verify_score,
            moves=self.motion.moves, frames=self.frames, travel=self.motion.travel,
            elapsed=self.opts.clock() - self.started, options=self.opts.record(),
        )
