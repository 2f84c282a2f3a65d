"""The settings-save check that runs before OctoPrint stores anything."""

import flask
import pytest

from octoprint_autofocus.settings import DEFAULTS, SettingsError
from octoprint_autofocus.settings_guard import check_settings_save, settings_save_handler

STORED = {**DEFAULTS, "z_min": 0.0, "z_max": 20.0, "simulator": dict(DEFAULTS["simulator"])}


def refused_field(payload, stored=STORED, volume=None):
    with pytest.raises(SettingsError) as error:
        check_settings_save(payload, stored, volume)
    return error.value.field


def test_a_valid_save_gives_the_resulting_settings():
    config = check_settings_save({"search_range": 0.7, "_config_version": 1}, STORED)
    assert config.search_range == 0.7 and config.z_max == 20.0


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"evil_key": 1}, "evil_key"),
        ({"simulator": {"evil_key": 1}}, "simulator.evil_key"),
        ({"simulator": "on"}, "simulator"),
        ({"feedrate": "600"}, "feedrate"),
        ({"metric": ["tenengrad"]}, "metric"),
        ({"search_range": 1e-320}, "search_range"),
        ({"simulator": {"dof": "0.1"}}, "simulator.dof"),
        ({"z_max": -5}, "z_max"),
    ],
)
def test_an_invalid_save_names_the_field(payload, field):
    assert refused_field(payload) == field


def test_a_payload_that_is_not_an_object_is_refused():
    assert refused_field(["z_max", 5]) == "plugins.autofocus"


def test_the_payload_is_checked_together_with_the_stored_settings():
    assert refused_field({"z_min": 25.0}) == "z_max"  # z_max stays 20: the pair is wrong


@pytest.mark.parametrize("reference", [25.0, -1.0, 5000.0])
def test_a_reference_outside_the_z_limits_is_refused(reference):
    assert refused_field({"reference_z": reference}) == "reference_z"


def test_a_reference_outside_the_printer_volume_is_refused():
    assert refused_field({"reference_z": 15.0}, volume=(0.0, 10.0)) == "reference_z"
    assert check_settings_save({"reference_z": 9.5}, STORED, (0.0, 10.0)).reference_z == 9.5


def test_lowering_the_limits_below_a_stored_reference_is_refused():
    stored = {**STORED, "reference_z": 15.0}
    assert refused_field({"z_max": 10.0}, stored=stored) == "reference_z"


@pytest.mark.parametrize("field", ["before_gcode", "after_gcode"])
@pytest.mark.parametrize("gcode", ["G1 Z50", "G28", "G91\nG1 Z1", "M211 S0", "@AUTOFOCUS"])
def test_custom_gcode_that_could_leave_the_limits_is_refused(field, gcode):
    assert refused_field({field: gcode}) == field


def test_custom_gcode_z_is_checked_against_the_printer_volume_too():
    assert refused_field({"after_gcode": "G1 Z15"}, volume=(0.0, 10.0)) == "after_gcode"
    assert check_settings_save({"after_gcode": "M42 P4 S0\nG1 Z9"}, STORED, (0.0, 10.0)).after_gcode


@pytest.mark.parametrize("template", ["G1 Z{z:%}", "G1 Z{z:.3f}\nG1 Z150", "G091\nG1 Z{z:.3f}", "G1 Z{z:999999999}"])
def test_a_move_template_that_renders_unsafe_lines_is_refused(template):
    assert refused_field({"move_template": template}) == "move_template"


def test_the_servo_template_can_be_saved():
    assert check_settings_save({"move_template": "M280 P0 S{z:.0f}"}, STORED).move_template == "M280 P0 S{z:.0f}"



# ~ the before_request handler: which requests it looks at


@pytest.fixture
def guard():
    """OctoPrint's settings endpoint (api.setSettings) and two others around it in name, with
    the handler; ``checked`` has what it checked, ``allowed`` whether the caller may save."""
    app = flask.Flask(__name__)
    api = flask.Blueprint("api", __name__)
    for rule, endpoint in (("/api/settings", "setSettings"), ("/api/other", "other"), ("/api/system", "system")):
        api.add_url_rule(rule, endpoint, lambda: "", methods=["GET", "POST"])
    app.register_blueprint(api)
    state = {"checked": [], "allowed": True}

    def check(payload):
        state["checked"].append(payload)
        raise SettingsError("z_max", "must be above the lowest Z.")

    handler = settings_save_handler(check, lambda: state["allowed"], lambda exc: ("refused", exc.field))

    def call(path, method="POST", **body):
        with app.test_request_context(path, method=method, **body):
            return handler()

    state["call"] = call
    return state


def test_a_settings_save_with_autofocus_settings_is_checked_and_refused(guard):
    assert guard["call"]("/api/settings", json={"plugins": {"autofocus": {"z_max": -1}}}) == ("refused", "z_max")
    assert guard["checked"] == [{"z_max": -1}]


@pytest.mark.parametrize("path, method, body", [
    ("/api/other", "POST", {"json": {"plugins": {"autofocus": {"z_max": -1}}}}),
    ("/api/system", "POST", {"json": {"plugins": {"autofocus": {"z_max": -1}}}}),
    ("/api/settings", "GET", {}),
    ("/api/settings", "POST", {"json": {"plugins": {"other": {"x": 1}}}}),
    ("/api/settings", "POST", {"data": "{not json", "content_type": "application/json"}),
])
def test_every_other_request_passes_untouched(guard, path, method, body):
    assert guard["call"](path, method, **body) is None
    assert guard["checked"] == []


def test_a_caller_who_may_not_save_settings_is_left_to_octoprint(guard):
    guard["allowed"] = False
    assert guard["call"]("/api/settings", json={"plugins": {"autofocus": {"z_max": -1}}}) is None
    assert guard["checked"] == []


@pytest.mark.parametrize("key", ["Zmax", "X", "9", "zoom", "_config_versions"])  # before and after "_config_version"
def test_an_unknown_key_is_refused_whatever_it_is_called(key):
    assert refused_field({key: 1}) == key


def test_octoprints_own_config_version_key_is_let_through():
    assert check_settings_save({"_config_version": 2}, STORED).z_max == 20.0
