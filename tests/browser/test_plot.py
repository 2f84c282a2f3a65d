"""Point 1 of issue 8: a plot a person can read - titles with units, values on both axes, the
legend outside the data, the searched window and its extension shaded, start and chosen Z
marked with their values, a flat run flat, readable 375 px wide."""

import pytest

from .records import FOCUS, flat_record, peak_record
from .ui import open_tab, screenshot, show_record, wait_for_view_model

pytestmark = pytest.mark.browser

PLOT = "#autofocus_plot"


def flot(page, expression: str):
    """Evaluate ``expression`` on the tab's Flot plot (``plot``)."""
    return page.evaluate(f"() => {{ const plot = $('{PLOT}').data('plot'); return {expression}; }}")


def tick_labels(page, axis: str) -> list:
    return page.locator(f"{PLOT} .flot-{axis}-axis .flot-tick-label").all_inner_texts()


def boxes(page, selector: str) -> list:
    """The viewport boxes of every element ``selector`` matches, measured in one script: the
    plot may redraw (and replace its labels) between two separate measurements."""
    return page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)].map((element) => {
            const r = element.getBoundingClientRect();
            return {x: r.x, y: r.y, width: r.width, height: r.height};
        })""", selector)


def overlapping(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


@pytest.fixture
def shown(page, server):
    open_tab(page, server)
    wait_for_view_model(page, "vm.tabActive()")
    return page


def test_axes_have_titles_with_units_and_values_on_both_axes(shown):
    show_record(shown, peak_record())

    assert shown.locator(".autofocus-plot-xtitle").inner_text() == "Z (mm)"
    assert shown.locator(".autofocus-plot-ytitle").inner_text() == "Sharpness, % of the run's best"
    assert tick_labels(shown, "y") == ["0", "25", "50", "75", "100"]
    zs = [float(text) for text in tick_labels(shown, "x")]
    assert len(zs) >= 4 and zs == sorted(zs) and zs[0] <= 3.0 and zs[-1] >= 6.0


def test_scores_are_percent_of_the_runs_best_on_a_fixed_scale(shown):
    record = peak_record()
    show_record(shown, record)

    measured = flot(shown, "plot.getData().find((s) => s.points.show).data")
    best = max(score for _, score in record["samples"])
    assert [y for _, y in measured] == pytest.approx([100 * s / best for _, s in record["samples"]])
    assert flot(shown, "[plot.getAxes().yaxis.min, plot.getAxes().yaxis.max]")[0] == 0


def test_the_legend_sits_below_the_data_and_names_every_mark(shown):
    show_record(shown, peak_record())

    legend = shown.locator("#autofocus_plot_legend")
    assert legend.locator(".autofocus-legend-item").all_inner_texts() == [
        "Measured", "Fitted curve", "Searched window", "Extended search", "Start Z", "Focus"]
    canvas = shown.locator(f"{PLOT} canvas.flot-base").bounding_box()
    assert legend.bounding_box()["y"] >= canvas["y"] + canvas["height"]


def test_the_window_and_the_extension_below_it_are_shaded(shown):
    record = peak_record()
    show_record(shown, record)

    spans = flot(shown, "plot.getOptions().grid.markings.filter((m) => m.xaxis.from !== m.xaxis.to)"
                        ".map((m) => [m.xaxis.from, m.xaxis.to, m.color])")
    window, extension = spans
    assert window[:2] == record["window"] and extension[:2] == [3.0, 4.2]
    assert window[2] != extension[2]


def test_a_record_without_a_window_shades_the_searched_range(shown):
    record = peak_record()
    for key in ("window", "extended", "limits", "edge_z", "edge_kind", "detail"):
        record.pop(key)
    show_record(shown, record)

    spans = flot(shown, "plot.getOptions().grid.markings.filter((m) => m.xaxis.from !== m.xaxis.to)"
                        ".map((m) => [m.xaxis.from, m.xaxis.to])")
    assert spans == [[3.0, 6.2]]
    assert "Searched range" in shown.locator("#autofocus_plot_legend").inner_text()


def test_start_and_chosen_z_are_marked_with_their_values_at_their_lines(shown):
    show_record(shown, peak_record())

    for name, z, text in (("start", 5.2, "start 5.200"), ("chosen", FOCUS, "focus 4.012")):
        mark = shown.locator(f'{PLOT} .autofocus-plot-mark[data-mark="{name}"]')
        assert mark.inner_text() == text
        box = mark.bounding_box()
        line_x = flot(shown, f"plot.pointOffset({{x: {z}, y: 0}}).left") + shown.locator(PLOT).bounding_box()["x"]
        assert abs(box["x"] + box["width"] / 2 - line_x) < 2


def test_labels_of_close_marks_do_not_cover_each_other(shown):
    show_record(shown, peak_record(start_z=4.03))

    start, chosen = boxes(shown, f"{PLOT} .autofocus-plot-mark")
    assert not overlapping(start, chosen)


def test_a_flat_run_looks_flat(shown):
    show_record(shown, flat_record())

    ys = flot(shown, "plot.getData().find((s) => s.points.show).data.map((p) => plot.p2c({x: p[0], y: p[1]}).top)")
    height = flot(shown, "plot.height()")
    assert (max(ys) - min(ys)) < 0.1 * height, "noise of +-2 % must not fill the plot"
    assert min(ys) < 0.1 * height, "and it sits at the top, near 100 %"
    screenshot(shown, "plot-flat", "#tab_plugin_autofocus .autofocus-plot-box")


def test_the_plot_stays_readable_375_px_wide(shown):
    # OctoPrint lays its page out at least 940 px wide (a phone zooms the whole page out), so
    # the plot is this narrow only in a narrowed container (themes, embedding): make it so
    shown.evaluate("() => { document.querySelector('.autofocus-plot-box').style.width = '375px'; }")
    show_record(shown, peak_record())
    shown.locator(PLOT).scroll_into_view_if_needed()

    box = shown.locator(".autofocus-plot-box").bounding_box()
    assert box["width"] == 375
    right = box["x"] + box["width"]
    for axis in ("x", "y"):
        labels = boxes(shown, f"{PLOT} .flot-{axis}-axis .flot-tick-label")
        assert len(labels) >= 4
        assert not any(overlapping(a, b) for i, a in enumerate(labels) for b in labels[i + 1:]), axis
        assert all(label["x"] >= box["x"] and label["x"] + label["width"] <= right for label in labels)
    marks = boxes(shown, f"{PLOT} .autofocus-plot-mark")
    assert len(marks) == 2 and not overlapping(*marks)
    assert all(mark["x"] >= box["x"] and mark["x"] + mark["width"] <= right for mark in marks)
    for item in boxes(shown, ".autofocus-legend-item"):
        assert item["x"] >= box["x"] and item["x"] + item["width"] <= right
    screenshot(shown, "plot-375", "#tab_plugin_autofocus .autofocus-plot-box")
