"""Benchmark 1: the per-frame cost of ``score()`` next to a bare decode and the naive pipeline.

Usage (from the repository root)::

    .venv/bin/python bench/bench_score.py [--reps 150] [--threads N] [--quality 85]

It makes seeded synthetic colour JPEG frames (640x480 and 1280x720: noise texture,
shapes, lines and text; no downloads), then times every case interleaved in one loop
(a fresh shuffled order each repetition), so that load from other processes and cache
state hit all cases alike, and prints one table per frame
("busy": fine high-contrast texture everywhere, JPEGs that are slow to decode; "soft": a
smoother, lens-like scene) with the median ms per call of:

- ``floor``: ``cv2.imdecode(buf, IMREAD_GRAYSCALE)``, the least any JPEG scorer must pay;
- ``naive``: colour decode, ``cvtColor`` to gray, ``cv2.Laplacian(gray, CV_64F).var()``;
- ``score <metric>``: ``score(jpeg, metric=...)`` on the full frame, every metric;
- ``score roi``: ``score(jpeg, roi=<200x200 centre>)`` (tenengrad);
- ``measure <metric>``: the measure alone on an already-decoded 200x200 gray ROI;
- ``score /2``, ``score /8``: ``score(jpeg, decode_scale=2 or 8)`` (tenengrad).

Columns: ``x floor`` = case / floor (target for full-frame tenengrad: <= 1.25; for a
measure on the ROI: < 0.10), ``naive / case`` = how many times faster than the naive
pipeline (target: >= 4). ``--threads`` calls ``cv2.setNumThreads`` first (default: leave
OpenCV's own choice).
"""

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from octoprint_autofocus.focus.frames import gray_roi  # noqa: E402
from octoprint_autofocus.focus.measures import MEASURES  # noqa: E402
from octoprint_autofocus.focus.scoring import score  # noqa: E402

FRAMES = (
    # label, width, height, texture: (noise sigma, its blur sigma, sensor noise sigma)
    ("640x480 busy", 640, 480, (12.0, 1.2, 0.0)),
    ("1280x720 busy", 1280, 720, (12.0, 1.2, 0.0)),
    ("1280x720 soft", 1280, 720, (25.0, 6.0, 0.5)),
)
ROI_SIDE = 200


def synthetic_jpeg(
    width: int, height: int, seed: int, quality: int, texture=(12.0, 1.2, 0.0)
) -> bytes:
    """A seeded textured colour scene with shapes and text, JPEG-encoded like a webcam frame.

    ``texture`` = (contrast, blur, sensor noise): "busy" is fine high-contrast texture
    everywhere (large, slow-to-decode JPEGs); "soft" is smoother, like a real lens.
    """
    contrast, blur, sensor = texture
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), blur)
    base = 128 + contrast * base / base.std() + rng.normal(0, sensor, (height, width))
    image = cv2.cvtColor(np.clip(base, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    for _ in range(40):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(10, height // 4))
        kind = rng.integers(0, 3)
        if kind == 0:
            cv2.rectangle(image, (x, y), (x + size, y + size // 2), colour, -1)
        elif kind == 1:
            cv2.circle(image, (x, y), size // 2, colour, 3)
        else:
            end = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.line(image, (x, y), end, colour, 2)
    for row in range(30, height, 60):
        cv2.putText(image, "AUTOFOCUS 0123", (10, row), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (20,) * 3, 2)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def naive_score(data: bytes) -> float:
    """The pipeline people write first: colour decode, cvtColor, float64 Laplacian variance."""
    colour = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    gray = cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)
    return cv2.Laplacian(gray, cv2.CV_64F).var()


def cases_for(data: bytes, width: int, height: int) -> Dict[str, Callable[[], object]]:
    """Name -> zero-argument callable, in the order the table prints them."""
    buf = np.frombuffer(data, np.uint8)
    roi = ((width - ROI_SIDE) // 2, (height - ROI_SIDE) // 2, ROI_SIDE, ROI_SIDE)
    crop = gray_roi(data, roi)
    cases: Dict[str, Callable[[], object]] = {
        "floor": lambda: cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE),
        "naive": lambda: naive_score(data),
    }
    for name in MEASURES:
        cases[f"score {name}"] = lambda name=name: score(data, metric=name)
    cases["score roi"] = lambda: score(data, roi)
    for name, measure in MEASURES.items():
        cases[f"measure {name} (roi)"] = lambda measure=measure: measure(crop)
    for scale in (2, 8):
        cases[f"score /{scale}"] = lambda scale=scale: score(data, decode_scale=scale)
    return cases


Cases = Dict[Tuple[str, str], Callable[[], object]]


def time_interleaved(cases: Cases, reps: int) -> Dict[Tuple[str, str], float]:
    """Median seconds per call of each case; every rep runs all cases once, in a new order.

    Shuffling (seeded) spreads what the previous case leaves behind (a cold cache after
    the naive pipeline's 7 MB of float64, say) evenly over all cases.
    """
    samples: Dict[Tuple[str, str], List[float]] = {key: [] for key in cases}
    for fn in cases.values():  # warm-up: first-call allocations and thread pools
        fn()
    keys = list(cases)
    rng = random.Random(0)
    for _ in range(reps):
        rng.shuffle(keys)
        for key in keys:
            fn = cases[key]
            start = time.perf_counter()
            fn()
            samples[key].append(time.perf_counter() - start)
    return {key: statistics.median(values) for key, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=150, help="repetitions (default 150)")
    parser.add_argument("--threads", type=int, default=None, help="cv2.setNumThreads before timing")
    parser.add_argument("--quality", type=int, default=85, help="JPEG quality of the test frames")
    args = parser.parse_args()
    if args.threads is not None:
        cv2.setNumThreads(args.threads)

    cases: Cases = {}
    names: List[str] = []
    sizes: Dict[str, int] = {}
    for label, width, height, texture in FRAMES:
        data = synthetic_jpeg(width, height, seed=width, quality=args.quality, texture=texture)
        sizes[label] = len(data)
        per_frame = cases_for(data, width, height)
        names = list(per_frame)
        cases.update({(label, name): fn for name, fn in per_frame.items()})
    medians = time_interleaved(cases, args.reps)

    threads = cv2.getNumThreads()
    print(f"OpenCV {cv2.__version__}, {threads} threads, {args.reps} reps, JPEG q{args.quality}")
    for label, *_ in FRAMES:
        floor, naive = medians[(label, "floor")], medians[(label, "naive")]
        title = f"{label} ({sizes[label] // 1024} KiB)"
        print(f"\n{title:36}{'ms':>9}{'x floor':>9}{'naive/case':>12}")
        for name in names:
            ms = medians[(label, name)]
            print(f"  {name:34}{ms * 1e3:9.3f}{ms / floor:9.2f}{naive / ms:12.1f}")


if __name__ == "__main__":
    main()
