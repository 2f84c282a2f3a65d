"""The options of :func:`~.search.autofocus`: defaults and checks, before anything moves.

Every bad value raises :class:`ValueError` naming the option, so a typo in a script or a
settings file fails at once instead of half-way through a run.
"""

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from .frames import DECODE_SCALES
from .plan import APPROACHES

__all__ = ["DEFAULTS", "Options", "parse_options", "checked_range", "checked_limits", "checked_roi"]

DEFAULTS: Dict[str, Any] = {
    "coarse_points": 5,
    "coarse_step": None,
    "tolerance": None,
    "overscan": 0.2,
    "approach": "above",
    "settle": 0.1,
    "frames_per_position": 1,
    "restore_on_failure": True,
    "cancel": None,
    "on_sample": None,
    "sleep": time.sleep,
    "clock": time.monotonic,
    "decode_scale": 1,
    "limits": None,
    "max_extension": None,
}
"""Every option of :func:`~.search.autofocus` with its default."""

STEP_ROUNDING = 1e-9
"""A span that is a whole number of ``coarse_step`` up to float rounding needs no extra point."""


@dataclass(frozen=True)
class Options:
    """The checked options of one run (see :data:`DEFAULTS`)."""

    coarse_points: int
    coarse_step: Optional[float]
    tolerance: Optional[float]
    overscan: float
    approach: str
    settle: float
    frames_per_position: int
    restore_on_failure: bool
    cancel: Any
    on_sample: Optional[Callable[[float, float, str], None]]
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    decode_scale: int
    limits: Optional[Tuple[float, float]]
    max_extension: Optional[float]

    def grid_points(self, span: float) -> int:
        """Points of the coarse sweep over ``span`` mm: from ``coarse_step`` when given
        (at least 3), else ``coarse_points``."""
        if self.coarse_step is None:
            return self.coarse_points
        return max(3, math.ceil(span / self.coarse_step - STEP_ROUNDING) + 1)

    def record(self) -> Dict[str, Any]:
        """The JSON-safe options for the run record."""
        names = ("coarse_points", "coarse_step", "tolerance", "overscan", "approach", "settle",
                 "frames_per_position", "restore_on_failure", "decode_scale", "max_extension")
        return {name: getattr(self, name) for name in names}


def parse_options(options: Dict[str, Any]) -> Options:
    """Merge ``options`` into the defaults and check every value."""
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown autofocus option(s) {unknown}; valid: {sorted(DEFAULTS)}")
    if "coarse_points" in options and options.get("coarse_step") is not None:
        raise ValueError("give coarse_points or coarse_step, not both")
    o = {**DEFAULTS, **options}
    checks = [
        (_whole(o["coarse_points"], 3), "coarse_points must be an integer >= 3"),
        (o["coarse_step"] is None or _positive(o["coarse_step"]), "coarse_step must be None or > 0"),
        (o["tolerance"] is None or _positive(o["tolerance"]), "tolerance must be None or > 0"),
        (_non_negative(o["overscan"]), "overscan must be a number >= 0"),
        (o["approach"] in APPROACHES, f"approach must be one of {sorted(APPROACHES)}"),
        (_non_negative(o["settle"]), "settle must be a number >= 0"),
        (_whole(o["frames_per_position"], 1), "frames_per_position must be an integer >= 1"),
        (isinstance(o["restore_on_failure"], bool), "restore_on_failure must be True or False"),
        (o["cancel"] is None or callable(getattr(o["cancel"], "is_set", None)),
         "cancel must be None or have an is_set() method"),
        (o["on_sample"] is None or callable(o["on_sample"]), "on_sample must be callable"),
        (callable(o["sleep"]) and callable(o["clock"]), "sleep and clock must be callable"),
        (o["decode_scale"] in DECODE_SCALES, f"decode_scale must be one of {DECODE_SCALES}"),
        (o["max_extension"] is None or _non_negative(o["max_extension"]),
         "max_extension must be None or a number >= 0 (mm)"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
    for name in ("coarse_step", "tolerance", "max_extension"):
        o[name] = None if o[name] is None else float(o[name])
    if o["limits"] is not None:
        o["limits"] = _pair("limits", o["limits"])
    return Options(**o)


def _whole(value: Any, least: int) -> bool:
    """An int (not a bool) of at least ``least``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _positive(value: Any) -> bool:
    """A finite number > 0."""
    return _non_negative(value) and value > 0


def _non_negative(value: Any) -> bool:
    """A finite number >= 0 (not a bool)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and math.isfinite(value) and value >= 0


def checked_range(z_min: Any, z_max: Any) -> Tuple[float, float]:
    """``(z_min, z_max)`` as floats; finite and ``z_min < z_max``."""
    return _pair("z_min, z_max", (z_min, z_max))


def checked_limits(limits: Optional[Tuple[float, float]],
                   window: Tuple[float, float]) -> Tuple[float, float]:
    """The hard limits of a run: ``limits`` (checked by :func:`parse_options`), which must
    hold the whole ``window``, or the window itself when None."""
    if limits is None:
        return window
    if not limits[0] <= window[0] < window[1] <= limits[1]:
        raise ValueError(f"the window [{window[0]}, {window[1]}] must lie inside the limits "
                         f"[{limits[0]}, {limits[1]}]")
    return limits


def _pair(name: str, value: Any) -> Tuple[float, float]:
    """``value`` as a ``(low, high)`` pair of finite floats with ``low < high``."""
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError(name)
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be two numbers (low, high), got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{name} must be finite numbers with low < high, got {value!r}")
    return lo, hi


def checked_roi(roi: Optional[Sequence[float]]) -> Optional[Tuple[int, int, int, int]]:
    """A ROI as four whole pixels with a positive size, or None."""
    if roi is None:
        return None
    try:
        x, y, w, h = (int(round(float(v))) for v in roi)
    except (TypeError, ValueError):
        raise ValueError(f"roi must be (x, y, w, h) numbers, got {roi!r}") from None
    if x < 0 or y < 0 or w <= 0 or h <= 0:
        raise ValueError(f"roi must have x, y >= 0 and w, h > 0, got {roi!r}")
    return x, y, w, h
