"""Settings: defaults, version migration, and validation into a frozen :class:`RunConfig`.

The plugin stores its settings under ``plugins.autofocus`` (see :data:`DEFAULTS`). They are
validated when saved and again at the start of every run, so a change applies to the
next run without a restart. Every error is a :class:`SettingsError` naming the field.
"""

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from flask_babel import gettext

from .focus import MEASURES
from .printer_stage import validate_move_template
from .simulator import SCENES
from .simulator.focal_surface import SURFACES

__all__ = [
    "DEFAULTS",
    "SETTINGS_VERSION",
    "SettingsError",
    "RunConfig",
    "RunRequest",
    "validate",
    "validate_simulator",
    "migrate",
    "run_limits",
    "profile_z_range",
    "check_request",
    "parse_number",
    "parse_metric",
    "parse_roi",
]

SETTINGS_VERSION = 1

DEFAULTS: Dict[str, Any] = {
    "camera": "",
    "stream_url": "",
    "snapshot_url": "",
    "metric": "tenengrad",
    "roi": None,
    "search_range": 2.0,
    "z_min": 0.0,
    "z_max": 100.0,
    "coarse_points": 9,
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

APPROACHES = ("above", "below")
ON_FAILURE = ("pause", "continue")


class SettingsError(ValueError):
    """A setting or request parameter is invalid; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__("%s: %s" % (field, message))
        self.field = field


@dataclass(frozen=True)
class RunConfig:
    """The validated settings a run uses (a snapshot: later edits do not affect it)."""

    camera: str
    stream_url: str
    snapshot_url: str
    metric: str
    roi: Optional[Tuple[float, float, float, float]]
    search_range: float
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
    if (request.z_min is None) != (request.z_max is None):
        missing = "z_min" if request.z_min is None else "z_max"
        raise SettingsError(
            name[missing],
            gettext("%(low)s and %(high)s go together") % {"low": name["z_min"], "high": name["z_max"]},
        )
    if request.z_min is not None and request.range is not None:
        raise SettingsError(
            name["range"],
            gettext("give either %(range)s or %(low)s and %(high)s, not both")
            % {"range": name["range"], "low": name["z_min"], "high": name["z_max"]},
        )
    if request.z_min is not None and request.z_min >= request.z_max:
        raise SettingsError(name["z_max"], gettext("must be above %(low)s") % {"low": name["z_min"]})
    return request


def parse_number(field: str, value: Any, *, low: Optional[float] = None,
                 high: Optional[float] = None, positive: bool = False) -> float:
    """``value`` as a finite float within the bounds, or SettingsError naming ``field``."""
    if isinstance(value, bool):
        raise SettingsError(field, gettext("must be a number, got %(value)r") % {"value": value})
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingsError(field, gettext("must be a number, got %(value)r") % {"value": value}) from None
    if not math.isfinite(number):
        raise SettingsError(field, gettext("must be a finite number, got %(value)r") % {"value": value})
    if positive and number <= 0:
        raise SettingsError(field, gettext("must be greater than 0, got %(value)s") % {"value": number})
    if low is not None and number < low:
        raise SettingsError(field, gettext("must be at least %(low)s, got %(value)s") % {"low": low, "value": number})
    if high is not None and number > high:
        raise SettingsError(field, gettext("must be at most %(high)s, got %(value)s") % {"high": high, "value": number})
    return number


def _integer(field: str, value: Any, low: int, high: int) -> int:
    number = parse_number(field, value, low=low, high=high)
    if number != int(number):
        raise SettingsError(field, gettext("must be a whole number, got %(value)s") % {"value": value})
    return int(number)


def _choice(field: str, value: Any, choices) -> str:
    if value not in choices:
        raise SettingsError(
            field,
            gettext("must be one of %(choices)s, got %(value)r")
            % {"choices": ", ".join(sorted(choices)), "value": value},
        )
    return value


def _text(field: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SettingsError(field, gettext("must be text, got %(value)r") % {"value": value})
    return value.strip()


def parse_metric(field: str, value: Any) -> str:
    """A focus measure name known to the library."""
    return _choice(field, value, MEASURES)


def parse_roi(field: str, value: Any) -> Optional[Tuple[float, float, float, float]]:
    """``{x, y, w, h}`` as fractions of the image (0..1, non-empty, inside it), or None."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != {"x", "y", "w", "h"}:
        raise SettingsError(field, gettext("must be null or an object with x, y, w, h (fractions 0..1)"))
    x, y, w, h = (parse_number("%s.%s" % (field, key), value[key], low=0.0, high=1.0) for key in "xywh")
    if w <= 0 or h <= 0:
        raise SettingsError(field, gettext("is empty: width and height must be greater than 0"))
    if x + w > 1.0 + 1e-9 or y + h > 1.0 + 1e-9:
        raise SettingsError(field, gettext("reaches outside the image (x + w and y + h must be at most 1)"))
    return (x, y, w, h)


def _optional_number(field: str, value: Any, **bounds: Any) -> Optional[float]:
    """None for null or "" (the setting is unset), else a number as parse_number checks it."""
    return None if value is None or value == "" else parse_number(field, value, **bounds)


def validate(settings: Mapping[str, Any]) -> RunConfig:
    """Check every run setting and return them as a frozen RunConfig.

    ``settings`` is the plugin's settings dict (missing keys take their defaults).
    """
    s = {**DEFAULTS, **settings}
    z_min = parse_number("z_min", s["z_min"])
    z_max = parse_number("z_max", s["z_max"])
    if z_min >= z_max:
        raise SettingsError("z_max", gettext("must be above z_min (%(low)s), got %(high)s") % {"low": z_min, "high": z_max})
    template = _text("move_template", s["move_template"])
    try:
        validate_move_template(template)
    except ValueError as exc:
        raise SettingsError("move_template", str(exc)) from None
    return RunConfig(
        camera=_text("camera", s["camera"]),
        stream_url=_text("stream_url", s["stream_url"]),
        snapshot_url=_text("snapshot_url", s["snapshot_url"]),
        metric=parse_metric("metric", s["metric"]),
        roi=parse_roi("roi", s["roi"]),
        search_range=parse_number("search_range", s["search_range"], positive=True),
        z_min=z_min,
        z_max=z_max,
        coarse_points=_integer("coarse_points", s["coarse_points"], 3, 50),
        tolerance=_optional_number("tolerance", s["tolerance"], positive=True, high=5.0),
        feedrate=parse_number("feedrate", s["feedrate"], positive=True, high=100000.0),
        settle=parse_number("settle", s["settle"], low=0.0, high=10.0),
        frames_per_position=_integer("frames_per_position", s["frames_per_position"], 1, 10),
        overscan=parse_number("overscan", s["overscan"], low=0.0, high=10.0),
        approach=_choice("approach", s["approach"], APPROACHES),
        move_template=template,
        before_gcode=_text("before_gcode", s["before_gcode"]),
        after_gcode=_text("after_gcode", s["after_gcode"]),
        reference_z=_optional_number("reference_z", s["reference_z"]),
        on_failure=_choice("on_failure", s["on_failure"], ON_FAILURE),
        latency=parse_number("latency", s["latency"], low=0.0, high=5.0),
        camera_timeout=parse_number("camera_timeout", s["camera_timeout"], positive=True, high=120.0),
        history_size=_integer("history_size", s["history_size"], 1, 1000),
        jog_step=parse_number("jog_step", s["jog_step"], positive=True, high=10.0),
    )


def validate_simulator(simulator: Mapping[str, Any]) -> Dict[str, Any]:
    """Check the ``simulator`` settings and return them cleaned (defaults filled)."""
    s = {**DEFAULTS["simulator"], **(simulator or {})}
    if not isinstance(s["enabled"], bool):
        raise SettingsError("simulator.enabled", gettext("must be true or false"))
    return {
        "enabled": s["enabled"],
        "focal_z": parse_number("simulator.focal_z", s["focal_z"]),
        "dof": parse_number("simulator.dof", s["dof"], positive=True, high=10.0),
        "noise": parse_number("simulator.noise", s["noise"], low=0.0, high=1.0),
        "fps": parse_number("simulator.fps", s["fps"], positive=True, high=60.0),
        "latency": parse_number("simulator.latency", s["latency"], low=0.0, high=5.0),
        "backlash": parse_number("simulator.backlash", s["backlash"], low=0.0, high=5.0),
        "scene": _choice("simulator.scene", s["scene"], SCENES),
        "seed": _integer("simulator.seed", s["seed"], 0, 2**31 - 1),
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
        raise SettingsError(field, gettext("must be [width, height] in pixels"))
    return [_integer(field, item, 8, 4096) for item in value]


def migrate(stored: Mapping[str, Any], version: Optional[int]) -> Dict[str, Any]:
    """Return ``stored`` (the plugin's saved settings) migrated to SETTINGS_VERSION.

    From unversioned settings (``version`` None): legacy keys are renamed (the new key
    wins when both exist) and a value that no longer validates is dropped, so its default
    applies.
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
    return migrated


def run_limits(config: RunConfig, current_z: Optional[float], request: RunRequest,
               volume: Optional[Tuple[float, float]] = None) -> Tuple[float, float]:
    """The ``(z_min, z_max)`` a run may use.

    The requested range (explicit ``z_min``/``z_max``, else ``range`` or the
    ``search_range`` setting around ``current_z``) intersected with the settings' safety
    limits and the printer profile's Z ``volume`` when known. With ``current_z`` None only
    explicit limits can be checked (both must be given).
    """
    half = request.range if request.range is not None else config.search_range
    if current_z is None and (request.z_min is None or request.z_max is None):
        raise SettingsError("range", gettext("needs the current Z"))
    low = request.z_min if request.z_min is not None else current_z - half
    high = request.z_max if request.z_max is not None else current_z + half
    if low >= high:
        raise SettingsError("z_max", gettext("must be above z_min (%(low)s), got %(high)s") % {"low": low, "high": high})
    bounds = [(config.z_min, config.z_max)] + ([volume] if volume is not None else [])
    floor = max(b[0] for b in bounds)
    ceiling = min(b[1] for b in bounds)
    low, high = max(low, floor), min(high, ceiling)
    if low >= high:
        raise SettingsError(
            "range",
            gettext("the requested range lies outside the Z limits %(floor)s..%(ceiling)s mm")
            % {"floor": floor, "ceiling": ceiling},
        )
    return low, high


def profile_z_range(profile: Optional[Mapping[str, Any]]) -> Optional[Tuple[float, float]]:
    """The Z range of a printer profile's build volume (custom box first), or None."""
    volume = (profile or {}).get("volume") or {}
    box = volume.get("custom_box")
    if isinstance(box, Mapping) and box.get("z_min") is not None and box.get("z_max") is not None:
        return float(box["z_min"]), float(box["z_max"])
    height = volume.get("height")
    return (0.0, float(height)) if height else None
