"""PrinterHead: the focus map's stage; Z as :class:`~.printer_stage.PrinterStage`, plus X/Y.

This is the only place in the plugin that writes an X/Y move. ``move_xy`` refuses targets
outside the printer's bed (it never clips), renders the XY move template (checked when
the head is made and again for every target by :func:`.gcode_safety.check_xy_template` /
:func:`.gcode_safety.check_xy_lines`: exactly one ``G0``/``G1`` with that X and Y, an
optional ``F``, nothing else), writes it through the stage's one checked writer (``G90``
first, nothing after a cancel) followed by ``M400`` and ``M114``, and returns once the
printer reports the new X/Y (within the tolerance). Replies are matched exactly as for Z
moves, through the same :meth:`feed_line`/:meth:`note_sending`.
"""

import math
from typing import Any, Tuple

from flask_babel import gettext

from .focus.errors import MoveRefused, StageError
from .gcode_safety import GcodeRefused, check_xy_lines, check_xy_template, render_xy_template
from .printer_stage import TRAVEL_MARGIN, PrinterStage

__all__ = ["DEFAULT_XY_TEMPLATE", "PrinterHead"]

DEFAULT_XY_TEMPLATE = "G0 X{x:.3f} Y{y:.3f} F{feedrate}"


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
        self.bed = (x_min, x_max, y_min, y_max)
        self.xy_feedrate = int(xy_feedrate) if float(xy_feedrate).is_integer() else float(xy_feedrate)
        check_xy_template(xy_template, self.xy_feedrate, self.bed)
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
        lines = render_xy_template(self.xy_template, x, y, self.xy_feedrate)
        try:
            check_xy_lines(lines, x, y)
        except GcodeRefused as exc:
            raise MoveRefused(str(exc)) from None
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
