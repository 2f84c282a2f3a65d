"""Benchmark: the focus search on held-out cases it was never tuned on (independent yardstick).

Usage (from the repository root; ``PYTHONPATH=/path/to/checkout`` to measure another
checkout's library without touching it)::

    .venv/bin/python bench/bench_heldout.py                 # a fresh random seed, printed
    .venv/bin/python bench/bench_heldout.py --seed 12345    # repeat a run exactly
    .venv/bin/python bench/bench_heldout.py --quick         # about a third of the cases
    .venv/bin/python bench/bench_heldout.py --verbose --save runs.json

Cases come from :mod:`bench.heldout_cases` (groups ``model``, ``near``, ``fail``, ``real``,
``window``): another optics model (pupil-function PSF with spherical aberration, lens
breathing, field curvature, tilt, chromatic focus shift), a lead-screw stage (backlash,
pitch error, lost steps, ringing after moves, hard limits that refuse and record) and a USB
camera (rolling shutter, late and repeated frames, auto-exposure, white-balance drift, PWM
LED flicker, shot and read noise, MJPEG at wandering quality); and real focus stacks when
they have been reduced into ``bench/data`` (see :mod:`bench.real_stacks`). The ``window``
group runs only when the search accepts ``limits=`` (probed through the public call).

The search is called through its public contract with default options only::

    autofocus(stage, camera, z_min, z_max, roi=roi, sleep=clock.sleep, clock=clock.now
              [, limits=(lo, hi) in the window group])

(``sleep`` / ``clock`` are the simulated clock: the default settle then waits in simulated
time, so the ringing stage decays as it would.) Beside it runs a plain baseline on the same
cases: 15 Zs swept top-down over the window, a parabola through the best and its
neighbours, the result approached from above; a best at a window end is a refusal.

Verdicts. A focusable case passes when the run says ok and the stage's final *optical* Z
is within half the measured DOF of the measured focus (real stacks: at least one slice).
``wrong-ok``: ok but outside that. A focusable case whose focus the camera does not show
(``heldout_cases.visible``: noise hides it) is ``not-visible``, reported apart and left out
of the rates. A focusable case whose measured focus lies more than its tolerance past the
optics' reach (``heldout_cases.past_reach``) has no right answer and is judged as a
should-fail case. A should-fail case passes when the run refuses. A
*violation* is any commanded Z outside the window (or outside ``limits`` when given), or
one the stage refused. The report gives, per group and overall, for the search and the
baseline: success % on focusable cases, wrong-ok %, refusals by reason, should-fail refused
%, median and p90 frames, median simulated seconds, and limit violations.
"""

import argparse
import json
import secrets
import statistics
import sys
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

# The library measured is imported first: PYTHONPATH's checkout if given, else the installed
# one. Only then is this checkout put first on the path, for its own bench package.
import octoprint_autofocus
from octoprint_autofocus.focus import autofocus, score
from octoprint_autofocus.focus.errors import CameraError, MoveRefused

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.heldout_cases import Case, Rig, build, draw_cases, past_reach  # noqa: E402
from bench.real_stacks import DATA_DIR, load_stacks  # noqa: E402

SWEEP_POINTS = 15
"""Points of the baseline sweep."""
BASELINE_OVERSCAN = 0.2
"""The baseline approaches its final Z from this far above (mm), inside the window."""
BASELINE_SETTLE = 0.1
"""The baseline waits this long after each move (s), like the search's default settle."""


@dataclass
class Outcome:
    """What one run did, judged against the case's truth."""

    name: str
    group: str
    kind: str
    expect_fail: bool
    ok: bool
    reason: str
    frames: int
    seconds: float
    violations: int
    error: Optional[float] = None
    verdict: str = ""
    detail: str = ""


@dataclass
class BaselineResult:
    """The baseline's answer, shaped like the fields of FocusResult the bench reads."""

    ok: bool
    z: float
    reason: str = ""


