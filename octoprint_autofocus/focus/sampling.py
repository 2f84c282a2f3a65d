"""One focus sample: a frame (or several) at one Z, scored at several resolutions.

Each frame is decoded once to a gray ROI and scored at full resolution and on a small
pyramid of halvings (down to 1/8, keeping at least 32 px on the short side). Defocus
blur of ``r`` pixels is only ``r / 8`` pixels at 1/8 scale, and averaging eight by eight
pixels lowers the noise floor: the coarse scores still show a slope tens of depths of
field from focus, where the full-resolution score has long sunk into the noise. The
search steers on all scales and judges the final peak at full resolution.

Brightness: measures of gradient energy grow with the square of the exposure, so a
flickering light, a drifting lamp or auto-exposure would draw false bumps. But only the
image's own detail scales so; the sensor noise's share of the score does not. So for
those metrics the part of each score above the noise's share is multiplied by
``(reference mean / frame mean)^2`` (the reference being the first frame's mean
brightness, or a later frame's ``MAX_GAIN`` times brighter), and the noise's share is left
alone. That share is the measure's response to white noise times the sensor's noise
variance, estimated on each level with Immerkaer's operator (blind to planes and ramps) from
the median of its absolute response (blind to the few pixels on edges); fine texture can
only inflate that estimate, so the lowest one of the run is used, and the share is never
more than the lowest raw score seen so far. So frames near focus (all detail) are corrected
whole, frames far from it (all noise) hardly at all, wherever the run samples. Values stay
in the units of :func:`~.scoring.score`. A frame ``MAX_GAIN`` times darker than the
reference is no exposure change but a dropped frame (:meth:`FrameScorer.dark`: the run
takes another in its place).

Stuck pixels: a hot pixel of the sensor reads full scale in every frame whatever the lens
shows. Its edges add the same energy to every score, a floor that flattens the curve, and
the brightness correction would scale that floor with the frames' darkness (a lamp that
dims away from focus then makes the far frames look sharpest). So in 8-bit frames a pixel
at full scale that stands ``STUCK_CONTRAST`` or more above its 3x3 median, in every frame
of the run so far, is replaced by that median before scoring (one that stands out less
adds little energy, and a bright scene's clipped noise is left as it is). A bright speck
of the scene (a glint, a star) is at full scale only near its own focus, so after the
first frames of a run only the sensor's own defects are left; once no pixel qualifies the
check stops.

Texture: whether the ROI has anything to focus on is judged on the coarsest level, about
its best-fitting plane (a light sloping across a blank field is no detail) and above twice
its noise variance from the same operator (the noise of a dim blank field is none either).
"""

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from .frames import FrameLike, gray_roi
from .scoring import measure_for

__all__ = ["Sample", "FrameScorer"]

GAIN_SQUARED_METRICS = frozenset({"tenengrad", "laplacian", "brenner", "vollath_f4"})
"""Metrics that scale with the square of the exposure gain (see :mod:`.measures`)."""

MIN_LEVEL_SIDE = 32
"""A pyramid level is made only while the previous one has twice this many pixels per side."""
MAX_LEVELS = 4
"""Full resolution, 1/2, 1/4 and 1/8."""
FULL_SCALE = 255
"""The value a stuck pixel reads in an 8-bit frame."""
STUCK_CONTRAST = 64
"""A full-scale pixel counts as stuck only where its 3x3 median is this far below it."""
MIN_REFERENCE_MEAN = 1e-6
"""The reference brightness of a black first frame (so later frames are not divided by 0)."""
MAX_GAIN = 8.0
"""Brightness corrects frames down to this many times darker than the reference; a frame
this many times brighter becomes the reference (see :meth:`FrameScorer.score_frame`)."""
BLACK_LEVEL = 1.0
"""An 8-bit frame whose mean grey level is below this is black (see :meth:`FrameScorer.black`)."""
NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
"""Immerkaer's noise operator: zero on planes and straight ramps, white noise of SD 1 comes
out with SD 6 (the kernel's L2 norm)."""
NOISE_KERNEL_NORM = 6.0
MAD_PER_SD = 0.6745
"""median |x| of a zero-mean normal variable, in units of its SD."""
TEXTURE_NOISE_MARGIN = 2.0
"""How many times its estimated noise variance a texture's variance must exceed to count:
on a small coarse level the median of the (integer) noise responses can read as little as
two thirds of the noise's variance."""
UNIT_NOISE_SIDE = 256
UNIT_NOISE_SD = 10.0
"""The white-noise frame (this side, this SD) on which a measure's noise response is taken."""


