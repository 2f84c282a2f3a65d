"""Sharp samples for the held-out bench, unlike the simulator's and ``stack_rig``'s scenes.

Each generator takes ``(rng, (w, h))`` and returns a float32 image on a 0..255 scale
(gray HxW, or BGR HxWx3 where colour matters), already larger than the frame by the
breathing margin the caller asks for. They are what a printer or CNC camera meets:

- ``weave``: woven fabric or a sieve mesh: a repetitive grid with small irregularities
  (periodic samples give defocus side lobes that can pose as peaks).
- ``phase``: unstained transparent cells: faint edges (4-10 grey levels) with the bright
  halos of phase contrast on a bright field (little texture, much noise).
- ``specks``: dark field: sparse specks from sub-pixel points to small blobs on a faint glow.
- ``solder``: a green PCB: copper pads, traces, silkscreen outlines and specular glints (BGR).
- ``layers``: the side of a 3D print: layer lines a few px apart, wavy, in one filament colour (BGR).
- ``fibres``: paper or felt: random fibres of several widths at mid contrast.
- ``blank``: a featureless field with a smooth illumination gradient (a correct search must fail).

Real surfaces are not single-scale: besides their fine structure they vary in reflectance,
dye and lighting over tens of pixels, which is why real focus curves have long sloping tails
(see the real stacks). ``weave``, ``layers`` and ``fibres`` carry such a modulation
(:func:`_relief`); ``specks`` and ``phase`` stay sparse and faint on purpose.
"""

from typing import Callable, Dict, Tuple

import cv2
import numpy as np

__all__ = ["SCENES", "FOCUSABLE_SCENES"]

Size = Tuple[int, int]


def _blur_noise(rng: np.random.Generator, size: Size, scale: float) -> np.ndarray:
    """Unit-variance smooth noise with features about ``scale`` px across."""
    w, h = size
    small = rng.normal(0.0, 1.0, (max(2, int(h / scale)), max(2, int(w / scale)))).astype(np.float32)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return out / max(float(out.std()), 1e-6)


def _relief(rng: np.random.Generator, size: Size) -> np.ndarray:
    """A multiplicative reflectance/lighting variation: about +-10% at 15-60 px scales."""
    field = sum(_blur_noise(rng, size, scale) for scale in (15.0, 30.0, 60.0)) / 3.0
    return (1.0 + float(rng.uniform(0.06, 0.12)) * field).astype(np.float32)


