"""The OctoPrint page a logged-in user gets carries the plugin's tab and settings."""

import requests


def test_logged_in_page_has_the_tab_and_settings_and_no_template_warnings(server):
    session = requests.Session()
    session.get(server.url + "/", timeout=30)
    token = session.cookies.get("csrf_token_P%d" % server.port)
    login = session.post(server.url + "/api/login", timeout=30, headers={"X-CSRF-Token": token},
                         json={"user": "admin", "pass": "admin-password", "remember": False})
    assert login.status_code == 200
    html = session.get(server.url + "/", timeout=30).text
    assert 'id="tab_plugin_autofocus"' in html and 'id="settings_plugin_autofocus"' in html
    log = (server.basedir / "logs" / "octoprint.log").read_text()
    assert "octoprint.plugins.autofocus - WARNING - The templates" not in log


def test_octoprint_plugin_loader_found_and_loaded_the_plugin(server):
    log = (server.basedir / "logs" / "octoprint.log").read_text()
    assert "Autofocus (0.1.0) = " in log
    assert "Error loading plugin autofocus" not in log
    assert "octoprint.plugins.autofocus" in log  # the plugin's own logger started
