"""What a G-code line the plugin sends may do.

Every line the plugin writes to the printer (focus moves, the custom "before" and "after"
G-code, the homing ``G92``) is checked here, by what it says once rendered:

- :func:`parse_line` reads a line the way firmware does, whatever the spelling: ``G91``,
  ``G091``, ``g 91``, ``N1 G91*57`` and ``G91.0`` are all the command ``G91``; a line with
  anything a firmware could read differently (two commands, a repeated word, parentheses,
  exponents, stray characters) is refused rather than guessed at.
- :func:`check_lines` refuses commands that home, probe, change coordinates, units,
  offsets, leveling or endstops, relative mode, and any absolute Z outside the limits.
- :func:`render_move_template` renders the move template (``G1 Z{z:.3f} F{feedrate}``)
  with only plain numeric format specs, so no spec can build a huge string, and
  :func:`check_move_template` checks what it renders for several targets: few short
  lines, a whitelist of commands, and a Z word equal to the target in every move.
- :func:`render_xy_template` and :func:`check_xy_template` do the same for the focus
  map's XY move template (``G0 X{x:.3f} Y{y:.3f} F{feedrate}``): exactly one G0/G1 with
  the target's X and Y, at most an F besides, and no Z.

Nothing here knows OctoPrint: the stage (:mod:`.printer_stage`) calls it before it sends,
and the settings check calls it before a template or custom G-code is saved.
"""

import math
import re
import string
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from flask_babel import gettext

__all__ = [
    "GcodeRefused",
    "Line",
    "parse_line",
    "check_lines",
    "split_lines",
    "render_move_template",
    "check_move_template",
    "check_move_lines",
    "check_custom_gcode",
    "render_xy_template",
    "check_xy_template",
    "check_xy_lines",
    "MAX_LINE",
    "MAX_TEMPLATE_LINES",
]

MAX_LINE = 80
"""Characters in one line the plugin sends (Marlin reads 96, including the line number and
checksum OctoPrint adds)."""
MAX_TEMPLATE = 200
"""Characters in a move template."""
MAX_TEMPLATE_LINES = 4
"""Lines a move template may render to."""
MAX_CUSTOM_LINES = 50
"""Lines of custom G-code (before/after a run)."""
Z_ROUNDING = 0.0011
"""mm a rendered Z word may differ from its target (``{z:.3f}`` rounds by up to 0.0005)."""
MAX_FEEDRATE = 100000.0
"""mm/min: the largest F word the plugin sends."""
MAX_DWELL_S = 10.0
"""Seconds: the longest G4 dwell a move template may add."""

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)"
_WORD = re.compile(rf"([A-Z])\s*({_NUMBER})(?![\d.])")
_LINE_NUMBER = re.compile(r"^N\s*\d+\s*")
_CHECKSUM = re.compile(r"\*\s*\d*\s*$")
_EXTENDED = re.compile(r"^([A-Z_]{2}[A-Z0-9_]*)(?=\s|$)")
_EXPONENT = re.compile(r"\d\.?E[-+]?\d")
_TEXT_COMMANDS = frozenset({"M23", "M28", "M30", "M32", "M33", "M117", "M118", "M928"})
"""Commands whose rest of line is free text (a message or a file name), not words."""
_MOVES = frozenset({"G0", "G1", "G2", "G3"})

_REFUSED: Dict[str, str] = {}
"""Command -> why it may not be sent (filled below by group)."""
for _codes, _why in (
    (("G28", "G161", "G162", "$H"), "it homes an axis"),
    (("G29", "G30", "G31", "G32", "G33", "G34", "G35", "G38.2", "G38.3", "G38.4", "G38.5", "G76",
      "M48", "PROBE", "QUERY_PROBE", "BED_MESH_CALIBRATE", "Z_TILT_ADJUST", "QUAD_GANTRY_LEVEL",
      "SCREWS_TILT_CALCULATE"), "it probes or levels, moving Z on its own"),
    (("G91", "G20", "$J"), "it switches to relative or inch coordinates"),
    (("G92", "G10", "G53", "G54", "G55", "G56", "G57", "G58", "G59", "G59.1", "G59.2", "G59.3",
      "M206", "M428", "M851", "M290", "M218", "M92", "M665", "M666", "M852", "SET_GCODE_OFFSET",
      "SET_KINEMATIC_POSITION", "FORCE_MOVE", "MANUAL_STEPPER", "SET_POSITION"),
     "it changes the coordinates, offsets or steps of an axis"),
    (("M211", "M120", "M121", "M420", "M500", "M501", "M502", "M999", "M18", "M84", "SET_STEPPER_ENABLE"),
     "it switches endstops, leveling or motors, or reloads settings"),
    (("G5", "G11", "G12", "G26", "G27", "G42", "G60", "G61", "G81", "G82", "G83", "G84", "G85",
      "G86", "G87", "G88", "G89", "M125", "M600", "M701", "M702", "RESTORE_GCODE_STATE"),
     "it moves the head by itself"),
):
    for _code in _codes:
        _REFUSED[_code] = _why

