"""The SimpleApi commands: who may call them, and their payloads checked before anything moves."""

from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from flask_babel import gettext

from .settings import (
    RANGE_BOUNDS,
    Z_BOUND,
    RunRequest,
    SettingsError,
    check_request,
    parse_metric,
    parse_number,
    parse_roi,
)

__all__ = [
    "COMMAND_PERMISSIONS",
    "RUN_PERMISSION",
    "allowed",
    "parse_start",
    "parse_score",
    "parse_set_reference",
    "parse_jog",
    "parse_move",
    "parse_home",
    "check_no_payload",
]

RUN_PERMISSION = "PLUGIN_AUTOFOCUS_RUN"

COMMAND_PERMISSIONS: Dict[str, Tuple[str, ...]] = {
    "start": (RUN_PERMISSION, "CONTROL"),
    "map": (RUN_PERMISSION, "CONTROL"),
    "cancel": (RUN_PERMISSION, "CONTROL"),
    "set_reference": (RUN_PERMISSION, "CONTROL"),
    "home": (RUN_PERMISSION, "CONTROL"),
    "jog": (RUN_PERMISSION, "CONTROL"),
    "move": (RUN_PERMISSION, "CONTROL"),
    "score": ("STATUS",),
}
"""Command -> the permissions (names on ``Permissions``) a caller needs, all of them."""


def allowed(command: str, has: Callable[[str], bool]) -> bool:
    """Whether a caller with permission test ``has(name)`` may run ``command``.

    A command missing from COMMAND_PERMISSIONS is refused.
    """
    needed = COMMAND_PERMISSIONS.get(command)
    return bool(needed) and all(has(name) for name in needed)


def _fields(data: Mapping[str, Any], accepted: Tuple[str, ...]) -> Dict[str, Any]:
    """The payload without ``command``, refusing keys outside ``accepted``."""
    fields = {key: value for key, value in data.items() if key != "command"}
    unknown = sorted(set(fields) - set(accepted))
    if unknown:
        raise SettingsError(
            unknown[0],
            gettext("is not a field of this command (it accepts %(accepted)s).")
            % {"accepted": ", ".join(accepted) or gettext("no fields")},
        )
    return fields


def _optional(fields: Mapping[str, Any], key: str, parse: Callable[..., Any], **kwargs: Any) -> Optional[Any]:
    return parse(key, fields[key], **kwargs) if fields.get(key) is not None else None


def parse_start(data: Mapping[str, Any]) -> RunRequest:
    """``start`` {range? | z_min?, z_max?, metric?, roi?}."""
    fields = _fields(data, ("range", "z_min", "z_max", "metric", "roi"))
    return check_request(
        RunRequest(
            range=_optional(fields, "range", parse_number, low=RANGE_BOUNDS[0], high=RANGE_BOUNDS[1]),
            z_min=_optional(fields, "z_min", parse_number, low=-Z_BOUND, high=Z_BOUND),
            z_max=_optional(fields, "z_max", parse_number, low=-Z_BOUND, high=Z_BOUND),
            metric=_optional(fields, "metric", parse_metric),
            roi=_optional(fields, "roi", parse_roi),
        )
    )


def parse_score(data: Mapping[str, Any]) -> RunRequest:
    """``score`` {roi?, metric?}."""
    fields = _fields(data, ("roi", "metric"))
    return RunRequest(metric=_optional(fields, "metric", parse_metric), roi=_optional(fields, "roi", parse_roi))


def parse_set_reference(data: Mapping[str, Any]) -> Optional[float]:
    """``set_reference`` {z?}: the reference Z to store, or None to find it by focusing."""
    return _optional(_fields(data, ("z",)), "z", parse_number, low=-Z_BOUND, high=Z_BOUND)


def parse_jog(data: Mapping[str, Any]) -> float:
    """``jog`` {dz}: a relative Z move in mm (non-zero, at most 10 mm)."""
    fields = _fields(data, ("dz",))
    if fields.get("dz") is None:
        raise SettingsError("dz", gettext("is required."))
    dz = parse_number("dz", fields["dz"], low=-10.0, high=10.0)
    if dz == 0:
        raise SettingsError("dz", gettext("must not be 0."))
    return dz


def parse_move(data: Mapping[str, Any]) -> float:
    """``move`` {z}: an absolute Z in mm (the job refuses one outside the limits)."""
    fields = _fields(data, ("z",))
    if fields.get("z") is None:
        raise SettingsError("z", gettext("is required."))
    return parse_number("z", fields["z"], low=-Z_BOUND, high=Z_BOUND)


def parse_home(data: Mapping[str, Any]) -> bool:
    """``home`` {confirm?}: whether the user confirmed a correction above ``max_correction``
    (JSON true or false)."""
    confirm = _fields(data, ("confirm",)).get("confirm", False)
    if not isinstance(confirm, bool):
        raise SettingsError("confirm", gettext("must be true or false"))
    return confirm


def check_no_payload(data: Mapping[str, Any]) -> None:
    """``cancel`` takes no fields."""
    _fields(data, ())
