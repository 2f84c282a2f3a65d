"""The search's checks: pure functions over sample arrays that say whether a peak is real.

Each check answers one question a careful person would ask of a focus curve, from plain
arrays (Zs, scores, the fit), so each can be tested on hand-made numbers. The search
(:mod:`.search`) decides what to do with the answers: measure more, or fail.
"""

import math
from typing import Optional, Sequence, Tuple

import numpy as np

from .curve import Points
from .fit import NEAR_TOP, TINY, PeakFit
from .noise import (log_scores, mean_standard_error, median_standard_error, neighbour_noise,
                    relative_noise, significant)

__all__ = [
    "MIN_CONTRAST",
    "MIN_TEXTURE",
    "MIN_R2",
    "VERIFY_RATIO",
    "CONFIRM_LOW",
    "CONFIRM_HIGH",
    "EDGE_FLAT",
    "EDGE_FLAT_ABSOLUTE",
    "NOISE_SURE",
    "HALF_RESOLUTION_AT_PEAK",
    "CONVERGED_GAP_TOLERANCES",
    "CONVERGED_GAP_WIDTH",
    "WALL_FALL",
    "WALL_FALL_STEPS",
    "SHELF_POINTS",
    "RELOOK_DROP",
    "relative_contrast",
    "levels_contrast",
    "clearly_above_noise",
    "seen_at_half_resolution",
    "peak_over_noise",
    "clearly_lower",
    "confirms",
    "verified",
    "new_top",
    "worst_relook",
    "falls_away_to",
    "clearly_interior",
    "levels_agree",
    "straddled",
    "converged",
    "rising_into_edge",
    "worth_extending",
    "pinned",
    "half_height_bracket",
]

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
RELOOK_DROP = 0.85
"""A later look at a Z the run sampled before, in the top half of its curve, must score this
fraction of the earlier one (see :func:`worst_relook`)."""
EDGE_FLAT = 0.9
"""An edge sample is the peak's shoulder once its inward neighbour scores this fraction of it
(heights above the floor, the lowest score of the run)."""
EDGE_FLAT_ABSOLUTE = 0.97
"""... or this fraction of its whole score (a high floor with noise never gets closer)."""
NOISE_SURE = 6.0
"""Scores spanning this many times their neighbour-difference noise bound are no noise."""
HALF_RESOLUTION_AT_PEAK = 0.7
"""At a real peak the half-resolution score reaches this share of its range over the run."""
CONVERGED_GAP_TOLERANCES = 4.0
"""A fit is converged once the samples either side of its peak are this many tolerances apart..."""
CONVERGED_GAP_WIDTH = 0.4
"""... and at most this fraction of the fitted width."""
WALL_FALL = 0.15
"""A curve falls away to a hard bound once it fell this share below its best there..."""
WALL_FALL_STEPS = 2
"""... falling at each of the last this many steps into the bound."""
SHELF_POINTS = 3
"""A curve holds level into a hard bound (:func:`holds_level_to`) over this many Zs there."""
DRIFT_FRAMES = 4
"""Frames at one Z show a drift in time only when there are at least this many of them..."""
DRIFT_T = 3.0
"""... the slope of their log scores over time is this many standard errors from flat..."""
DRIFT_CHANGE = 0.05
"""... and changes their log score by at least this much from the first frame to the last (more
than the top of a curve changes it between the frames the drift test counts as at its peak)."""


def relative_contrast(scores: Sequence[float]) -> float:
    """``(max - min) / max`` of ``scores``: 0 for a flat curve, near 1 for a clear peak."""
    values = np.asarray(scores, dtype=float)
    return float((values.max() - values.min()) / max(values.max(), TINY))


def levels_contrast(levels: np.ndarray) -> float:
    """The largest :func:`relative_contrast` over the pyramid levels (columns of ``levels``)."""
    top = np.maximum(levels.max(axis=0), TINY)
    return float(((top - levels.min(axis=0)) / top).max())


