"""PrinterHead: the focus map's stage; Z as :class:`~.printer_stage.PrinterStage`, plus X/Y.

This is the only place in the plugin that writes an X/Y move. ``move_xy`` refuses targets
outside the printer's bed (it never clips), renders the XY move template (checked when
the head is made: it must render to exactly one ``G0``/``G1`` with that X and Y, an optional
``F``, and nothing else), sends ``G90`` + the move + ``M400`` + ``M114`` and returns once
the printer reports the new X/Y (within the tolerance). Replies are matched exactly as for
Z moves, through the same :meth:`feed_line`/:meth:`note_sending`.
"""

import math
from typing import Any, List, Tuple

from flask_babel import gettext

from .focus.errors import MoveRefused, StageError
from .gcode_rules import parse_line, placeholders, render_lines
from .printer_stage import TRAVEL_MARGIN, PrinterStage

__all__ = ["DEFAULT_XY_TEMPLATE", "PrinterHead", "render_xy", "validate_xy_template"]

DEFAULT_XY_TEMPLATE = "G0 X{x:.3f} Y{y:.3f} F{feedrate}"
XY_PLACEHOLDERS = frozenset({"x", "y", "feedrate"})
XY_MOVES = frozenset({"G0", "G1"})
XY_WORDS = frozenset({"X", "Y", "F"})
_SAMPLES = ((12.5, 34.25, 3000), (151.0, 7.75, 1500))
"""Points the template is rendered at when it is checked: X and Y must follow them."""
_FOLLOW = 0.01
"""mm: how closely a rendered X/Y must match the target (a template may round to 0.01)."""


def render_xy(template: str, x: float, y: float, feedrate: float) -> List[str]:
    """The lines an XY move template renders to (blank lines dropped).

    >>> render_xy("G0 X{x:.3f} Y{y:.3f} F{feedrate}", 10, 20.5, 3000)
    ['G0 X10.000 Y20.500 F3000']
    """
    return render_lines(template, x=x, y=y, feedrate=feedrate)


def validate_xy_template(template: str) -> None:
    """Raise ValueError (a plain sentence) unless ``template`` renders to exactly one
    ``G0``/``G1`` whose X and Y are the target's, with at most an ``F`` besides."""
    try:
        names = placeholders(template)
    except ValueError as exc:
        raise ValueError(gettext("it is not a valid template: %(error)s") % {"error": exc}) from None
    unknown = names - XY_PLACEHOLDERS
    if unknown:
        raise ValueError(gettext("it uses %(names)s; only {x}, {y} and {feedrate} can be filled in")
                         % {"names": ", ".join("{%s}" % name for name in sorted(unknown))})
    if not {"x", "y"} <= names:
        raise ValueError(gettext("it must contain {x} and {y}"))
    for x, y, feedrate in _SAMPLES:
        lines = render_xy(template, x, y, feedrate)
        if len(lines) != 1:
            raise ValueError(gettext("it must render to exactly one line, the XY move; it renders %(count)d")
                             % {"count": len(lines)})
        move = parse_line(lines[0])
        if move.command not in XY_MOVES:
            raise ValueError(gettext("it must be a G0 or G1 move, not %(line)s") % {"line": lines[0]})
        extra = sorted(set(move.words) - XY_WORDS)
        if extra:
            raise ValueError(gettext("it may only move X and Y (and set F), but it sets %(words)s")
                             % {"words": ", ".join(extra)})
        if abs(move.words.get("X", math.nan) - x) > _FOLLOW or abs(move.words.get("Y", math.nan) - y) > _FOLLOW:
            raise ValueError(gettext("its X and Y must be the target's: for X%(x)s Y%(y)s it renders %(line)s")
                             % {"x": x, "y": y, "line": lines[0]})
        if move.words.get("F", 1.0) <= 0:
            raise ValueError(gettext("its feedrate must be above 0"))


class PrinterHead(PrinterStage):
    """A :class:`~.printer_stage.PrinterStage` (Z, within its limits) that also moves X/Y,
    within ``bed = (x_min, x_max, y_min, y_max)``, with ``xy_template`` at ``xy_feedrate``
    (mm/min). Other arguments as for PrinterStage."""

    def __init__(self, printer: Any, *, bed: Tuple[float, float, float, float], xy_feedrate: float,
                 xy_template: str = DEFAULT_XY_TEMPLATE, **stage: Any) -> None:
        super().__init__(printer, **stage)
        x_min, x_max, y_min, y_max = (float(v) for v in bed)
        if not (x_min < x_max and y_min < y_max):
            raise ValueError(f"the bed must have x_min < x_max and y_min < y_max, got {bed!r}")
        if not xy_feedrate > 0:
            raise ValueError(f"xy_feedrate must be positive, got {xy_feedrate}")
        validate_xy_template(xy_template)
        self.bed = (x_min, x_max, y_min, y_max)
        self.xy_feedrate = int(xy_feedrate) if float(xy_feedrate).is_integer() else float(xy_feedrate)
        self.xy_template = xy_template
        self._last_xy: Tuple[float, float] = (math.nan, math.nan)

    def move_xy(self, x: float, y: float) -> None:
        """Move to absolute ``(x, y)`` and return once the printer has confirmed it."""
        x, y = float(x), float(y)
        x_min, x_max, y_min, y_max = self.bed
        if not (x_min <= x <= x_max and y_min <= y <= y_max):  # also refuses NaN
            raise MoveRefused(gettext("refusing X%(x).2f Y%(y).2f: outside the bed X%(x0).1f..%(x1).1f"
                                      " Y%(y0).1f..%(y1).1f")
                              % {"x": x, "y": y, "x0": x_min, "x1": x_max, "y0": y_min, "y1": y_max})
        lines = ["G90"] + render_xy(self.xy_template, x, y, self.xy_feedrate)
        with self._move_lock:
            distance = math.hypot(x - self._last_xy[0], y - self._last_xy[1])
            if not math.isfinite(distance):
                distance = math.hypot(x_max - x_min, y_max - y_min)
            allowed = self.timeout + TRAVEL_MARGIN * distance / (self.xy_feedrate / 60.0)
            reported = self._request(lines, allowed, what="X%.3f Y%.3f" % (x, y))
            self._last_xy = (reported.get("X", math.nan), reported.get("Y", math.nan))
            if "X" not in reported or "Y" not in reported:
                raise StageError(gettext("the printer's position report has no X and Y, so the move cannot be"
                                         " confirmed"))
            if abs(reported["X"] - x) > self.tolerance or abs(reported["Y"] - y) > self.tolerance:
                raise StageError(
                    gettext("printer reports X%(rx).3f Y%(ry).3f after a move to X%(x).3f Y%(y).3f")
                    % {"rx": reported["X"], "ry": reported["Y"], "x": x, "y": y})
        self._logger.debug("moved to X%.3f Y%.3f", x, y)
