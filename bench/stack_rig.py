"""A recorded-focus-stack rig for judging the focus search from outside.

The search is judged the way a held-out suite would judge it: through the public contract
only, against a stage that knows nothing about focus and a camera that replays a
pre-rendered z-stack. The optics here are deliberately *not* the simulator's (which blurs
with a pillbox disk): slices are blurred by a Gaussian PSF whose sigma grows with defocus,
optionally faster on one side, with a spherical-aberration-like ring halo, a
defocus-dependent brightness/contrast drift, vignetting and a tilted sample.

- :class:`StackStage`: absolute Z with hard limits (refuses, records), optional backlash.
- :class:`StackCamera`: returns the slice *nearest* the stage's optical Z, no
  interpolation, plus per-frame nuisances (noise, flicker, slow drift, hot pixels, JPEG).
- :func:`render_stack`: a :class:`Case` -> slices and the reference truth (focus Z, DOF).
- :func:`make_cases`: the fixed list of cases the bench runs.

Truth. ``case.focus_z`` is the optical focus of the sample at the ROI centre (by
construction). The depth of field is measured, not assumed: the ROI is rendered with the
PSF alone (no noise, drift or vignetting) on a dense Z grid around focus and scored with a
plain gradient energy; the *sharp band* is the Z interval around the peak over which that
score stays >= :data:`DOF_LEVEL` of its peak, and ``dof`` its width (with asymmetric optics
the band is asymmetric too). A run passes if its ``z`` lies in the sharp band widened to at
least one slice spacing either side of ``focus_z``: for symmetric optics that is
``|z - focus_z| <= max(dof / 2, spacing)``.
"""

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import cv2
import numpy as np

from octoprint_autofocus.focus.errors import MoveRefused
from octoprint_autofocus.focus.options import DEFAULTS

__all__ = [
    "DOF_LEVEL",
    "measure_band",
    "sharp_band",
    "Optics",
    "Nuisance",
    "Case",
    "Stack",
    "StackStage",
    "StackCamera",
    "SCENES",
    "render_stack",
    "make_cases",
    "hard_cases",
]

DOF_LEVEL = 0.8
"""The DOF is the Z width where the clean reference score stays >= this fraction of its peak."""

SIZE = (320, 240)
"""Frame size (w, h) of every stack: small, so a whole bench runs in a few minutes."""

MAX_SIGMA = 40.0
"""Blur sigma (px) is capped here: beyond it a 320x240 frame is a smooth wash anyway."""

TILT_BANDS = 7
"""A tilted sample is rendered as this many column bands, linearly blended."""


# ----------------------------------------------------------------------------- optics


@dataclass(frozen=True)
class Optics:
    """How a slice at defocus ``dz`` (Z units) looks. Lengths in px unless stated.

    ``sigma(dz) = hypot(s0, growth * side * |dz| / (dof_nominal / 2))``, ``side`` being
    ``1 + asym`` above focus and ``1 - asym`` below. ``halo`` mixes in a thin ring of
    radius ``2.5 * sigma`` above focus (spherical aberration), up to that weight.
    ``brightness`` / ``contrast`` change the mean level and the contrast linearly with
    ``dz / range`` (as a condenser or lamp does when the objective moves). ``vignette`` darkens the corners by
    that fraction. ``tilt`` is the focal-plane difference across the frame width, in
    nominal DOFs.
    """

    s0: float = 0.6
    growth: float = 0.5
    asym: float = 0.0
    halo: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    vignette: float = 0.0
    tilt: float = 0.0

    def sigma(self, dz: float, dof: float) -> float:
        """The Gaussian PSF sigma (px) at defocus ``dz`` for nominal DOF ``dof``."""
        side = 1.0 + self.asym if dz > 0 else 1.0 - self.asym
        return float(min(np.hypot(self.s0, self.growth * side * abs(dz) / (dof / 2.0)), MAX_SIGMA))


