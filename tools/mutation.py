"""Mutation testing of the safety-critical modules with cosmic-ray (run by ``scripts/mutation``).

For each module: copy the project (tracked and untracked-but-not-ignored files) to
``.mutation/<module>.src``, so the work tree is never mutated, even when a run is
interrupted, and two modules can run at the same time; make a cosmic-ray session there
whose test command is the fast tests (``tests/plugin`` for a plugin module, ``tests/unit``
for the pure library; the module's own test files first, ``-x``, so a killed mutant stops at
the first failure); run every mutant; then compare the survivors with the equivalent mutants
recorded in ``docs/mutation-equivalents.toml``.

A survivor is *explained* when an entry there names its module, operator, source line and
mutated line (line numbers are not used, so entries survive edits elsewhere in the file).
``--markdown`` prints the per-module table the README's development section keeps.
"""

import argparse
import contextlib
import hashlib
import json
import os
import re
import shlex
import signal
import sqlite3
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Dict, Iterable, List, Optional, Sequence, Set, Tuple

try:
    from tomllib import loads as toml_loads
except ImportError:  # Python < 3.11: cosmic-ray depends on the toml package
    from toml import loads as toml_loads  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".mutation"
EQUIVALENTS = ROOT / "docs" / "mutation-equivalents.toml"
LIBRARY = ("octoprint_autofocus/focus/", "octoprint_autofocus/simulator/")
"""The pure library, the only code tests/unit imports. It imports none of the plugin's own
modules (tests/unit/test_package.py checks it pulls in no flask, which they all import), so
a mutant elsewhere is seen by tests/plugin only and tests/unit (a third of the fast tests'
time) is not run for it. A library mutant is run against tests/unit only: the library's
behaviour is specified there, and tests/plugin (two thirds of the time, the whole cost of
every survivor) killed none of plan.py's 301 killed mutants that tests/unit had not killed
first. This can only make survivors, never hide one: a library survivor is then killed by a
unit test or recorded as equivalent like any other."""
TEST_TIMEOUT = 60
"""s one test may take under a mutant (pytest-timeout): the slowest fast test takes about 1 s,
so a test still running after a minute hangs (a wait loop a mutant made endless)."""
TIMEOUT_FACTOR, MIN_TIMEOUT = 4.0, 120.0
"""A mutant's whole test run may take this many times the unmutated baseline run (at least
MIN_TIMEOUT s) before cosmic-ray stops it and counts it as killed by a timeout (reported
apart from the other kills)."""

MODULES: Dict[str, Tuple[str, ...]] = {
    "octoprint_autofocus/printer_stage.py": ("tests/plugin/test_printer_stage.py", "tests/plugin/test_job.py"),
    "octoprint_autofocus/gcode_safety.py": ("tests/plugin/test_gcode_safety.py", "tests/plugin/test_printer_stage.py"),
    "octoprint_autofocus/job.py": ("tests/plugin/test_job.py", "tests/plugin/test_plugin_events.py"),
    "octoprint_autofocus/api.py": ("tests/plugin/test_api.py",),
    "octoprint_autofocus/settings.py": ("tests/plugin/test_settings.py", "tests/plugin/test_api.py"),
    "octoprint_autofocus/settings_guard.py": ("tests/plugin/test_settings_guard.py", "tests/plugin/test_settings.py"),
    "octoprint_autofocus/fields.py": ("tests/plugin/test_settings.py", "tests/plugin/test_settings_guard.py"),
    "octoprint_autofocus/focus/plan.py": ("tests/unit/test_plan.py", "tests/unit/test_search.py"),
    "octoprint_autofocus/focus/search.py": ("tests/unit/test_search_phases.py", "tests/unit/test_search.py",
                                            "tests/unit/test_search_window.py"),
    "octoprint_autofocus/focus/run_state.py": ("tests/unit/test_run_state.py", "tests/unit/test_search.py",
                                               "tests/unit/test_search_window.py"),
    "octoprint_autofocus/focus/verdict.py": ("tests/unit/test_verdict.py", "tests/unit/test_search.py",
                                             "tests/unit/test_checks.py"),
    "octoprint_autofocus/focus/checks.py": ("tests/unit/test_checks.py", "tests/unit/test_search.py"),
    "octoprint_autofocus/focus/curve.py": ("tests/unit/test_curve.py", "tests/unit/test_search.py"),
    "octoprint_autofocus/focus/noise.py": ("tests/unit/test_noise.py", "tests/unit/test_search.py"),
    "octoprint_autofocus/focus/sampling.py": ("tests/unit/test_sampling.py", "tests/unit/test_search.py"),
    "octoprint_autofocus/focus/fit.py": ("tests/unit/test_fit.py", "tests/unit/test_search.py"),
}
"""The safety-critical modules (search.py and the modules it was split into) -> the test
files to run first for them; the rest of the fast tests run after those pass.

When a module is split or added, add it here (a module path on the command line works too)."""

