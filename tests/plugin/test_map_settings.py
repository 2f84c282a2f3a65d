"""Map settings and requests: everything checked, naming the field, before anything moves."""

import pytest

from octoprint_autofocus.atcommand import parse_parameters
from octoprint_autofocus.map_settings import (
    MapRequest,
    parse_map_request,
    parse_map_words,
    profile_xy_range,
    resolve_map,
    validate_map,
)
from octoprint_autofocus.settings import DEFAULTS, SettingsError, validate_simulator
from octoprint_autofocus.settings_guard import check_settings_save

BED = (0.0, 200.0, 0.0, 180.0)
LIMITS = (0.0, 20.0)


def field_of(call, *args):
    with pytest.raises(SettingsError) as refused:
        call(*args)
    return refused.value.field


def test_defaults_validate():
    config = validate_map({})
    assert (config.rows, config.cols, config.margin, config.lift, config.travel_z) == (5, 5, 10.0, 1.0, None)
    assert config.xy_template == DEFAULTS["map"]["xy_template"] == "G0 X{x:.3f} Y{y:.3f} F{feedrate}"
    assert config.max_failed == 0.25


@pytest.mark.parametrize("settings, field", [
    ({"rows": 1}, "map.rows"),
    ({"cols": 16}, "map.cols"),
    ({"rows": 2.5}, "map.rows"),
    ({"margin": -1}, "map.margin"),
    ({"lift": "high"}, "map.lift"),
    ({"xy_feedrate": 0}, "map.xy_feedrate"),
    ({"xy_template": "G0 X{x} Y{y} Z0"}, "map.xy_template"),
    ({"xy_template": 5}, "map.xy_template"),
    ({"max_failed": 1.5}, "map.max_failed"),
    ({"travel_z": "up"}, "map.travel_z"),
    ({"colour": "red"}, "map.colour"),
])
def test_bad_map_settings_are_refused_by_name(settings, field):
    assert field_of(validate_map, settings) == field


def test_the_default_rectangle_is_the_bed_minus_the_margin():
    plan = resolve_map(validate_map({"rows": 3, "cols": 4}), MapRequest(), BED, LIMITS)
    assert plan.rectangle == (10.0, 190.0, 10.0, 170.0)
    assert len(plan.points) == 12 and (plan.rows, plan.cols) == (3, 4)
    assert (plan.lift, plan.travel_z) == (1.0, None)
    assert plan.points[0].x == 10.0 and plan.points[3].x == 190.0 and plan.points[4].x == 190.0


def test_a_request_overrides_the_settings():
    request = parse_map_request({"command": "map", "rows": 2, "cols": 3, "x_min": 20, "x_max": 120.5,
                                 "y_min": 30, "y_max": 90, "travel_z": 8, "max_failed": 0.5,
                                 "template": "G1 X{x:.2f} Y{y:.2f} F{feedrate}"})
    plan = resolve_map(validate_map({}), request, BED, LIMITS)
    assert plan.rectangle == (20.0, 120.5, 30.0, 90.0)
    assert (plan.rows, plan.cols, plan.lift, plan.travel_z, plan.max_failed) == (2, 3, None, 8.0, 0.5)
    assert plan.xy_template == "G1 X{x:.2f} Y{y:.2f} F{feedrate}"
    assert plan.record()["rectangle"] == [20.0, 120.5, 30.0, 90.0]


@pytest.mark.parametrize("payload, field", [
    ({"rows": 0}, "rows"),
    ({"rows": 16}, "rows"),
    ({"cols": True}, "cols"),
    ({"cols": "many"}, "cols"),
    ({"cols": "3"}, "cols"),
    ({"x_min": "left"}, "x_min"),
    ({"lift": -1}, "lift"),
    ({"travel_z": float("nan")}, "travel_z"),
    ({"template": "G0 X{x} Y{y}\nG1 Z0"}, "template"),
    ({"template": None, "max_failed": -0.1}, "max_failed"),
    ({"speed": 3}, "speed"),
])
def test_bad_request_fields_are_refused_on_their_own(payload, field):
    assert field_of(parse_map_request, {"command": "map", **payload}) == field


@pytest.mark.parametrize("payload, field", [
    ({"x_min": -5}, "x_min"),
    ({"x_max": 250}, "x_max"),
    ({"y_min": 300, "y_max": 310}, "y_min"),
    ({"x_min": 100, "x_max": 50}, "x_max"),
    ({"y_min": 60, "y_max": 60}, "y_max"),
    ({"lift": 1, "travel_z": 5}, "travel_z"),
    ({"travel_z": 25}, "travel_z"),
    ({"travel_z": -1}, "travel_z"),
])
def test_requests_that_cannot_run_are_refused_by_name(payload, field):
    request = parse_map_request(payload)
    assert field_of(resolve_map, validate_map({}), request, BED, LIMITS) == field


