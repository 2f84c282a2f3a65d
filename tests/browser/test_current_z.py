"""Point 2 of issue 8: the current Z is always shown (from the printer's position answers),
follows jogs, outside moves and runs, says when it is unknown, and tells the distance from
the last focused Z."""

import pytest
from playwright.sync_api import expect

from .ui import move_printer, open_tab, run_from_tab, view_model, wait_for_view_model, wait_idle

pytestmark = pytest.mark.browser

CURRENT_Z = "#autofocus_current_z"


def test_the_current_z_follows_the_tabs_jog_buttons(page, server, api):
    move_printer(api, 5.0)
    open_tab(page, server)
    expect(page.locator(CURRENT_Z)).to_have_text("5.000 mm")

    page.fill("#autofocus_jog_step", "0.25")
    page.click("#autofocus_jog_up")
    expect(page.locator(CURRENT_Z)).to_have_text("5.250 mm")
    page.click("#autofocus_jog_down")
    expect(page.locator(CURRENT_Z)).to_have_text("5.000 mm")  # the first jog ends before the next click
    page.click("#autofocus_jog_down")
    expect(page.locator(CURRENT_Z)).to_have_text("4.750 mm")


def test_a_move_sent_from_elsewhere_updates_the_current_z(page, server, api):
    move_printer(api, 5.0)
    open_tab(page, server)
    expect(page.locator(CURRENT_Z)).to_have_text("5.000 mm")

    # a move typed in the terminal, no M114 after it (absolute: the virtual printer applies
    # G91/G90 when received, so a Control-tab style relative jog may land anywhere)
    api.gcode("G90", "G1 Z5.4 F600")

    expect(page.locator(CURRENT_Z)).to_have_text("5.400 mm", timeout=15_000)


def test_during_a_run_the_current_z_moves_and_afterwards_the_distance_from_focus_is_told(page, server, api):
    move_printer(api, 4.6)
    open_tab(page, server)
    wait_for_view_model(page, "vm.canStart()")
    page.evaluate("""() => {
        window.seenZ = new Set();
        const vm = ko.dataFor(document.querySelector('#autofocus_view'));
        vm.position.subscribe((p) => { if (vm.running()) window.seenZ.add(p.z); });
    }""")

    record = run_from_tab(page)

    assert record["ok"], record["message"]
    assert page.evaluate("() => window.seenZ.size") >= 3, "the readout moved with the run"
    focused = record["z"]
    expect(page.locator(CURRENT_Z)).to_have_text(f"{focused:.3f} mm")
    expect(page.locator("#autofocus_focus_distance")).to_have_text(f"Last focus: {focused:.3f} mm (you are there)")

    page.fill("#autofocus_jog_step", "0.1")
    page.click("#autofocus_jog_up")
    expect(page.locator("#autofocus_focus_distance")).to_have_text(
        f"Last focus: {focused:.3f} mm (0.100 mm above it)")


def test_without_a_printer_the_current_z_is_unknown(page, server, api):
    open_tab(page, server)
    wait_for_view_model(page, "vm.zKnown()")
    try:
        api.session.post(api.url + "/api/connection", json={"command": "disconnect"}, timeout=10).raise_for_status()
        expect(page.locator(CURRENT_Z)).to_have_text("unknown", timeout=15_000)
        expect(page.locator("#autofocus_position")).to_contain_text("the printer is not connected")
    finally:
        api.session.post(api.url + "/api/connection", json={"command": "connect", "port": "VIRTUAL"},
                         timeout=10).raise_for_status()
        server.wait_operational(api.session.headers["X-Api-Key"])
    wait_idle(api)
    expect(page.locator(CURRENT_Z)).not_to_have_text("unknown", timeout=15_000)
    assert view_model(page, "vm.position().state") == "known"