@dataclass(frozen=True)
class Nuisance:
    """Sensor and illumination nuisances.

    ``noise``: Gaussian read noise sigma (grey levels) plus shot noise (``shot`` * sqrt
    level). ``recorded=True`` bakes the noise into each slice once (a replayed recording:
    two frames of one slice are byte-identical); otherwise every frame gets fresh noise.
    ``flicker``: per-frame exposure gain sigma. ``drift``: illumination gain change per
    frame (slow lamp drift). ``hot``: number of stuck-bright pixels. ``jpeg``: quality, or 0.
    ``as_bytes``: the camera returns JPEG bytes instead of an array.
    """

    noise: float = 1.0
    shot: float = 0.0
    recorded: bool = True
    flicker: float = 0.0
    drift: float = 0.0
    hot: int = 0
    jpeg: int = 0
    as_bytes: bool = False


@dataclass(frozen=True)
class Case:
    """One held-out-style case: the scene, the stack geometry, the optics and nuisances.

    Z units are arbitrary (mm on a printer): the stack has ``slices`` slices from
    ``z_min`` to ``z_max`` inclusive; ``dof_slices`` sets the nominal DOF in slices.
    ``focus_z`` is the sample's focal plane at the ROI centre. ``expect_fail``: a
    correct search must return ``ok=False`` (featureless field, focus outside the range).
    ``contrast_scale`` scales the sample's contrast about its mean (< 1: a faint sample).
    ``dust`` > 0 adds a second, sparse layer of dark specks focused ``dust_offset``
    nominal DOFs away from ``focus_z`` (dust on a cover slip), scaled so that its in-focus
    gradient energy is ``dust`` times the sample's: a weaker distracting peak.
    """

    name: str
    scene: str
    seed: int
    z_min: float
    z_max: float
    slices: int
    dof_slices: float
    focus_z: float
    start_z: float
    optics: Optics = field(default_factory=Optics)
    nuisance: Nuisance = field(default_factory=Nuisance)
    roi: Optional[Tuple[int, int, int, int]] = None
    backlash: float = 0.0
    color: bool = False
    expect_fail: bool = False
    tags: Tuple[str, ...] = ()
    contrast_scale: float = 1.0
    dust: float = 0.0
    dust_offset: float = 0.0

    @property
    def spacing(self) -> float:
        """Z distance between adjacent slices."""
        return (self.z_max - self.z_min) / (self.slices - 1)

    @property
    def dof_nominal(self) -> float:
        """The nominal depth of field in Z units (sets the blur growth)."""
        return self.dof_slices * self.spacing


def _gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a float32 image; identity for tiny sigma."""
    if sigma < 0.05:
        return image
    return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def _ring(image: np.ndarray, radius: float) -> np.ndarray:
    """The image convolved with a thin normalised ring of ``radius`` px (the halo)."""
    half = int(np.ceil(radius + 1.5))
    x = np.arange(-half, half + 1, dtype=np.float32)
    d = np.hypot(x[None, :], x[:, None])
    kernel = np.clip(1.0 - np.abs(d - radius), 0.0, 1.0)
    kernel /= kernel.sum()
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT)


def _psf(image: np.ndarray, dz: float, dof: float, optics: Optics) -> np.ndarray:
    """The image seen through the PSF at defocus ``dz`` (no tilt)."""
    sigma = optics.sigma(dz, dof)
    out = _gaussian_blur(image, sigma)
    if optics.halo > 0 and dz > 0:
        weight = optics.halo * min(1.0, dz / dof)
        out = (1.0 - weight) * out + weight * _ring(image, min(2.5 * sigma, MAX_SIGMA))
    return out


def psf_image(image: np.ndarray, dz: float, dof: float, optics: Optics) -> np.ndarray:
    """The sample seen at defocus ``dz`` of its centre, honouring tilt (column bands)."""
    if optics.tilt == 0:
        return _psf(image, dz, dof, optics)
    width = image.shape[1]
    centres = np.linspace(0.0, width - 1.0, TILT_BANDS)
    # Column c focuses at focus + tilt * dof * (c / width - 0.5), so its defocus is smaller.
    offsets = optics.tilt * dof * (centres / (width - 1.0) - 0.5)
    bands = [_psf(image, dz - off, dof, optics) for off in offsets]
    cols = np.arange(width, dtype=np.float64)
    out = np.zeros_like(image)
    for i, band in enumerate(bands):
        hat = np.clip(1.0 - np.abs(cols - centres[i]) / (centres[1] - centres[0]), 0.0, 1.0)
        out += band * hat[None, :].astype(np.float32)
    return out


def _vignette_mask(shape: Tuple[int, int], amount: float) -> np.ndarray:
    """A radial gain mask: 1 at the centre, ``1 - amount`` at the corners."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((x - w / 2) / (w / 2)) ** 2 + ((y - h / 2) / (h / 2)) ** 2
    return (1.0 - amount * r2 / 2.0).astype(np.float32)


