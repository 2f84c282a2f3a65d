"""PrinterStage: a focus-library ZStage over OctoPrint's printer connection.

This is the only place in the plugin that writes a Z move. OctoPrint's
``printer.commands()`` only queues lines, so every move is followed by ``M400`` (wait
for the planner to drain) and ``M114`` (report the position); the move counts as done
only when that position reply has arrived and matches the target. The reply lines come
in from OctoPrint's comm thread through :meth:`PrinterStage.feed_line`.
"""

import itertools
import logging
import re
import string
import threading
import time
from typing import Callable, Collection, Dict, FrozenSet, List, Optional, Protocol

from flask_babel import gettext

from .focus.errors import Cancelled, MoveRefused, StageError, StageTimeout

__all__ = ["PrinterStage", "parse_m114", "parse_position", "render_move", "validate_move_template"]

DEFAULT_MOVE_TEMPLATE = "G1 Z{z:.3f} F{feedrate}"
DEFAULT_TAGS = frozenset({"plugin:autofocus"})
TRAVEL_MARGIN = 2.0
"""A move may take this many times its nominal travel time (acceleration, slow firmware)."""
WAIT_SLICE = 0.05
"""How often (s) a waiting move looks at its cancel event."""

_STAGE_IDS = itertools.count(1)
_PLACEHOLDERS = frozenset({"z", "feedrate"})
_FLOAT = r"[-+]?(?:\d+\.?\d*|\.\d+)"
_POSITION_PREFIX = re.compile(r"^(?:ok\b\s*)?(?:C:\s*)?(?://\s*)?")
_AXES = re.compile(rf"(?:[A-Z]\d*:\s*{_FLOAT}\s*)+")
_AXIS = re.compile(rf"([A-Z]\d*):\s*({_FLOAT})")
_LINEAR_MOVE = re.compile(r"^G0*[01](?![0-9.])", re.IGNORECASE)
_CHANGES_COORDINATES = re.compile(r"^G9[12](?![0-9.])", re.IGNORECASE)
_Z_WORD = re.compile(rf"\bZ\s*{_FLOAT}", re.IGNORECASE)


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


