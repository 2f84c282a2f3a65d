"""The Focus map section in real Chromium: the heat map fills in and the summary reads right."""

import re

import pytest
from playwright.sync_api import expect

from .ui import VIEWER, open_tab, screenshot, wait_idle

pytestmark = pytest.mark.browser

MAP_VM = "ko.dataFor(document.querySelector('#autofocus_map'))"
TILT_X, TILT_Y = 0.1, 0.05
"""mm per 100 mm of the simulator's tilted surface (0.3 mm corner to corner of a 200 mm bed,
two thirds along X)."""


def map_vm(page, expression):
    return page.evaluate(f"() => {{ const vm = {MAP_VM}; return {expression}; }}")


def wait_map(page, condition, timeout=120_000):
    page.wait_for_function(f"() => {{ const vm = {MAP_VM}; return {condition}; }}", timeout=timeout)


def pixel_at(page, x_mm, y_mm):
    """The canvas colour [r, g, b] at a bed position (mm)."""
    return map_vm(page, f"""(() => {{
        const layout = vm._lastLayout, canvas = document.getElementById('autofocus_map_canvas');
        const ratio = canvas.width / layout.width;
        const data = canvas.getContext('2d').getImageData(
            Math.round(layout.px({x_mm}) * ratio), Math.round(layout.py({y_mm}) * ratio), 1, 1).data;
        return [data[0], data[1], data[2]];
    }})()""")


def is_bed(colour):
    return colour == [238, 238, 238]


def is_failed(colour):
    return colour == [187, 187, 187]


@pytest.fixture
def tilted(api):
    api.gcode("G28", "G1 Z4.2 F1200")
    # 0.2 s camera latency: fresh frames on a loaded machine too (see tests/integration/test_focus_map.py)
    api.save_plugin_settings(latency=0.2,
                             simulator={"surface": "tilted", "surface_height": 0.3, "bare_spot": [100.0, 190.0, 5.0]})
    yield
    wait_idle(api, 120)
    api.save_plugin_settings(latency=0.1, simulator={"surface": "flat", "bare_spot": None})
    api.gcode("G28", "G1 Z4.0 F1200")


def test_the_heat_map_fills_in_and_the_summary_reads_right(page, server, api, tilted):
    open_tab(page, server)
    wait_map(page, "vm.defaults() !== null")
    assert [page.input_value(f"#autofocus_map_{key}") for key in ("x_min", "x_max", "y_min", "y_max")] == [
        "10", "190", "10", "190"]
    page.fill("#autofocus_map_rows", "3")
    page.fill("#autofocus_map_cols", "3")
    page.locator("#autofocus_map_cols").press("Tab")
    expect(page.locator("#autofocus_map")).to_contain_text("9 points, 90.0 mm apart")
    page.wait_for_function(f"() => {{ const vm = {MAP_VM}; return vm._lastLayout; }}")
    assert is_bed(pixel_at(page, 50, 50)) and pixel_at(page, 100, 100) == [0, 136, 204]  # a planned point
    screenshot(page, "map-1-planned", "#autofocus_map")

    page.click("#autofocus_map_start")
    wait_map(page, "vm.mapRunning() && vm.points().length >= 2")
    expect(page.locator("#autofocus_map_progress_text")).to_have_text(re.compile(r"^Point \d of 9"))
    assert not is_bed(pixel_at(page, 10, 10)) and not is_failed(pixel_at(page, 10, 10))  # measured: coloured
    assert is_bed(pixel_at(page, 60, 180))  # the back row is not measured yet
    screenshot(page, "map-2-filling-in", "#autofocus_map")

    page.wait_for_selector("#autofocus_map_result .alert", state="visible", timeout=120_000)
    expect(page.locator("#autofocus_map_result .alert")).to_contain_text("Map done. Measured 8 of 9 points. 1 could not be focused.")
    tilt = page.inner_text("#autofocus_map_tilt")
    along_x, along_y = (float(v) for v in re.findall(r"\+(\d+\.\d+) mm per 100 mm", tilt))
    assert along_x == pytest.approx(TILT_X, rel=0.05) and along_y == pytest.approx(TILT_Y, rel=0.05)
    corner = page.inner_text("#autofocus_map_corner")
    match = re.fullmatch(r"The back right corner is (\d\.\d{3}) mm higher than the front left corner\.", corner)
    assert match and float(match.group(1)) == pytest.approx(180 * (TILT_X + TILT_Y) / 100, rel=0.05)
    expect(page.locator("#autofocus_map_figures")).to_contain_text("8 of 9 points measured")
    expect(page.locator("#autofocus_map_figures")).to_contain_text("1 failed (marked with a cross)")
    low, high = page.locator("#autofocus_map_legend .autofocus-map-legend-label").all_inner_texts()
    assert low.startswith("\u2212") and high.startswith("+") and high.endswith(" mm")
    # every cell filled: the failed one grey, the others coloured low (front left) to high (back right)
    assert is_failed(pixel_at(page, 80, 185))
    front_left, back_right = pixel_at(page, 12, 12), pixel_at(page, 188, 188)
    assert front_left[2] > front_left[1] and back_right[0] > 200 and back_right[1] > 200  # dark blue / yellow

    canvas = page.locator("#autofocus_map_canvas").bounding_box()
    layout = map_vm(page, "[vm._lastLayout.px(190), vm._lastLayout.py(10)]")
    page.mouse.move(canvas["x"] + layout[0] - 5, canvas["y"] + layout[1] - 5)
    tooltip = page.locator("#autofocus_map_tooltip")
    expect(tooltip).to_have_text(re.compile(r"^X 190\.0, Y 10\.0: Z \d\.\d{3} mm"))
    tip = tooltip.bounding_box()
    assert canvas["x"] <= tip["x"] and tip["x"] + tip["width"] <= canvas["x"] + canvas["width"]  # not cut off
    screenshot(page, "map-3-done", "#autofocus_map")

    csv = page.evaluate("(url) => fetch(url).then((r) => r.text())",
                        page.get_attribute("#autofocus_map_csv", "href"))
    assert len(csv.strip().splitlines()) == 10 and csv.startswith("index,row,col,x_mm,y_mm,z_mm")


