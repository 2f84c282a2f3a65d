"""The package's shape: the pure library stands alone, and the metadata OctoPrint reads is there."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "octoprint_autofocus"


@pytest.mark.parametrize("module", ["octoprint_autofocus.focus", "octoprint_autofocus.simulator"])
def test_library_imports_without_pulling_in_octoprint_flask_or_tornado(module):
    probe = (
        f"import sys, {module}\n"
        "print(sorted(m for m in ('octoprint', 'flask', 'tornado') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_package_metadata_is_literal_so_octoprint_can_read_it_without_importing():
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    literals = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    for key in ("__plugin_name__", "__plugin_version__", "__plugin_pythoncompat__", "__plugin_description__"):
        assert literals.get(key), key
    assert literals["__plugin_pythoncompat__"].startswith(">=3.9")


def test_no_module_of_the_pure_library_imports_octoprint():
    for path in (PACKAGE / "focus").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"octoprint", "flask", "tornado"}, f"{path.name} imports {name}"
