"""Benchmark: the focus search on replayed focus stacks, judged like a held-out suite.

Usage (from the repository root)::

    .venv/bin/python bench/bench_stacks.py [--only SUBSTR] [--verbose] [--save FILE] [--compare FILE]
                                           [--exhaustive] [--hard] [--seeds N]

Every case of :func:`bench.stack_rig.make_cases` (>= 60: five scenes x six optics x two
seeds, plus should-fail cases) is rendered as a z-stack with optics unlike the
simulator's and replayed by :class:`~bench.stack_rig.StackCamera` (nearest slice, no
interpolation). The search is called through the public contract with **defaults only**::

    autofocus(stage, camera, z_min, z_max, roi=roi, metric="tenengrad", sleep=<no-op>)

(``sleep`` only skips real waiting for the default settle; it tunes nothing.)

Verdicts:

- ``PASS``: a focusable case with ``ok`` and ``z`` within tolerance: inside the measured
  sharp band (clean score >= 80% of peak), widened to at least one slice spacing either
  side of the true focus (see ``stack_rig``); a should-fail case with ``ok=False``.
  The summary also counts the stricter symmetric tolerance ``max(DOF / 2, spacing)``,
  which asymmetric optics make harder (a symmetric curve fit drifts to the broad side).
- ``MISS``: ``ok`` but outside the tolerance (a silent wrong answer: the worst outcome).
- ``REFUSED``: ``ok=False`` on a focusable case (the ``reason`` is counted; ``z-right``
  marks runs whose ``z`` was within tolerance anyway, i.e. the gate refused a good run).
- ``FALSE-OK``: ``ok=True`` on a should-fail case.
- ``CRASH``: an exception, or a contract violation (a move outside ``[z_min, z_max]``,
  a sample outside it, ``ok`` but the last move not to ``result.z``).

``--hard`` runs the second tier of :func:`~bench.stack_rig.hard_cases` instead (narrow
DOF, focus near an end, faint samples, dust layers, small ROIs, focus just outside).
``--window`` searches a window of 40% of the stack around the start instead of the whole
stack, with the stack's ends as ``limits`` and no other extension budget (the plugin's
case: focus may lie outside the window). ``--seeds N`` (N != 0) draws a fresh set of cases of the same design: a check
that a change to the search generalises beyond the default seeds; ``--fresh`` draws that
seed base at random (and prints it), for held-out figures.
``--exhaustive`` replaces the search by a sweep of every slice (argmax of ``score``, edge
= failure): a check of the rig's truth, which that baseline should pass on every focusable
case.

It prints per-case lines for everything that did not pass (with the samples as
``(z - focus) / tolerance : score / max score``), pass rates per scene / optics / nuisance tag,
median / p90 error in tolerances, median frames and the failure reasons.
"""

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable, Dict, List

ROOT = Path(__file__).resolve().parents[1]
if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(ROOT))  # no other library asked for: this checkout's
import octoprint_autofocus  # noqa: E402,F401  (PYTHONPATH's checkout when given)

sys.path.insert(0, str(ROOT))  # this checkout's bench package

from bench.stack_rig import Case, StackCamera, StackStage, hard_cases, make_cases, render_stack  # noqa: E402
from octoprint_autofocus.focus import FocusResult, autofocus, score  # noqa: E402


def _no_sleep(_seconds: float) -> None:
    """Skip settle waits: the replayed stack has no dynamics."""


def exhaustive(stage: StackStage, camera: StackCamera, z_min: float, z_max: float,
               roi: Any = None, metric: str = "tenengrad", **_options: Any) -> FocusResult:
    """Baseline: score every slice top-down, go to the best; a best at an edge fails."""
    samples = []
    for z in camera.stack.zs[::-1]:
        stage.move_to(float(z))
        samples.append((float(z), score(camera.frame(), roi, metric)))
    best = max(samples, key=lambda s: s[1])[0]
    stage.move_to(best)
    edge = best in (z_min, z_max)
    return FocusResult(ok=not edge, z=best, reason="peak_at_edge" if edge else "", samples=samples)


WINDOW_SHARE = 0.4
"""``--window``: the window's share of the stack's span, centred on the start Z."""


def window_of(case: Case) -> Dict[str, Any]:
    """The ``--window`` arguments: a window around the start inside the stack's span."""
    half = 0.5 * WINDOW_SHARE * (case.z_max - case.z_min)
    lo = min(max(case.start_z - half, case.z_min), case.z_max - 2 * half)
    hi = min(lo + 2 * half, case.z_max)  # lo + 2 * half may round past the stack's end
    return {"z_min": lo, "z_max": hi, "limits": (case.z_min, case.z_max),
            "max_extension": case.z_max - case.z_min}


