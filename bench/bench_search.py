"""Benchmark 2: the autofocus search on seeded simulated rigs, against a 41-point full sweep.

Usage::

    .venv/bin/python bench/bench_search.py              # main suite, seed 7 (development)
    .venv/bin/python bench/bench_search.py --holdout    # held-out scenes, a fresh seed every run
    .venv/bin/python bench/bench_search.py --seed 123   # the same design from another seed
    .venv/bin/python bench/bench_search.py --cases 30   # a quick subset
    .venv/bin/python bench/bench_search.py --should-fail 16 --seed 123   # 16 should-fail sets
    .venv/bin/python bench/bench_search.py --seed 123 --save a.json       # keep the focusable runs
    .venv/bin/python bench/bench_search.py --seed 123 --compare a.json    # paired, against them

Every case is a :func:`~octoprint_autofocus.simulator.make_rig` microscope with its own
scene, depth of field (range / DOF from 3 to 150), noise, JPEG, flicker, backlash, range,
focal plane and start. The groups:

- ``main``: the window is a wall (no ``limits``); focus inside it, some within two DOF of
  an edge, starts at either end, the middle or the far tail. The baseline sweeps 41 evenly
  spaced Zs top-down (each approached from above, same settle), scores them with
  :func:`~octoprint_autofocus.focus.score` and goes back to the argmax from above.
- ``window``: the window is a first guess inside wider ``limits`` (as the plugin runs it):
  focus up to one window width past an edge, or within the backlash distance of one.
- ``predicted``: a focus map's point: a narrow window (+-1 DOF) around a predicted Z with
  3 or 5 coarse points; the prediction is good (off by 0-2 DOF) or misses by 2-6 windows.
- ``nearmiss``: focusable but where a search is tempted to answer wrongly: dim low-contrast
  scenes with flicker and JPEG, small ROIs, backlash near an edge, very narrow DOF.

Success: the run said ok and the final *optical* Z is within half a DOF of the true focal
plane. A *wrong ok* is ok and outside that. ``time/pass`` is the simulated time over the
time of one continuous pass over the window and back to focus at full Z speed (the
physical reference: ``(window + distance from its nearer end to focus) / speed``).
Violations count every Z commanded outside the case's limits (or the stage's).

The should-fail table runs cases a correct search must refuse: flat scenes, focus outside
the hard bounds (also with wider limits to extend into), small noisy ROIs far from focus,
and periodic scenes far from focus (defocus side lobes). One set has 90 cases, so one wrong ok
moves its rate by more than a point: ``--should-fail N`` runs only that table, over the sets of
N consecutive seeds (the sets N ordinary runs from ``--seed`` on would draw), for a rate.

``--save FILE`` writes every focusable run's outcome; ``--compare FILE`` (the same seed, another
library) then prints the runs paired case by case: the median and the range of the ratios of
time/pass, the change in frames, and every case whose verdict changed. A group's median
time/pass can move where the runs around it sit unevenly while no run got slower; the paired
ratios show what each run did.
"""

import argparse
import json
import os
import secrets
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(ROOT))  # no other library asked for: this checkout's
import octoprint_autofocus  # noqa: E402,F401  (PYTHONPATH's checkout when given)

sys.path.insert(0, str(ROOT))  # this checkout's bench package

from octoprint_autofocus.focus import autofocus, score  # noqa: E402
from octoprint_autofocus.focus.plan import Motion  # noqa: E402
from octoprint_autofocus.simulator import SCENES, make_rig  # noqa: E402

MAIN_SCENES = ("pcb", "texture", "cells", "grid")
HOLDOUT_SCENES = ("text", "fibers", "stars", "pcb", "texture")
SETTLE = 0.05
SPEED = 5.0
"""The rigs' Z speed (mm/s), :func:`make_rig`'s default."""
SIZE = (320, 240)
SMALL_ROI_SIZES = ((320, 240), (640, 480))
"""Frame sizes of the small-ROI should-fail cases (the ROI is a quarter of each side)."""
MIN_ROI_DETAIL = 12.0
"""Grey-level SD a small ROI's in-focus content needs to count as focusable."""
FOCUSABLE = ("main", "window", "predicted", "nearmiss")
SHOULD_FAIL = ("flat", "outside", "smallroi", "beyond", "periodic")


