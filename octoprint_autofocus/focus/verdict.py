"""Is the peak real, and pinned down? The checks a careful person makes before saying ok.

:class:`PeakVerdict` (a part of the run, see :mod:`.search`) takes the evidence the pure
checks of :mod:`.checks` judge: flank samples that pin the peak down to the tolerance,
repeated frames that measure the noise, lower samples on both sides, a look at the rest of
the window before a faint or blurred result is refused or trusted. Each failure raises
:class:`~.run_state.SearchFailed` (or :class:`~.run_state.AtEdge` where the focus may lie
past an end of the range, for the run to extend there).
"""

import math
from typing import List, Optional, Tuple

import numpy as np

from . import checks
from .checks import MIN_CONTRAST, MIN_TEXTURE, NOISE_SURE, RELOOK_DROP
from .curve import Points, combined
from .noise import log_scores, relative_noise, repeat_noise, significant, z_means
from .options import STEP_ROUNDING
from .run_state import DARK_RETAKES, TAILS_CONTRAST, AtEdge, RunState, SearchFailed

__all__ = ["PeakVerdict", "EARLY_STOP_CONTRAST", "TEXTURED_BEST", "EXTENSION_STEPS_MAX",
           "PIN_NEAR", "PIN_FAR", "PIN_STEP", "NOISE_REPEATS", "MIN_OFF_PEAK", "DRIFT_REACH",
           "TURN_UP", "RESCAN_POINTS", "SHELF_SPAN", "SHARPER_SHARE", "STALE_AFTER", "REPEATS_ONLY",
           "DARK_SHARE"]

EARLY_STOP_CONTRAST = 0.5
"""A top is sharp (and the coarse sweep may stop early) once the full-resolution scores vary
by this share of their best; below it the best image is a blurred bump."""
TEXTURED_BEST = 10 * MIN_TEXTURE
"""A weak best whose frames have this much texture (:func:`.sampling.relative_texture`) or more is
no blurred bump but a scene whose blur keeps a high score (a star field's blurred points): a
hard bound next to it is judged as for a sharp peak (:meth:`PeakVerdict._check_weak_ends`)."""
EXTENSION_STEPS_MAX = 4.0
"""Extension steps grow up to this many coarse steps (the pyramid's coarsest level still sees
a peak that far); a rising end is worth a look if its rise over that reach beats the best."""
PIN_NEAR = 1.0
"""The fitted peak needs a lower point on each side at least this many tolerances away..."""
PIN_FAR = 2.5
"""... and at most this many..."""
PIN_STEP = 1.5
"""... else one is taken this many tolerances away."""
NOISE_REPEATS = 3
"""At most this many repeat frames at one Z for a noise test, taken one by one until it passes."""
MIN_OFF_PEAK = 3
"""The noise test compares the peak with the points off it when there are this many."""
TURN_UP = 0.1
"""A curve turns up again towards an end when it climbs there from its lowest sample past the
peak by this share of the peak's height over the floor (and beyond the noise)."""
RESCAN_POINTS = 17
"""A rescan of the window (:meth:`PeakVerdict._explore` with ``fine``) samples at least this many
evenly spaced Zs over it: a narrow depth of field hides between the points of a short coarse grid
(the coarse sweep's grid halved, when that is finer)."""
DRIFT_REACH = 0.25
"""Frames within this many tolerances of a peak count as taken at its Z for the drift test
(:meth:`PeakVerdict._drift_start`): the top of the curve changes their scores by about 1% there
(the tolerance is the half-width of the band above 80% of the height)."""
SHELF_SPAN = 2.0
"""A blurred bump's tail holding level into a hard bound (:func:`.checks.holds_level_to`) counts
as died away over at least this many tolerances (over fewer, the top of a curve is level too)."""
SHARPER_SHARE = 0.05
"""A sample near a confirmed peak may be sharper (:meth:`PeakVerdict._sharper_near`) when it scores
above the frames at the peak by this share of their height over the floor; less lies within the
top (a quarter of the depth of the sharp band, about half a tolerance from its middle)."""
STALE_AFTER = 12
"""A lower sample taken this many frames or more before the last look at a peak is stale next to
an end the run may not pass (:meth:`PeakVerdict._check_bracketed`): a lamp or an exposure
drifting over a long run lifts the late frames near that end above its early frame."""

