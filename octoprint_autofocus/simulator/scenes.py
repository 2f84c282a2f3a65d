"""Procedural scenes: what the microscope looks at, generated from a seed (no downloads).

Every generator is ``fn(seed, size) -> uint8 (H, W)`` with ``size = (width, height)``; the
same seed and size always give the same image. :data:`SCENES` maps names to generators:

========  ===================================================================================
pcb       dark substrate, bright traces, pads, vias and silkscreen marks: strong edges
texture   1/f multi-scale noise like paper or fabric: detail at every scale
cells     soft dark blobs with faint granules on a bright background: weak, soft edges
text      rows of printed glyphs on paper: thin strokes
stars     a few point sources on a dark background: for the spot (half-flux radius) measure
sparse    a flat, gently shaded field with one or two small specks: very little texture
flat      one uniform grey: no texture at all (the search must refuse to focus on it)
grid      a calibration target of round dots on a regular grid
fibers    thin curved fibres (hair, lint) crossing a bright field
========  ===================================================================================
"""

from typing import Callable, Dict, Tuple

import cv2
import numpy as np

__all__ = ["SCENES", "SceneFn"]

Size = Tuple[int, int]
SceneFn = Callable[[int, Size], np.ndarray]

_AA = cv2.LINE_AA


def _rng(seed: int, salt: str) -> np.random.Generator:
    """A generator for one scene: the same seed gives different scenes different draws."""
    return np.random.default_rng([int(seed), sum(map(ord, salt))])


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def _pink_noise(rng: np.random.Generator, size: Size, exponent: float = 1.0) -> np.ndarray:
    """Zero-mean, unit-std noise whose amplitude spectrum falls as 1 / f**exponent."""
    w, h = size
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spectrum = np.fft.rfft2(rng.standard_normal((h, w))) / f**exponent
    spectrum[0, 0] = 0.0
    field = np.fft.irfft2(spectrum, s=(h, w))
    return (field / field.std()).astype(np.float32)


