"""Benchmark 4: focus maps on the simulator - frames per point, height error, map time.

Usage::

    .venv/bin/python bench/bench_map.py                 # 12 maps drawn from a fresh seed
    .venv/bin/python bench/bench_map.py --seed 1234     # the same maps again
    .venv/bin/python bench/bench_map.py --window 0.35 0.5 0.75 --no-baseline   # window widths

Every map is a :func:`~octoprint_autofocus.simulator.map_rig.make_map_rig` microscope on an
XY gantry over a 200 x 200 mm bed with a focal surface drawn from the seed: flat, tilted
(0.1 to 0.5 mm corner to corner, either way) or warped (a 0.1 to 0.4 mm bump or dip),
a scene, a depth of field (0.05 to 0.2 mm), sensor noise, JPEG, Z backlash (none for half
the maps, else 0.01 or 0.03 mm), a grid of 4 to 7 points a
side inside a 10 mm margin, and a start Z up to 1 mm off the first point's focus. Each map
runs :func:`~octoprint_autofocus.focus.focus_map.measure_map` with the plugin's defaults
(search range +-2 mm for the first point, 1 mm lift, 50 mm/s XY travel). The baseline
measures the same points with a normal autofocus each (no prediction).

Printed: the seed; per map its surface, grid, frames of the first point and the median
after it, the worst height error in depths of field (DOF), the tilt error against the
truth's plane, failed points and the simulated time; then the medians over all maps.
Targets: after the first point a median of at most 6 frames per point; every height within
half a DOF.
"""

import argparse
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(ROOT))  # no other library asked for: this checkout's
import octoprint_autofocus  # noqa: E402,F401  (PYTHONPATH's checkout when given)

sys.path.insert(0, str(ROOT))  # this checkout's bench package

from octoprint_autofocus.focus import autofocus  # noqa: E402
from octoprint_autofocus.focus import focus_map  # noqa: E402
from octoprint_autofocus.focus.surface import fit_plane, grid_points  # noqa: E402
from octoprint_autofocus.simulator.focal_surface import FocalSurface  # noqa: E402
from octoprint_autofocus.simulator.map_rig import make_map_rig  # noqa: E402

SCENES = ("pcb", "texture", "text", "cells", "fibers")
BED = (0.0, 200.0, 0.0, 200.0)
MARGIN = 10.0
LIMITS = (0.0, 20.0)
SEARCH_RANGE = 2.0
LIFT = 1.0
SETTLE = 0.05


@dataclass
class MapCase:
    """One drawn map: the surface, the optics and the grid."""

    name: str
    surface: FocalSurface
    rig_args: Dict
    rows: int
    cols: int
    start_offset: float


@dataclass
class Outcome:
    """What one map achieved against the truth."""

    first_frames: int
    later_frames: List[int]
    errors_dof: List[float]
    tilt_error: Optional[float]
    failed: int
    points: int
    seconds: float
    violations: int
    reason: str


