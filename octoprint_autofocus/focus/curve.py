"""The focus curve as the search sees it: samples ordered by Z, plateaus merged, levels combined.

A camera replaying a recorded focus stack returns one slice between slice positions, so
neighbouring samples can show the very same image: they are merged into one point at
their mean Z (with the span of Zs it covers), so a plateau does not pose as a peak.

The pyramid levels of a sample (:mod:`.sampling`) are combined into one curve with long
tails and a sharp top: far from focus only the coarse levels change, near it the full
resolution dominates.
"""

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

from .fit import TINY

__all__ = ["HELD_SHARE", "PLATEAU_REL", "Points", "combined", "merge_held_end", "merge_plateaus", "union"]

PLATEAU_REL = 1e-6
"""Neighbouring samples whose full-resolution scores differ by less than this share match."""
HELD_SHARE = 0.02
"""Points at a held end (:func:`merge_held_end`) scoring within this share of the end point's
score show the same image."""


@dataclass(frozen=True)
class Points:
    """The curve's points, ascending in Z: mean Z, per-level scores and Z span of each."""

    zs: np.ndarray
    levels: np.ndarray
    spans: np.ndarray

    @property
    def scores(self) -> np.ndarray:
        """The full-resolution score of each point."""
        return self.levels[:, 0]

    def __len__(self) -> int:
        return len(self.zs)


def combined(levels: np.ndarray) -> np.ndarray:
    """Per row of per-level scores: the mean over levels of score / that level's maximum.

    Far from focus only the coarse levels change; near it the full resolution dominates
    the change: one curve with long tails and a sharp top, all peaking at focus.
    """
    return np.mean(levels / np.maximum(levels.max(axis=0), TINY), axis=1)


def merge_plateaus(zs: Sequence[float], levels: Sequence[Sequence[float]]) -> Points:
    """Samples (in any order) as :class:`Points`: sorted by Z, plateaus merged.

    Neighbours in Z whose full-resolution scores match within ``PLATEAU_REL`` saw the
    same image: they count as one point at their mean Z and mean levels. Zero scores
    never merge (a black frame says nothing about which image it was).
    """
    order = np.argsort(list(zs), kind="stable")
    zs = np.array([zs[i] for i in order])
    levels = np.array([levels[i] for i in order])
    groups = [[0]]
    for i in range(1, len(zs)):
        previous = levels[groups[-1][-1], 0]
        if previous > 0 and abs(levels[i, 0] - previous) <= PLATEAU_REL * previous:
            groups[-1].append(i)
        else:
            groups.append([i])
    return Points(np.array([zs[g].mean() for g in groups]),
                  np.array([levels[g].mean(axis=0) for g in groups]),
                  np.array([(zs[g].min(), zs[g].max()) for g in groups]))


def merge_held_end(points: Points, held_zs: Sequence[float], side: int) -> Points:
    """``points`` with the run of held points at the approach-side end (``side`` +1: the
    top) merged into one, placed at the run's inner end.

    Backlash can hold the carriage short of a target the stage could not overshoot (the
    range ends there): every target within the backlash of that end then shows the same
    image, of a Z at most as far out as the innermost of them. So the end point, if any of
    its Zs was held (``held_zs``), and the held points next to it that score within
    ``HELD_SHARE`` of it on every level (one image scores the same at every scale; a
    reduced level that differs shows another Z, whatever the noisier full resolution says)
    count as one point at the inner end of their span.
    """
    held_zs = np.asarray(held_zs, dtype=float)
    order = np.arange(len(points))[::-side]  # from the approach-side end inwards
    count = 0
    for i in order:
        lo, hi = points.spans[i]
        if not np.any((lo <= held_zs) & (held_zs <= hi)):
            break
        end = points.levels[order[0]]
        if np.any(np.abs(points.levels[i] - end) > HELD_SHARE * end):
            break
        count += 1
    if count < 2:
        return points
    group = np.sort(order[:count])
    keep = np.setdiff1d(np.arange(len(points)), group)
    span = (points.spans[group, 0].min(), points.spans[group, 1].max())
    z = span[0] if side > 0 else span[1]
    at = int(np.searchsorted(points.zs[keep], z))
    return Points(np.insert(points.zs[keep], at, z),
                  np.insert(points.levels[keep], at, points.levels[group].mean(axis=0), axis=0),
                  np.insert(points.spans[keep], at, span, axis=0))


def union(starts: np.ndarray, ends: np.ndarray) -> List[Tuple[float, float]]:
    """The union of the intervals ``(starts[i], ends[i])`` as disjoint sorted intervals."""
    merged: List[Tuple[float, float]] = []
    for start, end in sorted(zip(starts.tolist(), ends.tolist())):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