def test_a_bad_area_is_explained_and_a_refused_map_shows_the_server_reason(page, server, api):
    open_tab(page, server)
    wait_map(page, "vm.defaults() !== null")
    page.fill("#autofocus_map_x_min", "150")
    page.fill("#autofocus_map_x_max", "50")
    page.locator("#autofocus_map_x_max").press("Tab")
    expect(page.locator("#autofocus_map_blocked")).to_have_text("X to must be above X from.")
    expect(page.locator("#autofocus_map_start")).to_be_disabled()
    expect(page.locator("#autofocus_map_x_max")).to_have_class(re.compile("autofocus-map-bad"))

    page.click("#autofocus_map_whole_bed")
    page.select_option("#autofocus_map_travel_mode", "z")
    page.fill("#autofocus_map_travel", "500")
    page.locator("#autofocus_map_travel").press("Tab")
    page.click("#autofocus_map_start")
    expect(page.locator("#autofocus_map_error")).to_contain_text("outside the Z limits")
    expect(page.locator("#autofocus_map_travel")).to_have_class(re.compile("autofocus-map-bad"))
    assert api.autofocus()["state"] == "idle" and api.autofocus()["map"]["progress"] is None


def test_a_read_only_user_sees_the_last_map_but_cannot_start_one(page, server):
    open_tab(page, server, VIEWER)
    expect(page.locator("#autofocus_map")).to_be_visible()
    expect(page.locator("#autofocus_map_start")).to_be_hidden()
    expect(page.locator("#autofocus_map_rows")).to_be_disabled()


def test_map_settings_saved_in_the_pane_reach_the_server_and_the_form(page, server, api):
    open_tab(page, server)
    wait_map(page, "vm.defaults() !== null")
    page.click("#navbar_show_settings")
    page.click('#settings_dialog a[href="#settings_plugin_autofocus"]')
    page.click("#autofocus_show_advanced")  # the map's settings are among the advanced ones
    try:
        page.fill("#autofocus_setting_map_rows", "4")
        page.fill("#autofocus_setting_map_margin", "20")
        page.click('[data-test-id="settings-save"]')
        expect(page.locator("#settings_dialog")).to_be_hidden()
        saved = api.plugin_settings()["map"]
        assert (saved["rows"], saved["margin"]) == (4, 20)
        expect(page.locator("#autofocus_map_rows")).to_have_value("4")
        expect(page.locator("#autofocus_map_x_min")).to_have_value("20")
    finally:
        api.save_plugin_settings(map={"rows": 5, "margin": 10.0})