def draw_cases(count: int, seed: int) -> List[MapCase]:
    """``count`` maps drawn from a generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        kind = ("flat", "tilted", "warped")[i % 3]
        sign = 1.0 if rng.random() < 0.5 else -1.0
        height = {"flat": 0.0, "tilted": rng.uniform(0.1, 0.5), "warped": rng.uniform(0.1, 0.4)}[kind] * sign
        focal_z = float(rng.uniform(3.0, 6.0))
        surface = FocalSurface(kind, focal_z=focal_z, height=float(height), bed=BED)
        rig_args = dict(scene=str(rng.choice(SCENES)), seed=int(rng.integers(1, 2**31 - 1)),
                        dof=float(rng.uniform(0.05, 0.2)), noise=float(rng.uniform(0.005, 0.02)),
                        jpeg_quality=int(rng.choice([75, 85, 95])), z_limits=(-5.0, 25.0),
                        backlash=float(rng.choice([0.0, 0.0, 0.01, 0.03])))
        rows, cols = int(rng.integers(4, 8)), int(rng.integers(4, 8))
        name = f"{kind} {height:+.2f} mm, {rig_args['scene']}, DOF {rig_args['dof']:.3f}, bl {rig_args['backlash']}"
        cases.append(MapCase(name, surface, rig_args, rows, cols, float(rng.uniform(-1.0, 1.0))))
    return cases


def _points(case: MapCase):
    x0, x1, y0, y1 = BED
    return grid_points(x0 + MARGIN, x1 - MARGIN, y0 + MARGIN, y1 - MARGIN, case.rows, case.cols)


def _rig(case: MapCase):
    points = _points(case)
    start_z = case.surface.z_at(points[0].x, points[0].y) + case.start_offset
    return make_map_rig(case.surface, start_z=start_z, **case.rig_args), start_z


def _judge(case: MapCase, rig, zs: List[Optional[float]], frames: List[int], seconds: float,
           reason: str, first_window) -> Outcome:
    points = _points(case)[: len(zs)]
    truth = [case.surface.z_at(p.x, p.y) for p in points]
    dof = case.rig_args["dof"]
    errors = [abs(z - t) / dof for z, t in zip(zs, truth) if z is not None]
    measured = [(p, z) for p, z in zip(points, zs) if z is not None]
    tilt_error = None
    if case.surface.kind == "tilted" and len(measured) >= 3:
        got = fit_plane([p.x for p, _ in measured], [p.y for p, _ in measured], [z for _, z in measured])
        want = fit_plane([p.x for p in points], [p.y for p in points], truth)
        if got is not None and want is not None:
            tilt_error = float(np.hypot(got.slope_x - want.slope_x, got.slope_y - want.slope_y)
                               / np.hypot(want.slope_x, want.slope_y))
    violations = len(rig.stage.violations) + len(rig.xy.violations)
    violations += sum(1 for z in rig.stage.commanded if not LIMITS[0] <= z <= LIMITS[1])
    return Outcome(frames[0] if frames else 0, frames[1:], errors, tilt_error,
                   sum(z is None for z in zs), len(points), seconds, violations, reason)


def _first_window(start_z: float):
    return max(start_z - SEARCH_RANGE, LIMITS[0]), min(start_z + SEARCH_RANGE, LIMITS[1])


def run_map(case: MapCase, window: float) -> Outcome:
    """The plugin's way: predicted narrow windows after the first point."""
    rig, start_z = _rig(case)
    first = _first_window(start_z)
    result = focus_map.measure_map(
        rig.stage, rig.xy, rig.camera, _points(case), limits=LIMITS, first_window=first, lift=LIFT,
        search_options=dict(settle=SETTLE, sleep=rig.clock.sleep, clock=rig.clock.now),
        window_fwhm=window, max_failed=1.0, clock=rig.clock.now)
    zs = [p.z for p in result.points]
    return _judge(case, rig, zs, [p.frames for p in result.points], result.elapsed, result.reason, first)


def run_baseline(case: MapCase) -> Outcome:
    """A normal autofocus (+-2 mm around the last focus) at every point, same travel."""
    rig, start_z = _rig(case)
    started = rig.clock.now()
    zs, frames, z = [], [], start_z
    for point in _points(case):
        rig.stage.move_to(min(rig.stage.position() + LIFT, LIMITS[1]))
        rig.xy.move_xy(point.x, point.y)
        window = _first_window(z)
        result = autofocus(rig.stage, rig.camera, *window, settle=SETTLE, sleep=rig.clock.sleep, clock=rig.clock.now)
        zs.append(result.z if result.ok else None)
        frames.append(result.frames)
        z = result.z if result.ok else z
    return _judge(case, rig, zs, frames, rig.clock.now() - started, "", None)


def _fmt(values: List[float], spec: str = ".1f") -> str:
    return format(float(np.median(values)), spec) if values else "-"