@dataclass
class Case:
    """One seeded rig, the window searched and the options (``limits`` etc.)."""

    name: str
    group: str
    rig_args: Dict
    z_min: float
    z_max: float
    metric: str = "tenengrad"
    roi: Optional[Tuple[int, int, int, int]] = None
    options: Dict[str, Any] = field(default_factory=dict)

    @property
    def limits(self) -> Tuple[float, float]:
        """Where the search may move: the ``limits`` option, else the window."""
        return self.options.get("limits") or (self.z_min, self.z_max)

    def pass_time(self) -> float:
        """One continuous pass over the window and back to focus at full Z speed (s)."""
        focal = self.rig_args["focal_z"]
        back = min(abs(self.z_min - focal), abs(self.z_max - focal))
        return (self.z_max - self.z_min + back) / self.rig_args.get("speed", SPEED)


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
    per_pass: float
    violations: int
    reason: str = ""

    @property
    def wrong_ok(self) -> bool:
        """Said ok, but is not within half a DOF of focus."""
        return self.ok and not self.success


def _rig_args(rng: np.random.Generator, scenes: Tuple[str, ...], focal: float, dof: float,
              start: float, z_limits: Tuple[float, float]) -> Dict[str, Any]:
    """A rig's arguments with the sensor and stage nuisances drawn from ``rng``."""
    return dict(
        scene=str(rng.choice(scenes)), seed=int(rng.integers(1, 10_000)), focal_z=focal,
        dof=dof, z_limits=z_limits, start_z=float(start),
        noise=float(rng.choice([0.005, 0.01, 0.02])),
        jpeg_quality=[None, 85, 60][int(rng.integers(0, 3))],
        flicker=float(rng.choice([0.0, 0.0, 0.03, 0.08])),
        backlash=float(rng.choice([0.0, 0.02, 0.1])),
        size=SIZE,
    )


def draw_cases(count: int, seed: int, scenes: Tuple[str, ...]) -> List[Case]:
    """``main``: ``count`` cases whose window is a wall, drawn from ``seed``."""
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
        rig_args = _rig_args(rng, scenes, focal, dof, start, (z_min - 1.0, z_max + 1.0))
        # Approached from above, the optics never get above z_max - backlash (the carriage
        # lags a move up to z_max): keep the focal plane reachable.
        rig_args["focal_z"] = min(focal, z_max - rig_args["backlash"] - 0.3 * dof)
        name = f"c{i}:{rig_args['scene']}:r{ratio:.0f}:{start_kind}"
        cases.append(Case(name, "main", rig_args, z_min, z_max))
    return cases


