"""A real OctoPrint (virtual printer + simulated microscope) and Debian's Chromium, for the UI."""

import os

import pytest

from tools.octoserver import OctoPrintServer, add_users, write_config

from .ui import ADMIN, COUNT_STATE_REQUESTS, DOF, FOCAL_Z, VIEWER, Api

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


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
    context.add_init_script(COUNT_STATE_REQUESTS)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], "script errors on the page"


@pytest.fixture
def page(browser):
    yield from _page_without_script_errors(browser, viewport={"width": 1440, "height": 900})


@pytest.fixture
def phone(browser):
    yield from _page_without_script_errors(
        browser, viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True, has_touch=True
    )


@pytest.fixture
def laptop(browser):
    yield from _page_without_script_errors(browser, viewport={"width": 1366, "height": 768})