_TEMPLATE_COMMANDS = frozenset({"G0", "G1", "G4", "G90", "M400", "M280", "M117", "M118"})
"""What a move template may send: a move, a dwell, a wait, a servo, a message."""
_SPEC = re.compile(r"(?:\.[0-6])?f?")
"""Format specs a template may use: none, or a precision of at most 6 decimals."""
_FIELDS = ("z", "feedrate")
_XY_FIELDS = ("x", "y", "feedrate")
XY_ROUNDING = 0.006
"""mm a rendered X or Y word may differ from its target (a template may round to 0.01 mm)."""


class GcodeRefused(ValueError):
    """A line may not be sent; the message says which line and why, for people."""


@dataclass(frozen=True)
class Line:
    """One G-code line as firmware reads it: ``command`` (``"G1"``, ``"G92.1"``,
    ``"M117"``, a Klipper extended command such as ``"SET_GCODE_OFFSET"``, ``"@"`` for an
    OctoPrint @-command, ``""`` for a comment-only line) and its ``words`` (letter -> value;
    for extended commands ``KEY=value`` parameters with a numeric value)."""

    text: str
    command: str
    words: Tuple[Tuple[str, float], ...] = ()

    def word(self, letter: str) -> Optional[float]:
        """The value of ``letter`` on this line, or None."""
        return next((value for key, value in self.words if key == letter), None)


def _refuse(line: str, reason: str) -> GcodeRefused:
    return GcodeRefused(gettext('"%(line)s": %(reason)s') % {"line": line[:MAX_LINE], "reason": reason})


def _command_name(letter: str, number: str) -> str:
    value = float(number)
    if value.is_integer():
        return "%s%d" % (letter, value)
    return "%s%s" % (letter, ("%.3f" % value).rstrip("0"))


def parse_line(text: str) -> Line:
    """Read one line as firmware would; GcodeRefused when it could be read two ways."""
    code = text.split(";", 1)[0].strip().upper()
    if "(" in code or ")" in code:
        raise _refuse(text, gettext("parentheses are not allowed (write comments after ;)"))
    code = _CHECKSUM.sub("", _LINE_NUMBER.sub("", code)).strip()
    if not code:
        return Line(text, "")
    if code.startswith("@"):
        return Line(text, "@")
    if code.startswith("$"):
        return Line(text, code[:2])
    extended = _EXTENDED.match(code)
    if extended:
        return _parse_extended(text, extended.group(1), code[extended.end():])
    first = _WORD.match(code)
    if first is None or first.group(1) not in "GMT":
        raise _refuse(text, gettext("it does not start with a G, M or T command"))
    command = _command_name(first.group(1), first.group(2))
    rest = code[first.end():]
    if command in _TEXT_COMMANDS:
        return Line(text, command)
    if _EXPONENT.search(code):
        raise _refuse(text, gettext("numbers must be written without an exponent"))
    words: List[Tuple[str, float]] = []
    position = 0
    for match in _WORD.finditer(rest):
        if rest[position:match.start()].strip():
            raise _refuse(text, gettext("it has characters that are not G-code words"))
        words.append((match.group(1), float(match.group(2))))
        position = match.end()
    if rest[position:].strip():
        raise _refuse(text, gettext("it has characters that are not G-code words"))
    letters = [letter for letter, _ in words]
    if any(letter in "GM" for letter in letters) or len(set(letters)) != len(letters):
        raise _refuse(text, gettext("one command per line, each word once"))
    return Line(text, command, tuple(words))


