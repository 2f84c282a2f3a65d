"""Settings: defaults, version migration, and validation into a frozen :class:`RunConfig`.

The plugin stores its settings under ``plugins.autofocus`` (see :data:`DEFAULTS`). They are
validated when saved and again at the start of every run, so a change applies to the
next run without a restart. Every error is a :class:`SettingsError` naming the field.
"""

import math
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from flask_babel import gettext

from .fields import BOUNDS, LABELS, RANGE_BOUNDS, Z_BOUND, amount, label_of, unit_of, z_text
from .focus import MEASURES
from .gcode_safety import GcodeRefused, check_custom_gcode, check_move_template
from .simulator import SCENES
from .simulator.focal_surface import SURFACES

__all__ = [
    "DEFAULTS",
    "SETTINGS_VERSION",
    "SettingsError",
    "LABELS",
    "CENTRE_ROI",
    "describe",
    "error_body",
    "RunConfig",
    "RunRequest",
    "validate",
    "validate_simulator",
    "migrate",
    "normalised",
    "run_limits",
    "run_window",
    "safety_limits",
    "profile_z_range",
    "check_request",
    "parse_number",
    "parse_metric",
    "parse_roi",
    "parse_decimal",
    "check_reference",
    "Z_BOUND",
    "RANGE_BOUNDS",
    "custom_gcode",
]

SETTINGS_VERSION = 2

CENTRE_ROI: Dict[str, float] = {"x": 0.25, "y": 0.25, "w": 0.5, "h": 0.5}
"""The default focus region: the middle quarter of the picture.

A dict, never None: OctoPrint's settings layers cannot hold a dict (saved) over a None
(default) without warning on every read."""


DEFAULTS: Dict[str, Any] = {
    "camera": "",
    "stream_url": "",
    "snapshot_url": "",
    "metric": "tenengrad",
    "roi": dict(CENTRE_ROI),
    "search_range": 2.0,
    "max_extension": None,
    "z_min": 0.0,
    "z_max": 100.0,
    "coarse_points": 5,
    "tolerance": None,
    "feedrate": 600.0,
    "settle": 0.1,
    "frames_per_position": 1,
    "overscan": 0.2,
    "approach": "above",
    "move_template": "G1 Z{z:.3f} F{feedrate}",
    "before_gcode": "",
    "after_gcode": "",
    "reference_z": None,
    "max_correction": 5.0,
    "on_failure": "pause",
    "latency": 0.1,
    "camera_timeout": 5.0,
    "history_size": 20,
    "jog_step": 0.1,
    "map": {
        "rows": 5,
        "cols": 5,
        "margin": 10.0,
        "lift": 1.0,
        "travel_z": None,
        "xy_feedrate": 3000.0,
        "xy_template": "G0 X{x:.3f} Y{y:.3f} F{feedrate}",
        "max_failed": 0.25,
    },
    "simulator": {
        "enabled": False,
        "focal_z": 4.0,
        "dof": 0.1,
        "noise": 0.01,
        "fps": 15.0,
        "latency": 0.05,
        "backlash": 0.0,
        "scene": "pcb",
        "seed": 1,
        "size": [640, 480],
        "surface": "flat",
        "surface_height": 0.3,
        "bare_spot": None,
    },
}
"""Every setting with its default; the keys are the UI's contract (docs/DESIGN.md)."""

LEGACY_KEYS = {"range": "search_range", "webcam": "camera", "zmin": "z_min", "zmax": "z_max"}
"""Keys of unversioned (pre-1) settings and the keys that replaced them."""

MAX_TEXT = 4000
"""Characters: the longest text setting (URLs, custom G-code)."""

APPROACHES = ("above", "below")
ON_FAILURE = ("pause", "continue")


