"""Score noise: how much two frames of one scene differ, and when a difference is real.

A focus score carries noise (sensor noise, JPEG, flicker): the best sample of a run won its
place partly by luck. Two sources tell how large that noise is:

* **for free**: how far the points of the curve stray from the straight line through their
  neighbours (a straight stretch, flat or sloping, strays by noise alone; only the bends
  of the curve add), an upper bound of the noise SD;
* **by repeating frames** at one Z: the stage did not move, so only the camera differs.
  Pooled over every Z sampled more than once this gives an SD with known degrees of
  freedom, and a one-sided Student's t-test at ``NOISE_LEVEL`` tells a real difference
  from noise.
"""

import math
from typing import Dict, List, Sequence, Tuple

import numpy as np

__all__ = [
    "NOISE_LEVEL",
    "t_quantile",
    "neighbour_noise",
    "z_means",
    "interpolation_noise",
    "relative_noise",
    "log_scores",
    "repeat_noise",
    "median_standard_error",
    "mean_standard_error",
    "significant",
]

NOISE_LEVEL = 0.005
"""The significance level of every one-sided t-test of the search."""

T_SMALL = (63.657, 9.925, 5.841, 4.604, 4.032)
"""Student's t quantiles at 1 - ``NOISE_LEVEL`` for 1 to 5 degrees of freedom."""

Z_LEVEL = 2.5758
"""The normal quantile at 1 - ``NOISE_LEVEL``."""

MAD_OF_NORMAL = 0.6745
"""median |x| of a zero-mean normal variable, in units of its SD."""
MAD_OF_DIFFERENCE = MAD_OF_NORMAL * math.sqrt(2.0)
"""median |a - b| of two independent normal draws, in units of their SD."""

LOG_FLOOR_SHARE = 1e-6
"""Scores are clipped to this share of the largest before taking logs (a black frame scores 0)."""

MEDIAN_VARIANCE_FACTOR = math.pi / 2.0
"""The median of n normal draws has this many times the variance of their mean (large n)."""


def t_quantile(freedom: int) -> float:
    """Student's t quantile at 1 - ``NOISE_LEVEL`` (a table, then its Cornish-Fisher series)."""
    if freedom <= len(T_SMALL):
        return T_SMALL[max(freedom, 1) - 1]
    z, v = Z_LEVEL, float(freedom)
    return z + (z ** 3 + z) / (4 * v) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * v * v)


def neighbour_noise(scores: Sequence[float]) -> float:
    """A bound of the noise SD of ``scores`` (ordered by Z): their neighbours' median difference.

    On a flat stretch the differences are noise alone; a slope only adds to them.
    Infinite for fewer than two scores.
    """
    if len(scores) < 2:
        return math.inf
    return float(np.median(np.abs(np.diff(np.asarray(scores, dtype=float))))) / MAD_OF_DIFFERENCE


def z_means(zs: Sequence[float], values: Sequence[float]) -> Tuple[np.ndarray, np.ndarray]:
    """The distinct Zs of ``zs`` (ascending) and the mean of the ``values`` taken at each."""
    z, inverse = np.unique(np.asarray(zs, dtype=float), return_inverse=True)
    return z, np.bincount(inverse, weights=np.asarray(values, dtype=float)) / np.bincount(inverse)


def interpolation_noise(zs: Sequence[float], values: Sequence[float]) -> float:
    """A bound of the noise SD of ``values`` at ``zs`` (ascending): the median residual of each
    inner point from the straight line through its neighbours, scaled to unit noise.

    A straight stretch of the curve leaves noise alone; only its bends add. Values at one Z
    are averaged first. Fewer than three Zs: :func:`neighbour_noise`.
    """
    z, v = z_means(zs, values)
    if len(z) < 3:
        return neighbour_noise(v)
    left, right = z[1:-1] - z[:-2], z[2:] - z[1:-1]
    w_left, w_right = right / (left + right), left / (left + right)
    residual = v[1:-1] - (w_left * v[:-2] + w_right * v[2:])
    scale = np.sqrt(1.0 + w_left ** 2 + w_right ** 2)
    return float(np.median(np.abs(residual) / scale)) / MAD_OF_NORMAL


def log_scores(scores: Sequence[float]) -> np.ndarray:
    """``log(scores)``, zeros and negatives clipped to ``LOG_FLOOR_SHARE`` of the largest."""
    values = np.asarray(scores, dtype=float)
    return np.log(np.maximum(values, LOG_FLOOR_SHARE * max(float(values.max(initial=0.0)), 1e-300)))


def relative_noise(zs: Sequence[float], scores: Sequence[float]) -> float:
    """A bound of the *relative* noise SD of ``scores`` at ``zs`` (ascending):
    :func:`interpolation_noise` of their logs.

    Score noise grows with the score (flicker and gain scale the whole image, shot noise
    grows with the light), so a bound in absolute units taken from a curve's quiet tails
    is too small at its peak. In logs a multiplicative noise is the same everywhere and an
    additive one is largest in the tails: the bound holds at the peak either way.
    """
    return interpolation_noise(zs, log_scores(scores))


def repeat_noise(zs: Sequence[float], scores: Sequence[float]) -> Tuple[float, int]:
    """The score noise (SD) and its degrees of freedom, from scores taken at the same Z.

    Pooled over every Z that occurs more than once; the SD is 0 with 0 degrees of freedom
    when no Z repeats.
    """
    groups: Dict[float, List[float]] = {}
    for z, s in zip(zs, scores):
        groups.setdefault(z, []).append(s)
    squares = sum(float(np.sum((np.array(g) - np.mean(g)) ** 2)) for g in groups.values())
    freedom = sum(len(g) - 1 for g in groups.values())
    return math.sqrt(squares / max(freedom, 1)), freedom


def median_standard_error(sigma: float, n_mean: int, n_median: int) -> float:
    """Standard error of (mean of ``n_mean`` draws) - (median of ``n_median`` draws), SD ``sigma``."""
    return sigma * math.sqrt(1.0 / n_mean + MEDIAN_VARIANCE_FACTOR / n_median)


def mean_standard_error(sigma: float, n_a: int, n_b: int) -> float:
    """Standard error of the difference of two means of ``n_a`` and ``n_b`` draws, SD ``sigma``."""
    return sigma * math.sqrt(1.0 / n_a + 1.0 / n_b)


def significant(difference: float, error: float, freedom: int) -> bool:
    """One-sided t-test: ``difference`` exceeds ``error`` times the t quantile (``NOISE_LEVEL``)."""
    return difference > t_quantile(freedom) * error
