"""A second, independent optics model for the held-out bench: Fourier optics from a pupil.

Neither the simulator (a pillbox disk) nor ``stack_rig`` (a Gaussian PSF) is used here.
The point spread function comes from the lens pupil, as in a real objective:

    P(rho) = circ(rho <= 1) * exp(2 pi i (W20 rho^2 + W40 rho^4)),   PSF = |FFT(P)|^2

``W20`` is the defocus in waves (linear in the optical Z distance from the paraxial focus,
``Lens.z_per_wave`` mm per wave) and ``W40`` a fixed primary spherical aberration in
waves. With ``W40 != 0`` the focus curve is asymmetric (a soft halo on one side of focus,
a tighter ring on the other) and the sharpest image lies away from the paraxial focus, so
the truth must be measured, not taken from the model's parameters. The in-focus PSF is an
Airy pattern about 2 px across (``PUPIL_RADIUS``); near focus it shows the ringing and
contrast reversals of real defocus that neither a disk nor a Gaussian has.

Far from focus (``|W20| > MAX_WAVES``) the PSF is in the geometric regime, where its shape
only grows in proportion to the defocus: the image is rendered at a reduced scale with the
``MAX_WAVES`` PSF and brought back (exact in that regime, and cheap).

A :class:`Lens` also carries what makes real lenses and samples awkward:

- ``breathing``: the magnification changes with Z (a webcam lens focused by moving it, a
  microscope objective on a printer head): features drift across the ROI as Z changes.
- ``curvature``: field curvature, the focal surface bends so the frame corners focus
  ``curvature`` mm away from the centre; ``tilt``: a sample tilted across the frame
  (left to right, mm over the width). Either way different parts of the ROI focus at
  different Z; the frame is rendered at a few defocus levels and blended per pixel.
- ``chroma``: longitudinal chromatic aberration (blue focuses ``chroma`` mm above red)
  for colour scenes.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional, Tuple

import cv2
import numpy as np

__all__ = ["Lens", "psf", "defocused", "PupilOptics"]

PUPIL_N = 128
"""FFT grid (px) on which the PSF is computed."""
PUPIL_RADIUS = 32.0
"""Pupil radius in frequency samples: the in-focus Airy core is ``PUPIL_N / PUPIL_RADIUS`` px wide."""
MAX_WAVES = 5.0
"""Beyond this defocus (waves) the PSF is scaled geometrically instead of recomputed."""
WAVE_STEP = 0.05
"""PSFs are cached on this grid of W20 (waves) and blended linearly in between."""
FIELD_LEVELS = 4
"""Defocus levels blended per pixel for field curvature or tilt."""
MARGIN_PX = 60
"""The scene is rendered this far beyond the frame edges, so the blur near an edge sees the
scene that really lies there (not a reflection of the frame, which would make a smooth
field sharpen at focus). Covers the largest PSF below ``MAX_WAVES``."""


@dataclass(frozen=True)
class Lens:
    """The optics of one case (lengths in mm of optical Z unless stated).

    ``focus_z``: where the paraxial focus of the frame centre lies. ``z_per_wave``: Z
    distance that adds one wave of defocus (sets the depth of field: roughly one wave of
    swing from sharp to soft). ``spherical``: W40 in waves. ``breathing``: relative
    magnification change per mm. ``curvature``, ``tilt``, ``chroma``: see the module
    docstring. ``vignette``: corner illumination loss (fraction).
    """

    focus_z: float
    z_per_wave: float
    spherical: float = 0.0
    breathing: float = 0.0
    curvature: float = 0.0
    tilt: float = 0.0
    chroma: float = 0.0
    vignette: float = 0.0

    def waves(self, z: float) -> float:
        """Defocus W20 (waves) of the frame centre at optical Z ``z``."""
        return (z - self.focus_z) / self.z_per_wave


@lru_cache(maxsize=4096)
def _psf_on_grid(w20_index: int, w40: float) -> np.ndarray:
    """The PSF for ``W20 = w20_index * WAVE_STEP`` and ``W40``, cropped to its support."""
    w20 = w20_index * WAVE_STEP
    k = np.fft.fftfreq(PUPIL_N) * PUPIL_N / PUPIL_RADIUS
    rho2 = k[None, :] ** 2 + k[:, None] ** 2
    inside = rho2 <= 1.0
    phase = 2.0 * np.pi * (w20 * rho2 + w40 * rho2 * rho2)
    pupil = np.where(inside, np.exp(1j * phase), 0.0)
    kernel = np.fft.fftshift(np.abs(np.fft.ifft2(pupil)) ** 2)
    # Geometric blur radius (px) plus the Airy core: crop there to keep convolutions cheap.
    reach = 2.0 * PUPIL_N * (abs(w20) + 2.0 * abs(w40)) / PUPIL_RADIUS + 3.0 * PUPIL_N / PUPIL_RADIUS
    half = int(min(PUPIL_N // 2 - 1, np.ceil(reach)))
    c = PUPIL_N // 2
    kernel = kernel[c - half : c + half + 1, c - half : c + half + 1]
    return (kernel / kernel.sum()).astype(np.float32)


def psf(w20: float, w40: float = 0.0) -> np.ndarray:
    """The normalised PSF (float32, odd square) for defocus ``w20`` and spherical ``w40`` waves.

    Computed on a grid of ``WAVE_STEP`` waves and blended linearly between neighbours.
    """
    pos = w20 / WAVE_STEP
    i = int(np.floor(pos))
    f = pos - i
    a, b = _psf_on_grid(i, w40), _psf_on_grid(i + 1, w40)
    if f < 1e-6:
        return a
    size = max(a.shape[0], b.shape[0])
    return (1.0 - f) * _pad(a, size) + f * _pad(b, size)


def _pad(kernel: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad an odd square kernel to ``size`` x ``size`` (centred)."""
    p = (size - kernel.shape[0]) // 2
    return np.pad(kernel, p) if p else kernel


