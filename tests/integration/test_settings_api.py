"""Settings through OctoPrint: bad values are rejected whole, legacy settings are migrated."""

import pytest

from .conftest import ADMIN_KEY, PLUGIN_SETTINGS, Client, move_to, start_server


def plugin_settings(client):
    return client.get("/api/settings").json()["plugins"]["autofocus"]


def test_bad_setting_is_rejected_and_the_old_values_are_kept(idle, server):
    before = plugin_settings(idle)
    idle.settings(feedrate=-5, search_range=0.7)
    after = plugin_settings(idle)
    assert after["feedrate"] == before["feedrate"] and after["search_range"] == before["search_range"]
    log = (server.basedir / "logs" / "octoprint.log").read_text()
    assert "feedrate: must be greater than 0" in log


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