def weave(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Over-under threads with a period of 6-14 px, slightly rotated and uneven."""
    w, h = size
    period = float(rng.uniform(6.0, 14.0))
    angle = float(rng.uniform(-0.3, 0.3))
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    u = (x * np.cos(angle) + y * np.sin(angle)) / period
    v = (-x * np.sin(angle) + y * np.cos(angle)) / period
    warp = 0.08 * _blur_noise(rng, size, 40.0)
    weft = 0.5 + 0.5 * np.cos(2 * np.pi * (v + warp))
    warp_t = 0.5 + 0.5 * np.cos(2 * np.pi * (u - warp))
    over = (np.floor(u) + np.floor(v)) % 2 == 0
    img = np.where(over, warp_t, weft) * 120.0 + 60.0
    return ((img + 6.0 * _blur_noise(rng, size, 3.0)) * _relief(rng, size)).astype(np.float32)


def phase(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Transparent cells: +-4..10 grey-level bodies with a thin bright halo, on ~200."""
    w, h = size
    img = np.full((h, w), 200.0, np.float32) + 2.0 * _blur_noise(rng, size, 60.0)
    amp = float(rng.uniform(4.0, 10.0))
    for _ in range(int(rng.integers(8, 20))):
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(8, 22)), int(rng.integers(6, 18)))
        ang = float(rng.uniform(0, 180))
        cv2.ellipse(img, c, (axes[0] + 2, axes[1] + 2), ang, 0, 360, 200.0 + amp, 2)
        cv2.ellipse(img, c, axes, ang, 0, 360, 200.0 - amp, -1)
        cv2.circle(img, c, max(2, axes[1] // 3), 200.0 - 2.0 * amp, -1)
    return img


def specks(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Dark field: 20-80 specks (points to 3-px blobs, 40-255) on a glow of 4-12."""
    w, h = size
    img = (8.0 + 4.0 * _blur_noise(rng, size, 80.0)).clip(0, None).astype(np.float32)
    for _ in range(int(rng.integers(20, 81))):
        x, y = int(rng.integers(3, w - 3)), int(rng.integers(3, h - 3))
        level = float(rng.uniform(40, 255))
        r = int(rng.choice([0, 0, 1, 2, 3]))
        if r == 0:
            img[y, x] = level
        else:
            cv2.circle(img, (x, y), r, level, -1)
    return img


def solder(rng: np.random.Generator, size: Size) -> np.ndarray:
    """A green PCB (BGR): solder mask, copper pads and traces, silkscreen outlines, glints."""
    w, h = size
    mask = np.array([60.0, 110.0, 40.0], np.float32)
    img = np.ones((h, w, 3), np.float32) * mask + 5.0 * _blur_noise(rng, size, 20.0)[:, :, None]
    copper = (90.0, 160.0, 200.0)
    for _ in range(int(rng.integers(6, 14))):
        p0 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        p1 = (p0[0] + int(rng.integers(-120, 120)), p0[1])
        p2 = (p1[0], p1[1] + int(rng.integers(-90, 90)))
        thick = int(rng.integers(2, 6))
        cv2.line(img, p0, p1, copper, thick)
        cv2.line(img, p1, p2, copper, thick)
    for _ in range(int(rng.integers(8, 20))):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        a, b = int(rng.integers(4, 12)), int(rng.integers(4, 12))
        cv2.rectangle(img, (x, y), (x + a, y + b), (170.0, 190.0, 200.0), -1)
        cv2.circle(img, (x + a // 2, y + b // 2), 1, (255.0, 255.0, 255.0), -1)
    for _ in range(int(rng.integers(3, 8))):  # silkscreen component outlines
        x, y = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 30))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(15, 40)), y + int(rng.integers(10, 30))),
                      (235.0, 240.0, 240.0), 1)
    return img


def layers(rng: np.random.Generator, size: Size) -> np.ndarray:
    """3D-print layer lines (BGR): 3-7 px pitch, wavy, shaded ridges, one filament colour."""
    w, h = size
    pitch = float(rng.uniform(3.0, 7.0))
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    wave = 1.5 * np.sin(2 * np.pi * x / float(rng.uniform(40, 120))) + 1.2 * _blur_noise(rng, size, 30.0)
    ridge = 0.5 + 0.5 * np.cos(2 * np.pi * (y + wave) / pitch)
    shade = 0.55 + 0.45 * ridge ** 3
    colour = rng.uniform(60, 230, 3).astype(np.float32)
    return ((shade * _relief(rng, size))[:, :, None] * colour[None, None, :]).astype(np.float32)


def fibres(rng: np.random.Generator, size: Size) -> np.ndarray:
    """Paper or felt: 150-300 fibres, 1-3 px wide, +-15..40 grey levels, on ~150."""
    w, h = size
    img = np.full((h, w), 150.0, np.float32) + 6.0 * _blur_noise(rng, size, 25.0)
    for _ in range(int(rng.integers(150, 301))):
        x, y = float(rng.uniform(0, w)), float(rng.uniform(0, h))
        ang, length = float(rng.uniform(0, np.pi)), float(rng.uniform(15, 80))
        p1 = (int(x + length * np.cos(ang)), int(y + length * np.sin(ang)))
        cv2.line(img, (int(x), int(y)), p1, float(150 + rng.choice([-1, 1]) * rng.uniform(15, 40)),
                 int(rng.integers(1, 4)), cv2.LINE_AA)
    return img * _relief(rng, size)


def blank(rng: np.random.Generator, size: Size) -> np.ndarray:
    """No texture: a smooth illumination gradient (and nothing to focus on)."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    gx, gy = rng.uniform(-40, 40, 2)
    return (140.0 + gx * (x / w - 0.5) + gy * (y / h - 0.5)).astype(np.float32)


SCENES: Dict[str, Callable[[np.random.Generator, Size], np.ndarray]] = {
    "weave": weave,
    "phase": phase,
    "specks": specks,
    "solder": solder,
    "layers": layers,
    "fibres": fibres,
    "blank": blank,
}
"""Scene name -> generator(rng, (w, h)) -> float32 sharp sample."""

FOCUSABLE_SCENES = ("weave", "phase", "specks", "solder", "layers", "fibres")