def optical_slice(sample: np.ndarray, dz: float, case: Case) -> np.ndarray:
    """A clean (noise-free) float32 slice at defocus ``dz``: PSF, brightness, vignetting."""
    optics = case.optics
    image = psf_image(sample, dz, case.dof_nominal, optics)
    t = dz / (case.z_max - case.z_min)
    if optics.contrast or optics.brightness:
        mean = float(image.mean())
        image = mean + (image - mean) * (1.0 + optics.contrast * t)
        image = image * (1.0 + optics.brightness * t)
    if optics.vignette:
        image = image * _vignette_mask(image.shape, optics.vignette)
    return image.astype(np.float32)


def gradient_energy(image: np.ndarray) -> float:
    """The reference sharpness: mean squared central-difference gradient (float64)."""
    img = image.astype(np.float64)
    gx = img[1:-1, 2:] - img[1:-1, :-2]
    gy = img[2:, 1:-1] - img[:-2, 1:-1]
    return float(np.mean(gx * gx + gy * gy))


def crop(image: np.ndarray, roi: Optional[Tuple[int, int, int, int]]) -> np.ndarray:
    """The ROI of an image (``None``: all of it)."""
    if roi is None:
        return image
    x, y, w, h = roi
    return image[y : y + h, x : x + w]


def measure_band(sample: np.ndarray, case: Case, level: float = DOF_LEVEL) -> Tuple[float, float]:
    """The sharp band ``(lo, hi)``, relative to ``focus_z``: where the clean PSF-only ROI
    score is >= ``level`` * its peak.

    Scored on a dense grid (1/8 of the nominal DOF) over +-4 nominal DOFs (more with
    tilt), linearly interpolated at the threshold crossings.
    """
    dof = case.dof_nominal
    reach = (4.0 + abs(case.optics.tilt)) * dof
    dzs = np.arange(-reach, reach + 1e-12, dof / 8.0)
    # The ROI centre is the focus reference: shift so that dz is relative to it.
    centre = _roi_centre_offset(case)
    scores = np.array(
        [gradient_energy(crop(psf_image(sample, dz + centre, dof, case.optics), case.roi)) for dz in dzs]
    )
    return sharp_band(dzs, scores, level)


