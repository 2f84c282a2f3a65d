"""The SimpleApi: permission table and payload validation."""

import pytest

from octoprint_autofocus.api import (
    COMMAND_PERMISSIONS,
    allowed,
    check_no_payload,
    parse_home,
    parse_jog,
    parse_move,
    parse_score,
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
    assert set(COMMAND_PERMISSIONS) == {"start", "map", "cancel", "score", "set_reference", "home", "jog", "move"}
    assert COMMAND_PERMISSIONS["map"] == COMMAND_PERMISSIONS["start"]


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
    assert parse_set_reference({"command": "set_reference", "z": 2.5}) == 2.5


NOT_NUMBERS = ["1_000", "1.5", " 2 ", "0x10", True, False, [1.0], {"x": 1}]
"""JSON values that are not numbers, including text Python's float() would accept."""


@pytest.mark.parametrize(
    "parse, field, extra",
    [(parse_start, "range", {}), (parse_start, "z_min", {"z_max": 5}), (parse_start, "z_max", {"z_min": 1}),
     (parse_set_reference, "z", {}), (parse_jog, "dz", {})],
)
@pytest.mark.parametrize("value", NOT_NUMBERS, ids=repr)
def test_a_number_field_accepts_only_json_numbers(parse, field, extra, value):
    with pytest.raises(SettingsError) as error:
        parse({"command": "x", field: value, **extra})
    assert error.value.field == field
    assert "must be a number" in error.value.message and field not in error.value.message


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"range": 1e-320}, "range"),
        ({"range": 0.009}, "range"),
        ({"range": 501}, "range"),
        ({"range": 1e308}, "range"),
        ({"range": 10 ** 400}, "range"),
        ({"z_min": -1e308, "z_max": 5}, "z_min"),
        ({"z_min": 1, "z_max": 10001}, "z_max"),
        ({"roi": {"x": "0.1", "y": 0, "w": 0.5, "h": 0.5}}, "roi.x"),
        ({"roi": {"x": True, "y": 0, "w": 0.5, "h": 0.5}}, "roi.x"),
    ],
)
def test_start_numbers_outside_their_bounds_are_refused(payload, field):
    with pytest.raises(SettingsError) as error:
        parse_start({"command": "start", **payload})
    assert error.value.field == field


def test_the_smallest_and_largest_range_are_accepted():
    assert parse_start({"range": 0.01}).range == 0.01
    assert parse_start({"range": 500}).range == 500.0


@pytest.mark.parametrize("metric", [["tenengrad"], {"x": 1}, 7, "", "Tenengrad"])
@pytest.mark.parametrize("parse", [parse_start, parse_score])
def test_a_metric_that_is_not_a_known_name_is_refused_not_crashed_on(parse, metric):
    with pytest.raises(SettingsError) as error:
        parse({"command": "x", "metric": metric})
    assert error.value.field == "metric"


@pytest.mark.parametrize("z", [1e308, -1e308, 10001, -10001])
def test_a_reference_beyond_any_machine_is_refused(z):
    with pytest.raises(SettingsError) as error:
        parse_set_reference({"z": z})
    assert error.value.field == "z"


def test_home_takes_an_optional_boolean_confirmation():
    assert parse_home({"command": "home"}) is False
    assert parse_home({"command": "home", "confirm": True}) is True
    for value in ("yes", 1, "true", None):
        with pytest.raises(SettingsError) as error:
            parse_home({"command": "home", "confirm": value})
        assert error.value.field == "confirm"
    with pytest.raises(SettingsError) as error:
        parse_home({"command": "home", "force": True})
    assert error.value.field == "force"


@pytest.mark.parametrize("payload", [{}, {"dz": 0}, {"dz": 50}, {"dz": "up"}, {"dz": "0.1"}, {"dz": 1e308}])
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


@pytest.mark.parametrize("z_min, z_max", [(1, 5), (-10000, -9999), (9999, 10000), (-10000, 10000)])
def test_explicit_limits_anywhere_within_ten_metres_are_accepted(z_min, z_max):
    request = parse_start({"command": "start", "z_min": z_min, "z_max": z_max})
    assert (request.z_min, request.z_max) == (z_min, z_max)


@pytest.mark.parametrize("payload, field", [({"z_min": -10000.001, "z_max": 0}, "z_min"),
                                            ({"z_min": 0, "z_max": 10000.001}, "z_max")])
def test_explicit_limits_just_past_ten_metres_are_refused(payload, field):
    with pytest.raises(SettingsError, match="at (least|most) -?10000 mm") as error:
        parse_start({"command": "start", **payload})
    assert error.value.field == field


@pytest.mark.parametrize("dz", [10, -10, 0.001, -0.001])
def test_a_jog_of_up_to_ten_millimetres_either_way_is_accepted(dz):
    assert parse_jog({"command": "jog", "dz": dz}) == dz


@pytest.mark.parametrize("dz", [10.001, -10.001])
def test_a_jog_just_past_ten_millimetres_is_refused(dz):
    with pytest.raises(SettingsError, match="at (least|most) -?10") as error:
        parse_jog({"command": "jog", "dz": dz})
    assert error.value.field == "dz"


@pytest.mark.parametrize("parse", [parse_set_reference, parse_move])
@pytest.mark.parametrize("z", [-10000, -5.5, 0, 10000])
def test_an_absolute_z_anywhere_within_ten_metres_is_accepted(parse, z):
    assert parse({"command": "x", "z": z}) == z


@pytest.mark.parametrize("parse", [parse_set_reference, parse_move])
@pytest.mark.parametrize("z", [-10000.001, 10000.001])
def test_an_absolute_z_just_past_ten_metres_is_refused(parse, z):
    with pytest.raises(SettingsError, match="at (least|most) -?10000 mm") as error:
        parse({"command": "x", "z": z})
    assert error.value.field == "z"


def test_an_unknown_field_is_answered_with_the_fields_the_command_accepts():
    with pytest.raises(SettingsError, match=r"it accepts dz\)") as jog:
        parse_jog({"command": "jog", "dz": 1, "speed": 5})
    assert jog.value.field == "speed"
    with pytest.raises(SettingsError, match=r"it accepts no fields\)"):
        check_no_payload({"command": "cancel", "now": True})


@pytest.mark.parametrize("key", ["area", "Z", "_x", "co"])  # keys that sort before "command" too
def test_any_field_other_than_command_is_checked(key):
    with pytest.raises(SettingsError) as error:
        parse_start({"command": "start", key: 1})
    assert error.value.field == key


def test_of_several_unknown_fields_the_first_in_alphabetical_order_is_named():
    with pytest.raises(SettingsError) as error:
        parse_jog({"command": "jog", "dz": 1, "zz": 1, "speed": 2, "aa": 3})
    assert error.value.field == "aa"
