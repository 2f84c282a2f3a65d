"""Parse the parameters of ``@AUTOFOCUS`` lines in G-code.

Syntax: ``@AUTOFOCUS [KEY=VALUE ...] [HOME]``, keys case-insensitive:

- ``RANGE=<mm>``: half-range around the current Z (default: the ``search_range`` setting);
- ``ZMIN=<mm>``, ``ZMAX=<mm>``: explicit limits instead of a range around Z;
- ``METRIC=<name>``: the focus measure;
- ``HOME`` or ``HOME=1``: after a passed run, set Z to the reference (``G92``).

``@AUTOFOCUS MAP ROWS=.. COLS=.. [X0= Y0= X1= Y1=] [LIFT=]`` measures a focus map instead
(see :func:`.map_settings.parse_map_words`).

The limits are always intersected with the configured safety limits.
"""

from dataclasses import dataclass
from typing import Dict, Optional

from flask_babel import gettext

from .map_settings import MapRequest, parse_map_words
from .settings import RANGE_BOUNDS, Z_BOUND, RunRequest, SettingsError, check_request, parse_decimal, parse_metric

__all__ = ["COMMAND", "AtCommand", "parse_parameters"]

COMMAND = "AUTOFOCUS"
_FLAGS = {"1": True, "TRUE": True, "YES": True, "0": False, "FALSE": False, "NO": False}


@dataclass(frozen=True)
class AtCommand:
    """A parsed ``@AUTOFOCUS`` line: the run overrides and whether to home afterwards, or a
    focus map (``map``)."""

    request: RunRequest
    home: bool = False
    map: Optional[MapRequest] = None


def _split(parameters: str) -> Dict[str, str]:
    pairs: Dict[str, str] = {}
    for word in parameters.split():
        key, sep, value = word.partition("=")
        key = key.upper()
        if sep and not value:
            raise SettingsError(key, gettext("has no value (write %(key)s=<value>)") % {"key": key})
        if key in pairs:
            raise SettingsError(key, gettext("is given twice"))
        pairs[key] = value if sep else ""
    return pairs


def parse_parameters(parameters: str) -> AtCommand:
    """Parse the text after ``@AUTOFOCUS``; SettingsError names the bad key."""
    pairs = _split(parameters or "")
    if "MAP" in pairs:
        return AtCommand(request=RunRequest(), map=parse_map_words(pairs))
    known = {"RANGE", "ZMIN", "ZMAX", "METRIC", "HOME"}
    unknown = sorted(set(pairs) - known)
    if unknown:
        raise SettingsError(
            unknown[0],
            gettext("unknown parameter; use %(known)s") % {"known": ", ".join(sorted(known))},
        )
    for key in ("RANGE", "ZMIN", "ZMAX", "METRIC"):
        if key in pairs and pairs[key] == "":
            raise SettingsError(key, gettext("needs a value (%(key)s=<value>)") % {"key": key})
    home = pairs.get("HOME", None)
    if home is not None and home != "" and home.upper() not in _FLAGS:
        raise SettingsError("HOME", gettext("must be 1 or 0, got %(value)r") % {"value": home})
    request = RunRequest(
        range=parse_decimal("RANGE", pairs["RANGE"], low=RANGE_BOUNDS[0], high=RANGE_BOUNDS[1])
        if "RANGE" in pairs else None,
        z_min=parse_decimal("ZMIN", pairs["ZMIN"], low=-Z_BOUND, high=Z_BOUND) if "ZMIN" in pairs else None,
        z_max=parse_decimal("ZMAX", pairs["ZMAX"], low=-Z_BOUND, high=Z_BOUND) if "ZMAX" in pairs else None,
        metric=parse_metric("METRIC", pairs["METRIC"].lower()) if "METRIC" in pairs else None,
    )
    check_request(request, {"range": "RANGE", "z_min": "ZMIN", "z_max": "ZMAX"})
    return AtCommand(request=request, home=home is not None and (home == "" or _FLAGS[home.upper()]))