def clearly_above_noise(zs: Sequence[float], scores: Sequence[float]) -> bool:
    """Whether ``scores`` (of points ascending in ``zs``) span ``NOISE_SURE`` times a bound
    of their noise, in logs.

    The bound comes free (:func:`~.noise.relative_noise`; a peak's bends only inflate it).
    """
    logs = log_scores(scores)
    return bool(logs.max() - logs.min() >= NOISE_SURE * relative_noise(zs, scores))


def seen_at_half_resolution(half: Sequence[float], at_peak: Sequence[float]) -> bool:
    """Whether the half-resolution scores of the frames at a peak (``at_peak``) reach, on
    average, ``HALF_RESOLUTION_AT_PEAK`` of the way from the lowest to the highest of ``half``
    (every sample's half-resolution score).

    Focus sharpens an image at every scale up to its blur, so the half resolution peaks
    near where the full resolution does. A full-resolution "peak" where the half
    resolution stays low is pixel noise that grew (a camera drifting in exposure or noise
    while frames were taken at one Z), not detail coming into focus.
    """
    half = np.asarray(half, dtype=float)
    low = half.min()
    return bool(np.mean(at_peak) - low >= HALF_RESOLUTION_AT_PEAK * (half.max() - low))


def peak_over_noise(at_z: Sequence[float], others: Sequence[float], sigma: float,
                    freedom: int) -> Tuple[float, float]:
    """How far the mean of ``at_z`` stands above the median of ``others``, and its standard error.

    ``sigma`` is the score noise SD. Frames repeated at one Z are fair measurements, unlike
    the best sample, which won its place partly by noise. Without others: ``(0, inf)``.
    """
    if not len(others):
        return 0.0, math.inf
    error = median_standard_error(sigma, len(at_z), len(others))
    return float(np.mean(at_z) - np.median(others)), error


def stands_out(at_z: Sequence[float], others: Sequence[float], sigma: float, freedom: int) -> bool:
    """Whether the frames ``at_z`` beat the median other point in a one-sided t-test."""
    height, error = peak_over_noise(at_z, others, sigma, freedom)
    return significant(height, error, freedom)


def clearly_lower(at_z: Sequence[float], at_low: Sequence[float], free_bound: float,
                  floor: float, sigma: float, freedom: int) -> bool:
    """Whether the frames ``at_low`` score below the frames ``at_z`` beyond the noise.

    Yes at once when the log of their ratio reaches ``free_bound`` (a relative bound) or
    ``at_low`` falls below the near-top cut (``NEAR_TOP`` of the height above ``floor``);
    else only with repeated frames (``freedom`` > 0) in a one-sided t-test.
    """
    peak, low = float(np.mean(at_z)), float(np.mean(at_low))
    height = peak - low
    if low <= 0 < peak or math.log(max(peak, TINY) / max(low, TINY)) >= free_bound:
        return True
    if height >= (1.0 - NEAR_TOP) * (peak - floor):
        return True
    error = mean_standard_error(sigma, len(at_z), len(at_low))
    return freedom > 0 and significant(height, error, freedom)


def confirms(score: float, best_other: float, fit: PeakFit) -> bool:
    """Whether a frame scoring ``score`` at the fitted peak shows what the fit predicts.

    Above the fit's floor it must reach ``CONFIRM_LOW`` of the best earlier sample and
    stay below ``CONFIRM_HIGH`` times the fitted height (a high floor, the background
    sharpness of a faint scene, would hide a frame far above a fit of a narrow peak's
    tails).
    """
    return (score - fit.floor >= CONFIRM_LOW * (best_other - fit.floor)
            and score - fit.floor <= CONFIRM_HIGH * (fit.height - fit.floor))


def verified(score: float, best: float, floor: float) -> bool:
    """Whether a last-chance frame reaches ``VERIFY_RATIO`` of the best sample above ``floor``."""
    return score - floor >= VERIFY_RATIO * (best - floor)