def sharp_band(zs: np.ndarray, scores: np.ndarray, level: float = DOF_LEVEL) -> Tuple[float, float]:
    """The Z interval around the highest score where ``scores >= level * max``.

    ``zs`` ascending; the band edges are linearly interpolated at the threshold crossings
    (the grid ends when the band reaches them).
    """
    zs = np.asarray(zs, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    peak = int(np.argmax(scores))
    threshold = level * scores[peak]
    lo, hi = peak, peak
    while lo > 0 and scores[lo - 1] >= threshold:
        lo -= 1
    while hi < len(zs) - 1 and scores[hi + 1] >= threshold:
        hi += 1

    def cross(a: int, b: int) -> float:
        """Z where the score crosses the threshold between grid points a (in) and b (out)."""
        sa, sb = scores[a], scores[b]
        return zs[a] + (zs[b] - zs[a]) * (sa - threshold) / max(sa - sb, 1e-300)

    z_lo = cross(lo, lo - 1) if lo > 0 else zs[0]
    z_hi = cross(hi, hi + 1) if hi < len(zs) - 1 else zs[-1]
    return float(z_lo), float(z_hi)


def _roi_centre_offset(case: Case) -> float:
    """Focal-plane offset (Z) of the ROI centre column relative to the frame centre."""
    if case.optics.tilt == 0 or case.roi is None:
        return 0.0
    x, _, w, _ = case.roi
    return case.optics.tilt * case.dof_nominal * ((x + w / 2.0) / (SIZE[0] - 1.0) - 0.5)


# ----------------------------------------------------------------------------- scenes


def _smooth_noise(rng: np.random.Generator, size: Tuple[int, int], scale: float) -> np.ndarray:
    """Unit-variance random field with features about ``scale`` px across."""
    w, h = size
    small = rng.normal(0.0, 1.0, (max(2, int(h / scale)), max(2, int(w / scale)))).astype(np.float32)
    field_ = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return field_ / max(float(field_.std()), 1e-6)


def scene_texture(rng: np.random.Generator, size: Tuple[int, int]) -> np.ndarray:
    """A multi-scale texture with thresholded (hard-edged) patches, like a fabric or paper."""
    base = sum(_smooth_noise(rng, size, s) / s**0.5 for s in (2.0, 5.0, 13.0, 34.0))
    edges = np.where(_smooth_noise(rng, size, 9.0) > 0.6, 40.0, 0.0)
    return (120.0 + 18.0 * base + edges).astype(np.float32)


def scene_sparse(rng: np.random.Generator, size: Tuple[int, int]) -> np.ndarray:
    """A mostly empty field with 2-5 small hard-edged objects, the first in the left half.

    (So that an ROI on the left half, as the tilted-sample case uses, is never empty.)
    """
    w, h = size
    img = np.full((h, w), 110.0, np.float32)
    for i in range(int(rng.integers(2, 6))):
        cx, cy = int(rng.integers(20, w // 2 - 20 if i == 0 else w - 20)), int(rng.integers(20, h - 20))
        level = float(rng.choice([40.0, 200.0]))
        if rng.random() < 0.5:
            cv2.circle(img, (cx, cy), int(rng.integers(3, 10)), level, -1)
        else:
            pts = rng.integers(-12, 13, (5, 2)) + np.array([cx, cy])
            cv2.fillPoly(img, [pts.astype(np.int32)], level)
    return img


def scene_cells(rng: np.random.Generator, size: Tuple[int, int]) -> np.ndarray:
    """Bright-field cells: bright background, faint cytoplasm, dark rim, darker nucleus."""
    w, h = size
    img = np.full((h, w), 205.0, np.float32) + 3.0 * _smooth_noise(rng, size, 40.0)
    for _ in range(int(rng.integers(6, 14))):
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(10, 24)), int(rng.integers(8, 20)))
        angle = float(rng.uniform(0, 180))
        cv2.ellipse(img, c, axes, angle, 0, 360, 188.0, -1)
        cv2.ellipse(img, c, axes, angle, 0, 360, 160.0, 1)
        nucleus = (max(3, axes[0] // 3), max(3, axes[1] // 3))
        cv2.ellipse(img, c, nucleus, angle, 0, 360, 140.0, -1)
    granules = rng.random((h, w)) < 0.004
    img[granules] -= 25.0
    return img


def scene_darkfield(rng: np.random.Generator, size: Tuple[int, int]) -> np.ndarray:
    """Dark field: black background with sparse point-like bright specks and one faint streak."""
    w, h = size
    img = np.full((h, w), 6.0, np.float32)
    for _ in range(int(rng.integers(15, 40))):
        x, y = int(rng.integers(2, w - 2)), int(rng.integers(2, h - 2))
        r = int(rng.integers(0, 2))
        img[y - r : y + r + 1, x - r : x + r + 1] = float(rng.uniform(80, 255))
    p0 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
    p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
    cv2.line(img, p0, p1, 40.0, 1)
    return img


def scene_featureless(rng: np.random.Generator, size: Tuple[int, int]) -> np.ndarray:
    """No texture at all: a smooth illumination gradient (a correct search must fail)."""
    w, h = size
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)
    tilt = float(rng.uniform(-30, 30))
    return np.tile(130.0 + tilt * x, (h, 1)).astype(np.float32)


def _skimage_dir() -> Optional[Path]:
    """scikit-image's bundled data folder, or None if it is not installed."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data"
    return path if path.is_dir() else None


PHOTOS = ("camera.png", "coins.png", "text.png", "moon.png", "cell.png", "gravel.png", "hubble_deep_field.jpg", "page.png")
"""Real photos bundled with scikit-image (no download) used as samples when installed."""


def scene_photo(rng: np.random.Generator, size: Tuple[int, int]) -> np.ndarray:
    """A random crop of a real photo bundled with scikit-image (fallback: texture)."""
    folder = _skimage_dir()
    if folder is None:
        return scene_texture(rng, size)
    name = PHOTOS[int(rng.integers(0, len(PHOTOS)))]
    img = cv2.imread(str(folder / name), cv2.IMREAD_GRAYSCALE)
    if img is None:
        return scene_texture(rng, size)
    w, h = size
    scale = max(w / img.shape[1], h / img.shape[0], float(rng.uniform(0.5, 1.0)))
    img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    y = int(rng.integers(0, img.shape[0] - h + 1))
    x = int(rng.integers(0, img.shape[1] - w + 1))
    return img[y : y + h, x : x + w].astype(np.float32)


SCENES: Dict[str, Callable[[np.random.Generator, Tuple[int, int]], np.ndarray]] = {
    "texture": scene_texture,
    "sparse": scene_sparse,
    "cells": scene_cells,
    "darkfield": scene_darkfield,
    "photo": scene_photo,
    "featureless": scene_featureless,
}
"""Scene name -> generator(rng, (w, h)) -> float32 sharp sample image."""


# ----------------------------------------------------------------------------- stack


@dataclass
class Stack:
    """A rendered case: slice Zs, clean float slices, baked uint8 slices and the truth.

    ``band`` is the sharp band relative to ``case.focus_z`` (see the module docstring).
    """

    case: Case
    zs: np.ndarray
    clean: List[np.ndarray]
    baked: List[np.ndarray]
    band: Tuple[float, float]
    hot: np.ndarray

    @property
    def dof(self) -> float:
        """The measured depth of field: the width of the sharp band."""
        return self.band[1] - self.band[0]

    def tolerance(self, z: float) -> float:
        """Allowed distance from focus on ``z``'s side: the band edge, at least one slice."""
        edge = self.band[1] if z >= self.case.focus_z else -self.band[0]
        return max(edge, self.case.spacing)

    def error(self, z: float) -> float:
        """``|z - focus_z|`` in tolerances of that side: a pass is <= 1."""
        return abs(z - self.case.focus_z) / self.tolerance(z)


def render_stack(case: Case) -> Stack:
    """Render every slice of ``case`` (clean and, for recorded stacks, with baked noise)."""
    rng = np.random.default_rng(case.seed)
    sample = SCENES[case.scene](rng, SIZE)
    if case.contrast_scale != 1.0:
        sample = float(sample.mean()) + (sample - float(sample.mean())) * np.float32(case.contrast_scale)
    zs = np.linspace(case.z_min, case.z_max, case.slices)
    centre = _roi_centre_offset(case)
    # The sample's frame-centre focal plane: the ROI centre focuses at case.focus_z.
    focus_centre = case.focus_z - centre
    clean = [optical_slice(sample, float(z - focus_centre), case) for z in zs]
    if case.dust:
        dust = _dust_layer(rng, SIZE, 1.0)
        dust *= np.float32(np.sqrt(case.dust * gradient_energy(sample) / max(gradient_energy(dust), 1e-12)))
        dust_z = case.focus_z + case.dust_offset * case.dof_nominal
        clean = [img + _psf(dust, float(z - dust_z), case.dof_nominal, case.optics) for img, z in zip(clean, zs)]
    noise_rng = np.random.default_rng(case.seed + 1_000_003)
    nz = case.nuisance
    baked = [_sensor(img, nz, noise_rng) if nz.recorded else _to_u8(img) for img in clean]
    hot = noise_rng.integers(0, SIZE[0] * SIZE[1], nz.hot)
    return Stack(case, zs, clean, baked, measure_band(sample, case), hot)


def _dust_layer(rng: np.random.Generator, size: Tuple[int, int], depth: float) -> np.ndarray:
    """An additive layer of 30-60 dark specks (radius 1-2 px, ``-depth`` grey levels) on 0."""
    w, h = size
    layer = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(30, 61))):
        cv2.circle(layer, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(1, 3)), -depth, -1)
    return layer