def test_a_reversed_rectangle_is_told_in_labels_and_as_typed():
    with pytest.raises(SettingsError) as refused:
        resolve_map(validate_map({}), parse_map_request({"x_min": 100, "x_max": 50}), BED, LIMITS)
    assert refused.value.message == "must be above Lowest X (100.0 mm)."
    with pytest.raises(SettingsError) as refused:
        resolve_map(validate_map({}), parse_parameters("MAP Y0=90 Y1=30").map, BED, LIMITS)
    assert str(refused.value) == "Y1: must be above Y0 (90.0 mm)."


def test_an_absolute_travel_z_setting_outside_the_limits_is_refused():
    assert field_of(resolve_map, validate_map({"travel_z": 30}), MapRequest(), BED, LIMITS) == "map.travel_z"
    plan = resolve_map(validate_map({"travel_z": 9}), MapRequest(), BED, LIMITS)
    assert (plan.lift, plan.travel_z) == (None, 9.0)
    # a lift in the request wins over the travel Z of the settings
    plan = resolve_map(validate_map({"travel_z": 9}), MapRequest(lift=2.0), BED, LIMITS)
    assert (plan.lift, plan.travel_z) == (2.0, None)


def test_without_a_bed_size_a_map_is_refused():
    assert field_of(resolve_map, validate_map({}), MapRequest(), None, LIMITS) == "x_min"


def test_at_command_map_words():
    parsed = parse_parameters("MAP ROWS=3 cols=4 X0=20 Y0=30 X1=120 Y1=90 LIFT=2")
    request = parsed.map
    assert (request.rows, request.cols, request.x_min, request.y_min, request.x_max, request.y_max, request.lift) == (
        3, 4, 20.0, 30.0, 120.0, 90.0, 2.0)
    assert parse_parameters("MAP").map == MapRequest(names=parse_parameters("MAP").map.names)
    assert parse_parameters("RANGE=1").map is None


@pytest.mark.parametrize("words, field", [
    ("MAP ROWS=0", "ROWS"),
    ("MAP ROWS=", "ROWS"),
    ("MAP COLS=x", "COLS"),
    ("MAP RANGE=1", "RANGE"),
    ("MAP=1", "MAP"),
    ("MAP LIFT=-2", "LIFT"),
])
def test_bad_at_command_map_words_are_refused_as_typed(words, field):
    assert field_of(parse_parameters, words) == field


def test_at_command_rectangle_errors_name_the_typed_word():
    request = parse_parameters("MAP X0=150 X1=50").map
    assert field_of(resolve_map, validate_map({}), request, BED, LIMITS) == "X1"
    request = parse_parameters("MAP Y1=500").map
    assert field_of(resolve_map, validate_map({}), request, BED, LIMITS) == "Y1"


def test_words_alone_parse_to_a_request():
    assert parse_map_words({"MAP": "", "ROWS": "2"}).rows == 2


@pytest.mark.parametrize("profile, bed", [
    ({"volume": {"width": 200, "depth": 180, "height": 200, "origin": "lowerleft", "custom_box": False}},
     (0.0, 200.0, 0.0, 180.0)),
    ({"volume": {"width": 250, "depth": 250, "origin": "center"}}, (-125.0, 125.0, -125.0, 125.0)),
    ({"volume": {"width": 200, "depth": 200, "custom_box": {"x_min": -5, "x_max": 205, "y_min": 0, "y_max": 210,
                                                             "z_min": 0, "z_max": 200}}},
     (-5.0, 205.0, 0.0, 210.0)),
    ({"volume": {}}, None),
    (None, None),
])
def test_the_bed_comes_from_the_printer_profile(profile, bed):
    assert profile_xy_range(profile) == bed


def test_simulator_surface_settings_are_checked():
    values = validate_simulator({"surface": "tilted", "surface_height": 0.4, "bare_spot": [10, 20, 3]})
    assert (values["surface"], values["surface_height"], values["bare_spot"]) == ("tilted", 0.4, [10.0, 20.0, 3.0])
    assert validate_simulator({})["surface"] == "flat"
    for bad, field in (({"surface": "wavy"}, "simulator.surface"), ({"surface_height": 50}, "simulator.surface_height"),
                       ({"bare_spot": [1, 2]}, "simulator.bare_spot"), ({"bare_spot": [1, 2, 0]}, "simulator.bare_spot")):
        assert field_of(validate_simulator, bad) == field


@pytest.mark.parametrize("payload, field", [
    ({"map": {"xy_template": "G0 X{x} Y{y} Z{x}"}}, "map.xy_template"),
    ({"map": {"rows": 40}}, "map.rows"),
    ({"map": {"evil": 1}}, "map.evil"),
    ({"map": "big"}, "map"),
    ({"simulator": {"surface": "wavy"}}, "simulator.surface"),
])
def test_a_bad_map_or_surface_setting_refuses_the_whole_save(payload, field):
    stored = {**DEFAULTS, "simulator": dict(DEFAULTS["simulator"]), "map": dict(DEFAULTS["map"])}
    with pytest.raises(SettingsError) as refused:
        check_settings_save(payload, stored)
    assert refused.value.field == field
    check_settings_save({"map": {"rows": 7, "xy_template": "G1 X{x:.2f} Y{y:.2f}"}}, stored)
