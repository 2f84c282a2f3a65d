"""Peak models for focus curves: where the sharpest Z lies between and beyond the samples.

A focus curve is a bump on a noise floor. Far from focus it falls off like a Lorentzian
(the blur disk's radius grows linearly with defocus, gradient energy as one over its
square); near the top many curves look Gaussian. Both become a parabola after a
transform, so both are fitted by weighted linear least squares:

* ``lorentzian``: ``1 / s`` is a parabola in ``z`` (``s = 1 / (a + c (z - z0)^2)``);
* ``gaussian``: ``log s`` is a parabola in ``z``.

:func:`vertex_of_three` steers the search (one exact parabola through three samples on
the ``1 / s`` scale, which predicts a peak well even from the curve's tails), and
:func:`fit_peak` gives the final sub-step estimate from the samples near the top, with
the goodness of fit measured on the scores themselves.
"""

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

__all__ = ["NEAR_TOP", "TINY", "PeakFit", "vertex_of_three", "fit_peak"]

NEAR_TOP = 0.3
"""Samples within this fraction of the peak height (above the floor) count as near the top."""

TINY = 1e-300
"""Guards divisions by a value that may be 0 (a score of a black frame, a transformed peak)."""


@dataclass(frozen=True)
class PeakFit:
    """A fitted peak: its Z and height, its full width at half height above ``floor``, R^2.

    ``points`` samples were fitted, ``strong`` of them near the top (not padding).
    With ``(c2, c1, c0) = params`` and ``u = z - centre`` the curve is
    ``1 / (c2 u^2 + c1 u + c0)`` (lorentzian) or ``exp(c2 u^2 + c1 u + c0)`` (gaussian).
    """

    model: str
    z_peak: float
    height: float
    fwhm: float
    r2: float
    z_lo: float
    z_hi: float
    points: int
    strong: int
    floor: float
    params: Tuple[float, float, float]
    centre: float

    def width_at(self, level: float) -> float:
        """The full width (Z) over which the fitted curve stays above ``level`` (inf if it
        never falls to it, 0 if its peak is below it)."""
        c2, c1, c0 = self.params
        y_peak = c0 - c1 * c1 / (4.0 * c2)
        if self.model == "lorentzian":
            if level <= 0:
                return math.inf
            excess = (1.0 / level - y_peak) / c2
        else:
            excess = (math.log(level) - y_peak) / c2 if level > 0 else -math.inf
            if excess == -math.inf:
                return math.inf
        return 2.0 * math.sqrt(excess) if excess > 0 else 0.0


def vertex_of_three(z: Sequence[float], s: Sequence[float]) -> Optional[float]:
    """The peak Z predicted by three samples, or None if they do not describe a peak.

    Fits the exact parabola through ``(z_i, 1 / s_i)``; a Lorentzian-shaped curve gives
    the right answer from any three points, a Gaussian one converges as the points close
    in. Returns None when a score is not positive or the parabola opens downwards.
    """
    zs = np.asarray(z, dtype=float)
    ss = np.asarray(s, dtype=float)
    if zs.shape != (3,) or ss.shape != (3,) or np.any(ss <= 0) or len(set(zs.tolist())) < 3:
        return None
    centre = float(np.mean(zs))
    (x1, x2, x3), (y1, y2, y3) = zs - centre, 1.0 / ss  # the exact parabola, centred
    denominator = (x1 - x2) * (x1 - x3) * (x2 - x3)
    c = (x3 * (y2 - y1) + x2 * (y1 - y3) + x1 * (y3 - y2)) / denominator
    b = (x3 * x3 * (y1 - y2) + x2 * x2 * (y3 - y1) + x1 * x1 * (y2 - y3)) / denominator
    if not c > 0:
        return None
    return float(centre - b / (2.0 * c))