def noise_variance(gray: np.ndarray) -> float:
    """The sensor-noise variance of a gray image (grey levels squared), from the median
    absolute response of :data:`NOISE_KERNEL` inside its border."""
    if min(gray.shape) < 3:
        return 0.0
    response = cv2.filter2D(gray.astype(np.float32), -1, NOISE_KERNEL)[1:-1, 1:-1]
    sigma = float(np.median(np.abs(response))) / MAD_PER_SD / NOISE_KERNEL_NORM
    return sigma * sigma


@lru_cache(maxsize=None)
def unit_noise_energy(metric: str) -> float:
    """A measure's score of white noise of variance 1 (it is quadratic in the noise)."""
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, UNIT_NOISE_SD, (UNIT_NOISE_SIDE, UNIT_NOISE_SIDE)).astype(np.float32)
    return max(float(measure_for(metric)(noise)), 0.0) / UNIT_NOISE_SD ** 2


@lru_cache(maxsize=8)
def _plane_fit(shape: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """For images of ``shape``: the design matrix of a plane and its pseudo-inverse."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w]
    design = np.column_stack([x.ravel(), y.ravel(), np.ones(h * w)]).astype(np.float64)
    return design, np.linalg.pinv(design)


def relative_texture(image: np.ndarray, mean: float) -> float:
    """The relative contrast (std / ``mean``) of ``image`` about its best-fitting plane, above
    its sensor noise (:func:`noise_variance`): a smooth illumination gradient across a blank
    field is no texture, nor is the noise of a dim one."""
    if mean <= 0:
        return 0.0
    design, inverse = _plane_fit(image.shape)
    values = image.astype(np.float64).ravel()
    residual = values - design @ (inverse @ values)
    variance = float(np.var(residual)) - TEXTURE_NOISE_MARGIN * noise_variance(image)
    return math.sqrt(max(variance, 0.0)) / mean


@dataclass(frozen=True)
class Sample:
    """Scores at one Z: ``levels[0]`` at full resolution, then each halving.

    ``texture`` is the relative contrast (std / mean) of the coarsest level about its
    best-fitting plane and above its noise (:func:`relative_texture`): a ROI with nothing in
    it has almost none even in focus, however its lighting slopes and however dim and noisy
    it is.
    """

    z: float
    levels: Tuple[float, ...]
    texture: float
    phase: str

    @property
    def score(self) -> float:
        """The full-resolution score: the value the run reports and judges focus by."""
        return self.levels[0]


class FrameScorer:
    """Turns frames into per-level scores for one run (one ROI, metric and decode scale)."""

    def __init__(self, metric: str, roi: Optional[Sequence[float]], decode_scale: int) -> None:
        self.measure = measure_for(metric)
        self.normalise = metric in GAIN_SQUARED_METRICS
        self.noise_energy = unit_noise_energy(metric) if self.normalise else 0.0
        self.roi = roi
        self.decode_scale = decode_scale
        self.reference_mean: Optional[float] = None
        self.floors: Optional[np.ndarray] = None
        self.noise_variances: Optional[np.ndarray] = None
        self.stuck: Optional[np.ndarray] = None
        self.decoded: Optional[Tuple[FrameLike, np.ndarray]] = None

    def gray(self, frame: FrameLike) -> np.ndarray:
        """The ROI of ``frame`` in gray (:func:`.frames.gray_roi`); the last frame's is kept,
        so a frame looked at by :meth:`dark` is decoded once."""
        if self.decoded is None or self.decoded[0] is not frame:
            self.decoded = (frame, gray_roi(frame, self.roi, self.decode_scale))
        return self.decoded[1]

    def black(self, frame: FrameLike) -> bool:
        """Whether ``frame`` is black: an 8-bit frame whose mean grey level is below
        ``BLACK_LEVEL`` (an empty buffer, a covered lens, the light off)."""
        gray = self.gray(frame)
        return gray.dtype == np.uint8 and float(cv2.mean(gray)[0]) < BLACK_LEVEL

    def dark(self, frame: FrameLike) -> bool:
        """Whether ``frame`` is a dropout rather than an image: black before any frame set
        the reference brightness, else ``MAX_GAIN`` times darker than that reference. (After
        a black reference a black frame is what the camera sends: taking it again helps
        nothing.)"""
        if self.reference_mean is None:
            return self.black(frame)
        return MAX_GAIN * float(cv2.mean(self.gray(frame))[0]) < self.reference_mean

    def without_stuck_pixels(self, gray: np.ndarray) -> np.ndarray:
        """``gray`` with the pixels stuck at full scale in every frame so far (this one
        included) replaced by their 3x3 median; ``gray`` itself when there are none."""
        if gray.dtype != np.uint8 or (self.stuck is not None and not self.stuck.any()):
            return gray
        median = cv2.medianBlur(gray, 3)
        isolated = (gray == FULL_SCALE) & (median <= FULL_SCALE - STUCK_CONTRAST)
        self.stuck = isolated if self.stuck is None else isolated & self.stuck
        if not self.stuck.any():
            return gray
        cleaned = gray.copy()
        cleaned[self.stuck] = median[self.stuck]
        return cleaned

    def score_frame(self, frame: FrameLike) -> Tuple[np.ndarray, float]:
        """Brightness-corrected per-level scores of one frame, and its texture statistic.

        The first frame sets the reference brightness, and so does a frame ``MAX_GAIN`` times
        brighter than it (a black first frame, a lamp switched on during the run: the
        estimates of the noise start again with it). A frame ``MAX_GAIN`` times darker than
        the reference (a dropped, black frame) is scored as it is and changes no estimate:
        no exposure changes so much, and the square of that ratio would make its noise a
        peak.
        """
        gray = self.without_stuck_pixels(self.gray(frame))
        mean = float(cv2.mean(gray)[0])
        if self.reference_mean is None or mean > MAX_GAIN * self.reference_mean:
            self.reference_mean = max(mean, MIN_REFERENCE_MEAN)
            self.floors = self.noise_variances = None
        levels = [gray]
        while len(levels) < MAX_LEVELS and min(levels[-1].shape) >= 2 * MIN_LEVEL_SIDE:
            h, w = levels[-1].shape
            levels.append(cv2.resize(levels[-1], (w // 2, h // 2), interpolation=cv2.INTER_AREA))
        raw = np.array([float(self.measure(level)) for level in levels])
        texture = relative_texture(levels[-1], mean)
        if MAX_GAIN * mean < self.reference_mean:
            return raw, texture
        self.floors = raw if self.floors is None else np.minimum(self.floors, raw)
        factor = (self.reference_mean / mean) ** 2 if self.normalise else 1.0
        if factor == 1.0:
            return raw, texture
        variances = np.array([noise_variance(level) for level in levels])
        if self.noise_variances is not None:
            variances = np.minimum(variances, self.noise_variances)
        self.noise_variances = variances
        noise = np.minimum(self.noise_energy * variances, self.floors)
        return noise + (raw - noise) * factor, texture

    def noise_floor(self) -> float:
        """The full-resolution score of the sensor noise alone, as estimated so far: the
        floor a focus curve sinks to far from focus (0 for metrics without one, or before
        any frame)."""
        if self.floors is None:
            return 0.0
        if self.noise_variances is None:
            return float(self.floors[0]) if self.noise_energy else 0.0
        return float(min(self.noise_energy * self.noise_variances[0], self.floors[0]))

    def sample(self, z: float, frames: Sequence[FrameLike], phase: str) -> Sample:
        """Average the scores of ``frames`` taken at ``z`` into one :class:`Sample`."""
        scored = [self.score_frame(frame) for frame in frames]
        levels = np.mean([s for s, _ in scored], axis=0)
        texture = float(np.mean([t for _, t in scored]))
        return Sample(z, tuple(float(v) for v in levels), texture, phase)