EXCLUDED_OPERATORS = (
    # Arithmetic swaps into bit, shift, power, modulo and floor-division operators: on the
    # floats these modules compute with they raise TypeError or give absurd values at once;
    # keep the informative + - * / swaps.
    r"core/ReplaceBinaryOperator_\w+_(BitOr|BitAnd|BitXor|LShift|RShift|Pow|Mod|FloorDiv)$",
    # % in these modules is string formatting of messages only.
    r"core/ReplaceBinaryOperator_Mod_\w+$",
    # == < ... turned into `is`/`is not`: value comparisons of floats and strings.
    r"core/ReplaceComparisonOperator_(Eq|NotEq|Lt|LtE|Gt|GtE)_(Is|IsNot)$",
    # Random replacements: not reproducible from one run to the next.
    r"core/VariableReplacer$",
    r"core/VariableInserter$",
)


@dataclass
class Mutant:
    module: str
    operator: str
    occurrence: int
    line: int
    outcome: str  # killed, timeout, survived, incompetent, skipped, pending
    original: str
    mutated: str
    job_id: str = ""
    killed_by: str = ""  # the first test that failed on it ("timeout" when stopped)

    def key(self) -> Tuple[str, str, str, str]:
        return (self.module, self.operator, self.original, self.mutated)


def _cosmic(*args: str, env: Optional[Dict[str, str]] = None, cwd: Path) -> str:
    """Run a cosmic-ray command of this environment; its output. Stopping this stops it."""
    tool = Path(sys.executable).with_name(args[0])
    with subprocess.Popen([str(tool), *args[1:]], cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as process:
        try:
            out, err = process.communicate()
        except BaseException:  # Ctrl-C or SIGTERM: no cosmic-ray left running on its own
            process.terminate()
            process.wait(30)
            raise
    if process.returncode:
        raise SystemExit("%s failed (%d):\n%s%s" % (" ".join(args), process.returncode, out[-3000:], err[-3000:]))
    return out


def copy_project(dest: Path) -> None:
    """Copy the files git knows (tracked, or untracked and not ignored) to ``dest``."""
    if dest.exists():
        shutil.rmtree(dest)
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, check=True, stdout=subprocess.PIPE).stdout
    for name in filter(None, listing.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def session_name(module: str) -> str:
    return module.replace("/", ".").removesuffix(".py")


def source_copy(module: str) -> Path:
    """The copy of the project a module's session mutates and tests."""
    return STATE / f"{session_name(module)}.src"


def test_command(module: str, tests: Sequence[str], src: Path) -> str:
    """pytest on ``tests`` first, then on the other fast tests that can import ``module``;
    each stops at the first failure.

    Two runs: a mutant the module's own tests kill costs only their collection. For a library
    module the rest is tests/unit, for a plugin module tests/plugin (see LIBRARY)."""
    first = [t for t in tests if (src / t).is_file()]
    dirs = ("tests/unit",) if module.startswith(LIBRARY) else ("tests/plugin",)
    rest = [str(p.relative_to(src)) for d in dirs for p in sorted((src / d).glob("test_*.py"))]
    pytest = "%s -m pytest -x -q -p no:cacheprovider --timeout %d" % (shlex.quote(sys.executable), TEST_TIMEOUT)
    runs = [" ".join([pytest, *first])] if first else []
    runs.append(" ".join([pytest, *[t for t in rest if t not in first]]))
    return "bash -c %s" % shlex.quote(" && ".join(runs))


def write_config(module: str, tests: Sequence[str], timeout: float, path: Path) -> None:
    """A cosmic-ray config for one module (TOML)."""
    excluded = ", ".join(json.dumps(rx) for rx in EXCLUDED_OPERATORS)
    path.write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(module)}\n"
        f"timeout = {timeout:.0f}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(test_command(module, tests, source_copy(module)))}\n"
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
        "[cosmic-ray.filters.operators-filter]\n"
        f"exclude-operators = [{excluded}]\n"
    )


