"""Focus measures: a 2-D gray ROI in, one float out, higher is sharper.

Every measure has the signature ``measure(gray: (M, N) ndarray) -> float``: ``gray`` is
the already-cropped ROI (``uint8`` for the fast integer paths; any other real dtype is
converted to ``float32``), and the result is finite. A measure raises
:class:`~.errors.BadImageError` for an array that is not 2-D or is empty. For ``spot``
the ROI should frame one point-like target (a star, a speck, a pinhole). Values are
per-pixel means, so they do not grow with the ROI size, but they are only comparable
within one sweep: same ROI, same exposure, same ``decode_scale``. :data:`MEASURES` maps
the public metric names to the functions.

The 8-bit paths stay in integers until the final sum: gradients go to ``CV_16S`` (a 3x3
Sobel of ``uint8`` is at most 1020 in magnitude, the 4-neighbour Laplacian at most 1020,
so nothing overflows) and sums of squares come from ``cv2.norm(..., NORM_L2SQR)``, which
accumulates exactly without a float64 copy of the image. OpenCV's thread count is left
alone: on these small, memory-bound passes one or two threads measured the same.
"""

from typing import Callable, Dict, Iterator, Tuple

import cv2
import numpy as np

from .errors import BadImageError

__all__ = [
    "MEASURES",
    "tenengrad",
    "laplacian",
    "normalized_variance",
    "brenner",
    "vollath_f4",
    "spot",
]

SPOT_THRESHOLD_SIGMAS = 3.0
"""The spot measure ignores flux less than this many noise sigmas above the background."""

_PIXEL_R2 = 1.0 / 6.0  # mean squared distance from a unit pixel's centre to its area
_STRIP_PIXELS = 1 << 17  # pixels per band for the 3x3 filters (see _strips)


def tenengrad(gray: np.ndarray) -> float:
    """Mean squared Sobel gradient magnitude (Tenengrad).

    Returns
    -------
    float
        ``mean(Gx**2 + Gy**2)`` with 3x3 Sobel kernels; >= 0, higher is sharper.

    Notes
    -----
    The default and the most robust all-rounder: it weights strong edges heavily, so it
    peaks sharply on printed text, PCB traces or a nozzle's edge. The 3x3 Sobel smooths
    across the edge direction, so it is less noise-sensitive than the Laplacian; sensor
    noise of sigma adds a constant floor (24 sigma^2) that flattens the curve far from focus.
    It scales with the square of the exposure gain (double the brightness, four times the
    score); a pure brightness offset does not change it.

    References
    ----------
    .. [1] J. M. Tenenbaum, "Accommodation in computer vision", Stanford, 1970.
    """
    gray = _checked(gray)
    energy = 0.0
    for block, keep in _strips(gray):
        if gray.dtype == np.uint8:
            gx, gy = cv2.spatialGradient(block)  # both 3x3 Sobels in one pass, CV_16S
        else:
            gx = cv2.Sobel(block, cv2.CV_32F, 1, 0, ksize=3)
            gy = cv2.Sobel(block, cv2.CV_32F, 0, 1, ksize=3)
        energy += cv2.norm(gx[keep], cv2.NORM_L2SQR) + cv2.norm(gy[keep], cv2.NORM_L2SQR)
    return energy / gray.size


