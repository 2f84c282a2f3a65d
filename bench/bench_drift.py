"""Sharpness that drifts in time: focus past a wall, seen by a camera whose contrast grows.

Every frame of the test camera (:class:`tests.fakes.DriftingCamera`) has ``gain`` more
contrast than the one before (a lamp warming up), so late frames score higher than early ones
at the same Z. The window [0, 10] is a wall and the focus lies past it (Z10.5 or Z12): every
ok is wrong. A grid of gains (1%, 2%, 4% a frame), blurs (1 to 20 px per mm) and seeds 0-5.

    .venv/bin/python bench/bench_drift.py                       # this checkout's library
    .venv/bin/python bench/bench_drift.py --library <checkout>  # another one, side by side

Deterministic (seeded scenes and noise), so there is no --seed: it prints the wrong oks per
row and the reasons.
"""

import argparse
import importlib.util
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
_parser.add_argument("--library", type=Path, help="a checkout whose library to measure")
ARGS = _parser.parse_args()
sys.path.insert(0, str(ARGS.library or ROOT))

import octoprint_autofocus  # noqa: E402
from octoprint_autofocus.focus import autofocus  # noqa: E402

# this checkout's test fakes, whichever library is measured
_spec = importlib.util.spec_from_file_location("bench_fakes", ROOT / "tests" / "fakes.py")
fakes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fakes)

GAINS = (0.01, 0.02, 0.04)
BLURS = (1.0, 2.0, 5.0, 20.0)
FOCI = (10.5, 12.0)
SEEDS = range(6)
WALL = (0.0, 10.0)


def main() -> None:
    print(f"library {Path(octoprint_autofocus.__file__).parent}")
    wrong, runs, frames, reasons = 0, 0, [], Counter()
    for gain in GAINS:
        for blur in BLURS:
            for focus in FOCI:
                oks = []
                for seed in SEEDS:
                    stage = fakes.FakeStage(limits=WALL, start=5.0)
                    camera = fakes.DriftingCamera(stage, focus, gain=gain, blur_per_mm=blur, seed=seed,
                                                  noise=2.0)
                    result = autofocus(stage, camera, *WALL, sleep=lambda s: None)
                    reasons[result.reason or "ok"] += 1
                    frames.append(result.frames)
                    if result.ok:
                        oks.append(f"seed {seed} at Z{result.z:.2f}")
                wrong += len(oks)
                runs += len(SEEDS)
                print(f"gain {gain:.0%}/frame  blur {blur:4.1f} px/mm  focus Z{focus:4.1f}: "
                      f"wrong ok {len(oks)}/{len(SEEDS)}  {', '.join(oks)}")
    frames.sort()
    print(f"all: wrong ok {wrong}/{runs}  median frames {frames[len(frames) // 2]}  {dict(reasons)}")


if __name__ == "__main__":
    main()
