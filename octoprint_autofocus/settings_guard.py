"""Refuse an invalid settings save before OctoPrint stores anything.

OctoPrint's ``POST /api/settings`` calls every plugin's ``on_settings_save`` and answers
200 whatever happens there (it catches and logs exceptions), and its default save
merges unknown keys into config.yaml. So the plugin checks its part of the payload
(``plugins.autofocus``) earlier, in an ``octoprint.server.api.before_request`` handler:
an invalid save answers 400 ``{"error", "field"}`` and nothing of it (nor of any other
part of that request) is saved.
"""

from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import octoprint.util
from flask_babel import gettext

from .map_settings import validate_map
from .settings import (
    DEFAULTS,
    RunConfig,
    SettingsError,
    check_reference,
    custom_gcode,
    safety_limits,
    validate,
    validate_simulator,
)

__all__ = ["CONFIG_VERSION_KEY", "check_settings_save", "settings_save_handler"]

CONFIG_VERSION_KEY = "_config_version"
"""OctoPrint's own key in a plugin's stored settings (sent back by some clients)."""
SETTINGS_ENDPOINT = "api.setSettings"
"""The Flask endpoint of ``POST /api/settings``."""


def _check_keys(payload: Any, known: Mapping[str, Any], prefix: str) -> None:
    if not isinstance(payload, Mapping):
        raise SettingsError(prefix.rstrip(".") or "plugins.autofocus", gettext("must be an object"))
    for key in payload:
        if key not in known and key != CONFIG_VERSION_KEY:
            raise SettingsError(prefix + str(key), gettext("is not a setting of the Autofocus plugin"))


def check_settings_save(payload: Any, stored: Mapping[str, Any],
                        volume: Optional[Tuple[float, float]] = None) -> RunConfig:
    """Check a ``plugins.autofocus`` save against the stored settings; return the
    resulting run settings, or raise SettingsError naming the first bad field.

    Unknown keys are refused; the payload is merged over ``stored`` the way OctoPrint
    merges it, then every setting is validated; a reference Z and the Z words of the
    custom G-code must lie within the Z limits and the printer ``volume``.
    """
    _check_keys(payload, DEFAULTS, "")
    for group in ("simulator", "map"):
        if group in payload:
            _check_keys(payload[group], DEFAULTS[group], group + ".")
    merged: Dict[str, Any] = octoprint.util.dict_merge(dict(stored or {}), dict(payload))
    merged.pop(CONFIG_VERSION_KEY, None)
    config = validate(merged)
    validate_simulator(merged.get("simulator") or {})
    validate_map(merged.get("map") or {})
    if config.reference_z is not None:
        check_reference(config.reference_z, config, volume)
    limits = safety_limits(config, volume)
    custom_gcode("before_gcode", config.before_gcode, limits)
    custom_gcode("after_gcode", config.after_gcode, limits)
    return config


def settings_save_handler(check: Callable[[Any], None], can_save: Callable[[], bool],
                          refuse: Callable[[SettingsError], Any]) -> Callable[[], Any]:
    """A Flask ``before_request`` handler for OctoPrint's API blueprints.

    For ``POST /api/settings`` by a caller allowed to save settings (``can_save()``)
    whose body has ``plugins.autofocus``, it calls ``check(payload)``; a SettingsError
    becomes the response ``refuse(error)`` (the request ends there). Any other request
    passes untouched (None).
    """
    import flask

    def handler() -> Any:
        request = flask.request
        if request.method != "POST" or request.endpoint != SETTINGS_ENDPOINT:
            return None
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not isinstance(data.get("plugins"), dict):
            return None
        if "autofocus" not in data["plugins"] or not can_save():
            return None
        try:
            check(data["plugins"]["autofocus"])
        except SettingsError as exc:
            return refuse(exc)
        return None

    return handler
