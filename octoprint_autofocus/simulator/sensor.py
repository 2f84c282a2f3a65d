"""The camera sensor: exposure flicker, read and shot noise, quantisation, JPEG and colour."""

from functools import lru_cache
from typing import Optional, Tuple, Union

import cv2
import numpy as np

__all__ = ["expose", "encode"]

_NOISE_SEED = 0x5E50


@lru_cache(maxsize=8)
def _noise_bank(n: int) -> np.ndarray:
    """2n standard-normal float32 values, drawn once per frame size (fixed seed)."""
    return np.random.default_rng(_NOISE_SEED).standard_normal(2 * n, dtype=np.float32)


def _unit_noise(shape: Tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """A standard-normal field of ``shape``: a window of the bank at an offset from ``rng``.

    Drawing fresh normals for a 640x480 frame costs more than the rest of a frame; a
    random window into a bank twice the frame size (with a random sign) is as good for
    focus work and deterministic given ``rng``.
    """
    n = int(np.prod(shape))
    start = int(rng.integers(0, n))
    window = _noise_bank(n)[start : start + n].reshape(shape)
    return window if rng.random() < 0.5 else -window


@lru_cache(maxsize=8)
def _hot_pixel_mask(shape: Tuple[int, ...], fraction: float) -> np.ndarray:
    """Where a sensor of ``shape`` has stuck-bright pixels: the same for every frame."""
    return np.random.default_rng(_NOISE_SEED + 1).random(shape, dtype=np.float32) < fraction


def expose(
    irradiance: np.ndarray,
    rng: np.random.Generator,
    gain: float = 1.0,
    flicker: float = 0.0,
    noise: float = 0.0,
    shot_noise: float = 0.0,
    hot_pixels: float = 0.0,
) -> np.ndarray:
    """Turn a float32 image (0..255 scale) into a uint8 exposure.

    ``gain`` scales the brightness, times ``1 + flicker * N(0, 1)`` drawn once per frame
    (exposure flicker). ``noise`` is the Gaussian read-noise sigma as a fraction of full
    scale; ``shot_noise`` is the photon-noise sigma at full scale, falling with the square
    root of the signal. A fraction ``hot_pixels`` of the pixels is stuck at full scale,
    in focus or not (fine detail that never blurs). The result is rounded and clipped to
    0..255.
    """
    frame_gain = gain * (1.0 + flicker * float(rng.standard_normal())) if flicker else gain
    signal = irradiance * np.float32(frame_gain)
    sigma = np.float32(255.0 * noise)
    if shot_noise > 0:
        photons = np.sqrt(np.clip(signal, 0, None) * np.float32(1.0 / 255.0))
        sigma = sigma + np.float32(255.0 * shot_noise) * photons
    if np.any(sigma):
        signal = signal + _unit_noise(signal.shape, rng) * sigma
    exposure = np.clip(signal + 0.5, 0, 255).astype(np.uint8)
    if hot_pixels > 0:
        exposure[_hot_pixel_mask(exposure.shape, float(hot_pixels))] = 255
    return exposure


def encode(
    gray: np.ndarray, jpeg_quality: Optional[int] = None, colour: bool = False
) -> Union[np.ndarray, bytes]:
    """Deliver a uint8 gray frame as the camera would: gray or BGR array, or JPEG bytes.

    ``colour`` gives a 3-channel BGR frame with a slight warm tint (a cheap USB
    microscope's LEDs); ``jpeg_quality`` (1-100) returns the JPEG bytes instead of the array.
    """
    frame = cv2.merge([cv2.convertScaleAbs(gray, alpha=a) for a in (0.92, 1.0, 1.04)]) if colour else gray
    if jpeg_quality is None:
        return frame
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    if not ok:
        raise RuntimeError("OpenCV could not encode the simulated frame as JPEG")
    return buf.tobytes()
