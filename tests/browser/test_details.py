"""Point 9 of issue 8, the smaller things: a jog step that cannot be used says so, replacing the
focus reference asks first (old -> new), recent runs show 5 rows on one line each (more on
request, focus maps named as such), a failed live score is shown."""

import json

import pytest
from playwright.sync_api import expect

from .ui import TAB, move_printer, open_tab, run_from_tab, view_model, wait_for_server_state, wait_for_view_model

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("step", ["-1", "0", "11", ""])
def test_a_jog_step_that_cannot_be_used_says_so_and_disables_the_arrows(page, server, step):
    open_tab(page, server)
    wait_for_view_model(page, "vm.canJog()")

    page.fill("#autofocus_jog_step", step)

    expect(page.locator(f"{TAB} .autofocus-jog .help-block")).to_have_text(
        "Enter a step above 0 and at most 10 mm; the arrows give the direction.")
    expect(page.locator("#autofocus_jog_up")).to_be_disabled()
    expect(page.locator("#autofocus_jog_down")).to_be_disabled()
    page.fill("#autofocus_jog_step", "0.2")
    expect(page.locator("#autofocus_jog_up")).to_be_enabled()


@pytest.mark.parametrize("answer", ["Cancel", "Replace"])
def test_setting_the_reference_again_asks_with_the_old_and_the_new_value(page, server, api, answer):
    api.session.post(api.url + "/api/plugin/autofocus", json={"command": "set_reference", "z": 3.5},
                     timeout=10).raise_for_status()
    move_printer(api, 4.3)
    open_tab(page, server)
    wait_for_view_model(page, "vm.canStart() && vm.referenceZ() === 3.5")
    try:
        record = run_from_tab(page, "#autofocus_set_reference")
        assert record["ok"], record["message"]
        dialog = page.locator(".modal:visible", has_text="Replace the focus reference?")
        expect(dialog).to_contain_text(f"The reference Z is 3.500 mm. This run focused at {record['z']:.3f} mm")
        dialog.locator(".modal-footer a").get_by_text(answer, exact=True).click()
        if answer == "Cancel":
            expect(dialog).to_be_hidden()
            assert api.autofocus()["reference_z"] == 3.5
        else:
            expect(page.locator("#autofocus_reference")).to_have_text(f"{record['z']:.3f} mm (was 3.500 mm)")
            assert api.autofocus()["reference_z"] == round(record["z"], 3)
    finally:
        api.save_plugin_settings(reference_z=None)


def history(count: int) -> list:
    runs = [{"run_id": "20260101-12%02d00000-abcdef" % i, "kind": "focus", "started": 1767268800 - 3600 * 30 * i,
             "ok": True, "z": 4.0 + i / 1000, "reason": "", "message": "", "correction": None} for i in range(count)]
    runs[1].update(kind="map", map={"rows": 5, "cols": 4, "rectangle": [10, 190, 10, 190]}, z=None)
    return runs


def test_recent_runs_show_five_one_line_rows_and_more_on_request(page, server):
    open_tab(page, server)
    wait_for_server_state(page)
    page.evaluate("(runs) => ko.dataFor(document.querySelector('#autofocus_view')).history(runs)", history(12))

    rows = page.locator(".autofocus-history tbody tr")
    expect(rows).to_have_count(5)
    line = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.autofocus-history td')).lineHeight)")
    for cell in page.locator(".autofocus-history tbody td.autofocus-nowrap").all():
        assert cell.bounding_box()["height"] < 1.6 * line + 10, cell.inner_text()
    assert rows.nth(1).locator("td").nth(1).inner_text() == "Focus map 5\u00d74"
    assert rows.nth(1).locator("td").nth(2).inner_text() == "measured"
    assert rows.nth(1).locator("td").nth(3).inner_text() == "-"

    page.click("#autofocus_history_toggle")
    expect(rows).to_have_count(12)
    expect(page.locator("#autofocus_history_toggle")).to_have_text("Show fewer")


def shows_then_clears_for_a_score_answer(page, server, status, answer, text):
    """Answer the tab's live-score requests with ``answer``: the tab shows ``text`` under the
    score, and hides it again once the server's own answers come back."""
    open_tab(page, server)
    wait_for_view_model(page, "vm.scores().length > 0")
    body = json.dumps(answer)

    def fake_scores(route):
        if '"score"' in (route.request.post_data or ""):
            route.fulfill(status=status, content_type="application/json", body=body)
        else:
            route.continue_()

    page.route("**/api/plugin/autofocus", fake_scores)
    expect(page.locator("#autofocus_score_error")).to_have_text(text, timeout=15_000)
    page.unroute("**/api/plugin/autofocus")
    expect(page.locator("#autofocus_score_error")).to_be_hidden(timeout=15_000)


def test_a_score_from_an_old_picture_says_how_old(page, server):
    shows_then_clears_for_a_score_answer(
        page, server, 200,
        {"score": 120.0, "metric": "tenengrad", "width": 640, "height": 480, "age": 2.34, "stale": True},
        "The camera is slow: this value is from a picture 2.3 s old.")


def test_the_tab_says_which_picture_the_backend_reads(page, server):
    open_tab(page, server)
    expect(page.locator("#autofocus_camera_source")).to_have_text(
        view_model(page, "vm.camera().source.reason"))
    assert page.locator("#autofocus_camera_source").inner_text()


def test_a_live_score_the_server_cannot_give_is_shown_and_clears_when_it_can(page, server):
    shows_then_clears_for_a_score_answer(
        page, server, 503, {"error": "The camera did not answer within 5 s."},
        "No sharpness reading: The camera did not answer within 5 s.")
    assert view_model(page, "vm.scoreError()") is None
