"""Point 4 of issue 8: people read labels, plain sentences and numbers with units; one message
per event (no toast repeating the result box); toasts hide after a few seconds while the tab
is watched; a stored reference Z has sensible precision."""

import pytest
from playwright.sync_api import expect

from .ui import move_printer, open_settings, open_tab, run_from_tab, wait_for_view_model

pytestmark = pytest.mark.browser

OPEN_TOASTS = "PNotify.notices.filter((n) => n.state !== 'closed' && n.state !== 'closing')"


def toasts(page) -> list:
    return page.evaluate(f"() => {OPEN_TOASTS}.map((n) => ({{text: n.options.text, hide: n.options.hide}}))")


def test_a_refused_jog_says_why_in_millimetres_without_a_toast(page, server, api):
    move_printer(api, 5.0)
    open_tab(page, server)
    wait_for_view_model(page, "vm.canJog()")

    page.fill("#autofocus_jog_step", "10")
    page.click("#autofocus_jog_down")

    expect(page.locator("#autofocus_request_error")).to_have_text(
        "Z -5.000 mm is below the lowest Z (0.000 mm); nothing moved.")
    assert toasts(page) == []


def test_a_failed_run_watched_in_the_tab_is_told_once_in_the_result_box(page, server, api):
    api.save_plugin_settings(camera="custom", stream_url="http://127.0.0.1:9/no-camera", snapshot_url="")
    try:
        open_tab(page, server)
        wait_for_view_model(page, "vm.canStart()")
        record = run_from_tab(page, timeout=60_000)
    finally:
        api.save_plugin_settings(camera="autofocus_sim")

    assert record["reason"] == "camera_error"
    expect(page.locator("#autofocus_result .autofocus-explanation")).to_be_visible()
    assert toasts(page) == []


def test_a_failed_run_nobody_watches_gets_a_toast_that_stays(page, server, api):
    open_tab(page, server)
    page.click('#tabs a[href="#control"]')
    api.save_plugin_settings(camera="custom", stream_url="http://127.0.0.1:9/no-camera", snapshot_url="")
    try:
        api.session.post(api.url + "/api/plugin/autofocus", json={"command": "start"}, timeout=10).raise_for_status()
        page.wait_for_function(f"() => {OPEN_TOASTS}.length > 0", timeout=60_000)
    finally:
        api.save_plugin_settings(camera="autofocus_sim")

    assert toasts(page) == [{"text": "The camera did not deliver a picture.", "hide": False}]


def test_a_toast_shown_while_the_tab_is_watched_hides_by_itself(page, server, api):
    open_tab(page, server)
    wait_for_view_model(page, "vm.tabActive()")

    api.gcode("@AUTOFOCUS RANGE=far")  # refused: the plugin pushes an error message

    page.wait_for_function(f"() => {OPEN_TOASTS}.length > 0", timeout=30_000)
    shown = toasts(page)
    assert len(shown) == 1 and shown[0]["hide"] is True
    assert "RANGE" in shown[0]["text"] and "must be a number" in shown[0]["text"]
    page.wait_for_function(f"() => {OPEN_TOASTS}.length === 0", timeout=30_000)


def test_a_reference_found_by_focus_is_stored_to_the_micrometre(page, server, api):
    api.save_plugin_settings(reference_z=None)
    move_printer(api, 4.3)
    open_tab(page, server)
    wait_for_view_model(page, "vm.canStart() && vm.referenceZ() === null")
    try:
        record = run_from_tab(page, "#autofocus_set_reference")
        assert record["ok"] and record["kind"] == "reference"
        stored = api.plugin_settings()["reference_z"]
        assert stored == round(record["z"], 3) and stored != record["z"]
        expect(page.locator("#autofocus_reference")).to_have_text(f"{stored:.3f} mm")
        open_settings(page)
        page.click("#autofocus_show_advanced")
        assert len(page.input_value("#autofocus_setting_reference_z").split(".")[-1]) <= 3
    finally:
        api.save_plugin_settings(reference_z=None)