def sweep_parabola(stage: Any, camera: Any, z_min: float, z_max: float, roi: Any = None,
                   sleep: Callable[[float], None] = time.sleep, **_ignored: Any) -> BaselineResult:
    """The plain baseline: a 15-point top-down sweep, a parabola through the best three."""
    zs = np.linspace(z_max, z_min, SWEEP_POINTS)
    scores = []
    for z in zs:
        stage.move_to(float(z))
        sleep(BASELINE_SETTLE)
        scores.append(score(camera.frame(), roi))
    i = int(np.argmax(scores))
    if i in (0, len(zs) - 1):
        return BaselineResult(False, float(zs[i]), "peak_at_edge")
    a, b, c = scores[i + 1], scores[i], scores[i - 1]  # ascending Z: zs[i+1] < zs[i] < zs[i-1]
    step = float(zs[i - 1] - zs[i])
    denom = a - 2 * b + c
    best = float(zs[i]) if denom >= 0 else float(zs[i] + 0.5 * step * (a - c) / denom)
    stage.move_to(min(best + BASELINE_OVERSCAN, z_max))
    stage.move_to(best)
    sleep(BASELINE_SETTLE)
    return BaselineResult(True, best)


def supports_windows() -> bool:
    """True when ``autofocus`` accepts ``limits=`` (issue 7), probed through the public call."""

    class _Refusing:
        def move_to(self, z: float) -> None:
            raise MoveRefused("probe")

        def position(self) -> float:
            return 0.5

    class _Blind:
        def frame(self) -> bytes:
            raise CameraError("probe")

    try:
        autofocus(_Refusing(), _Blind(), 0.0, 1.0, limits=(0.0, 1.0), sleep=lambda _s: None)
    except ValueError as exc:
        return "limits" not in str(exc)
    return True


def run(case: Case, stacks: List[Any], search: Callable[..., Any]) -> Outcome:
    """Build ``case``, run ``search`` on it and judge the result."""
    rig = build(case, stacks)
    out = Outcome(case.name, case.group, case.kind, case.expect_fail, False, "", 0, 0.0, 0)
    kwargs: Dict[str, Any] = {"roi": case.roi, "sleep": rig.clock.sleep, "clock": rig.clock.now}
    if case.limits is not None and search is autofocus:
        kwargs["limits"] = case.limits
    try:
        result = search(rig.stage, rig.camera, case.window[0], case.window[1], **kwargs)
    except Exception as exc:  # the contract says: a result, never an exception
        out.verdict, out.detail = "crash", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
        return out
    _judge(case, rig, result, out)
    return out


def _judge(case: Case, rig: Rig, result: Any, out: Outcome) -> None:
    """Fill the verdict of one finished run."""
    lo, hi = case.allowed
    eps = 1e-9 * max(1.0, abs(hi))
    out.ok, out.reason = bool(result.ok), str(result.reason or "")
    out.frames, out.seconds = rig.camera.frames, rig.clock.now()
    out.violations = len(rig.stage.violations) + sum(not lo - eps <= z <= hi + eps for z in rig.stage.commanded)
    if not rig.reachable:  # no right answer: judged as should-fail (module docstring)
        out.expect_fail = True
        past = past_reach(case, rig.peak, rig.tolerance)
        out.detail = f"unreachable: the measured focus lies {past:.2f} tolerances past a hard end"
    if out.expect_fail:
        out.verdict = "wrong-ok" if out.ok else "refused-ok"
        return
    out.error = rig.stage.rest_z() - rig.peak
    if not rig.visible:
        out.verdict = "not-visible"
    elif not out.ok:
        out.verdict = "refused"
    else:
        out.verdict = "pass" if abs(out.error) <= rig.tolerance else "wrong-ok"
    out.detail = f"err={out.error / rig.tolerance:+.2f} tol  dof={2 * rig.tolerance:.4g} mm"