def new_top(score: float, best: float, floor: float) -> bool:
    """Whether a last-chance frame scoring ``score`` stands ``CONFIRM_HIGH`` times higher over
    ``floor`` than the best earlier sample: it found a top the run never refined around."""
    return score - floor > CONFIRM_HIGH * (best - floor)


def worst_relook(zs: Sequence[float], scores: Sequence[float]) -> Optional[Tuple[float, float, float]]:
    """The Z looked at again whose later score fell furthest below an earlier one there, as
    ``(z, earlier, later)``, over the looks whose earlier score lies in the top half of the
    scores' range (None if there is no such pair).

    The stage is asked for the same Z both times: a picture much less sharp the second time
    means the carriage did not come back to where it was (backlash larger than the overscan
    leaves it short after moves up, a motor that lost steps), so the curve the run fitted is
    not the curve at the Zs it names. Scores are brightness-corrected: a lamp's flicker or an
    exposure change does not make one.
    """
    zs, scores = np.asarray(zs, dtype=float), np.asarray(scores, dtype=float)
    if scores.size == 0:
        return None
    middle = 0.5 * (scores.min() + scores.max())
    worst: Optional[Tuple[float, float, float]] = None
    for later in range(1, scores.size):
        earlier = scores[:later][(zs[:later] == zs[later]) & (scores[:later] >= middle)]
        if earlier.size and (worst is None or scores[later] / earlier.max() < worst[2] / worst[1]):
            worst = (float(zs[later]), float(earlier.max()), float(scores[later]))
    return worst


def falls_away_to(scores: Sequence[float], end: int, floor: float = 0.0) -> bool:
    """Whether ``scores`` (in Z order) fall from their best to index ``end``: at each of the
    last ``WALL_FALL_STEPS`` steps into it, to the lowest score on the way and ``WALL_FALL``
    of the best's height over ``floor`` below it (a sensor's noise floor: a noisy camera's
    curve never falls far below its best in whole scores).

    Near the top a focus curve is flat, so noise may reorder neighbouring samples there; a
    curve turning up again towards ``end`` still fails."""
    values = np.asarray(scores, dtype=float)
    path = values[_way_from_best(values, end)]
    last = path[-WALL_FALL_STEPS - 1:]
    return bool(len(path) > WALL_FALL_STEPS and np.all(np.diff(last) < 0)
                and path[-1] <= min(path.min(), floor + (1.0 - WALL_FALL) * (path[0] - floor)))


def holds_level_to(zs: Sequence[float], scores: Sequence[float], end: int, noise: float,
                   span: float) -> bool:
    """Whether ``scores`` at ``zs`` (in Z order) hold level below their best into index
    ``end``: the last ``SHELF_POINTS`` on the way from the best lie ``span`` or more apart in
    Z and within ``noise`` of each other in logs, and the best stands above each of them by
    more than ``noise``.

    A blurred bump beside a level tail is no side lobe on the rising flank of a focus past
    ``end``: that flank would climb into it."""
    zs, values = np.asarray(zs, dtype=float), np.asarray(scores, dtype=float)
    way = _way_from_best(values, end)
    last, last_zs = np.log(np.maximum(values[way[-SHELF_POINTS:]], TINY)), zs[way[-SHELF_POINTS:]]
    # with fewer Zs past the best, the best is among the last: it stands above none of them
    return bool(abs(last_zs[-1] - last_zs[0]) >= span and np.ptp(last) < noise
                and math.log(max(values[way[0]], TINY)) - last.max() > noise)


def _way_from_best(values: np.ndarray, end: int) -> np.ndarray:
    """The indices from the best of ``values`` to index ``end``, in that order."""
    best = int(np.argmax(values))
    return np.arange(best, end + 1) if end > best else np.arange(best, end - 1, -1)