def _to_u8(image: np.ndarray) -> np.ndarray:
    """Round and clip to uint8."""
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def _sensor(image: np.ndarray, nz: Nuisance, rng: np.random.Generator, gain: float = 1.0) -> np.ndarray:
    """Exposure gain, read + shot noise, quantisation and JPEG (if any) applied once."""
    img = image * np.float32(gain)
    sigma = np.sqrt(nz.noise**2 + nz.shot**2 * np.clip(img, 0, None)) if nz.shot else nz.noise
    img = img + rng.standard_normal(img.shape).astype(np.float32) * sigma
    out = _to_u8(img)
    if nz.jpeg and not nz.as_bytes:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, nz.jpeg])
        out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return out


class StackStage:
    """An absolute Z axis with hard limits and optional backlash; it knows nothing of focus.

    Targets outside ``limits`` raise :class:`MoveRefused` and are kept in ``violations``;
    every target is kept in ``commanded``. ``optical_z`` follows moves down exactly and
    lags ``backlash`` behind moves up (a lead screw taking up slack).
    """

    def __init__(self, limits: Tuple[float, float], start: float, backlash: float = 0.0) -> None:
        self.limits = limits
        self.backlash = backlash
        self.commanded: List[float] = []
        self.violations: List[float] = []
        self._z = float(start)
        self.optical_z = float(start)

    def position(self) -> float:
        """The Z the axis believes it is at."""
        return self._z

    def move_to(self, z: float) -> None:
        """Move to absolute ``z`` or refuse a target outside the limits."""
        z = float(z)
        self.commanded.append(z)
        lo, hi = self.limits
        if not lo <= z <= hi:
            self.violations.append(z)
            raise MoveRefused(f"refusing Z{z}: outside {self.limits}")
        self._z = z
        self.optical_z = min(max(self.optical_z, z - self.backlash), z)