class SettingsError(ValueError):
    """A setting or request parameter is invalid; ``field`` names it, ``message`` is a
    plain sentence for people without the key (``str(exc)`` is "field: message" for logs)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__("%s: %s" % (field, message))
        self.field = field
        self.message = message


def describe(exc: SettingsError) -> str:
    """The error as people read it: "<Label>: <message>"."""
    return "%s: %s" % (label_of(exc.field), exc.message)


def error_body(exc: SettingsError) -> Dict[str, str]:
    """The JSON body of a refused request or settings save: ``{"error", "field"}``."""
    return {"error": describe(exc), "field": exc.field}


@dataclass(frozen=True)
class RunConfig:
    """The validated settings a run uses (a snapshot: later edits do not affect it)."""

    camera: str
    stream_url: str
    snapshot_url: str
    metric: str
    roi: Optional[Tuple[float, float, float, float]]
    search_range: float
    max_extension: Optional[float]
    z_min: float
    z_max: float
    coarse_points: int
    tolerance: Optional[float]
    feedrate: float
    settle: float
    frames_per_position: int
    overscan: float
    approach: str
    move_template: str
    before_gcode: str
    after_gcode: str
    reference_z: Optional[float]
    max_correction: float
    on_failure: str
    latency: float
    camera_timeout: float
    history_size: int
    jog_step: float


@dataclass(frozen=True)
class RunRequest:
    """Per-run overrides from the API or ``@AUTOFOCUS``; None means "use the settings"."""

    range: Optional[float] = None
    z_min: Optional[float] = None
    z_max: Optional[float] = None
    metric: Optional[str] = None
    roi: Optional[Tuple[float, float, float, float]] = None


def check_request(request: RunRequest, names: Optional[Mapping[str, str]] = None) -> RunRequest:
    """Apply the rules between a request's fields; ``names`` maps a field to the caller's
    spelling of it (``{"z_min": "ZMIN"}``) so the error names what the user typed."""
    name = {"range": "range", "z_min": "z_min", "z_max": "z_max", **(names or {})}
    said = {key: label_of(value) for key, value in name.items()}
    if (request.z_min is None) != (request.z_max is None):
        missing = "z_min" if request.z_min is None else "z_max"
        raise SettingsError(
            name[missing],
            gettext("is needed together with %(other)s.")
            % {"other": said["z_max" if missing == "z_min" else "z_min"]},
        )
    if request.z_min is not None and request.range is not None:
        raise SettingsError(
            name["range"],
            gettext("give either a search range or %(low)s and %(high)s, not both.")
            % {"low": said["z_min"], "high": said["z_max"]},
        )
    if request.z_min is not None and request.z_min >= request.z_max:
        raise SettingsError(
            name["z_max"],
            gettext("must be above %(low)s (%(value)s).")
            % {"low": said["z_min"], "value": z_text(request.z_min)},
        )
    return request


def _shown(value: Any) -> str:
    """What the user gave, quoted and cut short, for an error message."""
    text = str(value)
    return "\u201c%s\u201d" % (text if len(text) <= 20 else text[:19] + "\u2026")


def parse_number(field: str, value: Any, *, low: Optional[float] = None,
                 high: Optional[float] = None, positive: bool = False) -> float:
    """``value`` (a JSON number: int or float, not a bool, not text) as a finite float
    within the bounds, or SettingsError naming ``field`` (the message gives the limit with
    the field's unit, see :data:`.fields.BOUNDS`)."""
    unit = unit_of(field)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(field, gettext("must be a number, not %(value)s.") % {"value": _shown(value)})
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        number = math.inf
    if not math.isfinite(number):
        raise SettingsError(field, gettext("must be a finite number."))
    if positive and number <= 0:
        raise SettingsError(field, gettext("must be more than %(zero)s.") % {"zero": amount(0, unit)})
    if low is not None and number < low:
        raise SettingsError(field, gettext("must be at least %(low)s.") % {"low": amount(low, unit)})
    if high is not None and number > high:
        raise SettingsError(field, gettext("must be at most %(high)s.") % {"high": amount(high, unit)})
    return number


def number(field: str, value: Any) -> Optional[float]:
    """``value`` checked against the field's :data:`.fields.BOUNDS` (an int for whole
    numbers, None for an unset optional one)."""
    bounds = BOUNDS[field]
    if bounds.optional and (value is None or value == ""):
        return None
    checked = parse_number(field, value, low=bounds.low, high=bounds.high, positive=bounds.positive)
    if not bounds.integer:
        return checked
    if checked != int(checked):
        raise SettingsError(field, gettext("must be a whole number."))
    return int(checked)


_DECIMAL = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")


def parse_decimal(field: str, text: str, **bounds: Any) -> float:
    """A number written as plain decimal text (``1.5``, ``-2``, ``.25``: no exponent,
    underscores, spaces, ``inf`` or ``nan``), checked like :func:`parse_number`."""
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
        raise SettingsError(field, gettext("must be a number, not %(value)s.") % {"value": _shown(text)})
    return parse_number(field, float(text), **bounds)


def _choice(field: str, value: Any, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise SettingsError(
            field,
            gettext("must be one of %(choices)s, not %(value)s.")
            % {"choices": ", ".join(sorted(choices)), "value": _shown(value)},
        )
    return value


def _text(field: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SettingsError(field, gettext("must be text."))
    if len(value) > MAX_TEXT:
        raise SettingsError(field, gettext("is too long (at most %(count)d characters).") % {"count": MAX_TEXT})
    return value.strip()


def parse_metric(field: str, value: Any) -> str:
    """A focus measure name known to the library."""
    return _choice(field, value, MEASURES)


def parse_roi(field: str, value: Any) -> Optional[Tuple[float, float, float, float]]:
    """``{x, y, w, h}`` as fractions of the image (0..1, non-empty, inside it), or None."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != {"x", "y", "w", "h"}:
        raise SettingsError(field, gettext("must be a region {x, y, w, h} in fractions of the picture (0 to 1)."))
    x, y, w, h = (parse_number("%s.%s" % (field, key), value[key], low=0.0, high=1.0) for key in "xywh")
    if w <= 0 or h <= 0:
        raise SettingsError(field, gettext("is empty; drag a larger region on the picture."))
    if x + w > 1.0 + 1e-9 or y + h > 1.0 + 1e-9:
        raise SettingsError(field, gettext("reaches outside the picture."))
    return (x, y, w, h)


def custom_gcode(field: str, value: Any, z_limits: Tuple[float, float]) -> str:
    """Custom G-code text whose every line passes :func:`.gcode_safety.check_custom_gcode`
    within ``z_limits`` (no homing, relative mode, coordinate changes, Z outside them)."""
    text = _text(field, value)
    try:
        check_custom_gcode(text, z_limits)
    except GcodeRefused as exc:
        raise SettingsError(field, str(exc)) from None
    return text


def _max_extension(value: Any, safety_range: float) -> Optional[float]:
    """mm a search may go past its range: null (one range width), 0 (never) up to the safety range."""
    extension = number("max_extension", value)
    if extension is not None and extension > safety_range:
        raise SettingsError(
            "max_extension",
            gettext("must be at most the distance from the lowest to the highest Z (%(range)s).")
            % {"range": amount(safety_range, "mm")},
        )
    return extension


def validate(settings: Mapping[str, Any]) -> RunConfig:
    """Check every run setting and return them as a frozen RunConfig.

    ``settings`` is the plugin's settings dict (missing keys take their defaults).
    """
    s = {**DEFAULTS, **settings}
    z_min = number("z_min", s["z_min"])
    z_max = number("z_max", s["z_max"])
    if z_min >= z_max:
        raise SettingsError("z_max", gettext("must be above the lowest Z (%(value)s).") % {"value": z_text(z_min)})
    feedrate = number("feedrate", s["feedrate"])
    template = _text("move_template", s["move_template"])
    try:
        check_move_template(template, int(feedrate) if feedrate.is_integer() else feedrate, (z_min, z_max))
    except GcodeRefused as exc:
        raise SettingsError("move_template", str(exc)) from None
    return RunConfig(
        camera=_text("camera", s["camera"]),
        stream_url=_text("stream_url", s["stream_url"]),
        snapshot_url=_text("snapshot_url", s["snapshot_url"]),
        metric=parse_metric("metric", s["metric"]),
        roi=parse_roi("roi", s["roi"]),
        search_range=number("search_range", s["search_range"]),
        max_extension=_max_extension(s["max_extension"], z_max - z_min),
        z_min=z_min,
        z_max=z_max,
        coarse_points=number("coarse_points", s["coarse_points"]),
        tolerance=number("tolerance", s["tolerance"]),
        feedrate=feedrate,
        settle=number("settle", s["settle"]),
        frames_per_position=number("frames_per_position", s["frames_per_position"]),
        overscan=number("overscan", s["overscan"]),
        approach=_choice("approach", s["approach"], APPROACHES),
        move_template=template,
        before_gcode=custom_gcode("before_gcode", s["before_gcode"], (z_min, z_max)),
        after_gcode=custom_gcode("after_gcode", s["after_gcode"], (z_min, z_max)),
        reference_z=number("reference_z", s["reference_z"]),
        max_correction=number("max_correction", s["max_correction"]),
        on_failure=_choice("on_failure", s["on_failure"], ON_FAILURE),
        latency=number("latency", s["latency"]),
        camera_timeout=number("camera_timeout", s["camera_timeout"]),
        history_size=number("history_size", s["history_size"]),
        jog_step=number("jog_step", s["jog_step"]),
    )


def validate_simulator(simulator: Mapping[str, Any]) -> Dict[str, Any]:
    """Check the ``simulator`` settings and return them cleaned (defaults filled)."""
    s = {**DEFAULTS["simulator"], **(simulator or {})}
    if not isinstance(s["enabled"], bool):
        raise SettingsError("simulator.enabled", gettext("must be on or off."))
    checked = {key: number("simulator." + key, s[key])
               for key in ("focal_z", "dof", "noise", "fps", "latency", "backlash", "seed")}
    return {
        "enabled": s["enabled"],
        **checked,
        "scene": _choice("simulator.scene", s["scene"], SCENES),
        "size": _size("simulator.size", s["size"]),
        "surface": _choice("simulator.surface", s["surface"], SURFACES),
        "surface_height": parse_number("simulator.surface_height", s["surface_height"], low=-10.0, high=10.0),
        "bare_spot": _bare_spot("simulator.bare_spot", s["bare_spot"]),
    }


def _bare_spot(field: str, value: Any) -> Optional[List[float]]:
    """None, or ``[x, y, radius]`` in mm with a positive radius."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise SettingsError(field, gettext("must be empty or [x, y, radius] in mm"))
    x, y = (parse_number(field, item) for item in value[:2])
    return [x, y, parse_number(field, value[2], positive=True)]


def _size(field: str, value: Any) -> List[int]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise SettingsError(field, gettext("must be [width, height] in pixels."))
    sizes = [parse_number(field, item, low=8, high=4096) for item in value]
    if any(size != int(size) for size in sizes):
        raise SettingsError(field, gettext("must be a whole number."))
    return [int(size) for size in sizes]


def normalised(data: Mapping[str, Any]) -> Dict[str, Any]:
    """A settings save with a null region replaced by the default one (see CENTRE_ROI):
    OctoPrint then drops the key (it equals the default), so no None sits under a dict."""
    if "roi" in data and data["roi"] is None:
        return {**data, "roi": dict(CENTRE_ROI)}
    return dict(data)


def migrate(stored: Mapping[str, Any], version: Optional[int]) -> Dict[str, Any]:
    """Return ``stored`` (the plugin's saved settings) migrated to SETTINGS_VERSION.

    From unversioned settings (``version`` None): legacy keys are renamed (the new key
    wins when both exist) and a value that no longer validates is dropped, so its default
    applies. Before version 2 a region could be stored as null: dropped (the default, the
    centre, applies), since a null under the default dict makes OctoPrint warn on every read.
    """
    migrated = dict(stored)
    if version is None:
        for old, new in LEGACY_KEYS.items():
            if old in migrated:
                value = migrated.pop(old)
                migrated.setdefault(new, value)
        for key in [k for k in migrated if k in DEFAULTS and k != "simulator"]:
            try:
                validate({**DEFAULTS, key: migrated[key]})
            except SettingsError:
                del migrated[key]
    if (version or 0) < 2 and "roi" in migrated and migrated["roi"] is None:
        del migrated["roi"]
    return migrated


def safety_limits(config: RunConfig, volume: Optional[Tuple[float, float]] = None) -> Tuple[float, float]:
    """The Z range nothing the plugin sends may leave: the settings' ``z_min``/``z_max``
    intersected with the printer profile's Z ``volume`` when known."""
    bounds = [(config.z_min, config.z_max)] + ([volume] if volume is not None else [])
    floor = max(b[0] for b in bounds)
    ceiling = min(b[1] for b in bounds)
    if floor >= ceiling:
        raise SettingsError(
            "z_max",
            gettext("the Z limits (%(low)s to %(high)s) lie outside the printer's Z range (%(floor)s to %(ceiling)s).")
            % {"low": z_text(config.z_min), "high": z_text(config.z_max),
               "floor": z_text(volume[0]), "ceiling": z_text(volume[1])},
        )
    return floor, ceiling


def check_reference(z: float, config: RunConfig, volume: Optional[Tuple[float, float]] = None,
                    field: str = "reference_z") -> float:
    """``z`` when it lies within the safety limits (:func:`safety_limits`), else SettingsError."""
    floor, ceiling = safety_limits(config, volume)
    if not floor <= z <= ceiling:
        raise SettingsError(
            field,
            gettext("%(z)s lies outside the Z limits (%(floor)s to %(ceiling)s).")
            % {"z": z_text(z), "floor": z_text(floor), "ceiling": z_text(ceiling)},
        )
    return z


def run_limits(config: RunConfig, current_z: Optional[float], request: RunRequest,
               volume: Optional[Tuple[float, float]] = None) -> Tuple[float, float]:
    """The ``(z_min, z_max)`` a run may use.

    The requested range (explicit ``z_min``/``z_max``, else ``range`` or the
    ``search_range`` setting around ``current_z``) intersected with the safety limits
    (:func:`safety_limits`). With ``current_z`` None only explicit limits can be checked
    (both must be given).
    """
    half = request.range if request.range is not None else config.search_range
    if current_z is None and (request.z_min is None or request.z_max is None):
        raise SettingsError("range", gettext("needs the current Z, which the printer has not reported."))
    low = request.z_min if request.z_min is not None else current_z - half
    high = request.z_max if request.z_max is not None else current_z + half
    if low >= high:
        raise SettingsError("z_max", gettext("must be above the lowest Z (%(value)s).") % {"value": z_text(low)})
    floor, ceiling = safety_limits(config, volume)
    low, high = max(low, floor), min(high, ceiling)
    if low >= high:
        raise SettingsError(
            "range",
            gettext("lies entirely outside the Z limits (%(floor)s to %(ceiling)s).")
            % {"floor": z_text(floor), "ceiling": z_text(ceiling)},
        )
    return low, high


def run_window(config: RunConfig, current_z: float, request: RunRequest,
               volume: Optional[Tuple[float, float]] = None) -> Tuple[Tuple[float, float], Tuple[float, float]]:
    """The ``(window, limits)`` of a run: where the search starts and where it may extend to.

    The window is :func:`run_limits`. The limits are the safety limits (settings and
    printer volume), into which the search may extend past the window; explicit
    ``z_min``/``z_max`` in the request are hard, so then the limits are the window itself.
    """
    window = run_limits(config, current_z, request, volume)
    return window, (window if request.z_min is not None else safety_limits(config, volume))


def profile_z_range(profile: Optional[Mapping[str, Any]]) -> Optional[Tuple[float, float]]:
    """The Z range of a printer profile's build volume (custom box first), or None."""
    volume = (profile or {}).get("volume") or {}
    box = volume.get("custom_box")
    if isinstance(box, Mapping) and box.get("z_min") is not None and box.get("z_max") is not None:
        return float(box["z_min"]), float(box["z_max"])
    height = volume.get("height")
    return (0.0, float(height)) if height else None
