"""The focus map's settings and requests, checked before anything moves.

Settings live under ``plugins.autofocus.map`` (defaults in ``settings.DEFAULTS["map"]``).
A request (the API's ``map`` command or ``@AUTOFOCUS MAP``) may override the rectangle, the
grid, the travel height, the XY move template and the share of points allowed to fail;
:func:`resolve_map` fills in the rest from the settings and the printer's bed and refuses,
naming the field, anything that cannot run: a grid outside 2..15, a rectangle that leaves
the bed or is turned around, a travel Z outside the safety limits, a template that does
more than move X and Y.
"""

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from flask_babel import gettext

from .focus.surface import GridPoint, grid_points
from .fields import label_of
from .gcode_safety import GcodeRefused, check_xy_template
from .settings import DEFAULTS, SettingsError, number, parse_decimal, parse_number

__all__ = [
    "MapConfig",
    "MapRequest",
    "MapPlan",
    "validate_map",
    "parse_map_request",
    "parse_map_words",
    "resolve_map",
    "profile_xy_range",
    "GRID_MIN",
    "GRID_MAX",
]

GRID_MIN, GRID_MAX = 2, 15
"""Rows and columns a map may have."""

RECTANGLE = ("x_min", "x_max", "y_min", "y_max")
AT_WORDS = {"ROWS": "rows", "COLS": "cols", "X0": "x_min", "X1": "x_max", "Y0": "y_min", "Y1": "y_max",
            "LIFT": "lift"}
"""``@AUTOFOCUS MAP`` parameter -> request field."""


@dataclass(frozen=True)
class MapConfig:
    """The validated ``map`` settings (see ``settings.DEFAULTS["map"]``)."""

    rows: int
    cols: int
    margin: float
    lift: float
    travel_z: Optional[float]
    xy_feedrate: float
    xy_template: str
    max_failed: float


@dataclass(frozen=True)
class MapRequest:
    """Per-map overrides; None means "from the settings" (the rectangle: the bed minus the
    margin). ``names`` maps a field to the spelling the user typed, for error messages."""

    rows: Optional[int] = None
    cols: Optional[int] = None
    x_min: Optional[float] = None
    x_max: Optional[float] = None
    y_min: Optional[float] = None
    y_max: Optional[float] = None
    lift: Optional[float] = None
    travel_z: Optional[float] = None
    template: Optional[str] = None
    max_failed: Optional[float] = None
    names: Tuple[Tuple[str, str], ...] = ()

    def name(self, field: str) -> str:
        return dict(self.names).get(field, field)


@dataclass(frozen=True)
class MapPlan:
    """A map ready to run: the grid's ``points`` over ``rectangle`` (x_min, x_max, y_min,
    y_max), the travel (``lift`` mm, or the absolute ``travel_z``), the XY move, the bed."""

    rows: int
    cols: int
    rectangle: Tuple[float, float, float, float]
    lift: Optional[float]
    travel_z: Optional[float]
    xy_template: str
    xy_feedrate: float
    max_failed: float
    bed: Tuple[float, float, float, float]
    points: Tuple[GridPoint, ...]

    def record(self) -> Dict[str, Any]:
        """The plan's parameters for the run record."""
        return {"rows": self.rows, "cols": self.cols, "rectangle": list(self.rectangle), "lift": self.lift,
                "travel_z": self.travel_z, "xy_template": self.xy_template, "xy_feedrate": self.xy_feedrate,
                "max_failed": self.max_failed, "bed": list(self.bed)}


def _whole(field: str, value: Any, low: int, high: int, text: bool = False) -> int:
    """A whole number from JSON, or from text typed in G-code (``text``)."""
    number = (parse_decimal if text else parse_number)(field, value, low=low, high=high)
    if number != int(number):
        raise SettingsError(field, gettext("must be a whole number, got %(value)s") % {"value": value})
    return int(number)


TEMPLATE_BED = (-500.0, 500.0, -500.0, 500.0)
"""Where an XY template is tried out when it is saved or sent (what it renders does not
depend on the printer; the head checks it again over the real bed)."""