def validate_move_template(template: str) -> None:
    """Raise ValueError unless ``template`` renders with exactly ``{z}`` and ``{feedrate}``."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
        if not fields <= _PLACEHOLDERS:
            raise ValueError(
                gettext("unknown placeholder(s) %(names)s; use {z} and {feedrate}")
                % {"names": ", ".join("{%s}" % name for name in sorted(fields - _PLACEHOLDERS))}
            )
        if "z" not in fields:
            raise ValueError(gettext("it must contain {z}"))
        if any(_CHANGES_COORDINATES.match(line) for line in render_move(template, 1.0, 1000.0)):
            raise ValueError(gettext("G91 and G92 are not allowed: moves must be absolute"))
    except (KeyError, IndexError, AttributeError, ValueError) as exc:
        raise ValueError(
            gettext('Invalid move template "%(template)s": %(error)s')
            % {"template": template, "error": exc}
        ) from exc


def render_move(template: str, z: float, feedrate: float) -> List[str]:
    """Render a move template into the G-code lines to send (blank lines dropped).

    >>> render_move("G1 Z{z:.3f} F{feedrate}", 2.5, 300)
    ['G1 Z2.500 F300']
    """
    rendered = template.format(z=z, feedrate=feedrate)
    return [line.strip() for line in rendered.splitlines() if line.strip()]


def _is_linear_move(line: str) -> bool:
    return _LINEAR_MOVE.match(line) is not None


class PrinterStage:
    """A ZStage that moves the printer through OctoPrint and waits for confirmation.

    ``move_to(z)`` refuses targets outside ``[z_min, z_max]`` (it never clips), sends
    ``G90`` (when the template is a G0/G1 move: buffered moves read the positioning mode
    when they run, so the mode must be absolute), the rendered template, ``M400`` and
    ``M114``, then blocks until the position reply arrives. When the template moves the
    printer's Z the reported Z must be within ``tolerance`` of the target; templates that
    drive another actuator (``M280 P0 S{z:.0f}``) skip that check.

    The time allowed per move is ``timeout`` plus twice the travel time at
    ``feedrate`` (mm/min; a whole number is rendered without decimals, ``F600``). A set ``cancel`` event or :meth:`abort` wakes a waiting move
    within ``WAIT_SLICE`` seconds.

    Call :meth:`feed_line` with every line received from the printer; it is cheap and
    never blocks. Replies are matched to requests in order: each of our ``M114`` is
    answered by the next position line after the previous one, and lines that arrive
    while none of our requests is outstanding are ignored. By default a request is
    outstanding from the moment it is queued. With ``track_sending=True`` the plugin
    also passes every line about to be written to the printer to :meth:`note_sending`
    (the ``octoprint.comm.protocol.gcode.sending`` hook); the answer is then the first
    position line after our ``M114`` (recognised by a per-request tag) goes out, which
    OctoPrint does only after ``M400``'s ``ok``, so a position auto-reported (``M154``)
    during the move is never taken as the answer.
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
        track_sending: bool = False,
    ) -> None:
        if not z_min < z_max:
            raise ValueError(f"z_min ({z_min}) must be below z_max ({z_max})")
        if feedrate <= 0:
            raise ValueError(f"feedrate must be positive, got {feedrate}")
        if tolerance < 0 or timeout <= 0:
            raise ValueError(f"need tolerance >= 0 and timeout > 0, got {tolerance}, {timeout}")
        validate_move_template(move_template)
        self.z_min = float(z_min)
        self.z_max = float(z_max)
        self.feedrate = int(feedrate) if float(feedrate).is_integer() else float(feedrate)
        self.move_template = move_template
        self.tolerance = float(tolerance)
        self.timeout = float(timeout)
        self.tags = frozenset(tags)
        self.track_sending = track_sending
        self._own_tag = f"plugin:autofocus:stage-{next(_STAGE_IDS)}"
        self._printer = printer
        self._cancel = cancel
        self._logger = logger or logging.getLogger("octoprint.plugins.autofocus.stage")
        self._clock = clock
        sample = render_move(move_template, 1.0, self.feedrate)
        self._absolute_prefix = ["G90"] if any(map(_is_linear_move, sample)) else []
        self._checks_z = any(_is_linear_move(line) and _Z_WORD.search(line) for line in sample)
        self._move_lock = threading.Lock()
        self._replies = threading.Condition()
        self._requested = 0  # tickets handed out, one per M114 queued
        self._replied = 0  # without track_sending: position lines matched to tickets, in order
        self._in_flight = 0  # with track_sending: the ticket whose M114 went out last
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
        lines = self._absolute_prefix + render_move(self.move_template, z, self.feedrate)
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

    # ~ OctoPrint side

    def feed_line(self, line: str) -> None:
        """Take one line received from the printer (comm thread; fast, never blocks long)."""
        position = parse_position(line)
        if position is None:
            return
        with self._replies:
            if self.track_sending:
                ticket, self._in_flight = self._in_flight, 0
            elif self._replied < self._requested:
                self._replied += 1
                ticket = self._replied
            else:
                ticket = 0
            if ticket:
                self._answer_ticket, self._answer = ticket, position
                self._replies.notify_all()

    def note_sending(self, command: str, tags: Optional[Collection[str]] = None) -> None:
        """Take one line about to be written to the printer (send thread; fast)."""
        if not tags or command.lstrip()[:4].upper() != "M114":
            return
        prefix = self._own_tag + ":"
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

    def _request(self, lines: List[str], allowed: float, what: str) -> Dict[str, float]:
        """Queue ``lines`` + M400 + M114 and return the axes of the reply to that M114."""
        self._check_can_move()
        with self._replies:
            self._requested += 1
            ticket = self._requested
        tags = self.tags | {f"{self._own_tag}:{ticket}"}
        self._printer.commands(lines + ["M400", "M114"], tags=tags)
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
