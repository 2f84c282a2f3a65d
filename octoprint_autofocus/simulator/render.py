"""One simulated frame: a scene seen through defocused optics by a noisy sensor."""

from typing import Optional

import numpy as np

from ..focus.devices import Frame
from .optics import blur_radius_px, defocus_blur, graded_blur
from .sensor import encode, expose

__all__ = ["render"]

TILT_BANDS = 8
"""How many vertical bands approximate a tilted sample's smoothly varying blur."""


def render(
    scene_image: np.ndarray,
    defocus_mm: float,
    dof: float,
    rng: np.random.Generator,
    *,
    noise: float = 0.01,
    shot_noise: float = 0.0,
    hot_pixels: float = 0.0,
    gain: float = 1.0,
    flicker: float = 0.0,
    base_blur: float = 0.5,
    asymmetry: float = 0.0,
    light_distance: Optional[float] = None,
    tilt: float = 0.0,
    jpeg_quality: Optional[int] = None,
    colour: bool = False,
) -> Frame:
    """Render the frame a camera sees of ``scene_image`` at ``defocus_mm`` from focus.

    Parameters
    ----------
    scene_image : (H, W) uint8 or float32 ndarray
        The in-focus scene (0..255), e.g. ``SCENES["pcb"](seed, (640, 480))``.
    defocus_mm : float
        ``z - focal_z`` in mm; the sign matters only when ``asymmetry`` is set.
    dof : float
        Depth of field (mm): the blur disk reaches ~1 px radius at ``|defocus| = dof / 2``.
    rng : numpy.random.Generator
        Source of the per-frame noise and flicker; the same generator state gives the same
        frame.
    noise, shot_noise : float
        Read-noise sigma and photon-noise sigma at full scale, as fractions of full scale.
    hot_pixels : float
        Fraction of pixels stuck at full scale (the same ones in every frame).
    gain, flicker : float
        Brightness factor, and its per-frame relative jitter (sigma).
    base_blur : float
        The lens's own blur radius (px) in focus; defocus blur adds to it in quadrature.
    asymmetry : float
        Blur is ``1 + asymmetry`` times larger above focus than the symmetric model, and
        ``1 - asymmetry`` times below.
    light_distance : float or None
        Distance (mm) from a head-mounted light to the sample in focus: brightness falls as
        ``(d / (d + defocus))**2`` when the head rises. None keeps it constant.
    tilt : float
        The sample is tilted: defocus grows by ``tilt`` mm from the left edge to the right
        edge (centred on ``defocus_mm``), so different regions focus at different Z.
    jpeg_quality : int or None
        When set, the frame is returned as JPEG bytes of that quality.
    colour : bool
        Return a BGR frame instead of gray.

    Returns
    -------
    ndarray or bytes
        uint8 (H, W) gray or (H, W, 3) BGR, or JPEG bytes when ``jpeg_quality`` is set.
        A 640x480 frame takes a few milliseconds at any defocus.
    """
    irradiance = np.asarray(scene_image, dtype=np.float32)
    if tilt:
        offsets = (np.arange(TILT_BANDS) + 0.5) / TILT_BANDS - 0.5
        radii = [blur_radius_px(defocus_mm + tilt * o, dof, base_blur, asymmetry) for o in offsets]
        blurred = graded_blur(irradiance, radii)
    else:
        blurred = defocus_blur(irradiance, blur_radius_px(defocus_mm, dof, base_blur, asymmetry))
    if light_distance is not None:
        gain = gain * (light_distance / max(light_distance + defocus_mm, 1e-3)) ** 2
    sensor = dict(flicker=flicker, noise=noise, shot_noise=shot_noise, hot_pixels=hot_pixels)
    gray = expose(blurred, rng, gain=gain, **sensor)
    return encode(gray, jpeg_quality=jpeg_quality, colour=colour)
