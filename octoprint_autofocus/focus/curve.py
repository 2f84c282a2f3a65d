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

__all__ = ["PLATEAU_REL", "Points", "combined", "merge_plateaus", "union"]

PLATEAU_REL = 1e-6
"""Neighbouring samples whose full-resolution scores differ by less than this share match."""


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


def union(starts: np.ndarray, ends: np.ndarray) -> List[Tuple[float, float]]:
    """The union of the intervals ``(starts[i], ends[i])`` as disjoint sorted intervals."""
    merged: List[Tuple[float, float]] = []
    for start, end in sorted(zip(starts.tolist(), ends.tolist())):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
