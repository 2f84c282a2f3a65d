"""The SimpleApi: permission table and payload validation."""

import pytest

from octoprint_autofocus.api import (
    COMMAND_PERMISSIONS,
    allowed,
    check_no_payload,
    parse_jog,
    parse_move,
    parse_set_reference,
    parse_start,
)
from octoprint_autofocus.settings import SettingsError


def test_unknown_command_is_refused_even_to_a_caller_with_every_permission():
    assert allowed("self_destruct", lambda name: True) is False


def test_run_commands_need_the_plugin_permission_and_control():
    only_control = {"CONTROL", "STATUS"}
    assert not allowed("start", only_control.__contains__)
    assert allowed("start", {"CONTROL", "PLUGIN_AUTOFOCUS_RUN"}.__contains__)


def test_every_command_has_an_entry():
    assert set(COMMAND_PERMISSIONS) == {"start", "cancel", "score", "set_reference", "home", "jog", "move"}


def test_start_accepts_overrides():
    request = parse_start({"command": "start", "range": 1, "metric": "brenner",
                           "roi": {"x": 0.1, "y": 0.1, "w": 0.5, "h": 0.5}})
    assert (request.range, request.metric, request.roi) == (1.0, "brenner", (0.1, 0.1, 0.5, 0.5))


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"range": "far"}, "range"),
        ({"range": 0}, "range"),
        ({"z_min": 3}, "z_max"),
        ({"z_min": 3, "z_max": 1}, "z_max"),
        ({"metric": 7}, "metric"),
        ({"roi": {"x": 0, "y": 0, "w": 0, "h": 0}}, "roi"),
        ({"speed": 2}, "speed"),
    ],
)
def test_bad_start_payload_raises_an_error_naming_the_field(payload, field):
    with pytest.raises(SettingsError) as error:
        parse_start({"command": "start", **payload})
    assert error.value.field == field


def test_set_reference_without_z_means_focus_first():
    assert parse_set_reference({"command": "set_reference"}) is None
    assert parse_set_reference({"command": "set_reference", "z": "2.5"}) == 2.5


@pytest.mark.parametrize("payload", [{}, {"dz": 0}, {"dz": 50}, {"dz": "up"}])
def test_bad_jog_is_refused(payload):
    with pytest.raises(SettingsError) as error:
        parse_jog({"command": "jog", **payload})
    assert error.value.field == "dz"


def test_move_needs_run_permission_and_control_like_jog():
    assert COMMAND_PERMISSIONS["move"] == COMMAND_PERMISSIONS["jog"]
    assert not allowed("move", {"STATUS", "CONTROL"}.__contains__)


@pytest.mark.parametrize("payload", [{}, {"z": "high"}, {"z": float("nan")}, {"z": 4, "dz": 1}])
def test_bad_move_is_refused_naming_the_field(payload):
    with pytest.raises(SettingsError) as error:
        parse_move({"command": "move", **payload})
    assert error.value.field in ("z", "dz")


def test_move_takes_an_absolute_z():
    assert parse_move({"command": "move", "z": 4.25}) == 4.25


def test_commands_without_fields_refuse_extra_fields():
    with pytest.raises(SettingsError):
        check_no_payload({"command": "cancel", "now": True})