def _diff_lines(diff: Optional[str]) -> Tuple[str, str]:
    """The (original, mutated) source lines of a one-line mutation diff."""
    original = mutated = ""
    for line in (diff or "").splitlines():
        if line.startswith("-") and not line.startswith("---"):
            original = line[1:].strip()
        elif line.startswith("+") and not line.startswith("+++"):
            mutated = line[1:].strip()
    return original, mutated


def read_session(src: Path, db: Path) -> List[Mutant]:
    """The mutants of a session with their outcome (``cosmic-ray dump``)."""
    dumped = _cosmic("cosmic-ray", "dump", str(db), cwd=src)
    mutants = []
    for text in dumped.splitlines():
        item, result = json.loads(text)
        mutation = item["mutations"][0]
        if result is None:
            outcome = "pending"
        elif result.get("worker_outcome") == "skipped":
            outcome = "skipped"
        elif result.get("worker_outcome") != "normal":
            outcome = "incompetent"
        elif result.get("test_outcome") == "killed" and result.get("output") == "timeout":
            outcome = "timeout"
        else:
            outcome = result.get("test_outcome") or "incompetent"
        original, mutated = _diff_lines(result.get("diff") if result else None)
        mutants.append(Mutant(mutation["module_path"], mutation["operator_name"], mutation["occurrence"],
                              mutation["start_pos"][0], outcome, original, mutated, item["job_id"],
                              _first_failure(result.get("output") if outcome in ("killed", "timeout") else "")))
    return mutants


