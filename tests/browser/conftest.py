"""A real OctoPrint (virtual printer + simulated microscope) and Debian's Chromium, for the UI.

Screenshots go to ``artifacts/browser/`` (gitignored).
"""

import os
from pathlib import Path

import pytest
import requests

from tools.octoserver import OctoPrintServer, User, add_users, write_config

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
TAB = "#tab_plugin_autofocus"

ADMIN = User("admin", "admin-pw", admin=True, apikey="browser-test-admin-key")
VIEWER = User("viewer", "viewer-pw", groups=["readonly"])
FOCAL_Z = 4.0
DOF = 0.1


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


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

    def command(self, path: str, command: str, **data) -> requests.Response:
        return self.session.post(self.url + path, json={"command": command, **data}, timeout=10)

    def autofocus(self) -> dict:
        return self.get("/api/plugin/autofocus")

    def plugin_settings(self) -> dict:
        return self.get("/api/settings")["plugins"]["autofocus"]


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    basedir = tmp_path_factory.mktemp("octoprint-browser")
    write_config(basedir, {
        "plugins": {
            "autofocus": {
                "camera": "autofocus_sim",
                "search_range": 2.0,
                "simulator": {"enabled": True, "focal_z": FOCAL_Z, "dof": DOF, "fps": 10.0},
            }
        }
    })
    add_users(basedir, [ADMIN, VIEWER])
    with OctoPrintServer(basedir) as octoprint:
        octoprint.wait_operational(ADMIN.apikey)
        yield octoprint


@pytest.fixture(scope="session")
def api(server):
    return Api(server.url, ADMIN.apikey)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _page_without_script_errors(browser, **context_options):
    """A fresh page; the test fails if a script on it throws."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], "script errors on the page"


@pytest.fixture
def page(browser):
    yield from _page_without_script_errors(browser, viewport={"width": 1280, "height": 900})


@pytest.fixture
def phone(browser):
    yield from _page_without_script_errors(
        browser, viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True, has_touch=True
    )


def screenshot(page, name: str, selector: str = TAB) -> Path:
    """Save a screenshot of the Autofocus tab's content (or of ``selector``) as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.locator(selector).screenshot(path=str(path))
    return path


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