def defocused(image: np.ndarray, w20: float, w40: float = 0.0) -> np.ndarray:
    """A float32 gray image seen at defocus ``w20`` waves (geometric scaling beyond MAX_WAVES)."""
    if abs(w20) <= MAX_WAVES:
        return cv2.filter2D(image, -1, psf(w20, w40), borderType=cv2.BORDER_REFLECT)
    scale = abs(w20) / MAX_WAVES
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(4, int(round(w / scale))), max(4, int(round(h / scale)))),
                       interpolation=cv2.INTER_AREA)
    small = cv2.filter2D(small, -1, psf(np.sign(w20) * MAX_WAVES, w40), borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def defocused_crop(view: np.ndarray, w20: float, w40: float, margin: int) -> np.ndarray:
    """``view`` (the frame plus ``margin`` px of scene on every side) seen at defocus ``w20``,
    cropped to the frame; only as much of the margin as the PSF reaches is blurred."""
    half = psf(w20, w40).shape[0] // 2 if abs(w20) <= MAX_WAVES else margin
    half = min(half, margin)
    off = margin - half
    sub = view[off : view.shape[0] - off, off : view.shape[1] - off]
    out = defocused(np.ascontiguousarray(sub), w20, w40)
    return out[half : out.shape[0] - half, half : out.shape[1] - half]


class PupilOptics:
    """Renders a sharp sample (float32, gray HxW or BGR HxWx3) at any optical Z through a Lens.

    The sample should be larger than ``size`` (w, h) plus ``MARGIN_PX`` on every side and
    the breathing: the frame is the centre crop after magnification. ``render(z)`` is noise-free: the camera adds the
    sensor. ``field_offset`` is the per-pixel focal offset (mm) of curvature and tilt.
    """

    def __init__(self, sample: np.ndarray, lens: Lens, size: Tuple[int, int]) -> None:
        self.sample = sample.astype(np.float32)
        self.lens = lens
        self.size = size
        self.colour = sample.ndim == 3
        w, h = size
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((x - w / 2) ** 2 + (y - h / 2) ** 2) / ((w / 2) ** 2 + (h / 2) ** 2)
        self.field_offset = (lens.curvature * r2 + lens.tilt * (x / (w - 1) - 0.5)).astype(np.float32)
        self._vignette = (1.0 - lens.vignette * r2).astype(np.float32)

    def _view(self, z: float) -> np.ndarray:
        """The sharp sample magnified for optical Z ``z``: the frame plus ``MARGIN_PX`` around."""
        w, h = self.size[0] + 2 * MARGIN_PX, self.size[1] + 2 * MARGIN_PX
        sh, sw = self.sample.shape[:2]
        m = 1.0 + self.lens.breathing * (z - self.lens.focus_z)
        matrix = np.float32([[m, 0, w / 2 - m * sw / 2], [0, m, h / 2 - m * sh / 2]])
        return cv2.warpAffine(self.sample, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    def _gray_at(self, image: np.ndarray, z: float, offset: float = 0.0) -> np.ndarray:
        """One channel at optical Z ``z``, honouring curvature/tilt by blended levels."""
        lens = self.lens
        if lens.curvature == 0 and lens.tilt == 0:
            return defocused_crop(image, lens.waves(z - offset), lens.spherical, MARGIN_PX)
        lo, hi = float(self.field_offset.min()), float(self.field_offset.max())
        levels = np.linspace(lo, hi, FIELD_LEVELS)
        step = (hi - lo) / (FIELD_LEVELS - 1)
        out = np.zeros(self.field_offset.shape, np.float32)
        for level in levels:
            weight = np.clip(1.0 - np.abs(self.field_offset - level) / step, 0.0, 1.0)
            out += weight * defocused_crop(image, lens.waves(z - offset - level), lens.spherical, MARGIN_PX)
        return out

    def render(self, z: float) -> np.ndarray:
        """The clean float32 image at optical Z ``z`` (HxW or HxWx3 BGR)."""
        view = self._view(z)
        if not self.colour:
            return self._gray_at(view, z) * self._vignette
        # Blue focuses chroma mm above red, green in between.
        offsets = (self.lens.chroma / 2.0, 0.0, -self.lens.chroma / 2.0)
        chans = [self._gray_at(np.ascontiguousarray(view[:, :, c]), z, offsets[c]) * self._vignette
                 for c in range(3)]
        return np.dstack(chans)

    def roi_gray(self, z: float, roi: Optional[Tuple[int, int, int, int]]) -> np.ndarray:
        """The clean gray ROI at ``z`` (for truth measurement)."""
        img = self.render(z)
        if img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        if roi is None:
            return img
        x, y, w, h = roi
        return img[y : y + h, x : x + w]
