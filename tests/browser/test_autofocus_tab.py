"""The Autofocus tab in real Chromium against a real OctoPrint with the simulated microscope."""

import re

import pytest
from playwright.sync_api import expect

from .records import flat_record, map_record, peak_record
from .ui import (DOF, TAB, VIEW, VIEWER, mark_terminal, move_printer, open_tab, record_sent_lines, run_from_tab,
                 screenshot, show_record, show_tab, view_model, wait_for_picture, wait_for_view_model, wait_idle, z_moves)

pytestmark = pytest.mark.browser


def test_the_live_view_shows_a_camera_picture_and_the_score_keeps_updating(page, server):
    open_tab(page, server)

    wait_for_picture(page)
    wait_for_view_model(page, "vm.scores().length >= 3")
    expect(page.locator("#autofocus_score")).to_have_text(re.compile(r"^\d"))
    assert page.locator(f"{VIEW} .autofocus-view-message").is_hidden()
    points = page.locator(f"{TAB} .autofocus-sparkline polyline").get_attribute("points").split()
    xs = [float(point.split(",")[0]) for point in points]
    assert len(xs) >= 3 and xs == sorted(xs) and xs[-1] == pytest.approx(100.0), "newest score at the right"
    screenshot(page, "1-before-run", readme="tab-before-run")


def test_the_score_stops_polling_when_another_tab_is_shown(page, server):
    open_tab(page, server)
    wait_for_view_model(page, "vm.scores().length >= 1")

    page.click('#tabs a[href="#control"]')

    assert view_model(page, "vm.scoreWanted()") is False
    assert page.locator(f"{VIEW} img").get_attribute("src") is None