def run_case(case: Case, search: Callable[..., FocusResult] = autofocus,
             window: bool = False) -> Dict[str, Any]:
    """Render ``case``, run ``search`` on it (over the whole stack, or with ``window`` a part
    of it) and return a JSON-able verdict record."""
    stack = render_stack(case)
    stage = StackStage((case.z_min, case.z_max), case.start_z, case.backlash)
    camera = StackCamera(stack, stage, seed=case.seed + 7)
    rec: Dict[str, Any] = {
        "name": case.name, "tags": list(case.tags), "focus": case.focus_z, "band": stack.band,
        "dof": stack.dof, "spacing": case.spacing, "expect_fail": case.expect_fail,
        "focus_slice": (case.focus_z - case.z_min) / case.spacing,
    }
    t0 = time.perf_counter()
    try:
        span = window_of(case) if window else {"z_min": case.z_min, "z_max": case.z_max}
        result = search(stage, camera, roi=case.roi, metric="tenengrad", sleep=_no_sleep, **span)
    except Exception as exc:  # the contract says: a result, never an exception
        rec.update(verdict="CRASH", detail=f"{type(exc).__name__}: {exc}",
                   trace=traceback.format_exc(limit=4), frames=camera.frames)
        return rec
    rec.update(
        seconds=time.perf_counter() - t0, ok=bool(result.ok), z=float(result.z), reason=result.reason,
        frames=camera.frames, moves=len(stage.commanded), samples=[(float(z), float(s)) for z, s in result.samples],
        err=abs(float(result.z) - case.focus_z), phases=list(result.phases), slices=camera.slices_seen,
    )
    rec["err_tol"] = stack.error(float(result.z))
    rec["err_sym"] = rec["err"] / max(stack.dof / 2.0, case.spacing)
    rec["sample_err"] = [(z - case.focus_z) / stack.tolerance(z) for z, _ in rec["samples"]]
    problems = _contract_problems(case, stage, result)
    if problems:
        rec.update(verdict="CRASH", detail="; ".join(problems))
    elif case.expect_fail:
        rec["verdict"] = "FALSE-OK" if result.ok else "PASS"
    elif result.ok:
        rec["verdict"] = "PASS" if rec["err_tol"] <= 1.0 else "MISS"
    else:
        rec["verdict"] = "REFUSED"
    if rec["verdict"] in ("MISS", "REFUSED"):
        rec["why"] = diagnose(rec)
    return rec


def diagnose(rec: Dict[str, Any]) -> str:
    """A first guess, using the truth, at why a focusable case did not pass.

    - ``grid-missed-peak``: no coarse sample came within 3 tolerances of focus, and the
      run never got nearer than that: the coarse sweep did not see the peak.
    - ``gate-refused-good``: ``ok=False`` although a sample within tolerance was taken.
    - ``plateau``: several samples replayed the same slice (identical frames) around the
      chosen Z: refinement below the Z resolution of the stack.
    - ``stopped-short``: a sample got within 3 tolerances but none inside the tolerance:
      the search settled next to the peak without probing both sides of it.
    - ``wrong-choice``: a sample inside the tolerance was taken but a different Z chosen.
    """
    errs = [abs(e) for e in rec["sample_err"]]
    coarse = [e for e, p in zip(errs, rec["phases"]) if p == "coarse"]
    if not rec["ok"] and min(errs, default=99) <= 1.0:
        return "gate-refused-good"
    if min(coarse, default=99) > 3.0 and min(errs, default=99) > 3.0:
        return "grid-missed-peak"
    tail = rec["slices"][-4:]
    if len(tail) - len(set(tail)) >= 2:
        return "plateau"
    if min(errs, default=99) > 1.0:
        return "stopped-short"
    return "wrong-choice"


def _contract_problems(case: Case, stage: StackStage, result: Any) -> List[str]:
    """Contract violations of one run (empty if none)."""
    eps = 1e-9 * max(1.0, abs(case.z_max))
    out = []
    if stage.violations:
        out.append(f"moves outside limits: {stage.violations[:3]}")
    outside = [z for z, _ in result.samples if not case.z_min - eps <= z <= case.z_max + eps]
    if outside:
        out.append(f"samples outside range: {outside[:3]}")
    if not case.z_min - eps <= result.z <= case.z_max + eps and result.ok:
        out.append(f"ok with z={result.z} outside range")
    last = stage.commanded[-1] if stage.commanded else case.start_z
    if result.ok and abs(last - result.z) > max(eps, 1e-6 * (case.z_max - case.z_min)):
        out.append(f"ok but the stage was left at {last}, not at z={result.z}")
    return out


def _samples_text(rec: Dict[str, Any]) -> str:
    """The samples as ``(z - focus)/tol:score/max`` pairs, in measured order."""
    samples = rec.get("samples") or []
    if not samples:
        return ""
    top = max(s for _, s in samples) or 1.0
    return " ".join(f"{e:+.1f}:{s / top:.2f}" for e, (_, s) in zip(rec["sample_err"], samples))


