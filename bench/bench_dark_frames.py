"""Dark frames: a camera whose first frame is black, that drops a frame now and then, or
whose picture goes dark for good.

A USB camera opened for a run may hand out an all-black first frame (its buffer before the
first exposure), and a stream may drop a frame for one that shows only the sensor's dark
noise. The search must focus through both as it does without them. Each run draws a
simulated rig (scene, depth of field, sensor noise, JPEG, flicker, backlash) with focus
inside a window of +-2 mm, and runs it five times on the same draw: a clean camera, one
whose first frame is all zero, one of which every frame after the first is a dark frame
(grey level 2 plus the sensor's noise) with probability 5%, and two whose picture stays dark:
one that only sends all-zero frames, and one whose light goes out at a frame drawn before the
clean run's last (every frame from there on a dark one). Those two must be refused, all as
``camera_dark``.

    .venv/bin/python bench/bench_dark_frames.py [--seed N] [--runs N]   # a fresh seed unless given
    .venv/bin/python bench/bench_dark_frames.py --library <checkout>    # another one, side by side

It prints, per camera: runs that focused within half a depth of field, wrong oks (further
off), refusals by reason, and the median frames; for the cameras that stay dark, also the
runs refused as camera_dark, refused otherwise, and ok.
"""

import argparse
import secrets
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
_parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
_parser.add_argument("--seed", type=int, help="draw the runs from this seed (default: a fresh one)")
_parser.add_argument("--runs", type=int, default=60, help="runs per camera (default 60)")
_parser.add_argument("--library", type=Path, help="a checkout whose library to measure")
ARGS = _parser.parse_args()
sys.path.insert(0, str(ARGS.library or ROOT))

import octoprint_autofocus  # noqa: E402
from octoprint_autofocus.focus import autofocus  # noqa: E402
from octoprint_autofocus.simulator import make_rig  # noqa: E402

SCENES = ("pcb", "texture", "cells", "text")
LIMITS = (0.0, 10.0)
DROP_RATE = 0.05
DARK_LEVEL = 2.0
"""A dropped frame's grey level (a sensor's black level); the rig's own noise rides on it."""


class DarkFrames:
    """A camera in front of ``camera`` that hands out a dark frame instead of the real one
    when ``dark(index)`` says so (index 0 is the first frame of the run)."""

    def __init__(self, camera: Any, dark: Callable[[int], bool], level: float, noise: float,
                 rng: np.random.Generator) -> None:
        self.camera, self.dark, self.level, self.noise, self.rng = camera, dark, level, noise, rng
        self.index = 0

    def frame(self) -> Any:
        real = self.camera.frame()
        index, self.index = self.index, self.index + 1
        if not self.dark(index):
            return real
        shape = (cv2.imdecode(np.frombuffer(real, np.uint8), cv2.IMREAD_UNCHANGED).shape
                 if isinstance(real, bytes) else np.shape(real))
        dark = np.clip(np.round(self.level + self.rng.normal(0.0, 255.0 * self.noise, shape)), 0, 255)
        dark = dark.astype(np.uint8)
        return cv2.imencode(".jpg", dark)[1].tobytes() if isinstance(real, bytes) else dark


def draw(rng: np.random.Generator, seed: int) -> Dict[str, Any]:
    """One rig's arguments: focus inside the window around the start."""
    start = float(rng.uniform(3.0, 7.0))
    return dict(scene=str(rng.choice(SCENES)), seed=seed, focal_z=start + float(rng.uniform(-1.5, 1.5)),
                dof=float(rng.choice([0.02, 0.05, 0.1, 0.3])), z_limits=LIMITS, start_z=start,
                noise=float(rng.choice([0.005, 0.01, 0.02])),
                jpeg_quality=[None, 85, 60][int(rng.integers(0, 3))],
                flicker=float(rng.choice([0.0, 0.03])), backlash=float(rng.choice([0.0, 0.02])),
                size=(320, 240))


def light_out(rng: np.random.Generator, clean_frames: int) -> Callable[[int], bool]:
    """Dark from a frame drawn before the clean camera's last one on (the light went out)."""
    out = int(rng.integers(1, clean_frames))
    return lambda index: index >= out


CAMERAS: Dict[str, Callable[[np.random.Generator, int], Callable[[int], bool]]] = {
    "clean": lambda rng, clean_frames: lambda index: False,
    "black first frame": lambda rng, clean_frames: lambda index: index == 0,
    "dropped frames": lambda rng, clean_frames: lambda index: index > 0 and bool(rng.random() < DROP_RATE),
    "black camera": lambda rng, clean_frames: lambda index: True,
    "light out mid-run": light_out,
}
"""Each camera's dark frames, given the run's generator and the frames the clean camera took."""
BLACK = ("black first frame", "black camera")
"""Cameras whose dark frames are all zero (else grey level ``DARK_LEVEL`` plus the noise)."""
STAYS_DARK = ("black camera", "light out mid-run")
"""Cameras whose picture stays dark: every run must be refused as camera_dark."""


def run(args: Dict[str, Any], camera: str, seed: int, clean_frames: int) -> Tuple[str, int]:
    """One run: ``right``, ``wrong ok`` or the refusal's reason, and its frames
    (``clean_frames``: the clean camera's on the same draw)."""
    rig = make_rig(**args)
    rng = np.random.default_rng(seed)
    level = 0.0 if camera in BLACK else DARK_LEVEL
    noise = 0.0 if camera in BLACK else args["noise"]
    source = DarkFrames(rig.camera, CAMERAS[camera](rng, clean_frames), level, noise, rng)
    start = args["start_z"]
    result = autofocus(rig.stage, source, start - 2.0, start + 2.0, limits=LIMITS,
                       sleep=rig.clock.sleep, clock=rig.clock.now)
    if not result.ok:
        return result.reason, result.frames
    off = abs(result.z - args["focal_z"]) / args["dof"]
    return ("right" if off <= 0.5 else f"wrong ok ({off:.1f} DOF off)"), result.frames


def main() -> None:
    args = ARGS
    print(f"library {Path(octoprint_autofocus.__file__).parent}")
    seed = secrets.randbelow(2**31) if args.seed is None else args.seed
    rng = np.random.default_rng(seed)
    draws: List[Dict[str, Any]] = [draw(rng, seed + i) for i in range(args.runs)]
    print(f"{args.runs} rigs, focus inside a window of +-2 mm, seed {seed}")
    clean_frames: List[int] = []
    for camera in CAMERAS:
        outcomes = [run(d, camera, seed + i, clean_frames[i] if clean_frames else 0)
                    for i, d in enumerate(draws)]
        clean_frames = clean_frames or [f for _, f in outcomes]
        verdicts = Counter(v for v, _ in outcomes)
        wrong = [f"#{i} {v[len('wrong ok '):]}" for i, (v, _) in enumerate(outcomes) if v.startswith("wrong ok")]
        refusals = {k: n for k, n in verdicts.items() if k != "right" and not k.startswith("wrong ok")}
        frames = statistics.median(f for _, f in outcomes)
        print(f"  {camera:18s} right {verdicts['right']}/{args.runs}  wrong ok {len(wrong)} {' '.join(wrong)}  "
              f"refused {sum(refusals.values())} {refusals}  median frames {frames:.0f}")
        if camera in STAYS_DARK:
            dark = refusals.get("camera_dark", 0)
            print(f"  {'':18s} camera_dark {dark}/{args.runs}  refused otherwise "
                  f"{sum(refusals.values()) - dark}  ok {args.runs - sum(refusals.values())}")
    print(f"\nseed {seed}")


if __name__ == "__main__":
    main()