def window_cases(count: int, seed: int, scenes: Tuple[str, ...]) -> List[Case]:
    """``window``: the plugin's case, a window around the start inside wider safety limits.

    Focus lies past an edge of the window by up to one window width (the default budget),
    or inside it within two backlash distances of an edge.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        half = float(rng.choice([0.5, 1.0, 2.0]))
        start = float(np.round(rng.uniform(10.0, 20.0), 3))
        window = (start - half, start + half)
        dof = 2 * half / float(np.exp(rng.uniform(np.log(5.0), np.log(80.0))))
        side = 1.0 if rng.random() < 0.5 else -1.0
        if rng.random() < 0.75:
            past = float(rng.uniform(0.0, 0.9)) * 2 * half
            kind = "past"
        else:
            past = -float(rng.uniform(0.0, 0.3))
            kind = "edge"
        focal = start + side * (half + past)
        limits = (0.0, 30.0)
        rig_args = _rig_args(rng, scenes, focal, dof, start, (-5.0, 35.0))
        name = f"w{i}:{rig_args['scene']}:{kind}{side * (past / (2 * half)):+.2f}w"
        cases.append(Case(name, "window", rig_args, *window, options={"limits": limits}))
    return cases


def predicted_cases(count: int, seed: int, scenes: Tuple[str, ...]) -> List[Case]:
    """``predicted``: a focus map's point, a +-1 DOF window around a predicted Z.

    Three quarters are good predictions (0-2 DOF off), a quarter miss by 2-6 windows; half
    use 3 coarse points, half 5; the limits are the safety limits and the extension budget
    16 DOF (about eight windows).
    """
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        dof = float(rng.choice([0.02, 0.05, 0.1, 0.3]))
        focal = float(rng.uniform(5.0, 15.0))
        good = rng.random() < 0.75
        off = float(rng.uniform(0.0, 2.0)) * dof if good else float(rng.uniform(4.0, 12.0)) * dof
        predicted = focal + (off if rng.random() < 0.5 else -off)
        points = 3 if i % 2 else 5
        rig_args = _rig_args(rng, scenes, focal, dof, predicted, (-5.0, 25.0))
        name = f"p{i}:{rig_args['scene']}:{'good' if good else 'miss'}{off / dof:.1f}dof:{points}pt"
        cases.append(Case(name, "predicted", rig_args, predicted - dof, predicted + dof,
                          options={"limits": (0.0, 20.0), "coarse_points": points,
                                   "max_extension": 16 * dof}))
    return cases


def nearmiss_cases(count: int, seed: int, scenes: Tuple[str, ...]) -> List[Case]:
    """``nearmiss``: focusable, but where a careless search answers wrongly or refuses.

    Dim low-contrast scenes (gain 0.2-0.4) with flicker and JPEG, a small ROI (an eighth of
    the frame side, over visible detail), heavy backlash with focus near the top of the window, or a very narrow DOF
    (range / DOF 150-400) with a start in featureless blur.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        kind = ("dim", "smallroi", "backlash", "narrow")[i % 4]
        z_min = float(np.round(rng.uniform(1.0, 4.0), 3))
        length = float(rng.choice([2.0, 4.0]))
        z_max = z_min + length
        dof = length / float(rng.uniform(15.0, 60.0))
        focal = float(rng.uniform(z_min + 0.1 * length, z_max - 0.1 * length))
        start = float(rng.uniform(z_min, z_max))
        roi, options = None, {}
        rig_args = _rig_args(rng, scenes + ("cells",), focal, dof, start, (z_min - 2.0, z_max + 2.0))
        if kind == "dim":
            rig_args.update(scene="cells", gain=float(rng.uniform(0.2, 0.4)), noise=0.01,
                            flicker=0.05, jpeg_quality=70)
        elif kind == "smallroi":
            roi = _detailed_roi(rng, rig_args["scene"], rig_args["seed"])
            rig_args.update(noise=0.015, jpeg_quality=80)
        elif kind == "backlash":
            rig_args.update(backlash=0.15, focal_z=z_max - float(rng.uniform(0.0, 0.15)))
            options["limits"] = (z_min - 1.0, z_max + 1.0)
        else:
            rig_args.update(dof=length / float(rng.uniform(150.0, 400.0)),
                            start_z=z_min if focal > 0.5 * (z_min + z_max) else z_max)
        name = f"n{i}:{kind}:{rig_args['scene']}"
        cases.append(Case(name, "nearmiss", rig_args, z_min, z_max, roi=roi, options=options))
    return cases