class StackCamera:
    """Replays a stack: the slice nearest the stage's optical Z, with per-frame nuisances.

    Recorded stacks return the baked slice (plus flicker, drift and hot pixels, which are
    per frame); live stacks add fresh sensor noise every frame. ``frames`` counts calls;
    ``slices_seen`` keeps the slice index of each frame.
    """

    def __init__(self, stack: Stack, stage: StackStage, seed: int = 0) -> None:
        self.stack = stack
        self.stage = stage
        self.frames = 0
        self.slices_seen: List[int] = []
        self._rng = np.random.default_rng(seed)

    def frame(self):
        """The current slice as uint8 gray/BGR (or JPEG bytes), captured now."""
        stack, nz = self.stack, self.stack.case.nuisance
        idx = int(np.argmin(np.abs(stack.zs - self.stage.optical_z)))
        self.slices_seen.append(idx)
        gain = 1.0 + nz.drift * self.frames
        if nz.flicker:
            gain *= 1.0 + nz.flicker * float(self._rng.standard_normal())
        self.frames += 1
        if nz.recorded:
            out = stack.baked[idx]
            if gain != 1.0:
                out = _to_u8(out.astype(np.float32) * np.float32(gain))
        else:
            out = _sensor(stack.clean[idx], nz, self._rng, gain)
        if nz.hot:
            out = out.copy()
            out.reshape(-1)[stack.hot] = 255
        if stack.case.color:
            out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
        if nz.as_bytes:
            ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, nz.jpeg or 85])
            return buf.tobytes()
        return out


# ----------------------------------------------------------------------------- cases

OPTICS_VARIANTS: Dict[str, Optics] = {
    "gauss": Optics(),
    "asym": Optics(asym=0.5),
    "halo": Optics(halo=0.5, asym=0.2),
    "drift": Optics(brightness=0.6, contrast=-0.5),
    "vignette": Optics(vignette=0.6, s0=0.9),
    "tilt": Optics(tilt=3.0),
}
"""Named optics: symmetric Gaussian, asymmetric growth, halo above focus, brightness and
contrast that change with Z, strong vignetting with a softer lens, a sample tilted by 3 DOFs."""

NUISANCE_VARIANTS: Dict[str, Nuisance] = {
    "clean-rec": Nuisance(noise=1.0),
    "noisy-live": Nuisance(noise=4.0, shot=0.5, recorded=False),
    "jpeg-rec": Nuisance(noise=2.0, jpeg=70),
    "flicker": Nuisance(noise=2.0, flicker=0.05, recorded=False),
    "hot-drift": Nuisance(noise=2.0, hot=40, drift=0.002),
    "bytes-live": Nuisance(noise=3.0, recorded=False, jpeg=80, as_bytes=True),
}
"""Named nuisances: recorded clean, heavy live noise, recorded JPEG, exposure flicker,
hot pixels with slow illumination drift, live JPEG bytes."""

