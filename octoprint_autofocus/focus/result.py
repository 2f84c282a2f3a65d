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
    "peak_at_edge": "the image still got sharper at the edge of the allowed range; focus may lie beyond it",
    "low_texture": "too little texture in the region of interest to judge focus",
    "poor_fit": "the samples near the peak do not fit a focus curve well enough to trust",
    "verify_failed": "the image at the chosen Z was not as sharp as the best sample",
    "camera_dark": "the camera's frames stayed dark or black (after their retakes) in most of "
                   "the run or at its end",
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
    (``""`` when ok), ``message`` a plain sentence for people (mm, Z to 3 decimals) and
    ``detail`` the technical explanation (statistics, thresholds) for the log and record.

    Range: ``window`` is where the search started (the caller's first guess), ``limits``
    the hard bounds it could extend into, ``extended`` how far it went past the window
    ``[mm below, mm above]``, and ``z_min``/``z_max`` the range actually searched. A
    ``peak_at_edge`` failure names the edge where the search stopped (``edge_z``) and why
    it could not go on (``edge_kind``: ``"limit"``, a hard bound; ``"budget"``, the
    extension budget spent); both are None otherwise. ``overscan_grown`` is the overscan (mm)
    the run ended with when a later look at a Z disagreed with an earlier one and it grew
    (backlash larger than the ``overscan`` option), else None.
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
    detail: str = ""
    window: Optional[List[float]] = None
    limits: Optional[List[float]] = None
    extended: List[float] = field(default_factory=lambda: [0.0, 0.0])
    edge_z: Optional[float] = None
    edge_kind: Optional[str] = None
    overscan_grown: Optional[float] = None

    def to_dict(self) -> Dict[str, Any]:
        """The record as plain JSON-serialisable types."""
        data = asdict(self)
        data["samples"] = [[float(z), float(s)] for z, s in self.samples]
        data["roi"] = list(self.roi) if self.roi is not None else None
        for name in ("window", "limits", "extended"):
            data[name] = None if data[name] is None else [float(v) for v in data[name]]
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
        for name in ("window", "limits", "extended"):
            if data.get(name) is not None:
                data[name] = [float(v) for v in data[name]]
        return cls(**data)
