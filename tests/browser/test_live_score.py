"""Point 6 of issue 8: during a run the sharpness readout and the sparkline follow the run's
own frames instead of freezing; point 9: the number is explained and shown as % of best."""

import json
import re

import pytest
from playwright.sync_api import expect

from .ui import TAB, move_printer, open_tab, run_from_tab, view_model, wait_for_view_model

pytestmark = pytest.mark.browser


def test_during_a_run_the_readout_and_sparkline_show_the_runs_scores(page, server, api):
    move_printer(api, 4.8)
    open_tab(page, server)
    wait_for_view_model(page, "vm.canStart() && vm.scores().length > 0")
    page.evaluate("""() => {
        const vm = ko.dataFor(document.querySelector('#autofocus_view'));
        window.duringRun = [];
        vm.currentScore.subscribe((score) => { if (vm.running()) window.duringRun.push(score); });
    }""")

    record = run_from_tab(page)

    seen = [score for score in page.evaluate("() => window.duringRun") if score is not None]  # None: reset at the start
    measured = [score for _, score in record["samples"]]
    assert len(set(seen)) >= 3, "the readout moved during the run"
    assert all(any(abs(s - m) < 1e-6 * max(1.0, m) for m in measured) for s in seen), "each value is a run frame"
    assert len(seen) >= min(len(measured), 40) - 1


def test_a_live_score_answered_after_a_run_started_is_not_shown(page, server, api):
    move_printer(api, 4.8)
    open_tab(page, server)
    wait_for_view_model(page, "vm.canStart() && vm.scores().length > 0")
    held = []

    def hold_scores(route):
        if '"score"' in (route.request.post_data or ""):
            held.append(route)  # answered once the run has started
        else:
            route.continue_()

    page.route("**/api/plugin/autofocus", hold_scores)
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the tab asked for a live score"
    page.evaluate("""() => {
        const vm = ko.dataFor(document.querySelector('#autofocus_view'));
        window.duringRun = [];
        vm.currentScore.subscribe((score) => { if (vm.running()) window.duringRun.push(score); });
    }""")
    before = view_model(page, "vm.last() && vm.last().run_id")
    page.click("#autofocus_start")
    wait_for_view_model(page, "vm.running()")
    held[0].fulfill(status=200, content_type="application/json", body=json.dumps(
        {"score": 123456.0, "metric": "tenengrad", "width": 640, "height": 480, "age": 0.0, "stale": False}))
    page.unroute("**/api/plugin/autofocus")
    wait_for_view_model(page, f"!vm.running() && vm.last() && vm.last().run_id !== {json.dumps(before)}", 120_000)
    seen = page.evaluate("() => window.duringRun")
    assert len([score for score in seen if score is not None]) >= 3  # the run's frames were shown
    assert 123456.0 not in seen  # the old request's answer was not


def test_the_sharpness_is_explained_and_given_as_percent_of_the_best(page, server):
    open_tab(page, server)
    wait_for_view_model(page, "vm.scores().length >= 2")

    title = page.locator(f"{TAB} .autofocus-score").get_attribute("title")
    assert "Tenengrad (edge strength)" in title and "higher is sharper" in title and "% of best" in title
    expect(page.locator("#autofocus_score_percent")).to_have_text(re.compile(r"^\d{1,3} % of best$"))
    percent = int(page.locator("#autofocus_score_percent").inner_text().split()[0])
    expected = view_model(page, "Math.round(100 * vm.currentScore() / vm.bestScore())")
    assert abs(percent - expected) <= 1 and percent <= 100
