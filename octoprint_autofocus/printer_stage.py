"""PrinterStage: a focus-library ZStage over OctoPrint's printer connection.

This is the only place in the plugin that writes G-code to the printer: focus moves, the
custom G-code sent before and after a run, and the ``G92`` of homing by focus all pass
one check (:meth:`PrinterStage._write`, using :mod:`.gcode_safety`) against the stage's
Z limits, and nothing goes out once the run is cancelled or the stage aborted. OctoPrint's
``printer.commands()`` only queues lines, so every move is followed by ``M400`` (wait
for the planner to drain) and ``M114`` (report the position); the move counts as done
only when that position reply has arrived and matches the target. The reply lines come
in from OctoPrint's comm thread through :meth:`PrinterStage.feed_line`.
"""

import itertools
import logging
import re
import threading
import time
from typing import Callable, Collection, Dict, FrozenSet, List, Optional, Protocol, Sequence

from flask_babel import gettext

from .focus.errors import Cancelled, MoveRefused, StageError, StageTimeout
from .gcode_safety import GcodeRefused, check_lines, check_move_lines, check_move_template, render_move_template

__all__ = ["PrinterStage", "parse_m114", "parse_position"]

DEFAULT_MOVE_TEMPLATE = "G1 Z{z:.3f} F{feedrate}"
DEFAULT_TAGS = frozenset({"plugin:autofocus"})
TRAVEL_MARGIN = 2.0
"""A move may take this many times its nominal travel time (acceleration, slow firmware)."""
WAIT_SLICE = 0.05
"""How often (s) a waiting move looks at its cancel event."""

_STAGE_IDS = itertools.count(1)
_FLOAT = r"[-+]?(?:\d+\.?\d*|\.\d+)"
_POSITION_PREFIX = re.compile(r"^(?:ok\b\s*)?(?:C:\s*)?(?://\s*)?")
_AXES = re.compile(rf"(?:[A-Z]\d*:\s*{_FLOAT}\s*)+")
_AXIS = re.compile(rf"([A-Z]\d*):\s*({_FLOAT})")
_MOVES = frozenset({"G0", "G1", "G2", "G3"})


class Printer(Protocol):
    """The part of OctoPrint's ``PrinterInterface`` this module uses."""

    def commands(self, commands: List[str], tags: Optional[FrozenSet[str]] = None) -> None: ...

    def is_operational(self) -> bool: ...


def parse_m114(line: str) -> Optional[float]:
    """Return the Z of a position report line, or None if the line is not one (see
    :func:`parse_position`)."""
    position = parse_position(line)
    return None if position is None else position["Z"]


def parse_position(line: str) -> Optional[Dict[str, float]]:
    """Return the axes of a position report line (``{"X": .., "Y": .., "Z": ..}``, at least
    Z), or None if the line is not one.

    Accepts Marlin (``X:0.00 Y:0.00 Z:10.00 E:0.00 Count X:0 Y:0 Z:4000``; everything
    from ``Count`` on is stepper counts and ignored), ``ok X:.. Y:.. Z:..`` (OctoPrint's
    virtual printer, ``ok`` first), Smoothieware's ``ok C: X:..``, Klipper's
    ``// X:..`` echo and RepRapFirmware's ``E0:``/``Machine`` variants. The line must
    start with axis words, so temperature reports and ``Bed X: .. Z: ..`` probe results
    are not mistaken for positions.
    """
    if "Z" not in line:
        return None
    text = _POSITION_PREFIX.sub("", line.strip(), count=1)
    text = text.split("Count", 1)[0]
    words = _AXES.match(text)
    if words is None:
        return None
    axes = {axis: float(value) for axis, value in _AXIS.findall(words.group(0))}
    return axes if "Z" in axes else None


