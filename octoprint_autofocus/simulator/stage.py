"""A simulated Z stage with travel time, backlash, hard limits and injected failures."""

from collections import deque
from typing import Deque, List, Optional, Tuple

from ..focus.errors import MoveRefused, StageError
from .clock import SimClock

__all__ = ["SimStage"]


class SimStage:
    """A :class:`~octoprint_autofocus.focus.devices.ZStage` that moves in simulated time.

    ``position()`` is the commanded Z (what a printer believes); ``actual_z`` is where the
    optics really are. Backlash is a dead band of width ``backlash``: the carriage stays
    wherever it is as long as ``command - backlash <= actual_z <= command``. So a move up
    leaves the carriage ``backlash`` below the command (it lags), a move down makes it
    follow the command exactly, and a small reversal inside the band does not move it.
    Approaching a Z from below therefore lands ``backlash`` lower than from above.

    A target outside ``z_limits`` is refused with :class:`MoveRefused` and recorded in
    ``violations``; nothing is clipped. ``commanded`` lists every target asked for
    (refused ones included), ``moves`` counts moves performed and ``travel`` sums their
    commanded distance. Each move costs ``overhead + distance / speed + settle`` seconds
    on the clock; the optics glide linearly during the ``distance / speed`` part, and
    :meth:`actual_z_at` tells where they were at any recent time (for a lagging camera).
    With ``fail_after=N`` the first N moves work and every later one raises
    :class:`StageError` (a dead axis), without moving.
    """

    def __init__(
        self,
        clock: SimClock,
        z_limits: Tuple[float, float] = (0.0, 10.0),
        start_z: float = 5.0,
        backlash: float = 0.0,
        speed: float = 5.0,
        overhead: float = 0.05,
        settle: float = 0.0,
        fail_after: Optional[int] = None,
    ) -> None:
        lo, hi = float(z_limits[0]), float(z_limits[1])
        if not lo < hi:
            raise ValueError(f"z_limits must be (low, high) with low < high, got {z_limits!r}")
        if not lo <= start_z <= hi:
            raise ValueError(f"start_z {start_z} is outside z_limits {z_limits!r}")
        if backlash < 0 or speed <= 0:
            raise ValueError("backlash must be >= 0 and speed > 0")
        self.clock = clock
        self.z_limits = (lo, hi)
        self.backlash = float(backlash)
        self.speed = float(speed)
        self.overhead = float(overhead)
        self.settle = float(settle)
        self.fail_after = fail_after
        self.actual_z = float(start_z)
        self.commanded: List[float] = []
        self.violations: List[float] = []
        self.moves = 0
        self.travel = 0.0
        self._z = float(start_z)
        self._path: Deque[Tuple[float, float, float, float]] = deque(maxlen=256)

    def position(self) -> float:
        """The commanded Z in mm."""
        return self._z

    def move_to(self, z: float) -> None:
        """Move to absolute ``z`` (mm), advancing the clock by the move time."""
        z = float(z)
        self.commanded.append(z)
        lo, hi = self.z_limits
        if not lo <= z <= hi:
            self.violations.append(z)
            raise MoveRefused(f"refusing Z{z:.4f}: outside the stage limits [{lo}, {hi}]")
        if self.fail_after is not None and self.moves >= self.fail_after:
            raise StageError(f"simulated stage failure after {self.fail_after} moves")
        distance = abs(z - self._z)
        start = self.clock.now() + self.overhead
        arrival = start + distance / self.speed
        settled = min(max(self.actual_z, z - self.backlash), z)
        self._path.append((start, self.actual_z, arrival, settled))
        self.clock.advance_to(arrival + self.settle)
        self._z = z
        self.actual_z = settled
        self.moves += 1
        self.travel += distance

    def actual_z_at(self, t: float) -> float:
        """Where the optics were at simulated time ``t`` (the last 256 moves are kept)."""
        for start, z_from, arrival, z_to in reversed(self._path):
            if t >= arrival:
                return z_to
            if t >= start:
                return z_from + (z_to - z_from) * (t - start) / (arrival - start)
        return self._path[0][1] if self._path else self.actual_z
