"""The assets the plugin registers: every file is there, and the tab's scripts load in order.

The tab's view model (static/js/autofocus.js) puts together the parts in static/js/tab/,
which share the namespace format.js creates: format.js must load first, autofocus.js after
every part, and no part may be left out (the browser tests show what a missing one breaks).
"""

import re
from pathlib import Path

from octoprint_autofocus.plugin import AutofocusPlugin

STATIC = Path(__file__).resolve().parents[2] / "octoprint_autofocus" / "static"


def test_every_registered_asset_exists():
    assets = AutofocusPlugin().get_assets()
    missing = [name for names in assets.values() for name in names if not (STATIC / name).is_file()]
    assert missing == []


def test_the_tabs_parts_load_after_their_namespace_and_before_the_view_model():
    scripts = AutofocusPlugin().get_assets()["js"]
    tab = [name for name in scripts if name.startswith("js/tab/")]
    assert sorted(tab) == sorted("js/tab/" + path.name for path in (STATIC / "js" / "tab").glob("*.js"))
    assert tab[0] == "js/tab/format.js"
    assert scripts.index("js/autofocus.js") == scripts.index(tab[-1]) + 1


def test_the_view_model_puts_together_every_part_once():
    view_model = (STATIC / "js" / "autofocus.js").read_text()
    parts = re.search(r"var PARTS = \[(.*?)\];", view_model, re.S).group(1)
    used = re.findall(r"tab\.(\w+)", parts)
    defined = [re.search(r"^    tab\.(\w+) = \{", path.read_text(), re.M).group(1)
               for path in sorted((STATIC / "js" / "tab").glob("*.js")) if path.name != "format.js"]
    assert sorted(used) == sorted(defined)
    assert len(used) == len(set(used))
