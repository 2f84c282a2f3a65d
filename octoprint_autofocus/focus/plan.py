"""Where the search goes and how it gets there: the coarse grid, the next refinement Z, the
tolerance, and the one motion choke point.

Refinement (:func:`propose`): successive parabolic interpolation on ``1 / combined score``
through the best point and its neighbours (a Lorentzian focus curve is exactly such a
parabola, so the guess is good even from the tails), safeguarded by golden-section steps
and kept half a tolerance away from earlier samples.

Backlash: a lead screw that reverses leaves the carriage a little behind the command, so
two visits to the same Z from opposite sides see different images. :class:`Motion`
therefore arrives at every scored Z from the same side (``approach="above"``: moving
down). When the next target lies on the wrong side it first overshoots past the target
by ``overscan`` and comes back. The overshoot never leaves ``[z_min, z_max]``: near the
edge on the approach side it shrinks to what is left of the range, and a target exactly
at that edge (``z_max`` for ``"above"``) can only be reached from the other side. There the
carriage may stay held back by the backlash, short of the target (:attr:`Motion.held`): a
target within the backlash of that edge cannot be reached exactly at all.
"""

import math
from typing import Callable, List, Optional

import numpy as np

from .curve import Points, combined, union
from .devices import ZStage
from .errors import Cancelled, StageError
from .fit import vertex_of_three

__all__ = ["APPROACHES", "Motion", "coarse_grid", "propose", "derived_tolerance"]

APPROACHES = {"above": 1, "below": -1}
"""Approach name -> the side (+1 above, -1 below) from which every target is reached."""

GOLDEN = 0.381966
"""The golden-section step: the share of the wider bracket side a fallback step goes."""
SPACING = 0.5
"""A new refinement Z keeps this many tolerances away from every earlier sample..."""
BRACKET_PER_SPACING = 8.0
"""... or, before the peak's width is known, at most 1/this of the bracket it falls in, but not
less than ``SPACING`` finest derived tolerances (``MIN_TOLERANCE_SHARE`` of the span the points
cover)."""
SPACING_SLACK = 0.999
"""The keep-out zones shrink by this factor, so a Z exactly at their edge is allowed."""
WIDTH_PER_TOLERANCE = 4.0
"""A derived tolerance is the peak's full width at half height over this..."""
MIN_TOLERANCE_SHARE = 1e-4
"""... at least this share of the searched span..."""
SPAN_PER_TOLERANCE = 8.0
"""... and the span over this while the width is unknown."""
ROUNDING = 1e-9
"""A travel this share short of the overscan is the full overscan (``z + overscan`` rounds)."""


def coarse_grid(z_min: float, z_max: float, points: int, start_z: float) -> List[float]:
    """``points`` evenly spaced Zs from ``z_min`` to ``z_max`` inclusive, nearer end first.

    Starting at the end nearer ``start_z`` saves a trip across the range, and an early
    stop once the peak is behind the sweep saves the rest of it.
    """
    step = (z_max - z_min) / (points - 1)
    grid = [z_min + i * step for i in range(points - 1)] + [z_max]
    return grid if start_z - z_min <= z_max - start_z else grid[::-1]


