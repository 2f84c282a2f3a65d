"""Where the search goes and how it gets there: the coarse grid and the one motion choke point.

Backlash: a lead screw that reverses leaves the carriage a little behind the command, so
two visits to the same Z from opposite sides see different images. :class:`Motion`
therefore arrives at every scored Z from the same side (``approach="above"``: moving
down). When the next target lies on the wrong side it first overshoots past the target
by ``overscan`` and comes back. The overshoot never leaves ``[z_min, z_max]``: near the
edge on the approach side it shrinks to what is left of the range, and a target exactly
at that edge (``z_max`` for ``"above"``) can only be reached from the other side.
"""

from typing import Callable, List

from .devices import ZStage
from .errors import StageError

__all__ = ["APPROACHES", "Motion", "coarse_grid"]

APPROACHES = {"above": 1, "below": -1}
"""Approach name -> the side (+1 above, -1 below) from which every target is reached."""


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

    ``checkpoint`` is called before every move (it raises to cancel). A target outside
    ``[z_min, z_max]`` is a bug in the plan and raises :class:`AssertionError` before the
    stage is asked, instead of being clipped.
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

    def _move(self, z: float) -> None:
        """One absolute move, checked against the range, counted."""
        if not self.z_min <= z <= self.z_max:
            raise AssertionError(f"bug: planned Z{z} outside [{self.z_min}, {self.z_max}]")
        self.checkpoint()
        try:
            self.stage.move_to(z)
        except StageError:
            raise
        except Exception as exc:  # a device's own exception type: report, don't crash
            raise StageError(f"stage failed to move to Z{z}: {exc!r}") from exc
        if z != self.position:
            self._last_direction = 1 if z > self.position else -1
        self.travel += abs(z - self.position)
        self.position = z
        self.moves += 1
