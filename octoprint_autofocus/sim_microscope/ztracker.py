"""Follow the printer's head (Z, and X/Y for the focal surface) from the G-code OctoPrint
sends, including the time each move takes.

The model, fed one sent line at a time (:meth:`ZTracker.on_sent`):

- ``G0``/``G1`` with ``X``/``Y``/``Z``/``F`` are moves. ``G90``/``G91`` switch absolute and
  relative coordinates, ``G20``/``G21`` inches and millimetres (``F`` included), ``F`` is
  remembered between moves (``default_feedrate`` until the first one).
- Moves run one after another: a move starts at ``max(sent time, end of the previous move)``
  and lasts ``time_factor * distance / (F / 60)`` seconds, where ``distance`` is the largest
  per-axis distance (X, Y, Z), as OctoPrint's virtual printer counts it. The default
  ``time_factor`` 0.1 matches the virtual printer, which runs moves at 10x real speed; with
  ``instant_down`` (default, also the virtual printer's behaviour) an axis moving toward
  negative coordinates counts as taking no time. Use ``time_factor=1, instant_down=False``
  for a real printer.
- ``G92 Z<v>`` renames the position at the end of the queue ``v`` without moving the optics;
  ``G28`` (all axes, or with ``Z``) sends the optics to the physical zero at the end of the
  queue, at once, and clears the G92 offset.
- :meth:`ZTracker.z_at` answers the *physical* Z of the optics at a time, interpolated
  linearly inside a move, so a frame captured mid-move shows an in-between Z;
  :meth:`ZTracker.xy_at` the physical X/Y the same way (``G92 X/Y`` rename positions,
  ``G28`` homes X/Y to 0), so the simulated microscope knows which part of a focal
  surface lies under the camera.
- Backlash is a dead band of width ``backlash`` (the simulator's model): the optics stay put
  while ``command - backlash <= optics <= command``, so moving up they lag ``backlash``
  behind the command and moving down they follow it exactly.

Everything is cheap and lock-protected: ``on_sent`` runs on OctoPrint's comm thread and
``z_at`` on render threads.
"""

import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Deque, Dict, Optional, Set, Tuple

__all__ = ["ZTracker"]

_WORD = re.compile(r"([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))")
_AXIS_LETTERS = re.compile(r"[XYZ]")
_COMMENT = re.compile(r"\([^)]*\)|;.*$")
_AXES = ("X", "Y", "Z")
INCH = 25.4
HISTORY_S = 10.0
"""Moves that ended longer ago than this are forgotten (frames are never that late)."""


@dataclass(frozen=True)
class _Segment:
    """One move of the commanded Z (physical mm) over ``[start, end]``; ``optics`` at start;
    ``xy_from``/``xy_to`` the physical X/Y at its ends."""

    start: float
    end: float
    z_from: float
    z_to: float
    optics: float
    xy_from: Tuple[float, float] = (0.0, 0.0)
    xy_to: Tuple[float, float] = (0.0, 0.0)

    def fraction_at(self, t: float) -> float:
        if t >= self.end or self.end <= self.start:
            return 1.0
        return max(t - self.start, 0.0) / (self.end - self.start)

    def commanded_at(self, t: float) -> float:
        return self.z_from + (self.z_to - self.z_from) * self.fraction_at(t)

    def xy_at(self, t: float) -> Tuple[float, float]:
        f = self.fraction_at(t)
        return tuple(a + (b - a) * f for a, b in zip(self.xy_from, self.xy_to))


def _parse_words(line: str) -> Dict[str, float]:
    """``"G1 Z5 F300"`` -> ``{"G": 1.0, "Z": 5.0, "F": 300.0}`` (first occurrence wins)."""
    words: Dict[str, float] = {}
    for letter, value in _WORD.findall(line):
        words.setdefault(letter, float(value))
    return words


def _play(optics: float, command: float, backlash: float) -> float:
    """Where the optics end up when the command reaches ``command`` (dead band ``backlash``)."""
    return min(max(optics, command - backlash), command)