class PrinterStage:
    """A ZStage that moves the printer through OctoPrint and waits for confirmation.

    ``move_to(z)`` refuses targets outside ``[z_min, z_max]`` (it never clips), renders
    the move template (checked by what it renders, :func:`.gcode_safety.check_move_template`),
    sends ``G90`` when the batch holds a G0/G1 move (buffered moves read the positioning
    mode when they run, so the mode must be absolute), the move, ``M400`` and ``M114``,
    then blocks until the position reply arrives. When the template moves the printer's
    Z the reported Z must be within ``tolerance`` of the target; templates that drive
    another actuator (``M280 P0 S{z:.0f}``) skip that check.

    :meth:`send` writes custom G-code and :meth:`set_position` the ``G92`` of homing by
    focus; every line of every batch passes :func:`.gcode_safety.check_lines` against the
    limits first, and nothing is written once ``cancel`` is set or :meth:`abort` was called.

    The time allowed per move is ``timeout`` plus twice the travel time at ``feedrate``
    (mm/min; a whole number is rendered without decimals, ``F600``). A set ``cancel``
    event or :meth:`abort` wakes a waiting move within ``WAIT_SLICE`` seconds.

    Call :meth:`feed_line` with every line received from the printer (the
    ``octoprint.comm.protocol.gcode.received`` hook) and :meth:`note_sending` with every
    line about to be written (``...gcode.sending``); both are cheap and never block. The
    answer to a request is the first position line after its ``M114`` (recognised by a
    per-request tag) went out, which OctoPrint does only after ``M400``'s ``ok``, so a
    position auto-reported (``M154``) during the move is never taken as the answer, and a
    late reply to an earlier request never answers a later one.
    """

    def __init__(
        self,
        printer: Printer,
        *,
        z_min: float,
        z_max: float,
        feedrate: float,
        move_template: str = DEFAULT_MOVE_TEMPLATE,
        tolerance: float = 0.01,
        timeout: float = 10.0,
        cancel: Optional[threading.Event] = None,
        tags: FrozenSet[str] = DEFAULT_TAGS,
        logger: Optional[logging.Logger] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not z_min < z_max:
            raise ValueError(f"z_min ({z_min}) must be below z_max ({z_max})")
        if feedrate <= 0:
            raise ValueError(f"feedrate must be positive, got {feedrate}")
        if tolerance < 0 or timeout <= 0:
            raise ValueError(f"need tolerance >= 0 and timeout > 0, got {tolerance}, {timeout}")
        self.z_min = float(z_min)
        self.z_max = float(z_max)
        self.feedrate = int(feedrate) if float(feedrate).is_integer() else float(feedrate)
        self._checks_z = check_move_template(move_template, self.feedrate, (self.z_min, self.z_max))
        self.move_template = move_template
        self.tolerance = float(tolerance)
        self.timeout = float(timeout)
        self.tags = frozenset(tags)
        self.own_tag = f"plugin:autofocus:stage-{next(_STAGE_IDS)}"
        """Every line this stage writes carries this tag (and its M114 requests a numbered one)."""
        self._printer = printer
        self._cancel = cancel
        self._logger = logger or logging.getLogger("octoprint.plugins.autofocus.stage")
        self._clock = clock
        self._move_lock = threading.Lock()
        self._replies = threading.Condition()
        self._requested = 0  # tickets handed out, one per M114 queued
        self._in_flight = 0  # the ticket whose M114 went out last
        self._answer_ticket = 0
        self._answer: Dict[str, float] = {}
        self._abort_reason: Optional[str] = None
        self._last_z: Optional[float] = None

    # ~ ZStage

    def move_to(self, z: float) -> None:
        """Move to absolute ``z`` and return once the printer has confirmed it."""
        z = float(z)
        if z > self.z_max:
            raise MoveRefused(
                gettext("refusing Z%(z).2f: above ceiling %(ceiling).2f")
                % {"z": z, "ceiling": self.z_max}
            )
        if not z >= self.z_min:  # also refuses NaN
            raise MoveRefused(
                gettext("refusing Z%(z).2f: below floor %(floor).2f") % {"z": z, "floor": self.z_min}
            )
        lines = render_move_template(self.move_template, z, self.feedrate)
        try:
            check_move_lines(lines, z, (self.z_min, self.z_max))
        except GcodeRefused as exc:
            raise MoveRefused(str(exc)) from None
        with self._move_lock:
            distance = abs(z - self._last_z) if self._last_z is not None else self.z_max - self.z_min
            allowed = self.timeout + TRAVEL_MARGIN * distance / (self.feedrate / 60.0)
            reported = self._request(lines, allowed, what="Z%.3f" % z)["Z"]
            if self._checks_z and abs(reported - z) > self.tolerance:
                self._last_z = reported
                raise StageError(
                    gettext(
                        "printer reports Z%(reported).3f after a move to Z%(target).3f"
                        " (tolerance %(tolerance).3f mm)"
                    )
                    % {"reported": reported, "target": z, "tolerance": self.tolerance}
                )
            self._last_z = z if self._checks_z else None
        self._logger.debug("moved to Z%.3f (printer reports %.3f)", z, reported)

    def position(self) -> float:
        """Wait for the planner to drain and return the Z the printer reports."""
        with self._move_lock:
            reported = self._request([], self.timeout, what=gettext("the position"))["Z"]
            self._last_z = reported
        return reported

    # ~ other G-code

    def send(self, lines: Sequence[str]) -> None:
        """Queue custom G-code (without waiting for it); MoveRefused (nothing sent) when a
        line fails :func:`.gcode_safety.check_lines`, Cancelled/StageError once stopped."""
        with self._move_lock:
            self._write(list(lines), self.tags)
            self._last_z = None

    def set_position(self, z: float) -> float:
        """Send ``G92 Z<z>`` (homing by focus) and return the Z the printer then reports.

        MoveRefused (nothing sent) when ``z`` lies outside the limits.
        """
        z = float(z)
        if not self.z_min <= z <= self.z_max:
            raise MoveRefused(
                gettext("refusing to set Z%(z).3f: outside the Z limits %(floor).3f to %(ceiling).3f mm")
                % {"z": z, "floor": self.z_min, "ceiling": self.z_max}
            )
        with self._move_lock:
            reported = self._request(["G92 Z%.3f" % z], self.timeout, what="G92 Z%.3f" % z, set_position=True)["Z"]
            self._last_z = reported
        return reported

    # ~ OctoPrint side

    def feed_line(self, line: str) -> None:
        """Take one line received from the printer (comm thread; fast, never blocks long)."""
        position = parse_position(line)
        if position is None:
            return
        with self._replies:
            ticket, self._in_flight = self._in_flight, 0
            if ticket:
                self._answer_ticket, self._answer = ticket, position
                self._replies.notify_all()

    def note_sending(self, command: str, tags: Optional[Collection[str]] = None) -> None:
        """Take one line about to be written to the printer (send thread; fast)."""
        if not tags or command.lstrip()[:4].upper() != "M114":
            return
        prefix = self.own_tag + ":"
        for tag in tags:
            if tag.startswith(prefix):
                with self._replies:
                    self._in_flight = int(tag[len(prefix) :])

    def abort(self, reason: str = "") -> None:
        """Wake any waiting move and refuse all further moves (StageError with ``reason``)."""
        with self._replies:
            self._abort_reason = reason or gettext("the Z stage was stopped")
            self._replies.notify_all()

    # ~ helpers

    def _write(self, lines: List[str], tags: FrozenSet[str], set_position: bool = False) -> None:
        """The one place lines go to the printer: checked, absolute, never after a stop."""
        self._check_can_move()
        try:
            parsed = check_lines(lines, (self.z_min, self.z_max), set_position=set_position)
        except GcodeRefused as exc:
            raise MoveRefused(str(exc)) from None
        first_move = next((i for i, line in enumerate(parsed) if line.command in _MOVES), None)
        if first_move is not None and not any(line.command == "G90" for line in parsed[:first_move]):
            lines = ["G90"] + lines
        self._printer.commands(lines, tags=frozenset(tags) | {self.own_tag})

    def _request(self, lines: List[str], allowed: float, what: str, set_position: bool = False) -> Dict[str, float]:
        """Queue ``lines`` + M400 + M114 and return the axes of the reply to that M114."""
        with self._replies:
            self._requested += 1
            ticket = self._requested
        self._write(lines + ["M400", "M114"], self.tags | {f"{self.own_tag}:{ticket}"}, set_position)
        deadline = self._clock() + allowed
        with self._replies:
            while self._answer_ticket < ticket:
                self._check_can_move(printer=False)
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise StageTimeout(
                        gettext(
                            "the printer did not confirm %(what)s within %(seconds).1f s"
                            " (no M114 reply after M400)"
                        )
                        % {"what": what, "seconds": allowed}
                    )
                self._replies.wait(min(WAIT_SLICE, remaining))
            return self._answer

    def _check_can_move(self, printer: bool = True) -> None:
        if self._cancel is not None and self._cancel.is_set():
            raise Cancelled(gettext("cancelled"))
        if self._abort_reason is not None:
            raise StageError(self._abort_reason)
        if printer and not self._printer.is_operational():
            raise StageError(gettext("the printer is not connected or not operational"))