def report(label: str, outcomes: List[Outcome], cases: List[MapCase], verbose: bool) -> None:
    """Print one line per map (``verbose``) and the totals."""
    print(f"\n== {label}")
    if verbose:
        print(f"{'map':44} {'grid':>5} {'1st':>4} {'med':>4} {'max err':>8} {'tilt err':>8} {'failed':>6} {'time s':>7}")
        for case, o in zip(cases, outcomes):
            tilt = f"{100 * o.tilt_error:.1f}%" if o.tilt_error is not None else "-"
            worst = f"{max(o.errors_dof):.3f}" if o.errors_dof else "-"
            print(f"{case.name:44} {case.rows}x{case.cols:<3} {o.first_frames:4d} {_fmt(o.later_frames):>4} "
                  f"{worst:>8} {tilt:>8} {o.failed:>6} {o.seconds:7.1f}  {o.reason}")
    later = [f for o in outcomes for f in o.later_frames]
    errors = [e for o in outcomes for e in o.errors_dof]
    points = sum(o.points for o in outcomes)
    failed = sum(o.failed for o in outcomes)
    within = sum(e <= 0.5 for e in errors)
    print(f"frames per point after the first: median {_fmt(later)}, mean {np.mean(later):.2f}, "
          f"p90 {np.percentile(later, 90):.0f} (first point: median {_fmt([o.first_frames for o in outcomes])})")
    for kind in ("flat", "tilted", "warped"):
        chosen = [f for o, c in zip(outcomes, cases) if c.surface.kind == kind for f in o.later_frames]
        print(f"  {kind:7} median {_fmt(chosen)}, mean {np.mean(chosen):.2f}")
    print(f"height error: median {_fmt(errors, '.3f')} DOF, p90 {np.percentile(errors, 90):.3f}, "
          f"max {max(errors):.3f}; within DOF/2: {within}/{len(errors)}; failed points {failed}/{points}")
    tilts = [o.tilt_error for o in outcomes if o.tilt_error is not None]
    if tilts:
        print(f"tilt error against the truth (tilted maps): median {100 * np.median(tilts):.2f}%, "
              f"max {100 * max(tilts):.2f}%")
    per_point = [o.seconds / o.points for o in outcomes]
    print(f"map time (simulated): median {_fmt([o.seconds for o in outcomes])} s per map, "
          f"{_fmt(per_point, '.2f')} s per point; Z or XY limit violations: {sum(o.violations for o in outcomes)}")


def main(argv: Optional[List[str]] = None) -> None:
    """Run the drawn maps and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, help="draw the maps from this seed (default: a fresh one)")
    parser.add_argument("--maps", type=int, default=12, help="number of maps (default 12)")
    parser.add_argument("--window", type=float, nargs="+", default=[focus_map.WINDOW_FWHM],
                        help="window half-widths in FWHM of the first point's fit (default: the plugin's)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the full-autofocus baseline")
    parser.add_argument("--verbose", action="store_true", help="one line per map")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    print(f"bench_map --seed {seed} --maps {args.maps}")
    cases = draw_cases(args.maps, seed)
    started = time.monotonic()
    baseline = None
    for window in args.window:
        outcomes = [run_map(case, window) for case in cases]
        report(f"predicted windows, half-width {window} FWHM", outcomes, cases, args.verbose)
        if not args.no_baseline and baseline is None:
            baseline = [run_baseline(case) for case in cases]
            report("baseline: a normal autofocus at every point", baseline, cases, args.verbose)
            ratio = np.median([o.seconds / b.seconds for o, b in zip(outcomes, baseline)])
            frames = np.median([sum(o.later_frames) / max(sum(b.later_frames), 1) for o, b in zip(outcomes, baseline)])
            print(f"\npredicted / baseline, median over maps: time {ratio:.2f}, frames after the first point {frames:.2f}")
    print(f"\n(wall time {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