class ZTracker:
    """Physical Z of the optics over time, followed from sent G-code (see the module doc)."""

    def __init__(
        self,
        start_z: float = 0.0,
        default_feedrate: float = 200.0,
        time_factor: float = 0.1,
        instant_down: bool = True,
        backlash: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if default_feedrate <= 0 or time_factor < 0 or backlash < 0:
            raise ValueError("default_feedrate must be > 0, time_factor and backlash >= 0")
        self.time_factor = float(time_factor)
        self.instant_down = bool(instant_down)
        self.backlash = float(backlash)
        self.clock = clock
        self._lock = threading.Lock()
        self._default_feedrate = float(default_feedrate)
        self.reset(start_z)

    def reset(self, z: float = 0.0) -> None:
        """Forget everything: optics at rest at ``z``, absolute mm, default feedrate, no G92.

        For a fresh printer connection (the virtual printer starts again at Z 0).
        """
        now = self.clock()
        with self._lock:
            self._relative = False
            self._unit = 1.0
            self._feedrate = self._default_feedrate
            self._offset = 0.0  # logical (G92) coordinate minus physical
            self._xy = {"X": 0.0, "Y": 0.0}  # physical
            self._xy_offset = {"X": 0.0, "Y": 0.0}  # logical minus physical
            self._segments: Deque[_Segment] = deque([_Segment(now, now, float(z), float(z), float(z))])

    # ~~ feeding

    def on_sent(self, line: str) -> None:
        """Account for one G-code line as sent to the printer; other lines are ignored."""
        code = _COMMENT.sub("", line).strip().upper()
        if code.startswith("N"):
            code = code.split(None, 1)[-1]
        if not code.startswith("G"):
            return
        code = code.split("*", 1)[0]
        words = _parse_words(code)
        with self._lock:
            self._apply(words.get("G"), words, code)

    def _apply(self, command: Optional[float], words: Dict[str, float], code: str) -> None:
        if command in (0.0, 1.0):
            self._move(words)
        elif command == 90.0:
            self._relative = False
        elif command == 91.0:
            self._relative = True
        elif command == 20.0:
            self._unit = INCH
        elif command == 21.0:
            self._unit = 1.0
        elif command == 92.0:
            self._set_position(words)
        elif command == 28.0:
            self._home(set(_AXIS_LETTERS.findall(code)))

    def _move(self, words: Dict[str, float]) -> None:
        if "F" in words and words["F"] > 0:
            self._feedrate = words["F"] * self._unit
        last = self._segments[-1]
        targets = {}
        current = {axis: self._xy[axis] + self._xy_offset[axis] for axis in ("X", "Y")}
        current["Z"] = last.z_to + self._offset
        for axis in _AXES:
            if axis in words:
                value = words[axis] * self._unit
                targets[axis] = current[axis] + value if self._relative else value
        if not targets:
            return
        deltas = [targets[axis] - current[axis] for axis in targets]
        if self.instant_down:
            deltas = [max(delta, 0.0) for delta in deltas]
        distance = max(abs(delta) for delta in deltas)
        duration = self.time_factor * distance / (self._feedrate / 60.0)
        xy_from = (self._xy["X"], self._xy["Y"])
        self._xy.update({axis: targets[axis] - self._xy_offset[axis] for axis in ("X", "Y") if axis in targets})
        z_to = targets.get("Z", current["Z"]) - self._offset
        self._append(last.z_to, z_to, duration, xy_from)

    def _set_position(self, words: Dict[str, float]) -> None:
        bare = not any(axis in words for axis in ("X", "Y", "Z", "E"))
        for axis in ("X", "Y"):
            if axis in words or bare:
                self._xy_offset[axis] = words.get(axis, 0.0) * self._unit - self._xy[axis]
        if "Z" in words or not any(axis in words for axis in ("X", "Y", "E")):
            self._offset = words.get("Z", 0.0) * self._unit - self._segments[-1].z_to

    def _home(self, axes: Set[str]) -> None:
        homes_all = not axes
        xy_from = (self._xy["X"], self._xy["Y"])
        for axis in ("X", "Y"):
            if homes_all or axis in axes:
                self._xy[axis] = 0.0
                self._xy_offset[axis] = 0.0
        if homes_all or "Z" in axes:
            self._offset = 0.0
            self._append(0.0, 0.0, 0.0, xy_from)
        else:
            z = self._segments[-1].z_to
            self._append(z, z, 0.0, xy_from)

    def _append(self, z_from: float, z_to: float, duration: float, xy_from: Tuple[float, float]) -> None:
        now = self.clock()
        last = self._segments[-1]
        start = max(now, last.end)
        optics = _play(last.optics, last.z_to, self.backlash)
        xy_to = (self._xy["X"], self._xy["Y"])
        self._segments.append(_Segment(start, start + duration, z_from, z_to, optics, xy_from, xy_to))
        while len(self._segments) > 1 and self._segments[1].end < now - HISTORY_S:
            self._segments.popleft()

    # ~~ reading

    def _segment_at(self, t: float) -> _Segment:
        with self._lock:
            segment = self._segments[0]
            for candidate in self._segments:
                if candidate.start > t:
                    break
                segment = candidate
        return segment

    def z_at(self, t: float) -> float:
        """Physical Z of the optics (mm) at clock time ``t``."""
        segment = self._segment_at(t)
        return _play(segment.optics, segment.commanded_at(t), self.backlash)

    def xy_at(self, t: float) -> Tuple[float, float]:
        """Physical X and Y of the head (mm) at clock time ``t``."""
        return self._segment_at(t).xy_at(t)

    def z_now(self) -> float:
        """Physical Z of the optics (mm) now."""
        return self.z_at(self.clock())

    def position(self) -> float:
        """Logical Z (printer coordinates, G92 applied) at the end of the queued moves."""
        with self._lock:
            return self._segments[-1].z_to + self._offset