def clearly_interior(zs: Sequence[float], scores: Sequence[float], z: float, score: float) -> bool:
    """Whether samples on both sides of ``(z, score)`` score clearly (not just noise) lower.

    Clearly: below ``EDGE_FLAT`` of its height above the lowest score.
    """
    zs, scores = np.asarray(zs, dtype=float), np.asarray(scores, dtype=float)
    low = scores.min() + EDGE_FLAT * (score - scores.min())
    return bool(np.any((zs < z) & (scores < low)) and np.any((zs > z) & (scores < low)))


def levels_agree(scores: Sequence[float], combined_scores: Sequence[float]) -> bool:
    """Whether the combined curve's best sample is (nearly) the full-resolution best too."""
    scores = np.asarray(scores, dtype=float)
    floor = scores.min()
    chosen = scores[int(np.argmax(combined_scores))]
    return bool(chosen - floor >= CONFIRM_LOW * (scores.max() - floor))


def straddled(zs: np.ndarray, scores: np.ndarray, fit: PeakFit) -> bool:
    """Whether the top point (of points ascending in Z) has near-top neighbours on both
    sides, around the fit's peak.

    A fit whose strong points all lie on one side of the top extrapolates the other
    flank, which an asymmetric curve gets wrong.
    """
    top = int(np.argmax(scores))
    strong = np.flatnonzero(scores >= fit.floor + NEAR_TOP * (fit.height - fit.floor))
    return (bool(np.any(strong < top)) and bool(np.any(strong > top))
            and zs[strong.min()] < fit.z_peak < zs[strong.max()])


def drifting(order: Sequence[int], scores: Sequence[float]) -> bool:
    """Whether frames taken at one Z drift in time: their log scores, against their places
    ``order`` in the run (ascending), change by ``DRIFT_CHANGE`` and by ``DRIFT_T`` standard
    errors, as a steady drift (the slope of a line through them, over its residuals' noise)
    or as a step (the later half's mean against the earlier half's, the middle frame of an
    odd count left out, over the noise of successive frames); needs ``DRIFT_FRAMES`` frames.

    A lamp warming up, LED flicker beating with the frame rate or an auto-exposure hunting
    change the sharpness of frames at one Z over time; a run whose late frames gather at one
    Z then sees a peak that the time made, not the Z. The noise comes from successive
    frames (:func:`~.noise.neighbour_noise`), which a drift hardly moves.
    """
    if len(scores) < DRIFT_FRAMES:
        return False
    logs = log_scores(scores)
    times = np.asarray(order, dtype=float) - float(np.mean(order))
    spread = float((times * times).sum())
    span = float(np.ptp(times))
    slope = float((times * logs).sum()) / spread  # the times are centred
    steady = abs(slope) * span
    steady_error = neighbour_noise(logs - slope * times) * span / math.sqrt(spread)
    half = len(logs) // 2
    step = abs(float(logs[-half:].mean() - logs[:half].mean()))
    step_error = neighbour_noise(logs) * math.sqrt(2.0 / half)
    return any(change >= DRIFT_CHANGE and change > DRIFT_T * error
               for change, error in ((steady, steady_error), (step, step_error)))


def converged(zs: Sequence[float], fit: PeakFit, tolerance: float) -> bool:
    """Whether the samples (Zs) pin the fitted peak down closely enough to go and confirm it.

    Three samples near the top, R^2 >= ``MIN_R2``, and the nearest samples either side of
    the peak within ``CONVERGED_GAP_TOLERANCES`` tolerances and ``CONVERGED_GAP_WIDTH`` of
    the fitted width of each other.
    """
    if fit.strong < 3:
        return False
    ordered = np.sort(np.asarray(zs, dtype=float))
    below, above = ordered[ordered <= fit.z_peak], ordered[ordered >= fit.z_peak]
    if not below.size or not above.size:
        return False  # a peak fitted beyond the samples
    gap = above[0] - below[-1]
    return bool(gap <= min(CONVERGED_GAP_TOLERANCES * tolerance, CONVERGED_GAP_WIDTH * fit.fwhm)
                and fit.r2 >= MIN_R2)


