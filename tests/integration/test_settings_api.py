"""Settings through OctoPrint: bad values are rejected whole, legacy settings are migrated."""

import pytest
import yaml

from .conftest import ADMIN_KEY, PLUGIN_SETTINGS, Client, move_to, poll, start_server


def plugin_settings(client):
    return client.get("/api/settings").json()["plugins"]["autofocus"]


def config_yaml(server):
    return (server.basedir / "config.yaml").read_text()


def stored_sections(server):
    """The parts of config.yaml a refused save could touch: the plugin's and appearance."""
    config = yaml.safe_load(config_yaml(server)) or {}
    return config.get("plugins", {}).get("autofocus"), config.get("appearance")


@pytest.mark.parametrize(
    "values, field",
    [
        ({"feedrate": -5, "search_range": 0.7}, "feedrate"),
        ({"search_range": 0.7, "feedrate": "600"}, "feedrate"),
        ({"search_range": 0.7, "metric": ["tenengrad"]}, "metric"),
        ({"search_range": 0.7, "evil_key": "x"}, "evil_key"),
        ({"search_range": 0.7, "simulator": {"evil_key": 1}}, "simulator.evil_key"),
        ({"search_range": 0.7, "reference_z": 5000}, "reference_z"),
        ({"search_range": 1e-320}, "search_range"),
    ],
)
def test_bad_setting_is_a_400_naming_the_field_and_nothing_is_saved(idle, server, values, field):
    before, stored = plugin_settings(idle), stored_sections(server)
    reply = idle.save_settings(values)
    assert reply.status_code == 400, reply.text
    assert reply.json()["field"] == field and reply.json()["error"]
    assert plugin_settings(idle) == before
    assert stored_sections(server) == stored and "evil_key" not in config_yaml(server)
    # OctoPrint's log handlers write from a thread of their own: the line may follow the answer
    line = "Refused a settings save: %s:" % field
    poll((server.basedir / "logs" / "octoprint.log").read_text, lambda log: line in log, 10, line)


def test_a_refused_autofocus_save_saves_no_other_part_of_the_request(idle, server):
    stored = stored_sections(server)
    reply = idle.post("/api/settings", {"appearance": {"name": "renamed"},
                                        "plugins": {"autofocus": {"feedrate": -1}}})
    assert reply.status_code == 400
    assert stored_sections(server) == stored


def test_a_user_without_the_settings_permission_still_gets_403(viewer):
    assert viewer.save_settings({"evil_key": 1}).status_code == 403


def test_good_setting_applies_to_the_next_run_without_restart(idle, serial_log):
    move_to(idle, serial_log, 4.2)
    idle.settings(search_range=0.7)
    assert plugin_settings(idle)["search_range"] == 0.7
    record = idle.run()
    assert record["window"][1] - record["window"][0] == pytest.approx(1.4)


@pytest.fixture(scope="module")
def legacy_server(tmp_path_factory):
    legacy = {key: value for key, value in PLUGIN_SETTINGS.items() if key != "search_range"}
    server = start_server(tmp_path_factory, "octoprint-legacy",
                          {"plugins": {"autofocus": {**legacy, "range": 0.8, "metric": "retired_metric"}}})
    yield server
    server.stop()


def test_unversioned_settings_are_migrated_at_startup(legacy_server):
    settings = plugin_settings(Client(legacy_server, ADMIN_KEY))
    assert settings["search_range"] == 0.8 and "range" not in settings
    assert settings["metric"] == "tenengrad"
