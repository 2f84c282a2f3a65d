"""Blank fields: a featureless ROI at several brightnesses, seen through sensor noise and JPEG.

A focus map's point over a bare spot, or a click on an empty part of the bed, shows the search
nothing but the camera's noise: every run must fail, and the right reason is ``low_texture``
(the ROI has nothing to focus on), not ``no_peak`` or ``peak_at_edge`` (which tell the user
that focus lies elsewhere). Each row is a brightness (the grey level of the field); every row
runs the same draws of noise (0.5%, 1% or 2% of full scale), JPEG (none, 85 or 60) and window:
the plugin's (the start +-2 mm inside safety limits 0-10) or a focus map's narrow window
(+-0.2 mm, 3 coarse points, 2 mm of extension).

    .venv/bin/python bench/bench_blank.py [--seed N] [--runs N]     # a fresh seed unless given
    .venv/bin/python bench/bench_blank.py --library <checkout>      # another one, side by side

It prints, per grey level, the reasons the runs ended with and their median frames.
"""

import argparse
import secrets
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Tuple

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
_parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
_parser.add_argument("--seed", type=int, help="draw the runs from this seed (default: a fresh one)")
_parser.add_argument("--runs", type=int, default=40, help="runs per grey level (default 40)")
_parser.add_argument("--library", type=Path, help="a checkout whose library to measure")
ARGS = _parser.parse_args()
sys.path.insert(0, str(ARGS.library or ROOT))

import octoprint_autofocus  # noqa: E402
from octoprint_autofocus.focus import autofocus  # noqa: E402
from octoprint_autofocus.simulator import make_rig  # noqa: E402

GREYS = (128, 69, 32, 12)
"""Grey levels of the field (the simulator's flat scene is 128; its pcb scene averages 69)."""
NOISES = (0.005, 0.01, 0.02)
JPEGS = (None, 85, 60)
LIMITS = (0.0, 10.0)


def run(grey: int, seed: int, rng: np.random.Generator) -> Tuple[str, int]:
    """One blank-field run: its reason (``ok`` for a wrong ok) and frames."""
    start = float(rng.uniform(3.0, 7.0))
    rig = make_rig("flat", seed=seed, focal_z=start, dof=0.1, z_limits=LIMITS, start_z=start,
                   noise=float(rng.choice(NOISES)), jpeg_quality=JPEGS[int(rng.integers(0, 3))],
                   gain=grey / 128.0, size=(320, 240))
    if rng.random() < 0.5:
        window, options = (start - 2.0, start + 2.0), {}
    else:
        window, options = (start - 0.2, start + 0.2), {"coarse_points": 3, "max_extension": 2.0}
    result = autofocus(rig.stage, rig.camera, *window, limits=LIMITS, sleep=rig.clock.sleep,
                       clock=rig.clock.now, **options)
    return result.reason or "ok", result.frames


def main() -> None:
    args = ARGS
    print(f"library {Path(octoprint_autofocus.__file__).parent}")
    seed = secrets.randbelow(2**31) if args.seed is None else args.seed
    print(f"blank fields, {args.runs} runs per grey level, seed {seed}")
    total = Counter()
    for grey in GREYS:
        rng = np.random.default_rng(seed)  # the same draws on every row
        outcomes = [run(grey, seed + i, rng) for i in range(args.runs)]
        reasons = Counter(reason for reason, _ in outcomes)
        total.update(reasons)
        frames = statistics.median(f for _, f in outcomes)
        print(f"  grey {grey:3d}: refused {args.runs - reasons['ok']}/{args.runs}  "
              f"low_texture {reasons['low_texture']}/{args.runs}  median frames {frames:.0f}  "
              f"reasons {dict(reasons)}")
    runs = args.runs * len(GREYS)
    print(f"  all     : refused {runs - total['ok']}/{runs}  low_texture {total['low_texture']}/{runs}")
    print(f"\nseed {seed}")


if __name__ == "__main__":
    main()
