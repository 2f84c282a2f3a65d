"""What a rendered line of G-code does: its command and its words.

G-code templates are typed by people (the Z move, the focus map's XY move), so they are
checked by what they *render*, not by how they look: a template is filled in with sample
values, and every resulting line is read back into a command and its parameter words.
Pure Python; no OctoPrint.
"""

import re
import string
from dataclasses import dataclass
from typing import Any, Dict, List, Set

__all__ = ["GcodeLine", "parse_line", "placeholders", "render_lines"]

_COMMENT = re.compile(r";.*$")
_LINE_NUMBER = re.compile(r"^N\d+\s*", re.IGNORECASE)
_CHECKSUM = re.compile(r"\*\d*\s*$")
_WORD = re.compile(r"([A-Za-z])\s*([-+]?(?:\d+\.?\d*|\.\d+))")
_COMMAND = re.compile(r"^([GMT])0*(\d+)(?:\.(\d+))?$", re.IGNORECASE)


@dataclass(frozen=True)
class GcodeLine:
    """One line as the firmware reads it: ``command`` (``"G1"``, ``"M400"``; leading zeros
    dropped, upper case; ``""`` for a line of bare words) and ``words`` (parameter letter,
    upper case -> value). ``text`` is the line as rendered."""

    text: str
    command: str
    words: Dict[str, float]


def parse_line(text: str) -> GcodeLine:
    """Read one line (a ``;`` comment, a line number and a checksum are ignored).

    Raises ValueError for text that is not G-code words (``G1 X{x}`` left unrendered,
    ``G1 X1 Y``, a parenthesised comment, which not every firmware skips) and for a
    parameter letter given twice.
    """
    code = _COMMENT.sub("", text).strip()
    code = _CHECKSUM.sub("", _LINE_NUMBER.sub("", code)).strip()
    words = _WORD.findall(code)
    if _WORD.sub("", code).strip():
        raise ValueError("%r is not plain G-code words" % text)
    command = ""
    if words and words[0][0].upper() in "GMT" and _COMMAND.match("".join(words[0])):
        letter, number, sub = _COMMAND.match("".join(words[0])).groups()
        command = letter.upper() + number + ("." + sub if sub else "")
        words = words[1:]
    parameters: Dict[str, float] = {}
    for letter, value in words:
        letter = letter.upper()
        if letter in parameters:
            raise ValueError("%r gives %s twice" % (text, letter))
        parameters[letter] = float(value)
    return GcodeLine(text=text, command=command, words=parameters)


def placeholders(template: str) -> Set[str]:
    """The ``{name}`` fields of a template (ValueError for a malformed one)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def render_lines(template: str, **values: Any) -> List[str]:
    """The non-blank lines ``template`` renders to with ``values`` (stripped).

    Raises ValueError (never KeyError or IndexError) for a template that does not render.
    """
    try:
        rendered = template.format(**values)
    except (KeyError, IndexError, AttributeError, ValueError, TypeError) as exc:
        raise ValueError("the template does not render: %s" % exc) from exc
    return [line.strip() for line in rendered.splitlines() if line.strip()]