def _detailed_roi(rng: np.random.Generator, scene: str, seed: int) -> Tuple[int, int, int, int]:
    """An eighth-side ROI (40x30 px) whose in-focus content a person can see: grey levels
    spread by at least ``MIN_ROI_DETAIL`` (the first of a few random tries that does)."""
    image = SCENES[scene](seed, SIZE)
    w, h = SIZE
    for _ in range(20):
        x, y = int(rng.integers(0, w - w // 8)), int(rng.integers(0, h - h // 8))
        if float(image[y:y + h // 8, x:x + w // 8].std()) >= MIN_ROI_DETAIL:
            break
    return x, y, w // 8, h // 8


def should_fail_cases(seed: int) -> List[Case]:
    """Flat scenes, focus outside the hard bounds, small noisy ROIs and periodic scenes far
    from focus.

    ``smallroi``: a quarter-side ROI (80x60 or 160x120 px) of a JPEG frame sees the focal
    plane 10 to 60 DOF beyond the range: its score is noise, which must not pass for a
    peak. ``beyond``: wider limits the search may extend into, focus 3 to 20 DOF beyond
    them. ``periodic``: grid and star scenes focused 5 to 30 DOF outside the range, where
    defocus side lobes make bumps.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(10):
        rig_args = dict(scene="flat", seed=i, focal_z=2.0, dof=0.05, z_limits=(0.0, 6.0),
                        start_z=float(rng.uniform(1, 3)), size=SIZE,
                        flicker=float(rng.choice([0.0, 0.05])))
        options = {"limits": (0.5, 5.0)} if i % 2 else {}
        cases.append(Case(f"flat{i}", "flat", rig_args, 1.0, 3.0, options=options))
    for i in range(20):
        dof = float(rng.choice([0.02, 0.1, 0.3]))
        above = i % 2 == 0
        beyond = float(rng.uniform(3.0, 20.0)) * dof
        focal = 3.0 + beyond if above else 1.0 - beyond
        rig_args = dict(scene=str(rng.choice(MAIN_SCENES)), seed=100 + i, focal_z=focal, dof=dof,
                        z_limits=(-5.0, 9.0), start_z=2.0, size=SIZE)
        cases.append(Case(f"outside{i}", "outside", rig_args, 1.0, 3.0))
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
        cases.append(Case(f"smallroi{i}", "smallroi", rig_args, 1.0, 3.0, roi=roi))
    for i in range(20):
        dof = float(rng.choice([0.02, 0.05, 0.1]))
        limits = (0.5, 3.5)
        beyond = float(rng.uniform(3.0, 20.0)) * dof
        focal = limits[1] + beyond if i % 2 == 0 else limits[0] - beyond
        rig_args = _rig_args(rng, MAIN_SCENES, focal, dof, float(rng.uniform(1.5, 2.5)), (-5.0, 9.0))
        start = rig_args["start_z"]
        cases.append(Case(f"beyond{i}", "beyond", rig_args, start - 0.5, start + 0.5,
                          options={"limits": limits}))
    for i in range(20):
        dof = float(rng.choice([0.05, 0.1, 0.3]))
        beyond = float(rng.uniform(5.0, 30.0)) * dof
        focal = 3.0 + beyond if i % 2 == 0 else 1.0 - beyond
        rig_args = dict(scene=("grid", "stars")[i % 4 // 2], seed=300 + i, focal_z=focal, dof=dof,
                        z_limits=(-10.0, 14.0), start_z=float(rng.uniform(1.0, 3.0)), size=SIZE,
                        noise=0.01)
        cases.append(Case(f"periodic{i}", "periodic", rig_args, 1.0, 3.0))
    return cases


def run_autofocus(case: Case) -> Outcome:
    """Our search with its defaults (plus the bench's settle and the case's options)."""
    rig = make_rig(**case.rig_args)
    result = autofocus(rig.stage, rig.camera, case.z_min, case.z_max, roi=case.roi,
                       metric=case.metric, settle=SETTLE, sleep=rig.clock.sleep,
                       clock=rig.clock.now, **case.options)
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
    lo, hi = case.limits
    outside = [z for z in rig.stage.commanded if not lo <= z <= hi]
    seconds = rig.clock.now()
    return Outcome(ok=ok, success=ok and error <= rig.dof / 2, error_mm=error,
                   error_dof=error / rig.dof, frames=frames, moves=rig.stage.moves,
                   seconds=seconds, per_pass=seconds / case.pass_time(),
                   violations=len(rig.stage.violations) + len(outside), reason=reason)


def summary(outcomes: List[Outcome]) -> Dict[str, float]:
    """The figures of one table column."""
    err = np.array([o.error_mm for o in outcomes])
    err_dof = np.array([o.error_dof for o in outcomes])
    return {
        "success %": 100.0 * np.mean([o.success for o in outcomes]),
        "wrong ok %": 100.0 * np.mean([o.wrong_ok for o in outcomes]),
        "median err mm": float(np.median(err)),
        "p90 err mm": float(np.percentile(err, 90)),
        "median err DOF": float(np.median(err_dof)),
        "p90 err DOF": float(np.percentile(err_dof, 90)),
        "median frames": float(np.median([o.frames for o in outcomes])),
        "p90 frames": float(np.percentile([o.frames for o in outcomes], 90)),
        "median moves": float(np.median([o.moves for o in outcomes])),
        "median sim s": float(np.median([o.seconds for o in outcomes])),
        "median time/pass": float(np.median([o.per_pass for o in outcomes])),
        "limit violations": float(sum(o.violations for o in outcomes)),
    }


def print_main(cases: List[Case], ours: List[Outcome], sweep: Optional[List[Outcome]]) -> None:
    """The main group: ours next to the sweep, with ratios of the figures."""
    a = summary(ours)
    b = summary(sweep) if sweep is not None else None
    print(f"{'main group':18s} {'autofocus':>12s}" + (f" {'41-pt sweep':>12s} {'ratio':>8s}" if b else ""))
    for key in a:
        line = f"{key:18s} {a[key]:12.4g}"
        if b:
            ratio = a[key] / b[key] if b[key] else float("nan")
            line += f" {b[key]:12.4g} {ratio:8.3f}"
        print(line)


def print_groups(cases: List[Case], outcomes: List[Outcome]) -> None:
    """One line per focusable group, then all focusable cases together."""
    print(f"\n{'group':10s} {'cases':>5s} {'success%':>8s} {'wrong ok':>8s} {'frames':>6s} "
          f"{'p90':>4s} {'err DOF':>8s} {'time/pass':>9s} {'violations':>10s}")
    for group in FOCUSABLE + ("all",):
        chosen = [o for c, o in zip(cases, outcomes) if group in ("all", c.group)]
        if not chosen:
            continue
        s = summary(chosen)
        wrong = sum(o.wrong_ok for o in chosen)
        print(f"{group:10s} {len(chosen):5d} {s['success %']:8.1f} {wrong:8d} "
              f"{s['median frames']:6.1f} {s['p90 frames']:4.0f} {s['median err DOF']:8.3f} "
              f"{s['median time/pass']:9.2f} {s['limit violations']:10.0f}")
    if any(c.group == "predicted" for c in cases):
        good = [o for c, o in zip(cases, outcomes) if c.group == "predicted" and ":good" in c.name]
        miss = [o for c, o in zip(cases, outcomes) if c.group == "predicted" and ":miss" in c.name]
        for label, chosen in (("good prediction", good), ("missed window", miss)):
            if chosen:
                print(f"  predicted, {label}: {len(chosen)} cases, success "
                      f"{100.0 * np.mean([o.success for o in chosen]):.1f}%, median frames "
                      f"{np.median([o.frames for o in chosen]):.1f}")


def print_failures(cases: List[Case], outcomes: List[Outcome], verbose: bool) -> None:
    """The cases that did not succeed (every case with ``verbose``)."""
    failures = [(c, o) for c, o in zip(cases, outcomes) if not o.success]
    listed = ", ".join(f"{c.name}[{o.reason or ('WRONG OK' if o.ok else 'miss')} {o.error_dof:.2f}DOF]"
                       for c, o in failures)
    print(f"\nfailures ({len(failures)}): {listed}")
    if verbose:
        for c, o in zip(cases, outcomes):
            print(f"  {c.name:40s} ok={o.ok!s:5s} err={o.error_dof:6.2f}DOF frames={o.frames:3d} "
                  f"t={o.seconds:6.2f}s {o.reason}")


def print_should_fail(cases: List[Case], verbose: bool) -> None:
    """Run the cases that must fail and count how they failed."""
    outcomes = [run_autofocus(c) for c in cases]
    print("\nshould-fail cases (flat scene, focus outside the hard bounds, small noisy ROI, "
          "periodic scene far from focus)")
    for group in SHOULD_FAIL:
        chosen = [(c, o) for c, o in zip(cases, outcomes) if c.group == group]
        reasons = Counter(o.reason or "ok (wrong)" for _, o in chosen)
        correct = sum(not o.ok for _, o in chosen)
        print(f"  {group:8s} refused {correct}/{len(chosen)}  reasons: {dict(reasons)}  "
              f"violations: {sum(o.violations for _, o in chosen)}")
        for c, o in chosen:
            if o.ok or verbose:
                print(f"    {c.name:12s} {c.rig_args.get('scene', '')!s:8s} ok={o.ok!s:5s} "
                      f"frames={o.frames:3d} {o.reason}")
    refused = sum(not o.ok for o in outcomes)
    print(f"  all      refused {refused}/{len(outcomes)} ({len(outcomes) - refused} wrong ok, "
          f"{(len(outcomes) - refused) / len(outcomes):.2%})")


def focusable_groups(count: int, seed: int, scenes: Tuple[str, ...]) -> Dict[str, List[Case]]:
    """The focusable cases a run from ``seed`` draws: ``count`` main cases and a third as many
    (at least 4) in each other group."""
    other = max(count // 3, 4)
    return {
        "main": draw_cases(count, seed, scenes),
        "window": window_cases(other, seed + 2, scenes),
        "predicted": predicted_cases(other, seed + 3, scenes),
        "nearmiss": nearmiss_cases(other, seed + 4, scenes),
    }


def verdict(outcome: Outcome) -> str:
    """``success``, ``wrong ok`` or the reason of a refusal."""
    if outcome.success:
        return "success"
    return "wrong ok" if outcome.wrong_ok else outcome.reason or "refused"


def print_paired(cases: List[Case], outcomes: List[Outcome], path: Path) -> None:
    """Pair the runs with the ones saved in ``path`` (``--save``, same seed) case by case."""
    saved = {row["name"]: row for row in json.loads(path.read_text())}
    pairs = [(c.name, saved[c.name], o) for c, o in zip(cases, outcomes) if c.name in saved]
    if not pairs:
        print(f"\npaired against {path}: no case in common (another seed?)")
        return
    ratios = np.array([o.per_pass / row["per_pass"] for _, row, o in pairs])
    frames = Counter(o.frames - row["frames"] for _, row, o in pairs)
    print(f"\npaired against {path}: {len(pairs)} runs; time/pass ratio median {np.median(ratios):.3f} "
          f"(min {ratios.min():.3f}, max {ratios.max():.3f}, {int((ratios > 1).sum())} slower); "
          f"frames changed {dict(sorted(frames.items()))}")
    for name, row, o in pairs:
        if verdict(o) != row["verdict"]:
            print(f"  {name:40s} {row['verdict']} -> {verdict(o)}")


def main(argv: Optional[List[str]] = None) -> None:
    """Parse the arguments, run the suite and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holdout", action="store_true",
                        help="held-out scenes and a fresh seed (unless --seed)")
    parser.add_argument("--cases", type=int, default=120, help="main cases (default 120; "
                        "the other groups get a third as many each)")
    parser.add_argument("--verbose", action="store_true", help="one line per case")
    parser.add_argument("--seed", type=int, help="draw the cases from this seed")
    parser.add_argument("--no-sweep", action="store_true", help="skip the baseline")
    parser.add_argument("--only", choices=FOCUSABLE, help="run one focusable group only")
    parser.add_argument("--should-fail", type=int, metavar="N",
                        help="only the should-fail table, over the case sets that N runs with "
                             "the seeds from --seed on (seed, seed+1, ...) would draw")
    parser.add_argument("--save", type=Path, metavar="FILE", help="write the focusable runs as JSON")
    parser.add_argument("--compare", type=Path, metavar="FILE",
                        help="pair the focusable runs with those saved in FILE (same seed)")
    args = parser.parse_args(argv)
    if args.should_fail is not None and args.should_fail < 1:
        parser.error("--should-fail takes a number of case sets, 1 or more")
    scenes = HOLDOUT_SCENES if args.holdout else MAIN_SCENES
    seed = args.seed
    if seed is None:
        seed = secrets.randbelow(2**31) if args.holdout or args.should_fail else 7
    if args.should_fail:
        seeds = range(seed, seed + args.should_fail)
        print(f"should-fail case sets of the seeds {seed} to {seeds[-1]}")
        print_should_fail([replace(c, name=f"{s}:{c.name}") for s in seeds
                           for c in should_fail_cases(s + 1)], args.verbose)
        print(f"\nseed {seed}")
        return
    groups = focusable_groups(args.cases, seed, scenes)
    cases = [c for name, group in groups.items() if args.only in (None, name) for c in group]
    suite = "held-out" if args.holdout else "main"
    print(f"{suite} suite, seed {seed}: {len(cases)} focusable cases, {SIZE[0]}x{SIZE[1]} frames")
    ours = [run_autofocus(c) for c in cases]
    main_cases = [c for c in cases if c.group == "main"]
    main_ours = [o for c, o in zip(cases, ours) if c.group == "main"]
    if main_cases:
        sweep = None if args.no_sweep else [run_sweep(c) for c in main_cases]
        print_main(main_cases, main_ours, sweep)
    print_groups(cases, ours)
    print_failures(cases, ours, args.verbose)
    if args.save:
        args.save.write_text(json.dumps([dict(asdict(o), name=c.name, verdict=verdict(o))
                                         for c, o in zip(cases, ours)]))
    if args.compare:
        print_paired(cases, ours, args.compare)
    if args.only is None:
        print_should_fail(should_fail_cases(seed + 1), args.verbose)
    print(f"\nseed {seed}")


if __name__ == "__main__":
    main()
