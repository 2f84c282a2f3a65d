"""A focus map seen from the top of the Autofocus tab: the upper panel says which point is being
focused and plots that point's samples, its Cancel says it stops the map, and the map's row
appears in the recent runs as soon as the map ends (no reload)."""

import re

import pytest
from playwright.sync_api import expect

from .test_focus_map import map_vm, wait_map
from .ui import move_printer, open_tab, screenshot, view_model, wait_for_view_model, wait_idle

pytestmark = pytest.mark.browser

PROGRESS_TITLE = re.compile(r"^Focus map running: point ([1-9]) of 9 \(X \d+\.\d mm, Y \d+\.\d mm\)$")


def start_map_from_the_form(page, rows: int, cols: int) -> None:
    """Set the grid in the map section and click Start map."""
    wait_map(page, "vm.defaults() !== null && vm.canStart()")
    page.fill("#autofocus_map_rows", str(rows))
    page.fill("#autofocus_map_cols", str(cols))
    page.locator("#autofocus_map_cols").press("Tab")
    page.click("#autofocus_map_start")


def newest_history_row(page):
    return page.locator(".autofocus-history tbody tr").first


@pytest.fixture
def near_focus(api):
    move_printer(api, 4.2)
    yield
    wait_idle(api, 180)
    move_printer(api, 4.0)


def test_the_upper_panel_follows_the_maps_points_and_the_new_row_appears_at_the_end(page, server, api, near_focus):
    open_tab(page, server)
    wait_for_view_model(page, "vm.canStart()")
    history_before = view_model(page, "vm.history().length")
    page.evaluate("""() => {
        const vm = ko.dataFor(document.querySelector('#autofocus_view'));
        window.shownPerPoint = [];  // [point number, samples plotted] whenever the samples change
        vm.samples.subscribe((samples) => {
            const point = vm.run() && vm.run().point;
            if (point) window.shownPerPoint.push([point.number, samples.length]);
        });
    }""")
    start_map_from_the_form(page, 3, 3)

    wait_for_view_model(page, "vm.mapRunning() && vm.run().point && vm.run().point.number >= 2"
                              " && vm.samples().length >= 2", timeout=120_000)
    page.evaluate("() => window.scrollTo(0, 0)")
    title = page.locator("#autofocus_progress_title").inner_text()
    assert PROGRESS_TITLE.match(title), title
    expect(page.locator("#autofocus_progress_text")).to_contain_text("measured at this point")
    expect(page.locator("#autofocus_cancel")).to_have_text("Cancel map")
    assert "focus map" in page.get_attribute("#autofocus_cancel", "title")
    expect(page.locator("#autofocus_plot_title")).to_have_text(
        re.compile(r"^Sharpness against Z \u2013 focus map, point [1-9] of 9 \(X "))
    plotted = page.evaluate("() => $('#autofocus_plot').data('plot').getData().find((s) => s.points.show).data.length")
    assert plotted >= 1
    expect(page.locator("#autofocus_show_map")).to_be_visible()
    screenshot(page, "map-upper-panel", selector=None, readme="map-upper-panel")

    wait_map(page, "!vm.mapRunning() && vm.last() && vm.last().points.length === 9", 240_000)
    record = map_vm(page, "vm.last()")
    assert record["ok"], record["message"]
    frames = {p["index"] + 1: p["frames"] for p in record["points"]}
    shown = page.evaluate("() => window.shownPerPoint")
    assert {number for number, _ in shown} == set(frames), "every point was shown"
    too_many = [(number, count) for number, count in shown if count > frames[number]]
    assert too_many == [], "a point's plot showed only that point's samples (%r)" % frames
    expect(newest_history_row(page)).to_contain_text("Focus map 3\u00d73")
    expect(newest_history_row(page)).to_contain_text("measured")
    assert view_model(page, "vm.history().length") == min(history_before + 1, 20)
    expect(page.locator("#autofocus_progress")).to_be_hidden()
    expect(page.locator("#autofocus_start")).to_be_visible()


def test_cancel_in_the_upper_panel_stops_the_map_and_its_row_says_cancelled(page, server, api, near_focus):
    open_tab(page, server)
    wait_for_view_model(page, "vm.canStart()")
    start_map_from_the_form(page, 3, 3)
    wait_for_view_model(page, "vm.mapRunning() && vm.run().point", timeout=120_000)

    page.click("#autofocus_cancel")

    expect(page.locator("#autofocus_map_result .alert")).to_contain_text("cancelled", timeout=60_000)
    expect(newest_history_row(page)).to_contain_text("Focus map 3\u00d73")
    expect(newest_history_row(page)).to_contain_text("cancelled")
    assert api.autofocus()["map"]["last"]["reason"] == "cancelled"


OPEN_TOASTS = "PNotify.notices.filter((n) => n.state !== 'closed' && n.state !== 'closing')"
STOPPED = "Stopped: 2 of 4 points could not be focused, more than the 25 % allowed."


@pytest.fixture
def blank_bed(api, near_focus):
    api.save_plugin_settings(simulator={"bare_spot": [100.0, 100.0, 500.0]})  # no texture anywhere
    yield
    wait_idle(api, 120)
    api.save_plugin_settings(simulator={"bare_spot": None})


def test_a_failed_map_watched_in_the_tab_is_told_once_in_its_result_box(page, server, api, blank_bed):
    open_tab(page, server)
    wait_for_view_model(page, "vm.canStart()")
    start_map_from_the_form(page, 2, 2)

    expect(page.locator("#autofocus_map_result .alert")).to_have_text(
        "Too many points failed. " + STOPPED, timeout=120_000)
    assert page.evaluate(f"() => {OPEN_TOASTS}.length") == 0


def test_a_failed_map_nobody_watches_gets_a_toast_that_stays(page, server, api, blank_bed):
    open_tab(page, server)
    wait_map(page, "vm.defaults() !== null")
    page.click('#tabs a[href="#control"]')
    reply = api.session.post(api.url + "/api/plugin/autofocus", json={"command": "map", "rows": 2, "cols": 2},
                             timeout=10)
    assert reply.status_code == 202, reply.text

    page.wait_for_function(f"() => {OPEN_TOASTS}.length > 0", timeout=120_000)
    toasts = page.evaluate(f"() => {OPEN_TOASTS}.map((n) => ({{text: n.options.text, hide: n.options.hide}}))")
    assert toasts == [{"text": "Too many points failed. " + STOPPED, "hide": False}]