REPEATS_ONLY = (math.inf, -math.inf)
"""Noise bounds (free bound, floor) for :meth:`PeakVerdict._shown_lower` under which only the
t-test of repeated frames shows a sample lower: no single frame passes by its size or by the
near-top cut (:func:`.checks.clearly_lower`)."""

DARK_SHARE = 0.5
"""A failed run is put down to a dark camera (``camera_dark``, :meth:`PeakVerdict._dark_failure`)
when at least this share of the frames it scored were dark (still dark after their retakes, or
black), or when every frame of its last sample was: the camera went dark and stayed so."""


class PeakVerdict(RunState):
    """The checks of a peak, on the state of the run."""

    # ~~ pinned down

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

    def _settled(self, z: float) -> Optional[float]:
        """The peak the run settles on: ``z`` (pinned already), or a sample near it that
        scores clearly higher (:meth:`_sharper_near`) once it is pinned too; None where it is
        not (refinement goes on with the new samples). The stage ends at the Z returned.

        A fit follows its model's symmetric shape: on an asymmetric curve (a halo, a lens
        that blurs faster on one side) it leans towards the broad flank, and frames at its
        peak score below a sample on the steep side. A careful person takes the sharper Z.
        A blurred best (:meth:`_weak`) stays at ``z``: its ends are judged first (the window
        explored), and frames spent on its top would only delay that.
        """
        sharper = None if self._weak() else self._sharper_near(z)
        if sharper is None:
            if self.motion.position != z:  # the last frames were taken at the other Z
                self.motion.arrive(z)
            return z
        if not self._pinned(sharper):
            return None
        self.verify_score = self._scores_at(sharper)[-1]
        return sharper

    def _sharper_near(self, z: float) -> Optional[float]:
        """The Z of the best sample within ``PIN_FAR`` tolerances of ``z`` if the mean frame there
        leads the mean frame at ``z`` by ``SHARPER_SHARE`` of the latter's height over the floor
        and repeated frames show ``z`` clearly lower (:meth:`_shown_lower`); else None."""
        reach = PIN_FAR * self._tolerance()
        near = [s for s in self.samples if 0 < abs(s.z - z) <= reach]
        if not near:
            return None
        sharper = max(near, key=lambda s: s.score).z
        if self._shown_lower(sharper, z, 0, self._noise_bounds(), verifies=False, lead=SHARPER_SHARE):
            return sharper
        return None

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

    # ~~ real

    def _check_texture(self) -> None:
        """Fail when the ROI is nearly featureless at every Z sampled."""
        failure = self._texture_failure()
        if failure is not None:
            raise failure

    def _texture_failure(self) -> Optional[SearchFailed]:
        """A low_texture failure if the ROI is nearly featureless at every Z sampled.

        It explains any other search failure better (a featureless ROI has no peak). Every
        sample counts, not only the sharpest: far from a narrow focus the best score may be
        a noise frame's, while other Zs show the blurred detail a search can follow.
        """
        most = max(s.texture for s in self.samples)
        if most >= MIN_TEXTURE:
            return None
        return SearchFailed("low_texture", f"relative contrast {most:.4f} at most over the range "
                       f"is below {MIN_TEXTURE}")

    def _dark_failure(self) -> Optional[SearchFailed]:
        """A camera_dark failure if the camera's picture stayed dark (``DARK_SHARE``).

        It explains any other search failure better: dark frames (still dark after their
        retakes, or black: :meth:`~.run_state.RunState._lit_frame`) show nothing to judge focus
        by, no texture and no peak, and a person would look at the light before the scene.
        """
        per_sample = self.opts.frames_per_position
        scored = len(self.looks) * per_sample
        if scored == 0 or (self.dark_streak < per_sample and self.dark_frames < DARK_SHARE * scored):
            return None
        return SearchFailed("camera_dark", f"{self.dark_frames} of the {scored} frames scored were "
                            f"dark or black (a dark one is taken again up to {DARK_RETAKES} times; "
                            f"{self.retakes} taken again in all), the last {self.dark_streak} in a row")

    def _slipped(self) -> Optional[Tuple[float, float, float]]:
        """A later look at a Z that scored below ``RELOOK_DROP`` of an earlier look there, in the
        top half of the curve (:func:`.checks.worst_relook`), as ``(z, earlier, later)``; None if
        there is none.

        The stage was asked for the same Z both times: a picture that much less sharp the second
        time says the carriage did not come back (backlash larger than the overscan leaves it
        short after moves up). Unless the frames repeated at other Zs vary as much: the drop in
        log score must stand out of their scatter (a one-sided t-test); a lamp's PWM flicker
        makes one frame differ from the next wherever the stage is. Zs where backlash may have
        held the carriage short (an overshoot cut by the range's end) are the held end's
        business. Nor on a curve whose peak does not plainly stand out of its noise (faint, or
        not clearly above the noise): its looks differ by chance.
        """
        if self._faint() or not self._clearly_above_noise():
            return None
        looks = [s for s in self.samples if s.z not in self.held_zs]
        worst = checks.worst_relook([s.z for s in looks], [s.score for s in looks])
        if worst is None or worst[2] >= RELOOK_DROP * worst[1]:
            return None
        z, earlier, later = worst
        others = [s for s in looks if s.z != z]
        sigma, freedom = repeat_noise([s.z for s in others], log_scores([s.score for s in others]))
        drop = math.log(earlier / later) if later > 0 else math.inf
        if freedom and not significant(drop, math.sqrt(2.0) * sigma, freedom):
            return None
        return worst

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
        raise SearchFailed("no_peak", f"the peak stands {height:.4g} above the median sample, "
                      f"within the score noise (standard error {error:.3g}, {freedom} "
                      f"degrees of freedom, from repeated frames)")

    def _check_half_resolution(self, z: float) -> None:
        """Fail with no_peak when the half resolution does not see the peak at ``z``
        (:func:`.checks.seen_at_half_resolution`, its range taken over the mean at each Z:
        the frames at one Z are one measurement, and a flicker's bright frame at ``z`` is
        no higher sample); a run scored at one level only passes."""
        if len(self.samples[0].levels) < 2:
            return
        _, half = z_means([s.z for s in self.samples], [s.levels[1] for s in self.samples])
        at_peak = [s.levels[1] for s in self.samples if s.z == z]
        if not checks.seen_at_half_resolution(half, at_peak):
            raise SearchFailed("no_peak", f"the half-resolution score at the peak, "
                               f"{np.mean(at_peak):.4g}, is low in its range {min(half):.4g} to "
                               f"{max(half):.4g}: the full-resolution peak is pixel noise")

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
        When the frames near ``z`` drift in time (:meth:`_drift_start`), each side must pass
        once more on the frames taken since the later of them began (fresh frames at that
        sample's Z first): an early low sample may only have been taken before the drift.
        So must a side ending within one coarse step at a bound the run may not pass, whose
        lower sample is stale (``STALE_AFTER``), on frames since the last look at ``z``: a
        focus past that bound and a slow drift make a peak inside it that no drift test of
        the few frames at ``z`` sees. The stage ends at ``z``.
        """
        points = self._points()
        bounds = self._noise_bounds()
        spans = points.spans
        since = self._drift_start(z)
        last_look = self._last_frame_at(z)
        for below, edge, bound in self._ends():
            side = [s for s in self.samples if (s.z < z if below else s.z > z)]
            # a plateau holding z (one replayed slice) is no lower sample on either side
            plateau = spans[(spans[:, 0] <= z) & (z <= spans[:, 1])]
            side = [s for s in side if not np.any((plateau[:, 0] <= s.z) & (s.z <= plateau[:, 1]))]
            low_z = min(side, key=lambda s: s.score).z if side else None
            at_edge = low_z is None or edge in (s.z for s in side)
            starts = [(0, "")]
            if since is not None:
                starts.append((since, " in frames taken since the frames near the peak drifted in time"))
            if edge == bound and abs(edge - z) <= self.step and self._stale(low_z, last_look):
                starts.append((last_look, " in frames taken since the last look at the peak"))
            for start, since_when in starts:
                detail = (f"no sample between Z{z:.4f} and the end Z{edge:.4f} of the searched "
                          f"range scores lower beyond the score noise{since_when}")
                if not self._shown_lower(z, low_z, start, bounds):
                    raise AtEdge(below, detail) if at_edge else SearchFailed("no_peak", detail)
        if self.motion.position != z:  # the last frames were taken at a lower sample's Z
            self.motion.arrive(z)

    def _check_turn_up(self, z: float) -> None:
        """Fail at a hard bound within one coarse step of ``z`` towards which the curve
        turns up again: past the lowest sample between ``z`` and that end, the end scores
        higher by ``TURN_UP`` of the peak's height over the floor, and repeated frames show
        that lowest sample clearly lower than the end (:meth:`_shown_lower` on the repeats
        alone, ``REPEATS_ONLY``: that sample is the lowest of several, picked for being low,
        and the run's floor besides, so neither its own size nor the near-top cut tells noise
        from a dip; on a star field's flat blur one low frame made a sharp peak a turn-up).

        The run may not look past that end, and the rising flank of a focus just outside
        the window looks like this: a lesser bump inside, a dip, and the curve climbing
        again into the end. The stage ends at ``z``.
        """
        bounds = self._noise_bounds()
        height = float(np.mean(self._scores_at(z))) - bounds[1]
        for below, edge, bound in self._ends():
            side = [s for s in self.samples if (edge <= s.z < z if below else z < s.z <= edge)]
            if edge != bound or abs(edge - z) > self.step or not any(s.z == edge for s in side):
                continue
            low_z = min(side, key=lambda s: s.score).z
            rise = float(np.mean(self._scores_at(edge))) - float(np.mean(self._scores_at(low_z)))
            if rise > TURN_UP * height and self._shown_lower(edge, low_z, 0, REPEATS_ONLY,
                                                             verifies=False):
                raise AtEdge(below, f"past Z{low_z:.4f} the sharpness rises again towards Z{edge:.4f}, "
                                    f"an end of the range the run may not pass")
        if self.motion.position != z:  # the last frames were taken at the end or below it
            self.motion.arrive(z)

    def _noise_bounds(self) -> Tuple[float, float]:
        """The free noise bound (``NOISE_SURE`` times :func:`.noise.relative_noise` of the
        points) and the floor (their lowest score) that :meth:`_clearly_lower` judges by."""
        points = self._points()
        return NOISE_SURE * relative_noise(points.zs, points.scores), float(points.scores.min())

    def _shown_lower(self, z: float, low_z: Optional[float], start: int,
                     bounds: Tuple[float, float], verifies: bool = True,
                     lead: Optional[float] = None) -> bool:
        """Repeat frames at ``z`` and ``low_z`` (the fewer first, up to ``NOISE_REPEATS`` more)
        until the frames from the run's sample ``start`` on show ``low_z`` clearly lower
        (:meth:`_clearly_lower`; ``bounds``: its free noise bound and floor); whether they did.
        A repeat at ``z`` is the run's verify score when ``verifies`` (``z`` is the peak).
        With ``lead``, the frames give up as soon as their mean at ``z`` leads the mean at
        ``low_z`` by less than that share of the latter's height over the floor."""
        while True:
            counts = {t: sum(s.z == t for s in self.samples[start:]) for t in (z, low_z)}
            if lead is not None:
                high, low = (float(np.mean(self._scores_at(t, start))) for t in (z, low_z))
                if high - low < lead * (low - bounds[1]):
                    return False
            if (low_z is not None and min(counts.values()) > 0
                    and self._clearly_lower(z, low_z, *bounds, start)):
                return True
            target = min(counts, key=counts.get)
            if low_z is None or counts[target] > NOISE_REPEATS:
                return False
            sample = self._measure(target, "verify")
            if verifies and target == z:
                self.verify_score = sample.score

    def _ends(self) -> Tuple[Tuple[bool, float, float], Tuple[bool, float, float]]:
        """``(below, end, bound)`` for the lower and the upper end of the range searched so far:
        ``end`` is a hard bound the run may not pass when it equals ``bound``."""
        return (True, self.z_min, self.bounds[0]), (False, self.z_max, self.bounds[1])

    def _last_frame_at(self, z: Optional[float]) -> Optional[int]:
        """The index in the run of the last frame taken at ``z`` (None: no frame there)."""
        return max((i for i, s in enumerate(self.samples) if s.z == z), default=None)

    def _stale(self, low_z: Optional[float], last_look: int) -> bool:
        """Whether there are frames at ``low_z`` and the last of them came ``STALE_AFTER``
        frames or more before the run's sample ``last_look``."""
        last_low = self._last_frame_at(low_z)
        return last_low is not None and last_look - last_low >= STALE_AFTER

    def _drift_start(self, z: float) -> Optional[int]:
        """When the frames within ``DRIFT_REACH`` tolerances of ``z`` drift in time
        (:func:`.checks.drifting`), the place in the run where their later half begins; else None.

        Under a drift the frames a refinement gathered late near ``z`` and the lower samples
        taken early differ by time as well as by Z: the bracket check then asks the lower
        samples again, with frames taken since. A peak the coarse sweep did not see
        (:meth:`_unseen_by_the_sweep`) may be such a drift alone: frames are taken at ``z``
        until the drift test has the ``DRIFT_FRAMES`` it needs.
        """
        reach = DRIFT_REACH * self._tolerance()
        if self._unseen_by_the_sweep():
            for _ in range(checks.DRIFT_FRAMES - sum(abs(s.z - z) <= reach for s in self.samples)):
                self._measure(z, "verify")
        near = [i for i, s in enumerate(self.samples) if abs(s.z - z) <= reach]
        if not checks.drifting(near, [self.samples[i].score for i in near]):
            return None
        return near[len(near) // 2]

    def _unseen_by_the_sweep(self) -> bool:
        """Whether the coarse samples' full resolution varies by less than ``MIN_CONTRAST``:
        the peak showed only in the frames taken after the sweep, and a lamp warming up makes
        later frames score higher as well."""
        return checks.relative_contrast([s.score for s in self.samples if s.phase == "coarse"]) < MIN_CONTRAST

    def _weak(self) -> bool:
        """Whether the best sample hardly stands out at full resolution (``EARLY_STOP_CONTRAST``):
        a blurred bump (a side lobe of a periodic scene) rather than a sharp image. Frames
        repeated at one Z count as their mean: one bright flash among them lifts no bump."""
        _, means = z_means([s.z for s in self.samples], [s.score for s in self.samples])
        return checks.relative_contrast(means) < EARLY_STOP_CONTRAST

    def _textured_image(self, z: float) -> bool:
        """Whether the frames at ``z`` have ``TEXTURED_BEST`` of texture or more on average."""
        return float(np.mean([s.texture for s in self.samples if s.z == z])) >= TEXTURED_BEST

    def _fine_contrasts(self) -> List[float]:
        """The relative contrast of the full-resolution scores above the sensor noise's floor
        (:meth:`.sampling.FrameScorer.noise_floor`, never above the lowest score) and of the
        half-resolution scores (when there is a half resolution)."""
        levels = np.array([s.levels for s in self.samples])
        full = levels[:, 0] - min(self.scorer.noise_floor(), float(levels[:, 0].min()))
        contrasts = [checks.relative_contrast(full)]
        if levels.shape[1] > 1:
            contrasts.append(checks.relative_contrast(levels[:, 1]))
        return contrasts

    def _faint(self) -> bool:
        """Whether the full- or the half-resolution scores vary by less than ``MIN_CONTRAST``.

        Focus changes an image at every scale up to its blur: a "peak" that the half
        resolution does not see is pixel noise that varies (JPEG, exposure), not detail.
        The full resolution is judged above the sensor noise's share: a noisy camera's
        full-resolution scores are mostly that share, and a peak the coarser levels show
        plainly varies them by less than a tenth.
        """
        return min(self._fine_contrasts()) < MIN_CONTRAST

    def _faint_detail(self) -> str:
        contrasts = ", ".join(f"{c:.1%}" for c in self._fine_contrasts())
        return (f"full-resolution scores above the sensor noise and half-resolution scores vary by "
                f"{contrasts} (needs {MIN_CONTRAST:.0%} at both)")

    def _explore(self, points: Optional[int] = None) -> bool:
        """Sample the window's grid points an early stop left out (``points``: those of a
        grid of that many points over the window instead), and the coarse steps past the
        window that growing extension steps left out; whether any was taken.

        A careful person who found only a blurred bump, or nothing clear, looks at the
        whole window before deciding: the sharp peak may lie where the sweep did not look,
        or, on a narrow depth of field, between two coarse points, or where a step past a
        blank window jumped.
        """
        taken = len(self.samples)
        points = points or self.grid_points
        spacing = (self.window[1] - self.window[0]) / (points - 1)
        grid = [(float(z), spacing) for z in np.linspace(*self.window, points)]
        grid += [(z, self.step) for z in self._extension_grid()]
        grid.sort(reverse=bool(self.motion.position - self.z_min > self.z_max - self.motion.position))
        for z, gap in grid:
            if min(abs(s.z - z) for s in self.samples) > 0.5 * gap:
                self._measure(z, "coarse")
        return len(self.samples) > taken

    def _extension_grid(self) -> List[float]:
        """The Zs one coarse step apart from the window's ends out to the ends of the range
        searched so far."""
        below = math.floor((self.window[0] - self.z_min) / self.step + STEP_ROUNDING)
        above = math.floor((self.z_max - self.window[1]) / self.step + STEP_ROUNDING)
        return ([max(self.window[0] - k * self.step, self.z_min) for k in range(1, below + 1)]
                + [min(self.window[1] + k * self.step, self.z_max) for k in range(1, above + 1)])

    def _check_weak_ends(self, walls: bool = True) -> None:
        """For a weak best (:meth:`_weak`): fail at an end of the searched range where the
        combined curve or the full resolution has not fallen into its tails (within
        ``1 - TAILS_CONTRAST`` of its height above the lowest point), or the combined curve
        still rises enough to reach the best beyond it (:func:`.checks.worth_extending`).

        A sharp peak needs only a fall beyond the noise on each side (the bracket check);
        a blurred bump is trusted only where the sharpness clearly dies away on both sides
        within the range searched, or the real focus may lie beyond (a side lobe of a
        periodic scene rides on the rising flank of a focus outside the range). At a hard
        bound, beyond which the run cannot look, a full resolution falling from its best to
        the bound (:func:`.checks.falls_away_to`: at each of the last steps, to its lowest
        there), or holding level into it over ``SHELF_SPAN`` tolerances clearly below its best
        (:func:`.checks.holds_level_to`), has died away enough; so has one falling so over the
        sensor's noise floor (:meth:`.sampling.FrameScorer.noise_floor`; a live camera's noise
        holds its whole scores near the best) where the bound lies a fitted peak's width
        (FWHM) or more from the best Z (a fine grid inflates that floor, and a side lobe next to
        the bound falls into it over a step or two): a narrow window around the
        focus (a refocus) seldom reaches the tails of a broad curve, and a curve turning up
        again towards the bound still fails there. The full resolution counts on its own: the
        pyramid's reduced levels of a periodic scene may fall into their tails at an end where
        the full resolution, near a focus beyond, has not. Of two ends that fail, the one where
        the coarsest level stands higher fails first (the run looks past it first): far from
        focus that level shows which way the blur sharpens, where a noisy full resolution
        wanders (on the yardstick a run went the other way and refused a focus 15 tolerances
        past the window).

        ``walls`` false (a weak best whose image is textured, :meth:`_textured_image`): only
        the ends the run may still pass are judged. A star field's blur keeps the whole curve
        high, so its peak is weak while its image is plainly sharp; at a wall near it a flat
        top never falls into its tails, and the bracket check judges that side as for any
        sharp peak.
        """
        points = self._points()
        cs = combined(points.levels)
        if len(cs) < 2:
            return
        full = points.scores
        zs, means = z_means(points.zs, full)  # frames repeated at an end fall there as one
        free, span = self._noise_bounds()[0], SHELF_SPAN * self._tolerance()
        reach = EXTENSION_STEPS_MAX * self.step
        ends = [(True, 0, 1), (False, len(cs) - 1, len(cs) - 2)]
        coarsest = points.levels[:, -1]
        noise_floor, top = self.scorer.noise_floor(), zs[int(np.argmax(means))]
        width = self.fit.fwhm if self.fit is not None else math.inf
        ends.sort(key=lambda e: -coarsest[e[1]])  # the end the blur grows sharper towards first
        for below, end, inner in ends:
            bound = self.bounds[0] if below else self.bounds[1]
            if not walls and (self.z_min if below else self.z_max) == bound:
                continue  # an end the run may not pass: the checks of a sharp peak judged it
            dz = abs(points.zs[end] - points.zs[inner])
            rising = dz > 0 and checks.worth_extending(cs[end], (cs[end] - cs[inner]) / dz * reach,
                                                        cs.max())
            at_wall = points.zs[end] == bound
            way = means if below else means[::-1]
            fell = at_wall and (checks.falls_away_to(way, 0)
                                or checks.holds_level_to(zs if below else zs[::-1], way, 0, free, span)
                                or (abs(points.zs[end] - top) >= width
                                    and checks.falls_away_to(way, 0, noise_floor)))
            above_tails = any(curve[end] > self._tail_line(curve) for curve in (cs, full))
            if rising or (above_tails and not fell):
                raise AtEdge(below, f"the best image is blurred (full-resolution scores vary "
                                     f"by less than {EARLY_STOP_CONTRAST:.0%}) and the sharpness "
                                     f"has not died away towards Z{points.zs[end]:.4f}")

    # ~~ helpers

    @staticmethod
    def _tail_line(curve: np.ndarray) -> float:
        """Where a curve's tails end: ``1 - TAILS_CONTRAST`` of its height above its lowest point."""
        return float(curve.min() + (1.0 - TAILS_CONTRAST) * (curve.max() - curve.min()))

    def _clearly_lower(self, z: float, low_z: float, free_bound: float, floor: float,
                       start: int) -> bool:
        """:func:`.checks.clearly_lower` for the frames at ``z`` and ``low_z`` from the run's
        sample ``start`` on."""
        sigma, freedom = self._repeat_noise()
        return checks.clearly_lower(self._scores_at(z, start), self._scores_at(low_z, start),
                                    free_bound, floor, sigma, freedom)

    def _clearly_above_noise(self) -> bool:
        """:func:`.checks.clearly_above_noise` of the points (plateaus merged)."""
        points = self._points()
        return checks.clearly_above_noise(points.zs, points.scores)

    def _stands_out(self, z: float) -> bool:
        """Whether the frames at ``z`` beat the median other point beyond the repeat noise."""
        at_z, others, (sigma, freedom) = self._peak_and_others(z)
        return checks.stands_out(at_z, others, sigma, freedom)

    def _fell_to_background(self, z: float, score: float) -> bool:
        """Whether a second frame at ``z`` scoring ``score`` is no higher than the median other
        point (:meth:`_peak_and_others`): a best sample whose second look is background was noise."""
        return score <= float(np.median(self._peak_and_others(z)[1]))

    def _peak_and_others(self, z: float) -> Tuple[List[float], np.ndarray, Tuple[float, int]]:
        """The scores at ``z``, the other points' scores and the repeat noise.

        A replayed slice seen at several Zs counts once. The others are the first of these
        with at least ``MIN_OFF_PEAK`` points: the coarse points off the peak (beyond
        ``PIN_FAR`` tolerances), all points off it, the coarse points apart from it, all
        points apart from it. A refinement that sampled the top many times (or one slice of
        a replayed stack, its noise telling the frames apart) must not make the top its own
        reference; the coarse grid sees the window evenly.
        """
        points = self._points()
        spans = points.spans
        apart = (spans[:, 0] > z) | (spans[:, 1] < z)
        reach = PIN_FAR * self._tolerance()
        off_peak = (spans[:, 0] > z + reach) | (spans[:, 1] < z - reach)
        coarse_zs = np.array([s.z for s in self.samples if s.phase == "coarse"])
        coarse = np.array([np.any((lo <= coarse_zs) & (coarse_zs <= hi)) for lo, hi in spans])
        chosen = apart
        for candidates in (off_peak & coarse, off_peak, apart & coarse):
            if candidates.sum() >= MIN_OFF_PEAK:
                chosen = candidates
                break
        return self._scores_at(z), points.scores[chosen], self._repeat_noise()