def pcb(seed: int, size: Size) -> np.ndarray:
    """Printed circuit board: traces, pads, vias and silkscreen on a dark substrate."""
    rng = _rng(seed, "pcb")
    w, h = size
    img = np.full((h, w), 55.0, np.float32) + 4.0 * _pink_noise(rng, size, 0.8)
    for _ in range(max(6, w * h // 12000)):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        width = int(rng.integers(2, 7))
        for _ in range(int(rng.integers(2, 5))):
            length = int(rng.integers(20, max(21, w // 3)))
            dx, dy = [(1, 0), (0, 1), (1, 1), (-1, 0), (0, -1), (1, -1)][int(rng.integers(0, 6))]
            x2, y2 = x + dx * length, y + dy * length
            cv2.line(img, (x, y), (x2, y2), 175.0, width, _AA)
            x, y = x2, y2
        cv2.circle(img, (x, y), width + 3, 205.0, -1, _AA)
    for _ in range(max(4, w * h // 20000)):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        pw, ph = int(rng.integers(6, 18)), int(rng.integers(6, 18))
        cv2.rectangle(img, (x, y), (x + pw, y + ph), 215.0, -1)
    for _ in range(max(4, w * h // 15000)):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(img, centre, 5, 190.0, -1, _AA)
        cv2.circle(img, centre, 2, 20.0, -1, _AA)
    silk = np.zeros((h, w), np.uint8)
    for _ in range(max(2, w * h // 60000)):
        label = "".join(chr(int(c)) for c in rng.integers(65, 91, 3)) + str(int(rng.integers(1, 99)))
        origin = (int(rng.integers(0, max(w - 40, 1))), int(rng.integers(12, max(h, 13))))
        cv2.putText(silk, label, origin, cv2.FONT_HERSHEY_PLAIN, 0.9, 235, 1, _AA)
    return _to_uint8(np.maximum(img, silk))


def texture(seed: int, size: Size) -> np.ndarray:
    """1/f noise with detail at every scale, like paper, fabric or ground glass."""
    rng = _rng(seed, "texture")
    return _to_uint8(128.0 + 38.0 * _pink_noise(rng, size, 0.9))


def cells(seed: int, size: Size) -> np.ndarray:
    """Cells with a thin dark membrane, darker nuclei and granules on an uneven bright field."""
    rng = _rng(seed, "cells")
    w, h = size
    img = np.full((h, w), 205.0, np.float32) + 8.0 * _pink_noise(rng, size, 2.0)
    for _ in range(max(8, w * h // 5000)):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(10, 28)), int(rng.integers(8, 22)))
        angle = float(rng.uniform(0, 180))
        cv2.ellipse(img, centre, axes, angle, 0, 360, float(rng.uniform(140, 170)), -1, _AA)
        cv2.ellipse(img, centre, axes, angle, 0, 360, float(rng.uniform(90, 120)), 1, _AA)
        nucleus = (max(axes[0] // 3, 3), max(axes[1] // 3, 3))
        cv2.ellipse(img, centre, nucleus, angle, 0, 360, float(rng.uniform(80, 110)), -1, _AA)
    img = cv2.GaussianBlur(img, (0, 0), 0.8)
    granules = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 0.7)
    img += 14.0 * granules * (img < 180)
    return _to_uint8(img)


def text(seed: int, size: Size) -> np.ndarray:
    """Rows of printed glyphs (Hershey fonts) on slightly textured paper."""
    rng = _rng(seed, "text")
    w, h = size
    ink = np.zeros((h, w), np.uint8)
    fonts = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX)
    y = int(rng.integers(14, 30))
    while y < h + 10:
        scale = float(rng.uniform(0.45, 0.9))
        x = int(rng.integers(-20, 10))
        while x < w:
            word = "".join(chr(int(c)) for c in rng.integers(97, 123, int(rng.integers(2, 9))))
            font = fonts[int(rng.integers(0, len(fonts)))]
            cv2.putText(ink, word, (x, y), font, scale, int(rng.integers(170, 210)), 1, _AA)
            x += cv2.getTextSize(word, font, scale, 1)[0][0] + int(rng.integers(8, 16))
        y += int(32 * scale) + int(rng.integers(6, 14))
    return _to_uint8(228.0 + 5.0 * _pink_noise(rng, size, 1.0) - ink)


def stars(seed: int, size: Size) -> np.ndarray:
    """A few Gaussian point sources of varied brightness on a dark, faintly uneven background."""
    rng = _rng(seed, "stars")
    w, h = size
    img = np.full((h, w), 8.0, np.float32) + 1.5 * _pink_noise(rng, size, 2.0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(int(rng.integers(5, 16))):
        cx, cy = rng.uniform(8, w - 8), rng.uniform(8, h - 8)
        sigma = float(rng.uniform(0.6, 1.3))
        x0, x1, y0, y1 = int(cx) - 8, int(cx) + 9, int(cy) - 8, int(cy) + 9
        patch = np.exp(-((xx[y0:y1, x0:x1] - cx) ** 2 + (yy[y0:y1, x0:x1] - cy) ** 2) / (2 * sigma**2))
        img[y0:y1, x0:x1] += float(rng.uniform(90, 245)) * patch
    return _to_uint8(img)


def sparse(seed: int, size: Size) -> np.ndarray:
    """A flat, gently shaded field with one or two small specks: almost no texture."""
    rng = _rng(seed, "sparse")
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 150.0 + 12.0 * (xx / w - 0.5) + 6.0 * (yy / h - 0.5)
    for _ in range(int(rng.integers(1, 3))):
        centre = (int(rng.integers(w // 5, 4 * w // 5)), int(rng.integers(h // 5, 4 * h // 5)))
        cv2.circle(img, centre, int(rng.integers(2, 6)), float(rng.uniform(40, 90)), -1, _AA)
    return _to_uint8(img)


def flat(seed: int, size: Size) -> np.ndarray:
    """One uniform grey, the same for every seed: no texture at all."""
    w, h = size
    return np.full((h, w), 128, np.uint8)


def grid(seed: int, size: Size) -> np.ndarray:
    """Dark round dots on a regular grid (a calibration target), at a seeded pitch and offset."""
    rng = _rng(seed, "grid")
    w, h = size
    pitch = int(rng.integers(18, 33))
    radius = max(pitch // 5, 2)
    img = np.full((h, w), 232.0, np.float32)
    ox, oy = int(rng.integers(0, pitch)), int(rng.integers(0, pitch))
    for y in range(oy, h + pitch, pitch):
        for x in range(ox, w + pitch, pitch):
            cv2.circle(img, (x, y), radius, 35.0, -1, _AA)
    return _to_uint8(img)


def fibers(seed: int, size: Size) -> np.ndarray:
    """Thin curved dark fibres (hair, lint) crossing a bright, faintly textured field."""
    rng = _rng(seed, "fibers")
    w, h = size
    img = np.full((h, w), 215.0, np.float32) + 6.0 * _pink_noise(rng, size, 1.5)
    t = np.linspace(0.0, 1.0, 120)[:, None]
    for _ in range(max(5, w * h // 25000)):
        p0, p1, p2 = (rng.uniform((-0.2 * w, -0.2 * h), (1.2 * w, 1.2 * h)) for _ in range(3))
        curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
        cv2.polylines(img, [np.round(curve).astype(np.int32)], False, float(rng.uniform(40, 120)),
                      int(rng.integers(1, 3)), _AA)
    return _to_uint8(img)


SCENES: Dict[str, SceneFn] = {
    "pcb": pcb,
    "texture": texture,
    "cells": cells,
    "text": text,
    "stars": stars,
    "sparse": sparse,
    "flat": flat,
    "grid": grid,
    "fibers": fibers,
}
"""Scene name -> generator ``fn(seed, (width, height)) -> uint8 (H, W)``."""