def test_the_score_and_the_stream_stop_while_the_browser_tab_is_hidden(page, server):
    open_tab(page, server)
    wait_for_view_model(page, "vm.scores().length >= 1")

    page.evaluate("""() => {
        Object.defineProperty(document, "hidden", {value: true, configurable: true});
        Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")

    assert view_model(page, "vm.scoreWanted()") is False
    assert page.locator(f"{VIEW} img").get_attribute("src") is None


def test_a_rotated_camera_is_shown_upright_as_octoprint_shows_it(page, server, api):
    api.save_plugin_settings("classicwebcam", stream="/plugin/autofocus/sim/stream", rotate90=True, flipH=True)
    api.save_plugin_settings(camera="classic")
    try:
        open_tab(page, server)
        wait_for_picture(page)

        box = page.locator(VIEW).bounding_box()
        image = page.locator(f"{VIEW} img").bounding_box()
        natural = page.evaluate(f"() => {{ const i = document.querySelector('{VIEW} img'); "
                                f"return [i.naturalWidth, i.naturalHeight]; }}")
        assert natural[0] > natural[1] and box["height"] > box["width"]
        assert abs(box["height"] / box["width"] - natural[0] / natural[1]) < 0.02
        assert abs(image["width"] - box["width"]) < 2 and abs(image["height"] - box["height"]) < 2
        transform = page.locator(f"{VIEW} img").evaluate("(img) => getComputedStyle(img).transform")
        a, b, c, d = (float(v) for v in transform[len("matrix("):].split(",")[:4])
        assert (round(a), round(b), round(c), round(d)) == (0, 1, 1, 0)  # mirrored, then 90 deg left
        screenshot(page, "8-rotated")
    finally:
        api.save_plugin_settings(camera="autofocus_sim")


def test_a_dragged_region_is_saved_and_still_there_after_a_reload(page, server, api):
    open_tab(page, server)
    box = page.locator(VIEW).bounding_box()

    page.mouse.move(box["x"] + 0.1 * box["width"], box["y"] + 0.2 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.4 * box["height"], steps=5)
    page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.6 * box["height"], steps=5)
    page.mouse.up()

    wait_for_view_model(page, "Math.abs(vm.roi().x - 0.1) < 0.02")
    expected = {"x": 0.1, "y": 0.2, "w": 0.4, "h": 0.4}
    saved = None
    for _ in range(50):
        saved = api.plugin_settings()["roi"]
        if saved:
            break
        page.wait_for_timeout(100)
    assert saved and all(abs(saved[k] - v) < 0.02 for k, v in expected.items())

    page.reload()
    show_tab(page)
    roi = view_model(page, "vm.roi()")
    assert all(abs(roi[k] - v) < 0.02 for k, v in expected.items())
    style = page.locator(f"{VIEW} .autofocus-roi").get_attribute("style")
    assert abs(float(re.search(r"left: ([\d.]+)%", style).group(1)) - 10) < 2

    page.click("#autofocus_reset_roi")
    wait_for_view_model(page, "vm.roi().x === 0.25 && vm.roi().w === 0.5")


def test_autofocus_plots_the_run_and_lands_within_half_a_depth_of_field(page, server, api):
    move_printer(api, 5.2)
    open_tab(page, server)
    wait_for_view_model(page, "vm.canStart()")

    page.click("#autofocus_start")
    wait_for_view_model(page, "vm.running() && vm.samples().length >= 4")
    assert page.locator("#autofocus_plot canvas").count() > 0
    screenshot(page, "2-during-run", readme="tab-during-run")
    growing_from = view_model(page, "vm.samples().length")
    wait_for_view_model(page, f"!vm.running() || vm.samples().length > {growing_from}")

    expect(page.locator("#autofocus_result .autofocus-verdict")).to_have_text("In focus", timeout=120_000)
    final_z = float(page.locator("#autofocus_final_z").inner_text().split()[0])
    focal_z = api.plugin_settings()["simulator"]["focal_z"]
    assert abs(final_z - focal_z) <= DOF / 2
    assert page.locator("#autofocus_result a[download]").get_attribute("href").endswith(".json")
    expect(page.locator(".autofocus-history tbody tr").first).to_be_visible()
    screenshot(page, "3-after-run", readme="tab-after-run")


def test_a_run_that_fails_says_why_and_what_to_try(page, server, api):
    api.save_plugin_settings(camera="custom", stream_url="http://127.0.0.1:9/no-camera", snapshot_url="")
    try:
        open_tab(page, server)
        expect(page.locator(f"{VIEW} .autofocus-view-message")).to_be_visible()
        wait_for_view_model(page, "vm.canStart()")

        record = run_from_tab(page, timeout=60_000)

        expect(page.locator("#autofocus_result .autofocus-verdict")).to_have_text("Not focused")
        assert record["reason"] == "camera_error"
        expect(page.locator("#autofocus_result .autofocus-explanation")).to_have_text(
            "The camera did not deliver a picture.")
        expect(page.locator("#autofocus_result .autofocus-advice")).to_have_text(
            "Check the camera choice and its URLs in the settings.")
        expect(page.locator("#autofocus_result .autofocus-detail")).to_contain_text("Details: ")
        screenshot(page, "6-failed-run")
    finally:
        api.save_plugin_settings(camera="autofocus_sim")


def test_a_camera_that_stayed_dark_is_told_to_check_the_light_and_offers_no_other_way(page, server):
    open_tab(page, server)
    show_record(page, flat_record(reason="camera_dark", message="The camera's picture was dark."))
    expect(page.locator("#autofocus_result .autofocus-verdict")).to_have_text("Not focused")
    expect(page.locator("#autofocus_result .autofocus-explanation")).to_have_text(
        "The camera's picture was dark, so focus could not be judged.")
    expect(page.locator("#autofocus_result .autofocus-advice")).to_have_text(
        "Check the light and that nothing covers the lens, then try again.")
    expect(page.locator("#autofocus_result .autofocus-detail")).to_be_hidden()  # no device's own words
    expect(page.locator("#autofocus_move_anyway")).to_be_hidden()  # a dark frame's best Z is no focus
    expect(page.locator("#autofocus_search_wider")).to_be_hidden()  # nor does a wider range bring light
    screenshot(page, "9-camera-dark")


def test_a_run_that_took_up_more_backlash_than_the_overscan_says_what_to_set(page, server):
    open_tab(page, server)
    show_record(page, peak_record(overscan_grown=0.6000000000000001, options={"overscan": 0.2}))
    expect(page.locator("#autofocus_result .autofocus-verdict")).to_have_text("In focus")
    expect(page.locator("#autofocus_result .autofocus-advice")).to_have_text(
        "Z has more backlash than the backlash overscan (0.200 mm), so this run used 0.600 mm. "
        "Set the backlash overscan to at least 0.600 mm in the settings.")
    screenshot(page, "9-backlash-taken-up")
    show_record(page, flat_record(reason="verify_failed", overscan_grown=1.8, options={"overscan": 0.2}))
    expect(page.locator("#autofocus_result .autofocus-advice")).to_have_text(
        "Increase the settle time or the backlash overscan. Z has more backlash than the backlash "
        "overscan (0.200 mm), so this run used 1.800 mm. Set the backlash overscan to at least "
        "1.800 mm in the settings.")
    show_record(page, peak_record())
    expect(page.locator("#autofocus_result .autofocus-advice")).to_be_hidden()  # no backlash note


def test_cancel_returns_to_idle_and_no_further_z_moves_are_sent(page, server, api):
    move_printer(api, 5.5)
    open_tab(page, server)
    wait_for_view_model(page, "vm.canStart()")
    record_sent_lines(page)

    page.click("#autofocus_start")
    wait_for_view_model(page, "vm.running() && vm.samples().length >= 2")
    page.click("#autofocus_cancel")

    expect(page.locator("#autofocus_result .autofocus-verdict")).to_have_text("Cancelled", timeout=60_000)
    wait_idle(api)
    expect(page.locator("#autofocus_start")).to_be_visible()
    first = mark_terminal(page, api, "after-cancel-1")
    page.wait_for_function("() => { window.ticks = (window.ticks || 0) + 1; return window.ticks > 30; }",
                           polling=100)
    second = mark_terminal(page, api, "after-cancel-2")
    assert z_moves(page, 0, first), "the run moved Z before it was cancelled"
    assert z_moves(page, first, second) == []


def test_a_user_without_the_permission_sees_the_view_but_no_run_buttons(page, server):
    open_tab(page, server, VIEWER)

    wait_for_picture(page)
    for button in ("#autofocus_start", "#autofocus_set_reference", "#autofocus_home",
                   "#autofocus_jog_up", "#autofocus_reset_roi"):
        assert page.locator(button).is_hidden(), button


@pytest.mark.parametrize("user", [None, VIEWER], ids=["admin", "viewer"])
def test_a_phone_sized_screen_has_no_horizontal_scrolling(phone, server, user):
    open_tab(phone, server, *([user] if user else []))
    wait_for_picture(phone)

    overflow = phone.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    sticking_out = phone.evaluate(f"""() => {{
        const pane = document.querySelector('{TAB}').getBoundingClientRect();
        return [...document.querySelectorAll('{TAB} *')]
            .filter((e) => e.getBoundingClientRect().width > 0 && e.getBoundingClientRect().right > pane.right + 1)
            .map((e) => e.tagName + '.' + e.className);
    }}""")
    assert sticking_out == []
    if user is None:
        # what a phone really shows: OctoPrint's page has no viewport meta tag, so the
        # desktop layout (980 px) is zoomed out to the screen's width
        assert phone.evaluate("() => window.innerWidth") >= 900
        assert phone.evaluate("() => document.querySelector('meta[name=viewport]')") is None
        screenshot(phone, "4-phone", selector=None, readme="tab-phone")


def test_the_tab_speaks_german_when_the_interface_language_is_german(page, server):
    open_tab(page, server)
    page.goto(server.url + "/?l10n=de")
    show_tab(page)

    expect(page.locator("#autofocus_start")).to_contain_text("Autofokus")
    expect(page.locator("#autofocus_reset_roi")).to_contain_text("Bereich zentrieren")
    expect(page.locator("#autofocus_position")).to_contain_text("Aktuelles Z")
    expect(page.locator("#autofocus_score_percent")).to_contain_text("% vom Besten")
    show_record(page, flat_record())
    expect(page.locator(".autofocus-plot-ytitle")).to_have_text("Schärfe, % vom Besten des Laufs")
    expect(page.locator("#autofocus_result .autofocus-explanation")).to_have_text(
        "Zwischen Z 3.000 mm und Z 5.000 mm wurde keine eindeutig schärfste Position gefunden.")
    expect(page.locator("#autofocus_plot_legend")).to_contain_text("Suchfenster")
    screenshot(page, "7-german")
    show_record(page, flat_record(reason="camera_dark"))
    expect(page.locator("#autofocus_result .autofocus-explanation")).to_have_text(
        "Das Kamerabild war dunkel, daher ließ sich der Fokus nicht beurteilen.")
    expect(page.locator("#autofocus_result .autofocus-advice")).to_have_text(
        "Prüfen Sie die Beleuchtung und dass nichts das Objektiv verdeckt, und versuchen Sie es dann erneut.")

    # the focus map section: the form, a finished map's words (from the record's numbers)
    expect(page.locator("#autofocus_map h5")).to_have_text("Fokuskarte")
    expect(page.locator("#autofocus_map_start")).to_have_text("Karte starten")
    expect(page.locator("#autofocus_map")).to_contain_text("25 Punkte, 45.0 mm Abstand in X und 45.0 mm in Y")
    page.evaluate("(record) => ko.dataFor(document.querySelector('#autofocus_map')).last(record)", map_record())
    expect(page.locator("#autofocus_map_result .alert")).to_have_text(
        "Karte fertig. 8 von 9 Punkten gemessen. 1 konnte nicht fokussiert werden.")
    expect(page.locator("#autofocus_map_tilt")).to_have_text(
        "Neigung der Ausgleichsebene: +0.100 mm pro 100 mm entlang X, +0.050 mm pro 100 mm entlang Y.")
    expect(page.locator("#autofocus_map_corner")).to_have_text(
        "Die Ecke hinten rechts liegt 0.270 mm höher als die Ecke vorne links.")
    expect(page.locator("#autofocus_map_figures")).to_contain_text("1 fehlgeschlagen (mit einem Kreuz markiert).")
    # the upper panel while a map runs
    view_model(page, "(vm.state('running'), vm.run({run_id: 'shown', kind: 'map', phase: 'coarse', samples: [],"
                     " in_job: false, point: {number: 4, total: 25, x: 145, y: 10}}), true)")
    expect(page.locator("#autofocus_progress_title")).to_have_text(
        "Fokuskarte läuft: Punkt 4 von 25 (X 145.0 mm, Y 10.0 mm)")
    expect(page.locator("#autofocus_progress_text")).to_have_text("0 Positionen an diesem Punkt gemessen (Grobsuche)")
    expect(page.locator("#autofocus_cancel")).to_have_text("Karte abbrechen")
    expect(page.locator("#autofocus_plot_title")).to_have_text(
        "Schärfe über Z \u2013 Fokuskarte, Punkt 4 von 25 (X 145.0 mm, Y 10.0 mm)")
    screenshot(page, "7-german-map", "#autofocus_map")
