"""Every way a run or a map point can fail has its words in the page's scripts.

The tab (static/js/tab/outcome.js) words a run's outcome from its ``reason`` with two tables,
``reasons`` (what happened) and ``advice`` (what to try next); the map
(static/js/autofocus_map.js) words a failed point's reason in its own ``reasons`` table. A
reason missing there shows the record's English message, or the bare key.
"""

import re
from pathlib import Path

import pytest

from octoprint_autofocus.focus.focus_map import MAP_REASONS, POINT_FAILURES
from octoprint_autofocus.focus.result import REASONS

JS = Path(__file__).resolve().parents[2] / "octoprint_autofocus" / "static" / "js"


def table(path: Path, name: str):
    """The keys of the object literal ``name: {...}`` in the script at ``path``."""
    body = re.search(r"\b" + name + r": \{(.*?)\n\s*\}", path.read_text(), re.S).group(1)
    return set(re.findall(r"^\s*(\w+):", body, re.M))


@pytest.mark.parametrize("name", ["reasons", "advice"])
def test_the_tab_words_every_failure_reason(name):
    failures = {reason for reason in REASONS if reason}
    assert failures - table(JS / "tab" / "outcome.js", name) == set()


def test_the_map_words_every_point_failure_and_every_way_a_map_ends():
    words = table(JS / "autofocus_map.js", "reasons")
    assert set(POINT_FAILURES) | {reason for reason in MAP_REASONS if reason} <= words


def test_a_dark_camera_is_a_point_failure_and_no_device_failure_in_the_tab():
    assert "camera_dark" in POINT_FAILURES
    devices = re.search(r"var DEVICE_REASONS = \[(.*?)\];", (JS / "tab" / "outcome.js").read_text()).group(1)
    assert "camera_dark" not in devices and "camera_error" in devices
