"""Focus next to a held top: a window that is a wall, approached from above, with backlash.

After the move up to the wall the carriage lags by the backlash, so no optical Z above
``wall - backlash`` can be reached and every target between shows one image. Two families
of simulated cases (scenes x seeds x backlash 0.05 and 0.1 mm, DOF 0.05 mm, window 6..8):

- ``inside``: focus 0.3 DOF below what the optics can reach: must be found (ok and within
  DOF/2 of the focus).
- ``beyond``: focus 1, 2, 4 or 8 DOF above what the optics can reach: must never be ok
  further than DOF/2 from it.

    .venv/bin/python bench/bench_held_top.py                       # this checkout's library
    .venv/bin/python bench/bench_held_top.py --library <checkout>  # another one, side by side

Deterministic (seeded scenes), so there is no --seed: it prints the counts and the reasons.
"""

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Tuple

_parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
_parser.add_argument("--library", type=Path, help="a checkout whose library to measure")
ARGS = _parser.parse_args()
sys.path.insert(0, str(ARGS.library or Path(__file__).resolve().parents[1]))

import octoprint_autofocus  # noqa: E402
from octoprint_autofocus.focus import autofocus  # noqa: E402
from octoprint_autofocus.simulator import make_rig  # noqa: E402

SCENES = ("pcb", "texture", "grid", "cells")
SEEDS = range(5)
BACKLASHES = (0.05, 0.1)
DOF = 0.05
WINDOW = (6.0, 8.0)
BEYOND_DOFS = (1.0, 2.0, 4.0, 8.0)


def run(scene: str, seed: int, backlash: float, focal_z: float) -> Tuple[bool, bool, str]:
    """(ok, ok within DOF/2 of the focus, reason) of one run started at the window's bottom."""
    rig = make_rig(scene=scene, seed=seed, focal_z=focal_z, dof=DOF, z_limits=(-30.0, 50.0),
                   start_z=WINDOW[0], size=(320, 240), backlash=backlash)
    result = autofocus(rig.stage, rig.camera, *WINDOW, sleep=rig.clock.sleep, clock=rig.clock.now)
    return result.ok, result.ok and rig.optical_error() <= DOF / 2, result.reason or "ok"


def main() -> None:
    print(f"library {Path(octoprint_autofocus.__file__).parent}")
    inside, inside_reasons = 0, Counter()
    wrong, beyond_reasons = 0, Counter()
    cases = [(s, k, b) for s in SCENES for k in SEEDS for b in BACKLASHES]
    for scene, seed, backlash in cases:
        reach = WINDOW[1] - backlash
        _, good, reason = run(scene, seed, backlash, reach - 0.3 * DOF)
        inside += good
        inside_reasons[reason] += 1
        for dofs in BEYOND_DOFS:
            ok, good, reason = run(scene, seed, backlash, reach + dofs * DOF)
            wrong += ok and not good
            beyond_reasons[reason] += 1
    print(f"inside (focus 0.3 DOF below the reach): found {inside}/{len(cases)}  {dict(inside_reasons)}")
    print(f"beyond (focus 1-8 DOF above the reach): wrong ok {wrong}/{len(cases) * len(BEYOND_DOFS)}  "
          f"{dict(beyond_reasons)}")


if __name__ == "__main__":
    main()
