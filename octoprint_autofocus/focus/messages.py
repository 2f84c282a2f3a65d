"""Plain sentences for people about a run's outcome (mm, Z to 3 decimals, no statistics).

The technical story of a run (thresholds, test statistics) goes to ``FocusResult.detail``;
:func:`plain_message` is what a toast or a log line for people says.
"""

from typing import Optional, Sequence

__all__ = ["plain_message"]

_FAILURES = {
    "no_peak": "No clear sharpest position was found between Z {lo:.3f} and Z {hi:.3f} mm.",
    "low_texture": "The region of interest has too little detail to judge focus.",
    "poor_fit": "The sharpness near the best position was too irregular to trust "
                "(best image at Z {z:.3f} mm).",
    "verify_failed": "On a second look the image at Z {z:.3f} mm was not as sharp as during "
                     "the search.",
    "camera_dark": "The camera's picture was dark, so focus could not be judged. Check the light "
                   "and that nothing covers the lens, then try again.",
    "camera_error": "The camera could not deliver a picture.",
    "camera_stalled": "The camera stopped sending new pictures.",
    "stage_error": "Z did not move or did not confirm a move.",
    "cancelled": "The run was cancelled.",
}


BACKLASH_NOTE = ("Z did not always come back to the same place: its backlash is larger than the "
                 "backlash overscan, so this run used {overscan:.3f} mm.")
"""Added when a run grew its overscan (:meth:`~.search._Run._took_up_slack`)."""


def plain_message(reason: str, z: float, searched: Sequence[float], window: Sequence[float],
                  edge_z: Optional[float] = None, edge_kind: Optional[str] = None,
                  overscan_grown: Optional[float] = None) -> str:
    """The outcome of a run in one to three sentences.

    ``reason`` is a key of :data:`~.result.REASONS` (``""``: focused at ``z``),
    ``searched`` the range searched and ``window`` the one the run started with;
    ``edge_z``/``edge_kind`` tell where and why a ``peak_at_edge`` run stopped;
    ``overscan_grown`` the overscan (mm) a run took up backlash with when the option's was
    too short (then a sentence says so, see :data:`BACKLASH_NOTE`).
    """
    text = _outcome(reason, z, searched, window, edge_z, edge_kind)
    if overscan_grown is not None and reason != "cancelled":
        text += " " + BACKLASH_NOTE.format(overscan=overscan_grown)
    return text


def _outcome(reason: str, z: float, searched: Sequence[float], window: Sequence[float],
             edge_z: Optional[float], edge_kind: Optional[str]) -> str:
    """:func:`plain_message` without the note on backlash."""
    lo, hi = searched
    if reason == "":
        text = f"Focused at Z {z:.3f} mm."
        below, above = window[0] - lo, hi - window[1]
        if below > 0 or above > 0:
            went = f"{below:.3f} mm below" if below > 0 else f"{above:.3f} mm above"
            text += f" The search went {went} its starting range."
        return text
    if reason == "peak_at_edge" and edge_z is not None:
        lower = edge_z <= lo
        way = "below" if lower else "above"
        if edge_kind == "limit":
            where = f"the {'lower' if lower else 'upper'} Z limit ({edge_z:.3f} mm)"
            return (f"The image was still getting sharper at {where}, so focus probably lies "
                    f"{way} it, outside the allowed range. The sharpest image was at "
                    f"Z {z:.3f} mm.")
        return (f"The image was still getting sharper at Z {edge_z:.3f} mm, as far {way} the "
                f"starting range as the search may go, so focus probably lies further {way}. "
                f"The sharpest image was at Z {z:.3f} mm.")
    template = _FAILURES.get(reason, "The run failed.")
    return template.format(z=z, lo=lo, hi=hi)