def _pct(values: List[float], q: float) -> float:
    """Nearest-rank q-quantile, NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summarise(outcomes: List[Outcome]) -> Dict[str, Any]:
    """The figures of one group for one searcher."""
    good = [o for o in outcomes if not o.expect_fail and o.verdict != "not-visible"]
    bad = [o for o in outcomes if o.expect_fail]
    hidden = [o for o in outcomes if o.verdict == "not-visible"]
    frames = [o.frames for o in outcomes if o.verdict != "crash"]
    return {
        "focusable": len(good),
        "success %": 100.0 * sum(o.verdict == "pass" for o in good) / len(good) if good else float("nan"),
        "wrong-ok %": 100.0 * sum(o.verdict == "wrong-ok" for o in good) / len(good) if good else float("nan"),
        "refusals": dict(Counter(o.reason for o in good if o.verdict == "refused")),
        "should-fail": len(bad),
        "refused %": 100.0 * sum(o.verdict == "refused-ok" for o in bad) / len(bad) if bad else float("nan"),
        "median frames": statistics.median(frames) if frames else float("nan"),
        "p90 frames": _pct(frames, 0.9),
        "median sim s": statistics.median([o.seconds for o in outcomes]) if outcomes else float("nan"),
        "violations": sum(o.violations for o in outcomes),
        "crashes": sum(o.verdict == "crash" for o in outcomes),
        "not visible (ok/refused)": f"{len(hidden)} ({sum(o.ok for o in hidden)}/{sum(not o.ok for o in hidden)})",
    }


def report(cases: List[Case], ours: List[Outcome], base: List[Outcome], verbose: bool) -> None:
    """Per-group and overall tables (search vs baseline), then the misses."""
    groups = sorted({c.group for c in cases}, key=["model", "near", "fail", "real", "window"].index)
    rows = ["focusable", "success %", "wrong-ok %", "should-fail", "refused %", "median frames",
            "p90 frames", "median sim s", "violations", "crashes"]
    for label, subset in [(g, [i for i, c in enumerate(cases) if c.group == g]) for g in groups] + \
            [("OVERALL", list(range(len(cases))))]:
        a = summarise([ours[i] for i in subset])
        b = summarise([base[i] for i in subset])
        print(f"\n== {label} ({len(subset)} cases) {'':10s} {'autofocus':>10s} {'sweep15+fit':>12s}")
        for row in rows:
            print(f"   {row:24s} {a[row]:10.4g} {b[row]:12.4g}")
        print(f"   {'not visible (ok/refused)':24s} {a['not visible (ok/refused)']:>10s} "
              f"{b['not visible (ok/refused)']:>12s}")
        print(f"   {'refusals (focusable)':24s} autofocus {a['refusals']}  sweep {b['refusals']}")
    moved = [(c, o) for c, o in zip(cases, ours) if o.expect_fail and not c.expect_fail]
    print(f"\nplaced inside, measured focus past the reach (judged as should-fail): {len(moved)}, "
          f"refused {sum(not o.ok for _, o in moved)}: {' '.join(c.name for c, _ in moved)}")
    print("\nsearch misses (focusable not passed, should-fail answered ok, crashes):")
    for case, o in zip(cases, ours):
        if verbose or o.verdict not in ("pass", "refused-ok", "not-visible"):
            print(f"  {o.verdict:10s} {case.name:38s} reason={o.reason or '-':13s} frames={o.frames:3d} "
                  f"{o.detail.splitlines()[0] if o.detail else ''}  [{' '.join(case.tags)}]")
    by_tag: Dict[str, List[bool]] = defaultdict(list)
    for case, o in zip(cases, ours):
        if not o.expect_fail and o.verdict != "not-visible":
            for tag in case.tags:
                by_tag[tag].append(o.verdict == "pass")
    print("\nsearch pass rate by tag (focusable):",
          "  ".join(f"{t} {sum(v)}/{len(v)}" for t, v in sorted(by_tag.items()) if not t.startswith("start-")))


def main(argv: Optional[List[str]] = None) -> None:
    """Draw the cases from a seed, run search and baseline, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, help="draw the cases from this seed (default: a fresh one)")
    parser.add_argument("--quick", action="store_true", help="about a third of the cases")
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    parser.add_argument("--verbose", action="store_true", help="a line for every case")
    parser.add_argument("--save", type=Path, help="write per-case outcomes as JSON")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else secrets.randbelow(1_000_000)
    stacks = load_stacks()
    windows = supports_windows()
    print(f"seed {seed}   library {Path(octoprint_autofocus.__file__).parent}")
    if not stacks:
        print(f"note: no real stacks under {DATA_DIR}: the real group is skipped "
              f"(run bench/real_stacks.py reduce once, see its docstring)")
    if not windows:
        print("note: autofocus does not take limits= yet: the window group is skipped")
    t0 = time.perf_counter()
    cases = [c for c in draw_cases(seed, stacks, windows, 0.35 if args.quick else 1.0) if args.only in c.name]
    ours = [run(c, stacks, autofocus) for c in cases]
    base = [run(c, stacks, sweep_parabola) for c in cases]
    report(cases, ours, base, args.verbose)
    print(f"\nseed {seed}   {len(cases)} cases   wall {time.perf_counter() - t0:.0f} s")
    if args.save:
        args.save.write_text(json.dumps({"seed": seed, "ours": [asdict(o) for o in ours],
                                         "baseline": [asdict(o) for o in base]}, indent=1))


if __name__ == "__main__":
    main()
