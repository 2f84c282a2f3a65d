"""``score(frame, roi, metric)``: the one-call focus value of a frame."""

from typing import Callable, Optional, Sequence

import numpy as np

from .frames import FrameLike, gray_roi
from .measures import MEASURES

__all__ = ["score", "measure_for"]


def measure_for(metric: str) -> Callable[[np.ndarray], float]:
    """Return the measure function named ``metric``.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid ones.
    """
    try:
        return MEASURES[metric]
    except (KeyError, TypeError):
        valid = ", ".join(sorted(MEASURES))
        raise ValueError(f"unknown focus metric {metric!r}; valid metrics: {valid}") from None


def score(
    frame: FrameLike,
    roi: Optional[Sequence[float]] = None,
    metric: str = "tenengrad",
    *,
    decode_scale: int = 1,
) -> float:
    """Focus value of ``frame`` inside ``roi``: higher is sharper.

    Parameters
    ----------
    frame : bytes or ndarray
        JPEG bytes, or an ``(H, W)`` gray / ``(H, W, 3)`` BGR array (``uint8``; ``uint16``
        and float are accepted and scored in float32).
    roi : (x, y, w, h), optional
        Region in pixels of the full-resolution frame; ``None`` scores the whole frame.
    metric : str
        A key of :data:`~.measures.MEASURES`.
    decode_scale : {1, 2, 4, 8}
        Score at reduced resolution (JPEG bytes are decoded reduced, which is much
        cheaper). Scores at different scales are not comparable with each other.

    Returns
    -------
    float
        The measure's value; finite.

    Raises
    ------
    ValueError
        Unknown ``metric`` or ``decode_scale``.
    BadImageError
        Undecodable bytes, a wrong array shape, an empty or out-of-frame ROI.

    See Also
    --------
    octoprint_autofocus.focus.frames.gray_roi : the decoded ROI itself, to compute a
        score and other statistics from a single decode.
    """
    measure = measure_for(metric)
    return float(measure(gray_roi(frame, roi, decode_scale)))
