"""Benchmark 2: the autofocus search against a 41-point full sweep, on seeded simulated rigs.

Usage::

    .venv/bin/python bench/bench_search.py              # main suite (120 cases + should-fail)
    .venv/bin/python bench/bench_search.py --holdout    # cases never tuned on
    .venv/bin/python bench/bench_search.py --cases 20   # a quick subset

Every case is a :func:`~octoprint_autofocus.simulator.make_rig` microscope with its own
scene, depth of field (range / DOF from 3 to 150), noise, JPEG, flicker, backlash, range,
focal plane (some within two DOF of an edge) and start (either end, middle, far tail).
Success means the final *optical* Z is within half a DOF of the true focal plane and the
run said ok. The baseline sweeps 41 evenly spaced Zs top-down (each approached from
above, same settle), scores them with :func:`~octoprint_autofocus.focus.score` and goes
back to the argmax from above. The second table runs cases that must fail (flat scene,
focus outside the range) and counts the reasons.
"""

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from octoprint_autofocus.focus import autofocus, score  # noqa: E402
from octoprint_autofocus.focus.plan import Motion  # noqa: E402
from octoprint_autofocus.simulator import make_rig  # noqa: E402

MAIN_SCENES = ("pcb", "texture", "cells", "grid")
HOLDOUT_SCENES = ("text", "fibers", "stars", "pcb", "texture")
SETTLE = 0.05
SIZE = (320, 240)
SMALL_ROI_SIZES = ((320, 240), (640, 480))
"""Frame sizes of the small-ROI should-fail cases (the ROI is a quarter of each side)."""


@dataclass
class Case:
    """One seeded rig and the range searched."""

    name: str
    rig_args: Dict
    z_min: float
    z_max: float
    metric: str = "tenengrad"
    roi: Optional[Tuple[int, int, int, int]] = None


@dataclass
class Outcome:
    """What one run achieved, judged against the rig's truth."""

    ok: bool
    success: bool
    error_mm: float
    error_dof: float
    frames: int
    moves: int
    seconds: float
    violations: int
    reason: str = ""


