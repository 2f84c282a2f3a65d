"""Point 7 of issue 8: a whole session (drag, jog, run, settings, a setting the server refuses,
a focus map) leaves no WARNING or ERROR about the plugin in octoprint.log (dragging the region
used to log 1.5 warnings a second; a refused save used to log a warning though the person saving
was told)."""

import re

import pytest
from playwright.sync_api import expect

from .test_focus_map import map_vm, wait_map
from .ui import VIEW, log_lines, log_size, move_printer, open_settings, open_tab, run_from_tab, wait_for_view_model

pytestmark = pytest.mark.browser

TROUBLE = re.compile(r" - (WARNING|ERROR|CRITICAL) - ")


def test_a_whole_session_logs_no_warning_about_the_plugin(page, server, api):
    start = log_size(server)
    move_printer(api, 4.6)
    open_tab(page, server)
    wait_for_view_model(page, "vm.canStart() && vm.scores().length > 0")

    box = page.locator(VIEW).bounding_box()  # drag a region
    page.mouse.move(box["x"] + 0.2 * box["width"], box["y"] + 0.2 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.7 * box["height"], steps=8)
    page.mouse.up()
    wait_for_view_model(page, "Math.abs(vm.roi().x - 0.2) < 0.02")
    wait_for_view_model(page, "vm.scores().length >= 5")  # the live score polls with the saved region

    page.click("#autofocus_jog_up")  # jog
    expect(page.locator("#autofocus_current_z")).to_have_text("4.700 mm")
    record = run_from_tab(page)  # run
    assert record["ok"], record["message"]

    open_settings(page)  # settings, first with a value only the server can refuse
    page.fill("#autofocus_setting_search_range", "1.8")
    page.click("#autofocus_show_advanced")
    page.fill("#autofocus_setting_move_template", "G1 Z{z:.3f} F{feedrate}\nG28")
    page.click('[data-test-id="settings-save"]')
    expect(page.locator("#settings_plugin_autofocus .autofocus-server-error")).to_contain_text("Move G-code: ")
    page.fill("#autofocus_setting_move_template", "G1 Z{z:.3f} F{feedrate}")
    page.locator("#autofocus_setting_move_template").dispatch_event("change")
    page.click('[data-test-id="settings-save"]')
    expect(page.locator("#settings_dialog")).to_be_hidden()
    api.save_plugin_settings(search_range=2.0, roi={"x": 0.25, "y": 0.25, "w": 0.5, "h": 0.5})
    page.evaluate("() => { window.polled = 0; ko.dataFor(document.querySelector('#autofocus_view'))"
                  ".scores.subscribe(() => { window.polled += 1; }); }")
    page.wait_for_function("() => window.polled >= 3")  # the live score went on through the saves

    wait_map(page, "vm.defaults() !== null && vm.canStart()")  # a focus map
    page.fill("#autofocus_map_rows", "3")
    page.fill("#autofocus_map_cols", "3")
    page.locator("#autofocus_map_cols").press("Tab")
    page.click("#autofocus_map_start")
    wait_map(page, "!vm.mapRunning() && vm.last() && vm.last().points.length === 9", 240_000)
    assert map_vm(page, "vm.last().ok"), map_vm(page, "vm.last().message")

    trouble = [line for line in log_lines(server, start)
               if TROUBLE.search(line) and "autofocus" in line.lower()]
    assert trouble == []
    said = log_lines(server, start)
    assert any("Autofocus run" in line for line in said) and any("Focus map" in line for line in said), "log read"
    assert any("Refused a settings save" in line for line in said), "the refusal is logged (as information)"
