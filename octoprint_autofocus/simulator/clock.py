"""A simulated clock: time advances only when the rig says so, so runs are deterministic."""

__all__ = ["SimClock"]


class SimClock:
    """Simulated seconds since the rig was made.

    ``now()`` is a method so that ``rig.clock.now`` can be passed wherever a zero-argument
    clock such as ``time.monotonic`` is expected, and ``rig.clock.sleep`` where
    ``time.sleep`` is.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._t = float(start)

    def now(self) -> float:
        """The current simulated time in seconds."""
        return self._t

    def sleep(self, dt: float) -> None:
        """Advance the clock by ``dt`` seconds (negative values are ignored, like a no-op sleep)."""
        if dt > 0:
            self._t += float(dt)

    def advance_to(self, t: float) -> None:
        """Move the clock forward to ``t``; a time in the past leaves it unchanged."""
        self._t = max(self._t, float(t))