_FAILED = re.compile(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", re.MULTILINE)


def _first_failure(output: Optional[str]) -> str:
    """The test a killed mutant failed (pytest's short summary), or "timeout"."""
    if output == "timeout":
        return output
    found = _FAILED.search(output or "")
    return found.group(1) if found else "?"


def load_equivalents(path: Path = EQUIVALENTS) -> List[Dict[str, str]]:
    """The recorded equivalent mutants (module, operator, line, mutant, why)."""
    if not path.exists():
        return []
    return list(toml_loads(path.read_text()).get("equivalent", []))


def explained(mutant: Mutant, equivalents: Iterable[Dict[str, str]]) -> Optional[Dict[str, str]]:
    for entry in equivalents:
        if (entry["module"], entry["operator"], entry["line"].strip(), entry["mutant"].strip()) == mutant.key():
            return entry
    return None


HELD = "held back by --recheck"


def rechecked_path(db: Path) -> Path:
    return db.with_suffix(".rechecked.json")


def rechecked(db: Path) -> List[str]:
    """The job ids of the mutants ``--recheck`` has rerun in this session (survivors of an
    earlier run): the report names the test that kills each of them."""
    path = rechecked_path(db)
    return json.loads(path.read_text()) if path.exists() else []


def forget_survivors(db: Path, keep: Collection[str] = ()) -> int:
    """Make the session's survivors (but those in ``keep``) pending again, to rerun them
    against new tests, and hold back the mutants not run yet, so that only they run now."""
    with contextlib.closing(sqlite3.connect(db)) as connection, connection:
        connection.execute(
            "INSERT INTO work_results (job_id, worker_outcome, output) SELECT job_id, 'SKIPPED', ? FROM work_items"
            " WHERE job_id NOT IN (SELECT job_id FROM work_results)", (HELD,))
        survivors = [row[0] for row in connection.execute(
            "SELECT job_id FROM work_results WHERE test_outcome = 'SURVIVED'") if row[0] not in keep]
        connection.executemany("DELETE FROM work_results WHERE job_id = ?", [(job,) for job in survivors])
    rechecked_path(db).write_text(json.dumps(sorted(set(rechecked(db)) | set(survivors))))
    return len(survivors)


def release_held(db: Path) -> None:
    """The mutants held back by ``forget_survivors`` are pending again (``--resume`` runs them)."""
    with contextlib.closing(sqlite3.connect(db)) as connection, connection:
        connection.execute("DELETE FROM work_results WHERE output = ?", (HELD,))


UNCHANGED = "line unchanged since %s (--since)"


def since_path(db: Path) -> Path:
    return db.with_suffix(".since")


def changed_lines(module: str, since: str) -> Set[int]:
    """The lines of ``module`` as it is now that ``git diff since`` adds or changes."""
    diff = subprocess.run(["git", "diff", "-U0", since, "--", module], cwd=ROOT, check=True,
                          stdout=subprocess.PIPE, text=True).stdout
    lines: Set[int] = set()
    for hunk in re.finditer(r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", diff, re.MULTILINE):
        start, count = int(hunk.group(1)), int(hunk.group(2) or 1)
        lines.update(range(start, start + count))
    return lines


def skip_unchanged(db: Path, lines: Collection[int], since: str) -> int:
    """Mark the session's pending mutants on lines outside ``lines`` as skipped (never run,
    not counted); returns how many. The session remembers ``since`` for its report."""
    with contextlib.closing(sqlite3.connect(db)) as connection, connection:
        pending = connection.execute(
            "SELECT job_id, start_pos_row, end_pos_row FROM mutation_specs"
            " WHERE job_id NOT IN (SELECT job_id FROM work_results)").fetchall()
        skipped = [(job, UNCHANGED % since) for job, first, last in pending
                   if not any(first <= line <= last for line in lines)]
        connection.executemany("INSERT INTO work_results (job_id, worker_outcome, output) VALUES (?, 'SKIPPED', ?)",
                               skipped)
    since_path(db).write_text(since)
    return len(skipped)


def refresh_config(module: str) -> None:
    """Give a resumed session the current test command (``test_command``), keeping its timeout."""
    config = STATE / f"{session_name(module)}.toml"
    if config.exists():
        timeout = float(toml_loads(config.read_text())["cosmic-ray"]["timeout"])
        write_config(module, MODULES.get(module, ()), timeout, config)


def check_baseline(module: str) -> None:
    """SystemExit unless the tests copied for ``module``'s session pass on the unmutated code
    (a test failing for its own reason would "kill" every survivor rerun against it)."""
    src = source_copy(module)
    _cosmic("cosmic-ray", "baseline", str(STATE / f"{session_name(module)}.toml"), cwd=src,
            env=dict(os.environ, PYTHONPATH=str(src)))


def run_module(module: str, tests: Sequence[str], resume: bool, timeout: Optional[float],
               since: Optional[str] = None) -> List[Mutant]:
    """Run (or resume) the session of one module and return its mutants (with ``since``, a
    fresh session runs only the mutants on the lines changed since that git revision)."""
    src = source_copy(module)
    name = session_name(module)
    config, db = STATE / f"{name}.toml", STATE / f"{name}.sqlite"
    env = dict(os.environ, PYTHONPATH=str(src))  # the copy, not the editable install's work tree
    imported = subprocess.run([sys.executable, "-c", "import octoprint_autofocus as p; print(p.__file__)"],
                              cwd=src, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    if not Path(imported.strip()).is_relative_to(src):
        raise SystemExit("the tests would import %s, not the copy in %s" % (imported.strip(), src))
    digest = hashlib.sha1((ROOT / module).read_bytes()).hexdigest()
    stamp = STATE / f"{name}.sha1"
    if resume and db.exists() and stamp.read_text() != digest:
        raise SystemExit("%s changed since its session began: run it afresh (without --resume/--recheck)" % module)
    if resume and db.exists():
        # A run stopped while a mutant was being tested leaves that mutant in the copy:
        # put the session's own source (same digest) back before testing any further mutant.
        shutil.copy2(ROOT / module, src / module)
    if not (resume and db.exists()):
        db.unlink(missing_ok=True)
        rechecked_path(db).unlink(missing_ok=True)
        since_path(db).unlink(missing_ok=True)
        stamp.write_text(digest)
        write_config(module, tests, timeout or MIN_TIMEOUT, config)
        _cosmic("cosmic-ray", "init", str(config), str(db), cwd=src)
        _cosmic("cr-filter-operators", str(db), str(config), cwd=src)
        if since is not None:
            print("%s: %d mutants on lines unchanged since %s left out"
                  % (module, skip_unchanged(db, changed_lines(module, since), since), since), flush=True)
        began = time.monotonic()
        _cosmic("cosmic-ray", "baseline", str(config), cwd=src, env=env)
        baseline = time.monotonic() - began
        if timeout is None:
            timeout = max(MIN_TIMEOUT, TIMEOUT_FACTOR * baseline)
            write_config(module, tests, timeout, config)
        print("%s: unmutated tests %.0f s, %.0f s allowed per mutant" % (module, baseline, timeout), flush=True)
    started = time.monotonic()
    try:
        _cosmic("cosmic-ray", "exec", str(config), str(db), cwd=src, env=env)
    finally:
        release_held(db)
    mutants = read_session(src, db)
    print("%s: %d mutants run in %.0f min" % (module, sum(m.outcome != "skipped" for m in mutants),
                                            (time.monotonic() - started) / 60), flush=True)
    return mutants


def summarise(module: str, mutants: List[Mutant], equivalents: List[Dict[str, str]]) -> Dict[str, int]:
    counts = {key: 0 for key in ("mutants", "killed", "timeout", "survived", "equivalent", "unexplained",
                                 "incompetent", "pending")}
    for mutant in mutants:
        if mutant.outcome == "skipped":
            continue
        counts["mutants"] += 1
        if mutant.outcome in counts:
            counts[mutant.outcome] += 1
        if mutant.outcome == "survived":
            counts["equivalent" if explained(mutant, equivalents) else "unexplained"] += 1
    return counts


def report(results: Dict[str, List[Mutant]], markdown: bool) -> int:
    """Print the survivors and the per-module table; return how many are unexplained."""
    equivalents = load_equivalents()
    unexplained = 0
    rows = []
    for module, mutants in results.items():
        counts = summarise(module, mutants, equivalents)
        unexplained += counts["unexplained"]
        rows.append((module, counts))
        for mutant in mutants:
            if mutant.outcome == "survived" and not explained(mutant, equivalents):
                print("SURVIVED %s:%d %s #%d\n    - %s\n    + %s" % (
                    mutant.module, mutant.line, mutant.operator, mutant.occurrence, mutant.original,
                    mutant.mutated))
    for module, mutants in results.items():
        again = set(rechecked(STATE / f"{session_name(module)}.sqlite"))
        for mutant in mutants:
            if mutant.job_id in again and mutant.outcome in ("killed", "timeout"):
                print("KILLED on recheck %s:%d %s #%d by %s\n    + %s" % (
                    mutant.module, mutant.line, mutant.operator, mutant.occurrence, mutant.killed_by,
                    mutant.mutated))
    seen = {m.key() for ms in results.values() for m in ms if m.outcome == "survived"}
    ran = {module for module, ms in results.items() if ms and not any(m.outcome == "pending" for m in ms)}
    since = {module: since_path(STATE / f"{session_name(module)}.sqlite") for module in results}
    since = {module: path.read_text() for module, path in since.items() if path.exists()}
    lines_run = {(m.module, m.original) for ms in results.values() for m in ms if m.outcome != "skipped"}
    for entry in equivalents:
        key = (entry["module"], entry["operator"], entry["line"].strip(), entry["mutant"].strip())
        partial = entry["module"] in since and (key[0], key[2]) not in lines_run  # a line not run
        if entry["module"] in ran and key not in seen and not partial:
            print("STALE equivalent entry (no such survivor now): %s %s: %s" % key[:3])
    if markdown:
        print("\n| module | mutants | killed | killed by timeout | survived: equivalent | survived: unexplained"
              " | incompetent | not run |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for module, counts in rows:
        if module in since:
            module = "%s (lines changed since %s)" % (module, since[module])
        if markdown:
            print("| `%s` | %d | %d | %d | %d | %d | %d | %d |" % (
                module, counts["mutants"], counts["killed"], counts["timeout"], counts["equivalent"],
                counts["unexplained"], counts["incompetent"], counts["pending"]))
        else:
            print("%-42s %4d mutants, %4d killed, %3d by timeout, %3d equivalent, %3d unexplained, %3d incompetent,"
                  " %3d pending" % (module, counts["mutants"], counts["killed"], counts["timeout"],
                                    counts["equivalent"], counts["unexplained"], counts["incompetent"],
                                    counts["pending"]))
    return unexplained


def _stop(signum: int, frame: object) -> None:
    raise SystemExit("stopped by signal %d; continue with --resume" % signum)


def main(argv: Optional[Sequence[str]] = None) -> int:
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help="module paths (default: every safety-critical module)")
    parser.add_argument("--resume", action="store_true", help="continue the sessions in .mutation/ (same copy)")
    parser.add_argument("--recheck", action="store_true",
                        help="rerun only the survivors of the sessions in .mutation/ that are not recorded"
                             " as equivalent against the current tests (after writing tests that should kill"
                             " them)")
    parser.add_argument("--report-only", action="store_true", help="only report the sessions in .mutation/")
    parser.add_argument("--since", metavar="REV",
                        help="a fresh session runs only the mutants on the lines changed since the git"
                             " revision REV (a change's own mutants; the rest were run before it)")
    parser.add_argument("--markdown", action="store_true", help="print the per-module table as Markdown")
    parser.add_argument("--timeout", type=float, default=None,
                        help="s per mutant before it counts as killed by a timeout (default: %g times the"
                             " unmutated run, at least %g s)" % (TIMEOUT_FACTOR, MIN_TIMEOUT))
    args = parser.parse_args(argv)
    modules = args.modules or list(MODULES)
    STATE.mkdir(exist_ok=True)
    for module in modules:
        if not (args.resume or args.report_only):
            copy_project(source_copy(module))
        if args.resume or args.recheck:
            refresh_config(module)
        if args.recheck:  # the current tests, the module sources as the sessions mutated them
            check_baseline(module)
            db, equivalents = STATE / f"{session_name(module)}.sqlite", load_equivalents()
            keep = {m.job_id for m in read_session(STATE, db) if m.outcome == "survived" and explained(m, equivalents)}
            print("%s: %d survivors to rerun (not the %d recorded as equivalent)"
                  % (module, forget_survivors(db, keep), len(keep)))
    results = {}
    for module in modules:
        db = STATE / f"{session_name(module)}.sqlite"
        if args.report_only:
            results[module] = read_session(STATE, db) if db.exists() else []
        else:
            results[module] = run_module(module, MODULES.get(module, ()), args.resume or args.recheck,
                                         args.timeout, args.since)
    return 1 if report(results, args.markdown) else 0


if __name__ == "__main__":
    sys.exit(main())