def rising_into_edge(zs: Sequence[float], scores: Sequence[float],
                     combined_scores: Sequence[float], refined: Sequence[bool],
                     edges: Tuple[float, float]) -> Optional[float]:
    """The edge of ``edges`` the curve still rises into at the finest step taken, or None.

    Samples in measured order; ``refined`` marks the refinement samples. The edge nearer
    the best sample counts if a sample lies exactly on it and the combined curve does not
    peak further inside. If the edge sample and every sample between it and the best one
    (or its inward neighbour, when the edge is best) score within ``EDGE_FLAT`` of the best
    above the floor (or ``EDGE_FLAT_ABSOLUTE`` of its whole score), after at least one
    refinement sample there, the curve is flat at this resolution and still rising
    outwards: the focus lies beyond that edge.
    """
    order = np.argsort(list(zs), kind="stable")
    zs = np.asarray(zs, dtype=float)[order]
    scores = np.asarray(scores, dtype=float)[order]
    cs = np.asarray(combined_scores, dtype=float)[order]
    fine = np.asarray(refined, dtype=bool)[order]
    b = int(np.argmax(scores))
    edge = 0 if b < len(zs) / 2 else len(zs) - 1
    if zs[edge] not in edges:
        return None
    if abs(int(np.argmax(cs)) - edge) > abs(b - edge):
        return None  # the combined curve peaks further inside
    if b == edge:  # the edge itself is best: judge it with its inward neighbour
        b = 1 if edge == 0 else len(zs) - 2
    between = slice(min(edge, b), max(edge, b) + 1)
    floor, best = scores.min(), scores.max()
    flat = all(s - floor >= EDGE_FLAT * (best - floor) or s >= EDGE_FLAT_ABSOLUTE * best
               for s in scores[between])
    return float(zs[edge]) if flat and bool(np.any(fine[between])) else None


def worth_extending(end: float, rise: float, best: float) -> bool:
    """Whether a curve that scores ``end`` at an end of the range, and would rise by ``rise``
    more if it kept its slope for a while, may still reach ``best`` beyond that end."""
    return bool(end >= best or (rise > 0 and end + rise >= best))


def pinned(points: Points, z: float, reaches: Sequence[Optional[Tuple[float, float]]]) -> bool:
    """Whether ``points`` pin a peak at ``z`` down.

    ``reaches`` gives, below and above ``z``, the distances ``(near, far)`` in which some
    point must score lower than the point nearest ``z``; None skips a side (a hard bound
    leaves no room there). Distances count from the ends of the plateau that holds ``z``
    to the far end of each other point's plateau (one replayed slice is one point, however
    near); points closer than ``near`` say too little about the slope.
    """
    centre = int(np.argmin(np.abs(points.zs - z)))
    ends = (min(z, points.spans[centre, 0]), max(z, points.spans[centre, 1]))
    for side, reach, end in zip((-1.0, 1.0), reaches, ends):
        if reach is None:
            continue
        inner = side * (points.spans[:, 1 if side < 0 else 0] - end)
        outer = side * (points.spans[:, 0 if side < 0 else 1] - end)
        flank = (inner > 0) & (outer >= reach[0]) & (inner <= reach[1])
        if not np.any(points.scores[flank] < points.scores[centre]):
            return False
    return True


def half_height_bracket(zs: np.ndarray, scores: np.ndarray) -> float:
    """The Z distance between the nearest points either side of the best one that score
    below half its height above the lowest: an upper bound of the peak's full width at
    half height (inf when a side has none)."""
    best = int(np.argmax(scores))
    half = scores.min() + 0.5 * (scores[best] - scores.min())
    below = np.flatnonzero(scores[:best] < half)
    above = np.flatnonzero(scores[best + 1:] < half)
    if not below.size or not above.size:
        return math.inf
    return float(zs[best + 1 + above[0]] - zs[below[-1]])