def fit_peak(z: Sequence[float], s: Sequence[float], floor: float = 0.0) -> Optional[PeakFit]:
    """Fit the samples near the highest one; return the better of the two models.

    Uses the highest sample and every sample whose height above ``floor`` is at least
    ``NEAR_TOP`` of the highest one's, walking outwards until the first sample below
    that (so a distant second bump is ignored); always at least the highest sample and
    its direct neighbours. Needs three points; returns None otherwise or when neither
    model has a maximum (negative curvature).
    """
    zs = np.asarray(z, dtype=float)
    ss = np.asarray(s, dtype=float)
    order = np.argsort(zs)
    zs, ss = zs[order], ss[order]
    lo, hi = _near_top(ss, floor)
    if hi - lo < 3 or np.any(ss[lo:hi] <= 0):
        return None
    zw, sw = zs[lo:hi], ss[lo:hi]
    strong = int(np.sum(sw >= floor + NEAR_TOP * (sw.max() - floor)))
    fits = [_fit_model(m, zw, sw, floor, strong) for m in ("lorentzian", "gaussian")]
    fits = [f for f in fits if f is not None]
    return max(fits, key=lambda f: f.r2) if fits else None


def _near_top(ss: np.ndarray, floor: float) -> Tuple[int, int]:
    """Index span ``[lo, hi)`` around the maximum of ``ss`` of the samples near the top.

    Grows outwards while samples stay above the cut, then, if fewer than three were
    taken, adds the nearest neighbours (on the inner side when the top is at an end).
    """
    top = int(np.argmax(ss))
    cut = floor + NEAR_TOP * (ss[top] - floor)
    lo, hi = top, top + 1
    while lo > 0 and ss[lo - 1] >= cut:
        lo -= 1
    while hi < len(ss) and ss[hi] >= cut:
        hi += 1
    while hi - lo < 3 and hi - lo < len(ss):
        if lo > 0 and (top - lo <= hi - 1 - top or hi == len(ss)):
            lo -= 1
        else:
            hi += 1
    return lo, hi


def _fit_model(
    model: str, z: np.ndarray, s: np.ndarray, floor: float, strong: int
) -> Optional[PeakFit]:
    """Weighted parabola on the model's transform of ``s``; None if it is not a maximum."""
    centre = float(np.mean(z))
    u = z - centre
    if model == "lorentzian":
        y, weight = 1.0 / s, s  # relative score noise: sd(1/s) = sd(s) / s^2 ~ 1 / s
    else:
        y, weight = np.log(s), np.ones_like(s)  # relative score noise: sd(log s) ~ constant
    if np.unique(u).size < 3:
        return None  # no parabola through fewer than three Zs
    scale = float(np.max(np.abs(u)))
    a2, a1, a0 = np.polyfit(u / scale, y, 2, w=weight)  # on [-1, 1]: well conditioned
    c2, c1, c0 = a2 / scale**2, a1 / scale, a0
    curving_down = c2 > 0 if model == "lorentzian" else c2 < 0
    if not curving_down:
        return None
    u_peak = -c1 / (2.0 * c2)
    y_peak = c0 - c1**2 / (4.0 * c2)
    predicted = _inverse(model, np.polyval((c2, c1, c0), u))
    peak = float(_inverse(model, np.array([y_peak]))[0])
    half = 0.5 * (peak + floor)
    if model == "lorentzian":
        half_width = np.sqrt(max(1.0 / half - y_peak, 0.0) / c2)
    else:
        half_width = np.sqrt(max(y_peak - np.log(half), 0.0) / -c2) if half > 0 else np.inf
    return PeakFit(
        model=model,
        z_peak=float(centre + u_peak),
        height=peak,
        fwhm=float(2.0 * half_width),
        r2=_r_squared(s, predicted),
        z_lo=float(z[0]),
        z_hi=float(z[-1]),
        points=int(len(z)),
        strong=strong,
        floor=float(floor),
        params=(float(c2), float(c1), float(c0)),
        centre=centre,
    )


def _inverse(model: str, y: np.ndarray) -> np.ndarray:
    """Scores from the model's transformed values."""
    if model == "lorentzian":
        return np.where(y > 0, 1.0 / np.maximum(y, TINY), np.inf)
    return np.exp(y)


def _r_squared(s: np.ndarray, predicted: np.ndarray) -> float:
    """Coefficient of determination of ``predicted`` for ``s`` (1 is a perfect fit)."""
    total = float(np.sum((s - np.mean(s)) ** 2))
    if total <= 0 or not np.all(np.isfinite(predicted)):
        return 0.0
    return float(1.0 - np.sum((s - predicted) ** 2) / total)
