"""What a focus run returns: the verdict, every sample in order, the fit and the costs.

The whole record serialises to JSON (:meth:`FocusResult.to_dict`) so the plugin can keep,
plot and offer it for download.
"""

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["REASONS", "Fit", "FocusResult"]

REASONS: Dict[str, str] = {
    "": "focused",
    "no_peak": "the sharpness curve has no clear peak in the range",
    "peak_at_edge": "the sharpest position is at the edge of the range; focus may lie outside it",
    "low_texture": "too little texture in the region of interest to judge focus",
    "poor_fit": "the samples near the peak do not fit a focus curve well enough to trust",
    "verify_failed": "the image at the chosen Z was not as sharp as the best sample",
    "camera_error": "the camera could not deliver a frame",
    "camera_stalled": "the camera stopped delivering fresh frames",
    "stage_error": "the Z axis failed to move or to confirm a move",
    "cancelled": "the run was cancelled",
}
"""Every failure reason a run can end with (``""`` means success), with a plain meaning."""


@dataclass
class Fit:
    """The curve fitted around the peak.

    ``model`` names the curve (e.g. ``"gaussian"``), ``params`` its parameters,
    ``z_peak`` the fitted best Z, ``r2`` the goodness of fit over ``z_lo..z_hi``
    (the Z span of the samples used).
    """

    model: str
    z_peak: float
    r2: float
    z_lo: float
    z_hi: float
    params: Dict[str, float] = field(default_factory=dict)


@dataclass
class FocusResult:
    """The record of one autofocus run.

    ``ok`` is the verdict, ``z`` the best-focus Z (the stage is left there when ``ok``;
    on failure it is the best estimate, and the stage is where ``final_z`` says),
    ``samples`` the (z, score) pairs in the order measured, ``phases`` the phase of
    each sample (``coarse``, ``fine``, ``verify``), ``reason`` a key of :data:`REASONS`
    (``""`` when ok) and ``message`` a sentence for people.
    """

    ok: bool
    z: float
    reason: str = ""
    message: str = ""
    samples: List[Tuple[float, float]] = field(default_factory=list)
    phases: List[str] = field(default_factory=list)
    fit: Optional[Fit] = None
    metric: str = "tenengrad"
    roi: Optional[Tuple[int, int, int, int]] = None
    z_min: float = 0.0
    z_max: float = 0.0
    start_z: float = 0.0
    final_z: float = 0.0
    verify_score: Optional[float] = None
    moves: int = 0
    frames: int = 0
    travel: float = 0.0
    elapsed: float = 0.0
    options: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        """The record as plain JSON-serialisable types."""
        data = asdict(self)
        data["samples"] = [[float(z), float(s)] for z, s in self.samples]
        data["roi"] = list(self.roi) if self.roi is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "FocusResult":
        """Rebuild a record written by :meth:`to_dict`."""
        data = dict(data)
        data["samples"] = [(float(z), float(s)) for z, s in data.get("samples", [])]
        if data.get("roi") is not None:
            data["roi"] = tuple(data["roi"])
        if data.get("fit") is not None:
            data["fit"] = Fit(**data["fit"])
        return cls(**data)
