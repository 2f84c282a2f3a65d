"""Driving the Autofocus tab in the browser: users, REST access, page and terminal helpers."""

import json
import os
import shutil
import time
from pathlib import Path

import requests

from tools.octoserver import User

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"
README_SCREENSHOTS = ROOT / "docs" / "screenshots"
UPDATE_README = os.environ.get("AUTOFOCUS_README_SCREENSHOTS") == "1"
"""With AUTOFOCUS_README_SCREENSHOTS=1 the tests also refresh the README's screenshots."""
TAB = "#tab_plugin_autofocus"
VIEW = "#autofocus_view"
VIEW_MODEL = "ko.dataFor(document.querySelector('#autofocus_view'))"

ADMIN = User("admin", "admin-pw", admin=True, apikey="browser-test-admin-key")
VIEWER = User("viewer", "viewer-pw", groups=["readonly"])
FOCAL_Z = 4.0
DOF = 0.1


class Api:
    """The admin's REST access to the test server."""

    def __init__(self, url: str, apikey: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["X-Api-Key"] = apikey

    def get(self, path: str) -> dict:
        reply = self.session.get(self.url + path, timeout=10)
        reply.raise_for_status()
        return reply.json()

    def gcode(self, *lines: str) -> None:
        """Queue G-code lines for the printer."""
        self.session.post(self.url + "/api/printer/command", json={"commands": list(lines)},
                          timeout=10).raise_for_status()

    def autofocus(self) -> dict:
        return self.get("/api/plugin/autofocus")

    def plugin_settings(self) -> dict:
        return self.get("/api/settings")["plugins"]["autofocus"]

    def save_plugin_settings(self, plugin: str = "autofocus", **values) -> None:
        self.session.post(self.url + "/api/settings", json={"plugins": {plugin: values}},
                          timeout=10).raise_for_status()


def screenshot(page, name: str, selector: str = TAB, readme: str = "") -> Path:
    """Save a screenshot of the Autofocus tab's content (``selector``; None: the whole
    viewport, as the user sees it) as a test artifact, and as ``docs/screenshots/<readme>.png``
    when asked to refresh the README's pictures."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if selector is None:
        page.screenshot(path=str(path))
    else:
        page.locator(selector).screenshot(path=str(path))
    if readme and UPDATE_README:
        shutil.copyfile(path, README_SCREENSHOTS / f"{readme}.png")
    return path


COUNT_STATE_REQUESTS = r"""(() => {
    // window.autofocusStateRequests: the tab's GET /api/plugin/autofocus requests in flight,
    // counted down once their answer has been handled (see show_record)
    window.autofocusStateRequests = 0;
    const open = XMLHttpRequest.prototype.open;
    const send = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.open = function (method, url) {
        this.autofocusState = String(method).toUpperCase() === "GET" && /api\/plugin\/autofocus(\?|$)/.test(url);
        return open.apply(this, arguments);
    };
    XMLHttpRequest.prototype.send = function () {
        if (this.autofocusState) {
            window.autofocusStateRequests += 1;
            this.addEventListener("loadend", () => setTimeout(() => { window.autofocusStateRequests -= 1; }));
        }
        return send.apply(this, arguments);
    };
})();"""
"""An init script for every test page (conftest): counts the tab's requests for the server's state."""


def open_tab(page, server, user: User = ADMIN) -> None:
    """Log in through OctoPrint's login page and open the Autofocus tab."""
    page.goto(server.url + "/login?redirect=%2F")
    page.fill("#login-user", user.name)
    page.fill("#login-password", user.password)
    page.click("#login-button")
    show_tab(page)


def show_tab(page) -> None:
    """Once OctoPrint's UI has started, click the Autofocus tab (in the overflow menu if narrow)."""
    page.wait_for_function("() => window.OctoPrint && OctoPrint.coreui && OctoPrint.coreui.startedUp",
                           timeout=60_000)
    link = page.locator(f'#tabs a[href="{TAB}"]')
    if not link.is_visible():
        page.click("#tabs .tabdrop .dropdown-toggle")
    link.click()
    page.wait_for_selector(f"{TAB} .autofocus", state="visible")


def wait_for_picture(page) -> None:
    """Wait until the live view has shown a camera picture."""
    page.wait_for_function(f"document.querySelector('{VIEW} img').naturalWidth > 0", timeout=30_000)


def view_model(page, expression: str):
    """Evaluate ``expression`` on the tab's view model (``vm``) in the page."""
    return page.evaluate(f"() => {{ const vm = {VIEW_MODEL}; return {expression}; }}")


def wait_for_view_model(page, condition: str, timeout: float = 60_000) -> None:
    """Wait until ``condition`` on the tab's view model (``vm``) holds."""
    page.wait_for_function(f"() => {{ const vm = {VIEW_MODEL}; return {condition}; }}", timeout=timeout)


def wait_idle(api, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while api.autofocus()["state"] != "idle":
        if time.monotonic() > deadline:
            raise AssertionError("autofocus did not return to idle")
        time.sleep(0.3)


def record_sent_lines(page) -> None:
    """Collect every line OctoPrint sends to the printer, from its terminal feed, in ``window.sent``."""
    page.evaluate("""() => {
        window.sent = [];
        OctoPrint.socket.onMessage("current", (message) => {
            (message.data.logs || []).forEach((line) => {
                if (line.startsWith("Send: ")) window.sent.push(line);
            });
        });
    }""")


def mark_terminal(page, api, marker: str) -> int:
    """Send a no-op line and wait until the page saw it go out; return its index in ``window.sent``."""
    api.gcode(f"M117 {marker}")
    page.wait_for_function(f"() => window.sent.some((line) => line.includes('{marker}'))")
    return page.evaluate(f"() => window.sent.findIndex((line) => line.includes('{marker}'))")


def z_moves(page, start: int, end: int) -> list:
    """The Z moves among the sent lines ``start`` to ``end``."""
    return page.evaluate(f"() => window.sent.slice({start}, {end}).filter((l) => / G[01] .*Z/.test(l))")


def log_lines(server, start: int = 0) -> list:
    """Lines of the server's octoprint.log from byte offset ``start``."""
    with open(server.basedir / "logs" / "octoprint.log", "rb") as handle:
        handle.seek(start)
        return handle.read().decode("utf-8", "replace").splitlines()


def log_size(server) -> int:
    return (server.basedir / "logs" / "octoprint.log").stat().st_size


def wait_for_server_state(page) -> None:
    """Wait until the tab's requests for the server's state have answered. A test that puts
    its own data into a view model waits first: an answer still on its way (sent at startup
    or login) would replace that data with the server's."""
    page.wait_for_function("() => window.autofocusStateRequests === 0")


def show_record(page, record: dict) -> None:
    """Show ``record`` in the tab as if it were the last run (for records the rig cannot make)."""
    wait_for_server_state(page)
    page.evaluate("(record) => { const vm = ko.dataFor(document.querySelector('#autofocus_view'));"
                  " vm.last(record); vm._plot(); }", record)


def open_settings(page) -> None:
    """Open Settings > Autofocus."""
    page.click("#navbar_show_settings")
    page.click('#settings_dialog a[href="#settings_plugin_autofocus"]')
    page.wait_for_selector("#settings_plugin_autofocus .autofocus-settings", state="visible")


def move_printer(api, z: float) -> None:
    """Move Z (absolute) from outside the plugin and wait until the plugin has seen the answer."""
    api.gcode("G90", f"G1 Z{z} F1200", "M400", "M114")
    deadline = time.monotonic() + 30
    while True:
        position = api.autofocus()["position"]
        if position["state"] == "known" and abs(position["z"] - z) < 1e-3:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the plugin did not see Z{z}: {position}")
        time.sleep(0.2)


def run_from_tab(page, button: str = "#autofocus_start", timeout: float = 120_000) -> dict:
    """Click a button that starts a run and wait for that run's record (not the one shown before)."""
    before = view_model(page, "vm.last() && vm.last().run_id")
    page.click(button)
    wait_for_view_model(page, f"!vm.running() && vm.last() && vm.last().run_id !== {json.dumps(before)}", timeout)
    return view_model(page, "vm.last()")