def laplacian(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian.

    Returns
    -------
    float
        ``var(L)`` with ``L = d2I/dx2 + d2I/dy2`` (kernel ``[[0,1,0],[1,-4,1],[0,1,0]]``); >= 0.

    Notes
    -----
    A second derivative responds to the finest detail, so the curve is narrow and peaks
    precisely on fine texture (paper fibres, fabric, microscope samples). For the same
    reason it is the most noise-sensitive measure here (white noise of sigma adds
    20 sigma^2): prefer ``tenengrad`` on noisy or JPEG-blocky frames. It scales with the
    square of the exposure gain; an offset does not change it.

    References
    ----------
    .. [1] J. L. Pech-Pacheco et al., "Diatom autofocusing in brightfield microscopy: a
       comparative study", ICPR 2000.
    """
    gray = _checked(gray)
    depth = cv2.CV_16S if gray.dtype == np.uint8 else cv2.CV_32F
    total, squares = 0.0, 0.0
    for block, keep in _strips(gray):
        lap = cv2.Laplacian(block, depth, ksize=1)[keep]
        # E[L^2] - E[L]^2: meanStdDev is several times slower than these two on CV_16S.
        total += cv2.sumElems(lap)[0]
        squares += cv2.norm(lap, cv2.NORM_L2SQR)
    mean = total / gray.size
    return max(squares / gray.size - mean * mean, 0.0)


def normalized_variance(gray: np.ndarray) -> float:
    """Intensity variance divided by the squared mean (squared coefficient of variation).

    Returns
    -------
    float
        ``var(I) / mean(I)**2``; 0 for a black or flat ROI.

    Notes
    -----
    Contrast, not edges: defocus lowers it because blur averages bright and dark areas
    together. Groen's original divides by the mean once, which leaves the score
    proportional to the gain; dividing by the squared mean makes it exposure-invariant, so
    this is the measure to use when auto-exposure or a flickering light changes the
    brightness between frames. A black-level offset does change it (the mean moves, the
    variance does not). It has no derivative, so it is the least noise-sensitive, but its
    curve is broad: good for finding the peak on coarse, large-featured targets.

    References
    ----------
    .. [1] F. C. A. Groen, I. T. Young, G. Ligthart, "A comparison of different focus
       functions for use in autofocus algorithms", Cytometry 6 (1985).
    """
    gray = _checked(gray)
    mean, std = cv2.meanStdDev(gray)
    mu = float(mean[0, 0])
    if mu <= 0.0:
        return 0.0
    return (float(std[0, 0]) / mu) ** 2


def brenner(gray: np.ndarray) -> float:
    """Mean squared difference between pixels two apart (Brenner gradient), both axes.

    Returns
    -------
    float
        Mean of ``(I[y, x+2] - I[y, x])**2`` and ``(I[y+2, x] - I[y, x])**2`` over all
        such pairs; >= 0.

    Notes
    -----
    The cheapest gradient measure (no filtering, one pass per axis). Skipping a pixel
    makes it a band-pass that ignores the highest, noisiest frequencies, so it behaves
    like ``tenengrad`` with a slightly wider peak; white noise of sigma adds 2 sigma^2.
    Brenner's original reads one axis; both
    are used here so that the score does not depend on the target's orientation. Scales
    with the square of the exposure gain; an offset does not change it.

    References
    ----------
    .. [1] J. F. Brenner et al., "An automated microscope for cytologic research",
       J. Histochem. Cytochem. 24 (1976).
    """
    gray = _checked(gray)
    energy, pairs = _difference_energy(gray, 2)
    return energy / pairs if pairs else 0.0


def vollath_f4(gray: np.ndarray) -> float:
    """Vollath's F4: autocorrelation at lag 1 minus autocorrelation at lag 2, both axes.

    Returns
    -------
    float
        ``(D2 - D1) / 2`` where ``Dk`` is the mean of ``(I[x+k] - I[x])**2`` over both
        axes; equals ``C(1) - C(2)`` for the image's autocovariance ``C``. Usually >= 0;
        slightly negative on pure noise.

    Notes
    -----
    Because the lag-1 and lag-2 correlations of uncorrelated noise are both zero, noise
    cancels out in expectation: F4 is the measure of choice for noisy, low-light frames.
    It is computed through the identity ``2ab = a**2 + b**2 - (a - b)**2``, which drops
    Vollath's boundary term, so a flat image scores 0 and the exact integer
    ``NORM_L2SQR`` path applies. Scales with the square of the exposure gain; an offset
    does not change it.

    References
    ----------
    .. [1] D. Vollath, "The influence of the scene parameters and of noise on the
       behaviour of automatic focusing algorithms", J. Microscopy 151 (1988).
    """
    gray = _checked(gray)
    d1, pairs1 = _difference_energy(gray, 1)
    d2, pairs2 = _difference_energy(gray, 2)
    if not pairs2:
        return 0.0
    return 0.5 * (d2 / pairs2 - d1 / pairs1)


def spot(gray: np.ndarray) -> float:
    """Inverse half-flux radius of a bright spot on a dark background.

    Returns
    -------
    float
        ``1 / HFR`` in 1/pixels, where HFR is the radius around the flux centroid that
        holds half of the spot's flux; in ``(0, 2.45]``. 0 when nothing stands out of the
        background.

    Notes
    -----
    Edge measures fail on a lone point: most of the ROI is background, and a defocused
    spot spreads into a disc whose rim still has edges. The half-flux radius instead
    shrinks steadily towards focus. The background level is the ROI's median and its
    noise sigma the larger of the MAD estimate and the upper-quartile spread (both robust
    to a spot covering under a quarter of the ROI; the second still sees noise on a
    background clipped at black, where the MAD is 0); flux more than
    ``SPOT_THRESHOLD_SIGMAS`` noise sigmas above the background counts, minus that
    threshold, so isolated noise pixels add almost nothing and the HFR, a median-like
    statistic, barely moves. Each pixel counts with its own area (a spot inside one
    pixel has HFR ~0.41), so the score stays finite. It does not depend on the exposure
    gain or offset, as long as the spot neither saturates nor sinks into the noise.
    The ROI should hold one spot: several spots are measured as one spread-out spot.

    References
    ----------
    .. [1] L. Weber, S. Brady, "Fast auto-focus method and software for CCD-based
       telescopes", Minor Planet Amateur/Professional Workshop, 2001 (the half-flux
       diameter behind FocusMax and later astronomy focusers).
    """
    gray = _checked(gray)
    flux = _above_background(gray)
    moments = cv2.moments(flux)
    total = moments["m00"]
    if total <= 0:
        return 0.0
    points = cv2.findNonZero(flux).reshape(-1, 2)  # (x, y) rows
    weights = flux[points[:, 1], points[:, 0]].astype(np.float64)
    dx = points[:, 0] - moments["m10"] / total
    dy = points[:, 1] - moments["m01"] / total
    return 1.0 / _half_flux_radius(np.sqrt(dx * dx + dy * dy + _PIXEL_R2), weights)


MEASURES: Dict[str, Callable[[np.ndarray], float]] = {
    "tenengrad": tenengrad,
    "laplacian": laplacian,
    "normalized_variance": normalized_variance,
    "brenner": brenner,
    "vollath_f4": vollath_f4,
    "spot": spot,
}
"""Metric name -> measure function; the names are the ``metric`` values the API accepts."""


def _checked(gray: np.ndarray) -> np.ndarray:
    """Accept a non-empty 2-D ``uint8`` or real array; return ``uint8`` or ``float32``."""
    if not isinstance(gray, np.ndarray) or gray.ndim != 2:
        shape = getattr(gray, "shape", None)
        raise BadImageError(f"a measure needs a 2-D gray array, got shape {shape}")
    if gray.size == 0:
        raise BadImageError(f"a measure needs a non-empty array, got shape {gray.shape}")
    if gray.dtype == np.uint8 or gray.dtype == np.float32:
        return gray
    if not (np.issubdtype(gray.dtype, np.integer) or np.issubdtype(gray.dtype, np.floating)):
        raise BadImageError(f"unsupported gray dtype {gray.dtype}")
    return gray.astype(np.float32)


def _strips(gray: np.ndarray) -> Iterator[Tuple[np.ndarray, slice]]:
    """Cut ``gray`` into bands of rows for a 3x3 filter: yield ``(block, keep)``.

    ``block`` is a band plus one halo row on each side that has a neighbour, and
    ``filter(block)[keep]`` equals the band's rows of ``filter(gray)`` exactly (OpenCV
    treats the block's edge as the image border only where it is one). Bands of about
    :data:`_STRIP_PIXELS` keep a filter's 16-bit outputs in the L2 cache for the sum
    that follows: on a 1280x720 frame this takes tenengrad from about 1.15x to 1.05x the
    cost of the JPEG decode.
    """
    height, width = gray.shape
    rows = max(_STRIP_PIXELS // width, 8)
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        start = max(top - 1, 0)
        yield gray[start : min(bottom + 1, height)], slice(top - start, bottom - start)


def _difference_energy(gray: np.ndarray, step: int) -> Tuple[float, int]:
    """Sum of ``(I[x+step] - I[x])**2`` along both axes and the number of pairs summed."""
    h, w = gray.shape
    energy, pairs = 0.0, 0
    if w > step:
        energy += cv2.norm(gray[:, step:], gray[:, :-step], cv2.NORM_L2SQR)
        pairs += h * (w - step)
    if h > step:
        energy += cv2.norm(gray[step:, :], gray[:-step, :], cv2.NORM_L2SQR)
        pairs += (h - step) * w
    return energy, pairs


def _above_background(gray: np.ndarray) -> np.ndarray:
    """Flux above ``background + SPOT_THRESHOLD_SIGMAS * noise``, zero elsewhere (same dtype)."""
    if gray.dtype == np.uint8:
        counts = cv2.calcHist([gray], [0], None, [256], [0, 256]).ravel()
        median, spread = _histogram_statistics(counts)
        level = int(median + SPOT_THRESHOLD_SIGMAS * spread)  # pixel values are whole numbers
        return cv2.subtract(gray, np.full_like(gray, min(level, 255)))  # saturates at 0
    median, q75 = (float(v) for v in np.percentile(gray, [50, 75]))
    mad = float(np.median(np.abs(gray - median)))
    level = median + SPOT_THRESHOLD_SIGMAS * _noise_sigma(mad, q75 - median)
    return np.maximum(gray - np.float32(level), np.float32(0))


def _histogram_statistics(counts: np.ndarray) -> Tuple[float, float]:
    """Median and noise sigma of 8-bit pixels given as a 256-bin histogram."""
    cumulative = np.cumsum(counts)
    n = cumulative[-1]
    median = int(np.searchsorted(cumulative, 0.5 * n))
    q75 = int(np.searchsorted(cumulative, 0.75 * n))
    deviation_counts = np.bincount(np.abs(np.arange(256) - median), weights=counts)
    mad = int(np.searchsorted(np.cumsum(deviation_counts), 0.5 * n))
    return float(median), _noise_sigma(mad, q75 - median)


def _noise_sigma(mad: float, upper_quartile_spread: float) -> float:
    """Gaussian-equivalent noise sigma from the MAD and from the upper quartile.

    The upper quartile keeps the estimate alive when the background is clipped at zero
    (more than half the pixels black, so the MAD is 0) while noise still shows above it.
    """
    return max(1.4826 * mad, upper_quartile_spread / 0.6745)


def _half_flux_radius(radius: np.ndarray, weights: np.ndarray) -> float:
    """Radius within which half of ``weights`` lies, interpolated between sorted radii."""
    order = np.argsort(radius)
    radius, cumulative = radius[order], np.cumsum(weights[order])
    half = 0.5 * cumulative[-1]
    i = int(np.searchsorted(cumulative, half))
    if i == 0:
        return float(radius[0])
    fraction = (half - cumulative[i - 1]) / (cumulative[i] - cumulative[i - 1])
    return float(radius[i - 1] + fraction * (radius[i] - radius[i - 1]))