def _parse_extended(text: str, command: str, rest: str) -> Line:
    """A Klipper-style command: ``NAME KEY=value ...``; numeric values become words."""
    words = []
    for parameter in rest.split():
        key, sep, value = parameter.partition("=")
        if sep and re.fullmatch(_NUMBER, value):
            words.append((key, float(value)))
    return Line(text, command, tuple(words))


def split_lines(text: str) -> List[str]:
    """The non-blank lines of a block of G-code, stripped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def check_lines(lines: Sequence[str], z_limits: Tuple[float, float], *,
                set_position: bool = False) -> List[Line]:
    """Check lines the plugin is about to send; return them parsed, or raise GcodeRefused.

    Refused: anything :func:`parse_line` refuses, lines longer than ``MAX_LINE``,
    @-commands, the commands in the refused list (homing, probing, relative or inch mode,
    coordinate, offset and step changes, endstops, leveling, motors off, moves the
    firmware plans by itself), a Z word outside ``z_limits`` in a move, and a Z word in
    any other command. With ``set_position`` a ``G92`` with only a Z word inside the
    limits is let through (homing by focus).
    """
    low, high = z_limits
    parsed = []
    for text in lines:
        if len(text) > MAX_LINE:
            raise _refuse(text, gettext("longer than %(count)d characters") % {"count": MAX_LINE})
        line = parse_line(text)
        if line.command == "@":
            raise _refuse(text, gettext("OctoPrint @-commands are not allowed here"))
        homing = set_position and line.command == "G92" and [key for key, _ in line.words] == ["Z"]
        reason = _REFUSED.get(line.command) or _REFUSED.get(line.command.split(".")[0])
        if reason and not homing:
            raise _refuse(text, gettext(reason))
        z = line.word("Z")
        if z is not None and line.command not in _MOVES and not homing:
            raise _refuse(text, gettext("Z may only be set by a G0/G1 move"))
        if z is not None and not low <= z <= high:
            raise _refuse(
                text,
                gettext("Z%(z).3f lies outside the Z limits %(low).3f to %(high).3f mm")
                % {"z": z, "low": low, "high": high},
            )
        parsed.append(line)
    return parsed


# ~ the move template


def _template_fields(template: str, allowed: Tuple[str, ...] = _FIELDS) -> List[Tuple[str, str]]:
    """The ``(name, spec)`` of every placeholder (names from ``allowed``); GcodeRefused for
    anything else."""
    fields = []
    try:
        pieces = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise GcodeRefused(gettext("it is not a valid template (%(error)s)") % {"error": exc}) from None
    for _, name, spec, conversion in pieces:
        if name is None:
            continue
        if name not in allowed:
            raise GcodeRefused(
                gettext("unknown placeholder {%(name)s}; use %(names)s")
                % {"name": name[:20], "names": _listed(allowed)}
            )
        if conversion is not None or not _SPEC.fullmatch(spec or ""):
            shown = name + ("!" + conversion if conversion else "") + (":" + spec[:20] if spec else "")
            raise GcodeRefused(
                gettext("{%(shown)s} is not allowed: use {%(name)s} or a precision such as {%(name)s:.3f}")
                % {"shown": shown, "name": name}
            )
        fields.append((name, spec or ""))
    return fields


def _listed(names: Sequence[str]) -> str:
    """``{x}, {y} and {feedrate}``."""
    shown = ["{%s}" % name for name in names]
    return gettext("%(some)s and %(last)s") % {"some": ", ".join(shown[:-1]), "last": shown[-1]}


def render_move_template(template: str, z: float, feedrate: float) -> List[str]:
    """The lines ``template`` renders for target ``z`` (blank lines dropped).

    Only ``{z}`` and ``{feedrate}`` with no spec or a precision of at most 6 decimals are
    rendered, so the result is never much longer than the template.

    >>> render_move_template("G1 Z{z:.3f} F{feedrate}", 2.5, 300)
    ['G1 Z2.500 F300']
    """
    if len(template) > MAX_TEMPLATE:
        raise GcodeRefused(gettext("longer than %(count)d characters") % {"count": MAX_TEMPLATE})
    _template_fields(template)
    return split_lines(template.format(z=z, feedrate=feedrate))


def check_move_lines(lines: Sequence[str], z: float, z_limits: Tuple[float, float]) -> List[Line]:
    """Check the lines a template rendered for target ``z``: at most MAX_TEMPLATE_LINES,
    only template commands (moves, dwell, wait, servo, message), moves with a Z word equal
    to ``z`` and nothing but Z and F, a sane feedrate and dwell."""
    if not lines:
        raise GcodeRefused(gettext("it renders no G-code"))
    if len(lines) > MAX_TEMPLATE_LINES:
        raise GcodeRefused(gettext("it renders more than %(count)d lines") % {"count": MAX_TEMPLATE_LINES})
    parsed = check_lines(lines, z_limits)
    for line in parsed:
        if line.command not in _TEMPLATE_COMMANDS:
            raise _refuse(line.text, gettext("a move template may only send G0/G1, G4, M400, M280, M117 and M118"))
        letters = {key for key, _ in line.words}
        if line.command in ("G0", "G1"):
            if not letters <= {"Z", "F"}:
                raise _refuse(line.text, gettext("a focus move may only have Z and F words"))
            if "Z" not in letters or abs(line.word("Z") - z) > Z_ROUNDING:
                raise _refuse(
                    line.text,
                    gettext("the move must go to the target Z%(z).3f (use {z:.3f})") % {"z": z},
                )
            feed = line.word("F")
            if feed is not None and not 0 < feed <= MAX_FEEDRATE:
                raise _refuse(line.text, gettext("the feedrate must be above 0 and at most %(max)d mm/min")
                              % {"max": MAX_FEEDRATE})
        if line.command == "G4" and any(
            value < 0 or value > (MAX_DWELL_S * 1000 if key == "P" else MAX_DWELL_S) for key, value in line.words
        ):
            raise _refuse(line.text, gettext("a dwell may last at most %(seconds)d s") % {"seconds": MAX_DWELL_S})
    return parsed


def _sample_targets(z_limits: Tuple[float, float]) -> List[float]:
    """Targets a template is tried with: the limits, between them, and awkward values."""
    low, high = z_limits
    uneven = round(low + (high - low) * 0.37, 2) + 0.004  # rounds badly to fewer than 3 decimals
    inside = [low, high, (low + high) / 2] + ([uneven] if low <= uneven <= high else [])
    awkward = [0.00001, 0.0004, 0.1, -0.00001, 9.99951]
    return inside + [z for z in awkward if low <= z <= high]


def _target_text(z: float) -> str:
    """A sample target for people: 3 decimals, more only where they matter (0.00001)."""
    text = ("%.5f" % z).rstrip("0")
    decimals = len(text.split(".")[1])
    return text + "0" * (3 - decimals) if decimals < 3 else text


def check_move_template(template: str, feedrate: float, z_limits: Tuple[float, float]) -> bool:
    """Check a move template by what it renders for several targets within ``z_limits``;
    GcodeRefused (a sentence for people) when it may not be used.

    Returns whether the template moves the printer's Z (a G0/G1 line), as opposed to
    another actuator (``M280 P0 S{z:.0f}``, a servo on a focus ring).
    """
    if len(template) > MAX_TEMPLATE:
        raise GcodeRefused(gettext("longer than %(count)d characters") % {"count": MAX_TEMPLATE})
    fields = _template_fields(template)
    if "z" not in {name for name, _ in fields}:
        raise GcodeRefused(gettext("it must contain {z}"))
    moves_z = False
    for z in _sample_targets(z_limits):
        try:
            lines = check_move_lines(render_move_template(template, z, feedrate), z, z_limits)
        except GcodeRefused as exc:
            raise GcodeRefused(gettext("for the target Z %(z)s mm, %(error)s") % {"z": _target_text(z), "error": exc}) from None
        moves_z = moves_z or any(line.command in ("G0", "G1") for line in lines)
    return moves_z


def check_custom_gcode(text: str, z_limits: Tuple[float, float]) -> List[Line]:
    """Check custom G-code (the before/after G-code settings): at most MAX_CUSTOM_LINES
    lines, each passing :func:`check_lines`."""
    lines = split_lines(text)
    if len(lines) > MAX_CUSTOM_LINES:
        raise GcodeRefused(gettext("more than %(count)d lines") % {"count": MAX_CUSTOM_LINES})
    return check_lines(lines, z_limits)


# ~ the XY move template (focus map)


def render_xy_template(template: str, x: float, y: float, feedrate: float) -> List[str]:
    """The lines ``template`` renders for the XY target (blank lines dropped); like
    :func:`render_move_template`, only ``{x}``, ``{y}`` and ``{feedrate}`` with plain
    numeric specs.

    >>> render_xy_template("G0 X{x:.3f} Y{y:.3f} F{feedrate}", 10, 20.5, 3000)
    ['G0 X10.000 Y20.500 F3000']
    """
    if len(template) > MAX_TEMPLATE:
        raise GcodeRefused(gettext("longer than %(count)d characters") % {"count": MAX_TEMPLATE})
    _template_fields(template, _XY_FIELDS)
    return split_lines(template.format(x=x, y=y, feedrate=feedrate))


def check_xy_lines(lines: Sequence[str], x: float, y: float) -> Line:
    """Check what an XY template rendered for ``(x, y)``: exactly one G0/G1 whose X and Y
    are the target's, at most an F (0 < F <= MAX_FEEDRATE) besides; return it parsed."""
    if len(lines) != 1:
        raise GcodeRefused(gettext("it must render to exactly one line, the XY move; it renders %(count)d")
                           % {"count": len(lines)})
    line = check_lines(lines, (-math.inf, math.inf))[0]
    if line.command not in ("G0", "G1"):
        raise _refuse(line.text, gettext("the XY move must be a G0 or G1"))
    extra = sorted({key for key, _ in line.words} - {"X", "Y", "F"})
    if extra:
        raise _refuse(line.text, gettext("the XY move may only have X, Y and F words, not %(words)s")
                      % {"words": ", ".join(extra)})
    for letter, target in (("X", x), ("Y", y)):
        value = line.word(letter)
        if value is None or abs(value - target) > XY_ROUNDING:
            raise _refuse(line.text, gettext("the move must go to the target X%(x).3f Y%(y).3f (use {x:.3f} and"
                                             " {y:.3f})") % {"x": x, "y": y})
    feed = line.word("F")
    if feed is not None and not 0 < feed <= MAX_FEEDRATE:
        raise _refuse(line.text, gettext("the feedrate must be above 0 and at most %(max)d mm/min")
                      % {"max": MAX_FEEDRATE})
    return line