def _pct(values: List[float], q: float) -> float:
    """The q-quantile (0..1) of values (nearest rank), NaN if empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def report(records: List[Dict[str, Any]], verbose: bool) -> None:
    """Print per-case lines for non-passes (all with ``verbose``) and the summary."""
    for rec in records:
        if verbose or rec["verdict"] != "PASS":
            line = f"{rec['verdict']:8s} {rec['name']:34s}"
            if "z" in rec:
                zr = " z-right" if rec["verdict"] == "REFUSED" and rec["err_tol"] <= 1.0 else ""
                line += (f" err={rec['err_tol']:6.2f} tol  reason={rec['reason'] or '-':13s}{zr}"
                         f" frames={rec['frames']:3d} dof/slice={rec['dof'] / rec['spacing']:.1f}")
            else:
                line += f" {rec.get('detail', '')}"
            print(line)
            if rec.get("why"):
                print("    why:", rec["why"], " phases:", "".join(p[0] for p in rec["phases"]),
                      " slices:", rec["slices"], " focus slice:", round(rec["focus_slice"], 1))
            if rec["verdict"] == "CRASH":
                print("   ", rec.get("detail", ""), rec.get("trace", ""))
            if rec.get("samples"):
                print("    samples:", _samples_text(rec))
    good = [r for r in records if not r["expect_fail"]]
    bad = [r for r in records if r["expect_fail"]]
    n_pass = sum(r["verdict"] == "PASS" for r in records)
    print(f"\nSUCCESS {n_pass}/{len(records)} = {n_pass / len(records):.0%}   "
          f"focusable {sum(r['verdict'] == 'PASS' for r in good)}/{len(good)}   "
          f"should-fail {sum(r['verdict'] == 'PASS' for r in bad)}/{len(bad)}")
    print("verdicts:", dict(Counter(r["verdict"] for r in records)))
    print("reasons (focusable, not ok):", dict(Counter(r.get("reason") for r in good if r.get("ok") is False)))
    print("diagnosis (focusable, not passed):", dict(Counter(r["why"] for r in good if r.get("why"))))
    print("reasons (should-fail):", dict(Counter(r.get("reason") if not r.get("ok") else "OK" for r in bad)))
    strict = sum(r.get("ok", False) and r["err_sym"] <= 1.0 for r in good)
    print(f"focusable within the symmetric tolerance max(DOF/2, spacing): {strict}/{len(good)}")
    errs = [r["err_tol"] for r in good if "err_tol" in r]
    frames = [r["frames"] for r in records if "frames" in r]
    print(f"error/tol (focusable, all runs): median {_pct(errs, 0.5):.2f}  p90 {_pct(errs, 0.9):.2f}  "
          f"frames median {statistics.median(frames) if frames else float('nan'):.0f}  p90 {_pct(frames, 0.9):.0f}  "
          f"max {max(frames, default=0)}  "
          f"search s total {sum(r.get('seconds', 0) for r in records):.1f}")
    by_tag: Dict[str, List[bool]] = defaultdict(list)
    for r in good:
        for tag in r["tags"]:
            by_tag[tag].append(r["verdict"] == "PASS")
    print("pass rate by tag:", "  ".join(f"{t} {sum(v)}/{len(v)}" for t, v in sorted(by_tag.items())))


def compare(records: List[Dict[str, Any]], path: Path) -> None:
    """Print cases whose verdict changed since the records saved at ``path``."""
    old = {r["name"]: r for r in json.loads(path.read_text())}
    for rec in records:
        before = old.get(rec["name"], {}).get("verdict")
        if before != rec["verdict"]:
            print(f"changed: {rec['name']:34s} {before} -> {rec['verdict']}")


def search_version() -> str:
    """The last commit touching the focus library measured, in its own checkout (``?``
    outside a git checkout)."""
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%h %s", "--", "octoprint_autofocus/focus"],
                             cwd=Path(octoprint_autofocus.__file__).resolve().parents[1],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def main() -> None:
    """Run the cases, print the report; optionally save / compare the records."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    parser.add_argument("--verbose", action="store_true", help="a line for every case")
    parser.add_argument("--save", type=Path, help="write the per-case records as JSON")
    parser.add_argument("--compare", type=Path, help="show verdict changes against saved records")
    parser.add_argument("--seeds", "--seed", type=int, default=0, help="seed base: != 0 draws fresh cases")
    parser.add_argument("--fresh", action="store_true", help="draw a fresh seed base at random")
    parser.add_argument("--window", action="store_true", help="search a window around the start")
    parser.add_argument("--hard", action="store_true", help="run the harder second tier instead")
    parser.add_argument("--exhaustive", action="store_true", help="run the every-slice baseline instead")
    args = parser.parse_args()
    t0 = time.perf_counter()
    seeds = secrets.randbelow(10**6) + 1 if args.fresh else args.seeds
    search = exhaustive if args.exhaustive else autofocus
    cases = hard_cases(seeds) if args.hard else make_cases(seeds)
    if args.window:  # a window only makes sense where focus lies in the stack
        cases = [c for c in cases if not c.expect_fail]
    records = [run_case(c, search, args.window) for c in cases if args.only in c.name]
    report(records, args.verbose)
    print(f"wall {time.perf_counter() - t0:.0f} s   focus library at: {search_version()}")
    print(f"seed base {seeds}" + (" (--window)" if args.window else "") + (" (--hard)" if args.hard else ""))
    if args.compare and args.compare.exists():
        compare(records, args.compare)
    if args.save:
        args.save.write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
