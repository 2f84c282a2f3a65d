"""Defocus optics: how far out of focus maps to how blurred the image is.

The blur of a defocused lens is a pillbox (a uniform disk) whose radius grows linearly with
the distance from the focal plane. :func:`blur_radius_px` maps defocus to that radius and
:func:`defocus_blur` applies it: a disk kernel for visible blur, blended into a Gaussian of
the same second moment for sub-pixel radii (where a sampled disk is meaningless), and
computed on a downscaled image for large radii so the cost stays flat.
"""

from functools import lru_cache
from typing import Sequence

import cv2
import numpy as np

__all__ = ["blur_radius_px", "defocus_blur", "graded_blur", "psf_kernel"]

DIRECT_MAX_RADIUS = 20.0
"""Above this radius (px) the blur runs on an image downscaled by a power of two."""


def blur_radius_px(
    defocus_mm: float, dof: float, base: float = 0.0, asymmetry: float = 0.0
) -> float:
    """Radius in pixels of the defocus disk at ``defocus_mm`` (= z - focal_z).

    The geometric blur ``|dz| * 2 / dof`` reaches 1 px at ``|dz| = dof / 2``; it adds in
    quadrature to ``base``, the lens's own blur in focus (diffraction, demosaicing):
    ``r = hypot(base, |dz| * 2 / dof)``. Real lenses blur differently either side of
    focus: ``asymmetry`` (e.g. 0.1) makes the geometric blur ``1 + asymmetry`` times larger
    above focus (dz > 0) and ``1 - asymmetry`` times below.
    """
    if dof <= 0:
        raise ValueError(f"dof must be > 0, got {dof}")
    if not -1.0 < asymmetry < 1.0:
        raise ValueError(f"asymmetry must be in (-1, 1), got {asymmetry}")
    side = 1.0 + asymmetry if defocus_mm > 0 else 1.0 - asymmetry
    return float(np.hypot(base, abs(defocus_mm) * 2.0 / dof * side))


@lru_cache(maxsize=512)
def psf_kernel(radius_px: float) -> np.ndarray:
    """The normalised float32 point-spread function for a blur disk of ``radius_px``.

    An anti-aliased disk for radii from 2 px up, a Gaussian with the disk's variance
    (sigma = r / 2) below 1 px, and a linear blend of the two in between. Radius 0 gives
    the identity kernel.
    """
    r = max(float(radius_px), 0.0)
    weight = float(np.clip(2.0 - r, 0.0, 1.0))
    reach = max(r + 0.5, 1.5 * r) if weight > 0 else r + 0.5
    half = max(int(np.ceil(reach)), 1)
    kernel = (1.0 - weight) * _disk(r, half) + weight * _gaussian(r / 2.0, half)
    return (kernel / kernel.sum()).astype(np.float32)


def _disk(r: float, half: int) -> np.ndarray:
    """A disk of radius r on a (2*half+1)^2 grid with anti-aliased edges.

    Each pixel's weight is its approximate coverage ``clip(r + 0.5 - d, 0, 1)`` (d: distance
    of its centre), which varies continuously with r, so the blur does too.
    """
    x = np.arange(-half, half + 1, dtype=np.float64)
    d = np.hypot(x[None, :], x[:, None])
    return np.clip(r + 0.5 - d, 0.0, 1.0)


def _gaussian(sigma: float, half: int) -> np.ndarray:
    """A (2*half+1)^2 separable blur of standard deviation ``sigma`` px.

    A sampled Gaussian under-represents sub-pixel sigmas (at 0.25 px it is the identity), so
    below 0.8 px the 1-D taps are ``[a, 1 - 2a, a]`` with ``a = sigma**2 / 2``, which has
    exactly the variance ``sigma**2``.
    """
    x = np.arange(-half, half + 1)
    if sigma < 0.8:
        a = sigma * sigma / 2.0
        g = np.where(x == 0, 1.0 - 2.0 * a, np.where(np.abs(x) == 1, a, 0.0))
    else:
        g = np.exp(-0.5 * (x / sigma) ** 2)
    return np.outer(g, g)


def defocus_blur(image: np.ndarray, radius_px: float) -> np.ndarray:
    """Blur a float32 image (HxW or HxWxC) by a defocus disk of ``radius_px`` pixels.

    Radii above :data:`DIRECT_MAX_RADIUS` are applied to a copy downscaled by a power of two
    and scaled back up, which keeps a 640x480 frame within a few milliseconds at any blur.
    The result has the shape of ``image``.
    """
    r = round(max(float(radius_px), 0.0), 3)
    if r < 1e-3:
        return image
    factor = 1
    while r / factor > DIRECT_MAX_RADIUS:
        factor *= 2
    if factor == 1:
        return cv2.filter2D(image, -1, psf_kernel(r), borderType=cv2.BORDER_REFLECT)
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(w // factor, 1), max(h // factor, 1)), interpolation=cv2.INTER_AREA)
    small = cv2.filter2D(small, -1, psf_kernel(round(r / factor, 3)), borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def graded_blur(image: np.ndarray, radii_px: Sequence[float]) -> np.ndarray:
    """Blur whose radius changes from left to right, for a tilted sample or focal plane.

    The image is cut into ``len(radii_px)`` equal vertical bands; band k is blurred by
    ``radii_px[k]`` (with a margin, so its edges see real neighbours) and neighbouring
    bands are cross-faded linearly between their centres, so the blur varies smoothly.
    """
    n = len(radii_px)
    w = image.shape[1]
    band = w / n
    x = np.arange(w, dtype=np.float32) + 0.5
    out = np.zeros_like(image)
    for k, radius in enumerate(radii_px):
        centre = (k + 0.5) * band
        weight = np.clip(1.0 - np.abs(x - centre) / band, 0.0, 1.0)
        if k == 0:
            weight[x < centre] = 1.0
        if k == n - 1:
            weight[x > centre] = 1.0
        x0, x1 = int(np.flatnonzero(weight)[0]), int(np.flatnonzero(weight)[-1]) + 1
        margin = int(np.ceil(radius)) + 2
        lo, hi = max(x0 - margin, 0), min(x1 + margin, w)
        blurred = defocus_blur(image[:, lo:hi], radius)[:, x0 - lo : x1 - lo]
        shape = (1, -1) + (1,) * (image.ndim - 2)
        out[:, x0:x1] += blurred * weight[x0:x1].reshape(shape)
    return out