def _template(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise SettingsError(field, gettext("must be text, got %(value)r") % {"value": value})
    try:
        check_xy_template(value.strip(), 3000, TEMPLATE_BED)
    except GcodeRefused as exc:
        raise SettingsError(field, str(exc)) from None
    return value.strip()


def validate_map(settings: Optional[Mapping[str, Any]]) -> MapConfig:
    """Check the ``map`` settings (missing keys take their defaults); SettingsError names
    the field as ``map.<key>``."""
    s = {**DEFAULTS["map"], **(settings or {})}
    unknown = sorted(set(s) - set(DEFAULTS["map"]))
    if unknown:
        raise SettingsError("map." + unknown[0], gettext("is not a map setting"))
    return MapConfig(
        rows=number("map.rows", s["rows"]),
        cols=number("map.cols", s["cols"]),
        margin=number("map.margin", s["margin"]),
        lift=number("map.lift", s["lift"]),
        travel_z=number("map.travel_z", s["travel_z"]),
        xy_feedrate=number("map.xy_feedrate", s["xy_feedrate"]),
        xy_template=_template("map.xy_template", s["xy_template"]),
        max_failed=number("map.max_failed", s["max_failed"]),
    )


def parse_map_request(data: Mapping[str, Any]) -> MapRequest:
    """The API's ``map`` fields (``command`` aside), each checked on its own; unknown
    fields are refused."""
    fields = {key: value for key, value in data.items() if key != "command"}
    accepted = ("rows", "cols") + RECTANGLE + ("lift", "travel_z", "template", "max_failed")
    unknown = sorted(set(fields) - set(accepted))
    if unknown:
        raise SettingsError(unknown[0], gettext("unknown field; this command accepts %(accepted)s")
                            % {"accepted": ", ".join(accepted)})
    given = {key: value for key, value in fields.items() if value is not None}
    return MapRequest(
        rows=_whole("rows", given["rows"], GRID_MIN, GRID_MAX) if "rows" in given else None,
        cols=_whole("cols", given["cols"], GRID_MIN, GRID_MAX) if "cols" in given else None,
        **{key: parse_number(key, given[key]) for key in RECTANGLE if key in given},
        lift=parse_number("lift", given["lift"], low=0.0, high=100.0) if "lift" in given else None,
        travel_z=parse_number("travel_z", given["travel_z"]) if "travel_z" in given else None,
        template=_template("template", given["template"]) if "template" in given else None,
        max_failed=parse_number("max_failed", given["max_failed"], low=0.0, high=1.0) if "max_failed" in given else None,
    )


def parse_map_words(pairs: Mapping[str, str]) -> MapRequest:
    """``@AUTOFOCUS MAP ROWS=.. COLS=.. [X0= Y0= X1= Y1=] [LIFT=]`` (keys already upper
    case, ``MAP`` among them); errors name the parameter as typed."""
    unknown = sorted(set(pairs) - set(AT_WORDS) - {"MAP"})
    if unknown:
        raise SettingsError(unknown[0], gettext("unknown parameter for MAP; use %(known)s")
                            % {"known": ", ".join(AT_WORDS)})
    if pairs["MAP"]:
        raise SettingsError("MAP", gettext("takes no value"))
    for key in AT_WORDS:
        if key in pairs and pairs[key] == "":
            raise SettingsError(key, gettext("needs a value (%(key)s=<value>)") % {"key": key})
    values: Dict[str, Any] = {}
    for key, field in AT_WORDS.items():
        if key in pairs:
            values[field] = (_whole(key, pairs[key], GRID_MIN, GRID_MAX, text=True) if field in ("rows", "cols")
                             else parse_decimal(key, pairs[key], low=0.0 if field == "lift" else None))
    names = tuple((field, key) for key, field in AT_WORDS.items())
    return MapRequest(names=names, **values)


def resolve_map(config: MapConfig, request: MapRequest, bed: Optional[Tuple[float, float, float, float]],
                limits: Tuple[float, float]) -> MapPlan:
    """The plan for ``request`` over ``bed`` (x_min, x_max, y_min, y_max; None: the printer
    profile has none), with Z ``limits`` for an absolute travel height; SettingsError
    naming the field (as the user spelled it) when it cannot run."""
    if bed is None:
        raise SettingsError(request.name("x_min"), gettext("the printer profile has no bed size to check the rectangle against"))
    default = (bed[0] + config.margin, bed[1] - config.margin, bed[2] + config.margin, bed[3] - config.margin)
    rectangle = tuple(getattr(request, key) if getattr(request, key) is not None else default[i]
                      for i, key in enumerate(RECTANGLE))
    for i, key in enumerate(RECTANGLE):
        low, high = bed[2 * (i // 2)], bed[2 * (i // 2) + 1]
        if not low <= rectangle[i] <= high:
            raise SettingsError(request.name(key), gettext("%(value)s mm lies outside the bed (%(low)s to %(high)s mm)")
                                % {"value": rectangle[i], "low": low, "high": high})
    for low, high in (("x_min", "x_max"), ("y_min", "y_max")):
        a, b = rectangle[RECTANGLE.index(low)], rectangle[RECTANGLE.index(high)]
        if not a < b:
            raise SettingsError(request.name(high), gettext("must be above %(low)s (%(value).1f mm).")
                                % {"low": label_of(request.name(low)), "value": a})
    x_min, x_max, y_min, y_max = rectangle
    if request.lift is not None and request.travel_z is not None:
        raise SettingsError(request.name("travel_z"), gettext("give either a lift or a travel Z, not both"))
    travel_z = request.travel_z if request.lift is None else None
    if request.lift is None and travel_z is None:
        travel_z = config.travel_z
    if travel_z is not None and not limits[0] <= travel_z <= limits[1]:
        field = "travel_z" if request.travel_z is not None else "map.travel_z"
        raise SettingsError(request.name(field), gettext("%(value)s mm lies outside the Z limits %(low)s to %(high)s mm")
                            % {"value": travel_z, "low": limits[0], "high": limits[1]})
    lift = None if travel_z is not None else (request.lift if request.lift is not None else config.lift)
    rows = request.rows or config.rows
    cols = request.cols or config.cols
    return MapPlan(rows=rows, cols=cols, rectangle=rectangle, lift=lift, travel_z=travel_z,
                   xy_template=request.template or config.xy_template, xy_feedrate=config.xy_feedrate,
                   max_failed=config.max_failed if request.max_failed is None else request.max_failed,
                   bed=tuple(bed), points=tuple(grid_points(x_min, x_max, y_min, y_max, rows, cols)))


def profile_xy_range(profile: Optional[Mapping[str, Any]]) -> Optional[Tuple[float, float, float, float]]:
    """The X/Y range (x_min, x_max, y_min, y_max) of a printer profile's build volume:
    its custom box when set, else width x depth from the origin (``lowerleft``) or around
    it (``center``); None without a size."""
    volume = (profile or {}).get("volume") or {}
    box = volume.get("custom_box")
    keys = ("x_min", "x_max", "y_min", "y_max")
    if isinstance(box, Mapping) and all(box.get(key) is not None for key in keys):
        return tuple(float(box[key]) for key in keys)
    width, depth = volume.get("width"), volume.get("depth")
    if not width or not depth:
        return None
    if volume.get("origin") == "center":
        return (-width / 2.0, width / 2.0, -depth / 2.0, depth / 2.0)
    return (0.0, float(width), 0.0, float(depth))

