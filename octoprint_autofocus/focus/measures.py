"""Focus measures: a 2-D gray ROI in, one float out, higher is sharper.

Every measure has the signature ``measure(gray: (M, N) ndarray) -> float``: ``gray`` is
the already-cropped ROI (``uint8`` for the fast integer paths; any other real dtype is
converted to ``float32``), and the result is finite. A measure raises
:class:`~.errors.BadImageError` for an array that is not 2-D or is empty. For ``spot``
the ROI should hold point-like targets (stars, specks, pinholes) on a dark ground. Values are
per-pixel means, so they do not grow with the ROI size, but they are only comparable
within one sweep: same ROI, same exposure, same ``decode_scale``. :data:`MEASURES` maps
the public metric names to the functions.

The 8-bit paths stay in integers until the final sum: gradients go to ``CV_16S`` (a 3x3
Sobel of ``uint8`` is at most 1020 in magnitude, the 4-neighbour Laplacian at most 1020,
so nothing overflows) and sums of squares come from ``cv2.norm(..., NORM_L2SQR)``, which
accumulates exactly without a float64 copy of the image. OpenCV's thread count is left
alone: on these small, memory-bound passes one or two threads measured the same.
"""

from typing import Callable, Dict, Iterator, Optional, Tuple

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
"""A pixel belongs to a spot where its 3x3 neighbourhood stands this many noise sigmas
above the background."""

SPOT_MIN_SNR = 6.0
"""A spot counts only if its flux is this many noise sigmas of its own area: noise specks
that pass the threshold have an SNR of about 1 to 3."""

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
    """Inverse half-flux radius of the bright spots on a dark background.

    Returns
    -------
    float
        ``1 / HFR`` in 1/pixels, HFR being the radius around a spot's flux centroid that
        holds half of its flux, averaged over the spots weighted by their flux; in
        ``(0, 2.45]``. 0 when nothing stands out of the background.

    Notes
    -----
    Edge measures fail on point-like targets (a star field, a speck, a pinhole): most of
    the ROI is background, and a defocused spot spreads into a disc whose rim still has
    edges. The half-flux radius instead grows steadily with defocus. The background is
    the median and the noise the larger of the MAD and the upper-quartile spread (the
    second still sees noise on a background clipped at black), both robust to spots
    covering under a quarter of the ROI. Spots are found on the 3x3 box sum, whose noise
    is three times lower relative to the signal, so a faint defocused disc stays one
    spot instead of breaking up; spots with an SNR under ``SPOT_MIN_SNR`` are dropped,
    so a ROI of pure noise scores 0 instead of looking like tiny sharp specks. Each pixel
    counts with its own area (a spot inside one pixel has HFR ~0.41), so the score stays
    finite. Exposure gain and offset do not change it, as long as spots neither saturate
    (a flat top reads as a larger spot) nor sink into the noise. Far from focus, faint
    spots vanish before bright ones, so the score is the brighter spots' there.

    References
    ----------
    .. [1] L. Weber, S. Brady, "Fast auto-focus method and software for CCD-based
       telescopes", Minor Planet Amateur/Professional Workshop, 2001 (the half-flux
       diameter behind FocusMax and later astronomy focusers).
    """
    gray = _checked(gray)
    spots = _spot_pixels(gray)
    if spots is None:
        return 0.0
    labels, xs, ys, flux = spots
    totals = np.bincount(labels, weights=flux)
    cx = np.bincount(labels, weights=flux * xs)[labels] / totals[labels]
    cy = np.bincount(labels, weights=flux * ys)[labels] / totals[labels]
    radius = np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2 + _PIXEL_R2)
    hfr = _half_flux_radii(labels, radius, flux, totals)
    return float(totals.sum() / np.dot(totals, hfr))


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


def _spot_pixels(
    gray: np.ndarray,
) -> Optional[Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Label the significant spots of ``gray``; None if there are none.

    Returns ``(labels, xs, ys, flux)`` over the spots' pixels: label 0..k-1, integer
    coordinates and background-subtracted flux (clipped at 0), all 1-D.
    """
    depth = cv2.CV_16U if gray.dtype == np.uint8 else cv2.CV_32F  # 9 * 255 fits 16 bits
    box = cv2.boxFilter(gray, depth, (3, 3), normalize=False, borderType=cv2.BORDER_REPLICATE)
    background, sigma = _background_and_noise(box)
    mask = (box > background + SPOT_THRESHOLD_SIGMAS * sigma).astype(np.uint8)
    count, labels = cv2.connectedComponents(mask, connectivity=8)
    if count < 2:
        return None
    xs, ys = cv2.findNonZero(mask).reshape(-1, 2).T  # several times faster than np.nonzero
    labels = labels[ys, xs] - 1
    flux = np.maximum(gray[ys, xs] - background / 9.0, 0.0)
    pixel_sigma = sigma / 3.0  # a 3x3 box sum of white noise has 3 times one pixel's noise
    noise = pixel_sigma * np.sqrt(np.bincount(labels, minlength=count - 1))
    signal = np.bincount(labels, weights=flux, minlength=count - 1)
    significant = signal >= SPOT_MIN_SNR * noise + 1e-9  # noiseless: any flux at all
    if not significant.any():
        return None
    keep = significant[labels]
    renumber = np.cumsum(significant) - 1
    return renumber[labels[keep]], xs[keep], ys[keep], flux[keep]


def _background_and_noise(box: np.ndarray) -> Tuple[float, float]:
    """Median and noise sigma of a 3x3 box sum (the ``uint16`` one through its histogram).

    The noise is the larger of the MAD estimate and the upper-quartile spread: the second
    keeps the estimate alive when the background is clipped at black (more than half the
    pixels 0, so the MAD is 0) while noise still shows above it.
    """
    if box.dtype == np.uint16:
        top = 9 * 256  # a box sum of nine uint8 pixels stays below this
        counts = cv2.calcHist([box], [0], None, [top], [0, top]).ravel()
        cumulative = np.cumsum(counts)
        half = 0.5 * cumulative[-1]
        median = int(np.searchsorted(cumulative, half))
        q75 = int(np.searchsorted(cumulative, 1.5 * half))
        deviations = np.abs(np.arange(counts.size) - median)
        mad = int(np.searchsorted(np.cumsum(np.bincount(deviations, weights=counts)), half))
    else:
        median, q75 = (float(v) for v in np.percentile(box, [50, 75]))
        mad = float(np.median(np.abs(box - median)))
    return float(median), max(1.4826 * mad, (q75 - median) / 0.6745)


def _half_flux_radii(
    labels: np.ndarray, radius: np.ndarray, flux: np.ndarray, totals: np.ndarray
) -> np.ndarray:
    """Per label, the radius within which half its flux lies, interpolated between pixels."""
    order = np.argsort(labels * (radius.max() + 1.0) + radius)  # by label, then radius
    radius, cumulative = radius[order], np.cumsum(flux[order])
    before = np.concatenate(([0.0], np.cumsum(totals)[:-1]))  # flux of the labels before
    first = np.concatenate(([0], np.cumsum(np.bincount(labels, minlength=totals.size))[:-1]))
    target = before + 0.5 * totals
    i = np.minimum(np.searchsorted(cumulative, target), radius.size - 1)
    inside = i > first  # the half-flux point lies past the label's first pixel
    previous = np.where(inside, i - 1, i)
    low_cum = np.where(inside, cumulative[previous], before)
    step = cumulative[i] - low_cum
    fraction = np.where(step > 0, (target - low_cum) / np.where(step > 0, step, 1.0), 1.0)
    return radius[previous] + fraction * (radius[i] - radius[previous])