SUCCESS_SCENES = ("texture", "sparse", "cells", "darkfield", "photo")


def _geometry(rng: np.random.Generator) -> Dict[str, float]:
    """Random stack geometry: 20-100 slices, DOF 1-3 slices, microscope or printer units."""
    slices = int(rng.integers(20, 101))
    dof_slices = float(rng.uniform(1.0, 3.0))
    if rng.random() < 0.5:  # microscope: tens of micrometres, in mm
        span = float(rng.uniform(0.02, 0.3))
        z_min = float(rng.uniform(0.0, 3.0))
    else:  # webcam on a printer head: millimetres
        span = float(rng.uniform(2.0, 12.0))
        z_min = float(rng.uniform(0.0, 40.0))
    return {"slices": slices, "dof_slices": dof_slices, "z_min": z_min, "z_max": z_min + span}


def make_cases(seed_base: int = 0) -> List[Case]:
    """The fixed case list: every scene x optics (nuisances cycled), plus should-fail cases.

    Focus lies in the middle 80% of the range; the start Z anywhere in the range. A few
    cases use an ROI, BGR frames or backlash (tagged ``backlash-past-overscan`` when the slack
    is larger than the search's default overshoot). ``seed_base`` != 0 draws a fresh set of the
    same design (geometry, scenes, noise), to check that a change generalises.
    """
    cases: List[Case] = []
    nuisance_names = list(NUISANCE_VARIANTS)
    k = 0
    for s_idx, scene in enumerate(SUCCESS_SCENES):
        for o_idx, (optics_name, optics) in enumerate(OPTICS_VARIANTS.items()):
            for rep in range(2):
                seed = seed_base + 1000 + k
                rng = np.random.default_rng(seed)
                g = _geometry(rng)
                span = g["z_max"] - g["z_min"]
                focus = g["z_min"] + span * float(rng.uniform(0.1, 0.9))
                start = g["z_min"] + span * float(rng.uniform(0.0, 1.0))
                nz_name = nuisance_names[(o_idx + 2 * rep + s_idx) % len(nuisance_names)]
                roi = None
                if rep == 1 and scene in ("texture", "photo", "cells"):
                    roi = (SIZE[0] // 4, SIZE[1] // 4, SIZE[0] // 2, SIZE[1] // 2)
                if optics_name == "tilt" and rep == 1:
                    roi = (0, 0, SIZE[0] // 2, SIZE[1])  # the left half of a tilted sample
                backlash = g["dof_slices"] * (span / (g["slices"] - 1)) if k % 7 == 3 else 0.0
                tags = (scene, optics_name, nz_name) + (("roi",) if roi else ()) + (("backlash",) if backlash else ())
                if backlash > DEFAULTS["overscan"]:  # more slack than the search's overshoot takes up
                    tags += ("backlash-past-overscan",)
                cases.append(
                    Case(
                        name=f"{scene}/{optics_name}/{nz_name}#{rep}",
                        scene=scene,
                        seed=seed,
                        focus_z=focus,
                        start_z=start,
                        optics=optics,
                        nuisance=NUISANCE_VARIANTS[nz_name],
                        roi=roi,
                        backlash=backlash,
                        color=(k % 5 == 2),
                        tags=tags,
                        **g,
                    )
                )
                k += 1
    cases.extend(_fail_cases(seed_base))
    return cases


def _fail_cases(seed_base: int = 0) -> List[Case]:
    """Cases where a correct search must report failure: no texture, focus out of range."""
    out: List[Case] = []
    for i in range(3):
        seed = seed_base + 5000 + i
        g = _geometry(np.random.default_rng(seed))
        span = g["z_max"] - g["z_min"]
        out.append(
            Case(name=f"featureless#{i}", scene="featureless", seed=seed,
                 focus_z=g["z_min"] + 0.5 * span, start_z=g["z_min"] + 0.3 * span,
                 nuisance=NUISANCE_VARIANTS[("clean-rec", "hot-drift", "jpeg-rec")[i]],
                 expect_fail=True, tags=("featureless", "should-fail"), **g)
        )
    for i, scene in enumerate(("texture", "photo", "cells", "sparse")):
        seed = seed_base + 6000 + i
        g = _geometry(np.random.default_rng(seed))
        span = g["z_max"] - g["z_min"]
        dof = g["dof_slices"] * span / (g["slices"] - 1)
        # Focus 4-10 nominal DOFs beyond an end: the in-range curve only rises to that edge.
        beyond = dof * (4.0 + 6.0 * (i / 3))
        focus = g["z_max"] + beyond if i % 2 == 0 else g["z_min"] - beyond
        out.append(
            Case(name=f"outside/{scene}#{i}", scene=scene, seed=seed, focus_z=focus,
                 start_z=g["z_min"] + 0.5 * span,
                 nuisance=NUISANCE_VARIANTS[("clean-rec", "noisy-live")[i % 2]],
                 expect_fail=True, tags=(scene, "outside", "should-fail"), **g)
        )
    return out


def hard_cases(seed_base: int = 0) -> List[Case]:
    """A second, harder tier (``--hard``), to probe generalisation beyond the main list.

    Narrow DOF (0.7-1 slice, 80-100 slices), focus near a range end (3-8% in), faint
    samples under live noise, dust on a cover slip (a weaker peak 8-15 DOFs away), small
    ROIs, and focus just 2-3 DOFs outside the range (must fail).
    """
    out: List[Case] = []
    scenes = list(SUCCESS_SCENES)
    nz_cycle = list(NUISANCE_VARIANTS)
    for i in range(24):
        seed = seed_base + 7000 + i
        rng = np.random.default_rng(seed)
        g = _geometry(rng)
        kind = ("narrow", "near-edge", "faint", "dust", "small-roi", "outside-near")[i % 6]
        scene = scenes[i % len(scenes)] if kind not in ("faint", "small-roi") else ("texture", "photo", "cells")[(i // 6) % 3]
        span = g["z_max"] - g["z_min"]
        focus = g["z_min"] + span * float(rng.uniform(0.15, 0.85))
        extra: Dict[str, object] = {}
        nuisance = NUISANCE_VARIANTS[nz_cycle[i % len(nz_cycle)]]
        if kind == "narrow":
            g.update(slices=int(rng.integers(80, 101)), dof_slices=float(rng.uniform(0.7, 1.0)))
            span = g["z_max"] - g["z_min"]
            focus = g["z_min"] + span * float(rng.uniform(0.15, 0.85))
        elif kind == "near-edge":
            frac = float(rng.uniform(0.03, 0.08))
            focus = g["z_min"] + span * (frac if i % 2 else 1.0 - frac)
        elif kind == "faint":
            extra["contrast_scale"] = 0.08
            nuisance = Nuisance(noise=2.5, recorded=False)
        elif kind == "dust":
            extra.update(dust=0.4, dust_offset=float(rng.uniform(8, 15)) * (1 if i % 2 else -1))
            dz = extra["dust_offset"] * g["dof_slices"] * span / (g["slices"] - 1)  # type: ignore[operator]
            focus = min(max(focus, g["z_min"] - dz + 0.05 * span), g["z_max"] - dz - 0.05 * span)
            focus = min(max(focus, g["z_min"] + 0.1 * span), g["z_max"] - 0.1 * span)
        elif kind == "small-roi":
            x, y = int(rng.integers(0, SIZE[0] - 48)), int(rng.integers(0, SIZE[1] - 48))
            extra["roi"] = (x, y, 48, 48)
        elif kind == "outside-near":
            dof = g["dof_slices"] * span / (g["slices"] - 1)
            focus = g["z_max"] + 2.5 * dof if i % 2 else g["z_min"] - 2.5 * dof
            extra["expect_fail"] = True
        out.append(
            Case(name=f"hard/{kind}/{scene}#{i}", scene=scene, seed=seed, focus_z=focus,
                 start_z=g["z_min"] + span * float(rng.uniform(0, 1)), nuisance=nuisance,
                 tags=(kind, scene) + (("should-fail",) if kind == "outside-near" else ()),
                 **g, **extra)  # type: ignore[arg-type]
        )
    return out