class Motion:
    """The only code that moves the stage: limits, approach side, overscan, settle, counts.

    ``checkpoint`` is called before every move (it raises to cancel). A
    :class:`~.errors.Cancelled` from the stage (cancelled while it waited for the move's
    confirmation) passes through as it is; any other device exception becomes a
    :class:`~.errors.StageError`. A target outside ``[z_min, z_max]`` is a bug in the
    plan and raises :class:`AssertionError` before the stage is asked, instead of being
    clipped.
    """

    def __init__(
        self,
        stage: ZStage,
        z_min: float,
        z_max: float,
        approach: str,
        overscan: float,
        settle: float,
        sleep: Callable[[float], None],
        checkpoint: Callable[[], None],
    ) -> None:
        self.stage = stage
        self.z_min = z_min
        self.z_max = z_max
        self.side = APPROACHES[approach]
        self.overscan = overscan
        self.settle = settle
        self.sleep = sleep
        self.checkpoint = checkpoint
        self.position = float(stage.position())
        self.moves = 0
        self.travel = 0.0
        self._last_direction = 0  # +1 up, -1 down, 0 unknown
        self._away_end: Optional[float] = None  # where the last move away from the approach side ended

    def arrive(self, z: float) -> None:
        """Bring the stage to ``z`` moving towards the approach side, then settle."""
        arriving = -self.side  # direction of the final move: down when approaching from above
        distance = z - self.position
        direct = (
            distance * arriving > 0
            and (self._last_direction == arriving or abs(distance) >= self.overscan)
        ) or (distance == 0 and self._last_direction == arriving)
        if not direct:
            pre = min(max(z + self.side * self.overscan, self.z_min), self.z_max)
            if pre != z:
                self._move(pre)
        if self.position != z:
            self._move(z)
        if self.settle > 0:
            self.sleep(self.settle)

    @property
    def held(self) -> bool:
        """Whether backlash may still hold the carriage short of the last target: the final
        travel towards the approach side, since the last move away from it, was shorter
        than ``overscan`` (the overshoot was cut by the range's end)."""
        travel = self.side * (self._away_end - self.position) if self._away_end is not None else math.inf
        return travel < (1.0 - ROUNDING) * self.overscan

    def _move(self, z: float) -> None:
        """One absolute move, checked against the range, counted."""
        if not self.z_min <= z <= self.z_max:
            raise AssertionError(f"bug: planned Z{z} outside [{self.z_min}, {self.z_max}]")
        self.checkpoint()
        try:
            self.stage.move_to(z)
        except (StageError, Cancelled):  # a cancel that stopped the wait for the move stays a cancel
            raise
        except Exception as exc:  # a device's own exception type: report, don't crash
            raise StageError(f"stage failed to move to Z{z}: {exc!r}") from exc
        if z != self.position:
            self._last_direction = 1 if z > self.position else -1
            if self._last_direction == self.side:
                self._away_end = z
        self.travel += abs(z - self.position)
        self.position = z
        self.moves += 1


def derived_tolerance(width: float, span: float) -> float:
    """The final precision (mm) when none is given: a quarter of the peak's full ``width``
    at half height, at least ``span * 1e-4``; ``span / 8`` while the width is unknown (not
    finite). A narrow window around a predicted focus does not make it finer."""
    if not math.isfinite(width):
        return span / SPAN_PER_TOLERANCE
    return max(width / WIDTH_PER_TOLERANCE, span * MIN_TOLERANCE_SHARE)


def propose(points: Points, tolerance: float, width_known: bool) -> Optional[float]:
    """The next refinement Z: the 3-point parabola's vertex, or a golden-section step.

    Around the best point of the combined curve (at an end: its two nearest points), kept
    clear of the known points (see :func:`_spaced`). None when there is no room left.

    Before the width is known the spacing shrinks with the bracket, but never below what the
    finest derived tolerance asks for: on a flat top (frames drifting in time, one slice of a
    replayed stack) the bracket would otherwise draw every new sample closer to one Z.
    """
    zs, spans = points.zs, points.spans
    if len(zs) < 2:
        return None
    cs = combined(points.levels)
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
        vertex = zs[b] - GOLDEN * (zs[b] - lo) if wide_left else zs[b] + GOLDEN * (hi - zs[b])
    gap = SPACING * tolerance
    if not width_known:  # no reliable width yet: bracket-relative, down to the finest spacing
        finest = SPACING * MIN_TOLERANCE_SHARE * (zs[-1] - zs[0])
        gap = min(gap, max((hi - lo) / BRACKET_PER_SPACING, finest))
    return _spaced(float(vertex), spans, lo, hi, gap)


def _spaced(z: float, spans: np.ndarray, lo: float, hi: float, gap: float) -> Optional[float]:
    """``z``, or the nearest Z in ``[lo, hi]`` clear of the known points; None if none.

    A point is clear when it is ``gap`` from every sample, and from every plateau (Zs
    known to show the same image) as a whole.
    """
    for start, end in union(spans[:, 0] - SPACING_SLACK * gap, spans[:, 1] + SPACING_SLACK * gap):
        if start < z < end:
            inside = [c for c in (start, end) if lo <= c <= hi]
            return float(min(inside, key=lambda c: abs(c - z))) if inside else None
    return z