def _awkward(low: float, high: float, share: float) -> float:
    """A target about ``share`` of the way from ``low`` to ``high`` and 0.0449 mm past a
    multiple of 0.1 mm (0.0551 mm before the next), so that a template rounding to 0.1 mm
    misses it by 0.045 mm while one rounding to 0.01 mm stays within 0.005 mm; never outside
    ``[low, high]`` (a span under 0.1 mm may hold no such point: then the end it passed)."""
    target = round(low + share * (high - low), 1) + 0.0449
    if target > high:
        target -= 0.1
    return min(max(target, low), high)


def check_xy_template(template: str, feedrate: float, bed: Tuple[float, float, float, float]) -> None:
    """Check an XY move template by what it renders at the corners and the middle of
    ``bed`` (x_min, x_max, y_min, y_max) and at awkward values; GcodeRefused (a sentence
    for people) when it may not be used."""
    if len(template) > MAX_TEMPLATE:
        raise GcodeRefused(gettext("longer than %(count)d characters") % {"count": MAX_TEMPLATE})
    names = {name for name, _ in _template_fields(template, _XY_FIELDS)}
    if not {"x", "y"} <= names:
        raise GcodeRefused(gettext("it must contain {x} and {y}"))
    x0, x1, y0, y1 = bed
    awkward = (_awkward(x0, x1, 0.37), _awkward(y0, y1, 0.61))  # refuses coarser than 0.01 mm
    targets = [(x0, y0), (x1, y1), ((x0 + x1) / 2, (y0 + y1) / 2), awkward]
    for x, y in targets:
        try:
            check_xy_lines(render_xy_template(template, x, y, feedrate), x, y)
        except GcodeRefused as exc:
            raise GcodeRefused(gettext("for the target X %(x).3f mm, Y %(y).3f mm, %(error)s")
                               % {"x": x, "y": y, "error": exc}) from None
