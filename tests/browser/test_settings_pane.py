"""Point 5 of issue 8: an invalid value cannot be saved and is named by its label, a refused
save loses no edit, the pane is split into Basic and Advanced, one sentence of help per metric."""

import re

import pytest
from playwright.sync_api import expect

from .ui import open_settings, open_tab, screenshot

pytestmark = pytest.mark.browser

PANE = "#settings_plugin_autofocus"
SAVE = '[data-test-id="settings-save"]'


def group(page, key: str):
    return page.locator(f'{PANE} .control-group[data-setting="{key}"]')


def visible_settings(page) -> list:
    return [key for key in page.locator(f"{PANE} .control-group[data-setting]").evaluate_all(
        "(groups) => groups.filter((g) => g.offsetParent !== null).map((g) => g.dataset.setting)")]


@pytest.fixture
def pane(page, server):
    open_tab(page, server)
    open_settings(page)
    return page


def test_basic_holds_camera_metric_window_and_limits_and_the_rest_is_advanced(pane):
    assert visible_settings(pane) == ["camera", "metric", "search_range", "z_min", "z_max"]

    pane.click("#autofocus_show_advanced")

    shown = visible_settings(pane)
    assert {"coarse_points", "feedrate", "move_template", "reference_z", "simulator.enabled"} <= set(shown)
    screenshot(pane, "5-settings-advanced", "#settings_dialog")


def test_every_metric_has_one_sentence_of_help(pane):
    options = pane.locator("#autofocus_setting_metric option").evaluate_all("(os) => os.map((o) => o.value)")
    assert len(options) == 6
    helps = set()
    for metric in options:
        pane.select_option("#autofocus_setting_metric", metric)
        shown = pane.locator(f"{PANE} .autofocus-metric-help:visible")
        expect(shown).to_have_count(1)
        assert shown.get_attribute("data-metric") == metric
        text = shown.inner_text()
        assert text.endswith(".") and text.count(". ") == 0
        helps.add(text)
    assert len(helps) == len(options)


def test_an_invalid_value_cannot_be_saved_and_is_named_by_its_label(pane, api):
    posted = []
    pane.on("request", lambda r: posted.append(r.url) if r.method == "POST" and r.url.endswith("/api/settings") else None)
    before = api.plugin_settings()["search_range"]

    pane.fill("#autofocus_setting_search_range", "-1")

    expect(group(pane, "search_range")).to_have_class(re.compile(r"\berror\b"))
    expect(group(pane, "search_range").locator(".help-inline")).to_have_text("Enter at least 0.01 mm.")
    expect(pane.locator(SAVE)).to_be_disabled()
    expect(pane.locator("#settings_dialog .autofocus-save-note")).to_have_text("Autofocus: correct Search range to save.")
    screenshot(pane, "5-settings", "#settings_dialog", readme="settings")
    pane.locator(SAVE).dispatch_event("click")  # even a forced click saves nothing
    pane.wait_for_timeout(500)
    assert posted == [] and api.plugin_settings()["search_range"] == before
    expect(pane.locator("#settings_dialog")).to_be_visible()

    pane.fill("#autofocus_setting_search_range", "2")
    expect(pane.locator(SAVE)).to_be_enabled()
    expect(pane.locator("#settings_dialog .autofocus-save-note")).to_be_hidden()


def test_a_red_field_in_the_hidden_advanced_part_still_blocks_save_and_is_named(pane):
    pane.click("#autofocus_show_advanced")
    pane.fill("#autofocus_setting_coarse_points", "2")
    pane.click("#autofocus_show_advanced")  # fold Advanced away again

    expect(group(pane, "coarse_points")).to_be_hidden()
    expect(pane.locator(SAVE)).to_be_disabled()
    expect(pane.locator("#settings_dialog .autofocus-save-note")).to_have_text("Autofocus: correct Coarse points to save.")


def test_a_save_the_server_refuses_keeps_the_dialog_and_every_edit(pane, api):
    before = api.plugin_settings()
    answers = []
    pane.on("response", lambda r: answers.append(r.status) if r.request.method == "POST"
            and r.url.endswith("/api/settings") else None)
    pane.fill("#autofocus_setting_search_range", "1.5")
    pane.click("#autofocus_show_advanced")
    pane.fill("#autofocus_setting_move_template", "G1 X{z}")  # only the server can judge a template
    pane.locator("#autofocus_setting_move_template").dispatch_event("change")

    pane.click(SAVE)

    expect(pane.locator(f"{PANE} .autofocus-server-error")).to_contain_text("Move G-code: ")
    assert answers == [400]
    expect(group(pane, "move_template")).to_have_class(re.compile(r"\berror\b"))
    message = group(pane, "move_template").locator(".help-inline").inner_text()
    assert message and not message.startswith("Move G-code") and "move_template" not in message
    expect(pane.locator("#settings_dialog")).to_be_visible()
    assert pane.input_value("#autofocus_setting_search_range") == "1.5"
    assert pane.input_value("#autofocus_setting_move_template") == "G1 X{z}"
    expect(pane.locator(SAVE)).to_be_disabled()
    assert api.plugin_settings() == before, "nothing of the refused save was stored"

    pane.fill("#autofocus_setting_move_template", "G1 Z{z:.3f} F{feedrate}")
    pane.locator("#autofocus_setting_move_template").dispatch_event("change")
    expect(pane.locator(SAVE)).to_be_enabled()
    try:
        pane.click(SAVE)
        expect(pane.locator("#settings_dialog")).to_be_hidden()
        assert api.plugin_settings()["search_range"] == 1.5
    finally:
        api.save_plugin_settings(search_range=2.0)


def test_a_setting_saved_in_the_pane_reaches_the_server_as_a_number(pane, api):
    pane.fill("#autofocus_setting_search_range", "1.5")
    pane.click(SAVE)
    try:
        expect(pane.locator("#settings_dialog")).to_be_hidden()
        assert api.plugin_settings()["search_range"] == 1.5
        expect(pane.locator("#autofocus_start")).to_have_attribute("title", re.compile(r"1\.5 mm"))
    finally:
        api.save_plugin_settings(search_range=2.0)