def draw_cases(count: int, seed: int, scenes: Tuple[str, ...]) -> List[Case]:
    """``count`` cases with parameters drawn from a generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        length = float(rng.choice([1.0, 2.0, 5.0, 10.0]))
        z_min = float(np.round(rng.uniform(0.0, 5.0), 3))
        z_max = z_min + length
        ratio = float(np.exp(rng.uniform(np.log(3.0), np.log(150.0))))
        dof = length / ratio
        if rng.random() < 0.2:  # focus just inside an edge
            inset = rng.uniform(0.3, 2.0) * dof
            focal = z_min + inset if rng.random() < 0.5 else z_max - inset
        else:
            focal = rng.uniform(z_min + 0.05 * length, z_max - 0.05 * length)
        start_kind = rng.choice(["low", "high", "middle", "random", "far"])
        start = {
            "low": z_min, "high": z_max, "middle": 0.5 * (z_min + z_max),
            "random": rng.uniform(z_min, z_max),
            "far": z_min if focal > 0.5 * (z_min + z_max) else z_max,
        }[start_kind]
        rig_args = dict(
            scene=str(rng.choice(scenes)), seed=int(rng.integers(1, 10_000)), focal_z=focal,
            dof=dof,
            z_limits=(z_min - 1.0, z_max + 1.0), start_z=float(start),
            noise=float(rng.choice([0.005, 0.01, 0.02])),
            jpeg_quality=[None, 85, 60][int(rng.integers(0, 3))],
            flicker=float(rng.choice([0.0, 0.0, 0.03, 0.08])),
            backlash=float(rng.choice([0.0, 0.02, 0.1])),
            size=SIZE,
        )
        # Approached from above, the optics never get above z_max - backlash (the carriage
        # lags a move up to z_max): keep the focal plane reachable.
        rig_args["focal_z"] = min(focal, z_max - rig_args["backlash"] - 0.3 * dof)
        name = f"c{i}:{rig_args['scene']}:r{ratio:.0f}:{start_kind}"
        cases.append(Case(name, rig_args, z_min, z_max))
    return cases


def should_fail_cases(seed: int) -> List[Case]:
    """Flat scenes, focal planes outside the range, and small noisy ROIs far from focus.

    In the last group a quarter-side ROI (80x60 or 160x120 px) of a JPEG frame sees the
    focal plane 10 to 60 DOF beyond the range: its score is noise, which must not pass
    for a peak.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(10):
        rig_args = dict(scene="flat", seed=i, focal_z=2.0, dof=0.05, z_limits=(0.0, 6.0),
                        start_z=float(rng.uniform(1, 3)), size=SIZE,
                        flicker=float(rng.choice([0.0, 0.05])))
        cases.append(Case(f"flat{i}", rig_args, 1.0, 3.0))
    for i in range(20):
        dof = float(rng.choice([0.02, 0.1, 0.3]))
        above = i % 2 == 0
        beyond = float(rng.uniform(3.0, 20.0)) * dof
        focal = 3.0 + beyond if above else 1.0 - beyond
        rig_args = dict(scene=str(rng.choice(MAIN_SCENES)), seed=100 + i, focal_z=focal, dof=dof,
                        z_limits=(-5.0, 9.0), start_z=2.0, size=SIZE)
        cases.append(Case(f"outside{i}", rig_args, 1.0, 3.0))
    for i in range(20):
        size = SMALL_ROI_SIZES[i % len(SMALL_ROI_SIZES)]
        dof = 0.1
        beyond = float(rng.uniform(10.0, 60.0)) * dof
        focal = 3.0 + beyond if i % 4 < 2 else 1.0 - beyond
        rig_args = dict(scene=str(rng.choice(MAIN_SCENES + ("text",))), seed=200 + i,
                        focal_z=focal, dof=dof, z_limits=(-5.0, 12.0),
                        start_z=float(rng.uniform(1.0, 3.0)), size=size, noise=0.01,
                        jpeg_quality=85)
        w, h = size
        roi = (int(rng.integers(0, w - w // 4)), int(rng.integers(0, h - h // 4)), w // 4, h // 4)
        cases.append(Case(f"smallroi{i}", rig_args, 1.0, 3.0, roi=roi))
    return cases


def run_autofocus(case: Case) -> Outcome:
    """Our search with its defaults (plus the bench's settle) on a fresh rig."""
    rig = make_rig(**case.rig_args)
    result = autofocus(rig.stage, rig.camera, case.z_min, case.z_max, roi=case.roi,
                       metric=case.metric, settle=SETTLE, sleep=rig.clock.sleep, clock=rig.clock.now)
    return _outcome(case, rig, result.ok, result.frames, result.reason)


def run_sweep(case: Case, points: int = 41) -> Outcome:
    """The baseline: a full top-down sweep with argmax, final Z approached from above."""
    rig = make_rig(**case.rig_args)
    motion = Motion(rig.stage, case.z_min, case.z_max, "above", 0.2, SETTLE, rig.clock.sleep,
                    lambda: None)
    zs = np.linspace(case.z_max, case.z_min, points)
    scores = []
    for z in zs:
        motion.arrive(float(z))
        scores.append(score(rig.camera.frame(), metric=case.metric))
    motion.arrive(float(zs[int(np.argmax(scores))]))
    return _outcome(case, rig, True, points, "")


def _outcome(case: Case, rig, ok: bool, frames: int, reason: str) -> Outcome:
    """Judge a finished run by the rig's optical Z and every Z it was commanded to."""
    error = rig.optical_error()
    outside = [z for z in rig.stage.commanded if not case.z_min <= z <= case.z_max]
    return Outcome(ok=ok, success=ok and error <= rig.dof / 2, error_mm=error,
                   error_dof=error / rig.dof,
                   frames=frames, moves=rig.stage.moves, seconds=rig.clock.now(),
                   violations=len(rig.stage.violations) + len(outside), reason=reason)


def summary(outcomes: List[Outcome]) -> Dict[str, float]:
    """The figures of one table column."""
    err = np.array([o.error_mm for o in outcomes])
    err_dof = np.array([o.error_dof for o in outcomes])
    return {
        "success %": 100.0 * np.mean([o.success for o in outcomes]),
        "median err mm": float(np.median(err)),
        "p90 err mm": float(np.percentile(err, 90)),
        "median err DOF": float(np.median(err_dof)),
        "p90 err DOF": float(np.percentile(err_dof, 90)),
        "median frames": float(np.median([o.frames for o in outcomes])),
        "p90 frames": float(np.percentile([o.frames for o in outcomes], 90)),
        "median moves": float(np.median([o.moves for o in outcomes])),
        "median sim s": float(np.median([o.seconds for o in outcomes])),
        "limit violations": float(sum(o.violations for o in outcomes)),
    }


def print_tables(cases: List[Case], ours: List[Outcome], sweep: List[Outcome],
                 verbose: bool) -> None:
    """Ours next to the sweep, with ratios of the figures, then the failed cases."""
    a, b = summary(ours), summary(sweep)
    print(f"{'':18s} {'autofocus':>12s} {'41-pt sweep':>12s} {'ratio':>8s}")
    for key in a:
        ratio = a[key] / b[key] if b[key] else float("nan")
        print(f"{key:18s} {a[key]:12.4g} {b[key]:12.4g} {ratio:8.3f}")
    failures = [(c, o) for c, o in zip(cases, ours) if not o.success]
    listed = ", ".join(f"{c.name}[{o.reason or 'miss'} {o.error_dof:.2f}DOF]" for c, o in failures)
    print(f"\nfailures ({len(failures)}): {listed}")
    if verbose:
        for c, o in zip(cases, ours):
            print(f"  {c.name:32s} ok={o.ok!s:5s} err={o.error_dof:6.2f}DOF frames={o.frames:3d} "
                  f"t={o.seconds:6.2f}s {o.reason}")


def print_should_fail(cases: List[Case]) -> None:
    """Run the cases that must fail and count how they failed."""
    outcomes = [run_autofocus(c) for c in cases]
    print("\nshould-fail cases (flat scene, focus outside the range, small noisy ROI)")
    for kind in ("flat", "outside", "smallroi"):
        group = [o for c, o in zip(cases, outcomes) if c.name.startswith(kind)]
        reasons = Counter(o.reason or "ok (wrong)" for o in group)
        correct = sum(not o.ok for o in group)
        print(f"  {kind:8s} failed as expected {correct}/{len(group)}  reasons: {dict(reasons)}  "
              f"violations: {sum(o.violations for o in group)}")


def main(argv: Optional[List[str]] = None) -> None:
    """Parse the arguments, run the suite and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holdout", action="store_true", help="run the held-out cases instead")
    parser.add_argument("--cases", type=int, default=120, help="number of cases (default 120)")
    parser.add_argument("--verbose", action="store_true", help="one line per case")
    parser.add_argument("--seed", type=int, help="draw the cases from this seed (development)")
    parser.add_argument("--no-sweep", action="store_true", help="skip the baseline")
    args = parser.parse_args(argv)
    seed, scenes = (4111, HOLDOUT_SCENES) if args.holdout else (7, MAIN_SCENES)
    seed = args.seed if args.seed is not None else seed
    cases = draw_cases(args.cases, seed, scenes)
    suite = "held-out" if args.holdout else "main"
    print(f"{suite} suite: {len(cases)} cases, {SIZE[0]}x{SIZE[1]} frames")
    ours = [run_autofocus(c) for c in cases]
    sweep = ours if args.no_sweep else [run_sweep(c) for c in cases]
    print_tables(cases, ours, sweep, args.verbose)
    print_should_fail(should_fail_cases(seed + 1))


if __name__ == "__main__":
    main()
