"""Point 8 of issue 8: a large view with the region at one camera pixel per screen pixel and the
live score beside it, for focusing by hand."""

import re

import pytest
from playwright.sync_api import expect

from .ui import open_tab, screenshot, view_model, wait_for_picture, wait_for_view_model

pytestmark = pytest.mark.browser

LARGE = "#autofocus_large_view"


def test_the_large_view_shows_the_region_one_to_one_with_the_score_beside_it(page, server):
    open_tab(page, server)
    wait_for_picture(page)
    roi = view_model(page, "vm.roi()")

    page.click("#autofocus_open_large")

    expect(page.locator(LARGE)).to_be_visible()
    page.wait_for_function(f"() => document.querySelector('{LARGE} img').naturalWidth > 0")
    natural = page.evaluate(f"() => {{ const i = document.querySelector('{LARGE} img'); "
                            "return [i.naturalWidth, i.naturalHeight]; }")
    image = page.locator(f"{LARGE} img").bounding_box()
    assert abs(image["width"] - natural[0]) < 1 and abs(image["height"] - natural[1]) < 1, "one to one"
    box = page.locator("#autofocus_large_picture").bounding_box()
    assert abs(box["width"] - roi["w"] * natural[0]) <= 1 and abs(box["height"] - roi["h"] * natural[1]) <= 1
    assert abs((box["x"] - image["x"]) - roi["x"] * natural[0]) <= 1, "the region's left edge, not the picture's"
    expect(page.locator(f"{LARGE} .autofocus-large-side")).to_contain_text("% of best")
    polled = view_model(page, "vm.scores().length")
    wait_for_view_model(page, f"vm.scores().length > {polled} || vm.scores().length >= 40")
    expect(page.locator("#autofocus_large_score")).to_have_text(view_model(page, "vm.currentScoreText()"))
    assert page.locator(f"{LARGE} button[id$='_up']").is_enabled()
    assert page.locator("#autofocus_view img").get_attribute("src") is None, "one stream at a time"
    screenshot(page, "9-large-view", None, readme="large-view")

    page.click(f"{LARGE} .close")

    expect(page.locator(LARGE)).to_be_hidden()
    assert page.locator(f"{LARGE} img").get_attribute("src") is None
    expect(page.locator("#autofocus_view img")).to_have_attribute("src", re.compile(r"/sim/stream"))
