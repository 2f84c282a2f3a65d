"""Point 10 of issue 8 (and the README's pictures): what a user sees at 1366x768 without
scrolling after a real run."""

import pytest

from .ui import move_printer, open_tab, run_from_tab, screenshot, wait_for_picture, wait_for_view_model

pytestmark = pytest.mark.browser


def test_at_1366x768_the_z_the_buttons_and_the_verdict_fit_without_scrolling(laptop, server, api):
    move_printer(api, 5.2)
    open_tab(laptop, server)
    wait_for_picture(laptop)
    wait_for_view_model(laptop, "vm.canStart()")
    record = run_from_tab(laptop)
    assert record["ok"], record["message"]

    for selector in ("#autofocus_current_z", "#autofocus_start", "#autofocus_jog_up", "#autofocus_score",
                     "#autofocus_result .alert"):
        box = laptop.locator(selector).bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= 768, selector
    assert laptop.evaluate("() => document.documentElement.scrollWidth") <= 1366
    wait_for_view_model(laptop, "vm.scores().length >= 10")  # the sparkline after the run
    screenshot(laptop, "10-laptop", None, readme="tab-1366x768")
