"""Point 6 of issue 8: during a run the sharpness readout and the sparkline follow the run's
own frames instead of freezing; point 9: the number is explained and shown as % of best."""

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


def test_the_sharpness_is_explained_and_given_as_percent_of_the_best(page, server):
    open_tab(page, server)
    wait_for_view_model(page, "vm.scores().length >= 2")

    title = page.locator(f"{TAB} .autofocus-score").get_attribute("title")
    assert "Tenengrad (edge strength)" in title and "higher is sharper" in title and "% of best" in title
    expect(page.locator("#autofocus_score_percent")).to_have_text(re.compile(r"^\d{1,3} % of best$"))
    percent = int(page.locator("#autofocus_score_percent").inner_text().split()[0])
    expected = view_model(page, "Math.round(100 * vm.currentScore() / vm.bestScore())")
    assert abs(percent - expected) <= 1 and percent <= 100
