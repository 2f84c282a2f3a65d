"""Point 3 of issue 8: after a failure with a best Z a person can see, "Move to Z ... anyway"
and "Search a wider range" sit next to the explanation; both obey the limits and the run
permission."""

import pytest
from playwright.sync_api import expect

from .records import peak_record
from .ui import VIEWER, move_printer, open_tab, run_from_tab, show_record, wait_for_view_model

pytestmark = pytest.mark.browser

VERDICT = "#autofocus_result .autofocus-verdict"


@pytest.fixture
def settings(api):
    """Change plugin settings for one test; the defaults of the session come back after it."""
    before = api.plugin_settings()
    changed = []

    def change(**values):
        changed.extend(values)
        api.save_plugin_settings(**values)

    yield change
    api.save_plugin_settings(**{key: before.get(key) for key in changed})


def test_a_peak_at_the_z_limit_offers_to_move_there_and_explains_why_not_wider(page, server, api, settings):
    settings(z_max=3.5)
    move_printer(api, 3.0)
    open_tab(page, server)
    wait_for_view_model(page, "vm.canStart()")

    record = run_from_tab(page)

    expect(page.locator(VERDICT)).to_have_text("Not focused")
    assert record["reason"] == "peak_at_edge" and record["edge_kind"] == "limit"
    explanation = page.locator("#autofocus_result .autofocus-explanation").inner_text()
    assert "upper Z limit (3.500 mm)" in explanation and f"Z {record['z']:.3f} mm" in explanation
    move = page.locator("#autofocus_move_anyway")
    expect(move).to_have_text(f"Move to Z {record['z']:.3f} anyway")
    expect(page.locator("#autofocus_search_wider")).to_be_hidden()
    expect(page.locator("#autofocus_wider_note")).to_contain_text("reached the Z limit at 3.500 mm")

    move.click()

    expect(page.locator("#autofocus_current_z")).to_have_text(f"{record['z']:.3f} mm", timeout=30_000)
    assert page.locator("#autofocus_request_error").is_hidden()


def test_a_run_that_spent_its_extension_offers_a_wider_search_that_finds_focus(page, server, api, settings):
    settings(max_extension=0, search_range=0.5)
    move_printer(api, 3.0)
    open_tab(page, server)
    wait_for_view_model(page, "vm.canStart()")
    failed = run_from_tab(page)
    expect(page.locator(VERDICT)).to_have_text("Not focused")
    assert failed["reason"] == "peak_at_edge" and failed["edge_kind"] == "budget"
    wider = page.locator("#autofocus_search_wider")
    expect(wider).to_be_visible()
    expect(page.locator("#autofocus_move_anyway")).to_be_visible()
    settings(max_extension=None)

    record = run_from_tab(page, "#autofocus_search_wider")

    expect(page.locator(VERDICT)).to_have_text("In focus")
    assert record["window"] == pytest.approx([2.0, 4.0]), "twice the half-range around the same Z"


def test_the_offers_keep_inside_the_limits(page, server, api):
    open_tab(page, server)
    limits = api.plugin_settings()
    show_record(page, peak_record(ok=False, reason="poor_fit", z=limits["z_max"] + 1.0, limits=None))

    expect(page.locator("#autofocus_move_anyway")).to_be_hidden()

    show_record(page, peak_record(ok=False, reason="poor_fit", z=4.2, limits=None))
    expect(page.locator("#autofocus_move_anyway")).to_have_text("Move to Z 4.200 anyway")


def test_a_user_without_the_run_permission_gets_no_offers(page, server):
    open_tab(page, server, VIEWER)
    show_record(page, peak_record(ok=False, reason="peak_at_edge", edge_kind="budget", edge_z=6.2, z=6.2))

    expect(page.locator("#autofocus_result .autofocus-explanation")).to_contain_text("as far above the starting range")
    expect(page.locator("#autofocus_move_anyway")).to_be_hidden()
    expect(page.locator("#autofocus_search_wider")).to_be_hidden()


def test_homing_refused_for_a_large_correction_can_be_done_anyway(page, server, api, settings):
    settings(reference_z=4.4, max_correction=0.1)
    move_printer(api, 4.3)
    open_tab(page, server)
    wait_for_view_model(page, "vm.canHome()")
    try:
        refused = run_from_tab(page, "#autofocus_home")
        assert refused["reason"] == "needs_confirmation"
        expect(page.locator(VERDICT)).to_have_text("Not homed")
        correction = refused["proposed_correction"]
        expect(page.locator("#autofocus_result .autofocus-explanation")).to_have_text(
            f"Z was not changed: homing would shift it by +{correction:.3f} mm, more than the 0.100 mm"
            " allowed without asking.")

        homed = run_from_tab(page, "#autofocus_home_anyway")

        assert homed["ok"] and homed["kind"] == "home" and homed["correction"] == pytest.approx(4.4 - homed["z"])
        expect(page.locator("#autofocus_current_z")).to_have_text("4.400 mm")
    finally:
        api.gcode("G28 Z")  # back to machine coordinates (G92 renamed Z) for the tests after this one
        move_printer(api, 5.0)
