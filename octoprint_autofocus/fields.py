"""What people read about each setting and request field: its label, unit, limits and choices.

Written once here: :func:`.settings.validate` checks numbers against :data:`BOUNDS`, the
settings pane gets labels, limits, metric and scene names through ``get_template_vars``,
and every error a person reads names the field by its :data:`LABELS` entry
(:func:`describe`), never by its internal key.
"""

from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional

from flask_babel import lazy_gettext

__all__ = [
    "Bounds",
    "BOUNDS",
    "Z_BOUND",
    "RANGE_BOUNDS",
    "LABELS",
    "METRICS",
    "SCENES",
    "label_of",
    "unit_of",
    "amount",
    "z_text",
    "template_vars",
]


@dataclass(frozen=True)
class Bounds:
    """A number's unit and limits: ``low``/``high`` inclusive, ``positive`` means above 0,
    ``integer`` a whole number, ``optional`` that null or "" leaves it unset."""

    unit: str = ""
    low: Optional[float] = None
    high: Optional[float] = None
    positive: bool = False
    integer: bool = False
    optional: bool = False


Z_BOUND = 10000.0
"""mm: no Z limit, reference or requested Z may lie further from 0 than this."""
RANGE_BOUNDS = (0.01, 500.0)
"""mm: the smallest and largest half-range a run may search around the current Z."""

BOUNDS: Dict[str, Bounds] = {
    "search_range": Bounds("mm", low=RANGE_BOUNDS[0], high=RANGE_BOUNDS[1]),
    "max_extension": Bounds("mm", low=0.0, optional=True),
    "z_min": Bounds("mm", low=-Z_BOUND, high=Z_BOUND),
    "z_max": Bounds("mm", low=-Z_BOUND, high=Z_BOUND),
    "coarse_points": Bounds(low=3, high=50, integer=True),
    "tolerance": Bounds("mm", positive=True, high=5.0, optional=True),
    "feedrate": Bounds("mm/min", positive=True, high=100000.0),
    "settle": Bounds("s", low=0.0, high=10.0),
    "frames_per_position": Bounds(low=1, high=10, integer=True),
    "overscan": Bounds("mm", low=0.0, high=10.0),
    "reference_z": Bounds("mm", low=-Z_BOUND, high=Z_BOUND, optional=True),
    "max_correction": Bounds("mm", positive=True, high=1000.0),
    "latency": Bounds("s", low=0.0, high=5.0),
    "camera_timeout": Bounds("s", positive=True, high=120.0),
    "history_size": Bounds(low=1, high=1000, integer=True),
    "jog_step": Bounds("mm", positive=True, high=10.0),
    "simulator.focal_z": Bounds("mm"),
    "simulator.dof": Bounds("mm", positive=True, high=10.0),
    "simulator.noise": Bounds(low=0.0, high=1.0),
    "simulator.fps": Bounds("fps", positive=True, high=60.0),
    "simulator.latency": Bounds("s", low=0.0, high=5.0),
    "simulator.backlash": Bounds("mm", low=0.0, high=5.0),
    "simulator.seed": Bounds(low=0, high=2**31 - 1, integer=True),
    "simulator.surface_height": Bounds("mm", low=-10.0, high=10.0),
    "map.rows": Bounds(low=2, high=15, integer=True),
    "map.cols": Bounds(low=2, high=15, integer=True),
    "map.margin": Bounds("mm", low=0.0, high=1000.0),
    "map.lift": Bounds("mm", low=0.0, high=100.0),
    "map.travel_z": Bounds("mm", low=-Z_BOUND, high=Z_BOUND, optional=True),
    "map.xy_feedrate": Bounds("mm/min", positive=True, high=100000.0),
    "map.max_failed": Bounds(low=0.0, high=1.0),
    # fields of API requests
    "range": Bounds("mm", low=RANGE_BOUNDS[0], high=RANGE_BOUNDS[1]),
    "dz": Bounds("mm", low=-10.0, high=10.0),
    "z": Bounds("mm", low=-Z_BOUND, high=Z_BOUND),
}
"""Every number a person can type, by settings key (dotted below ``simulator``) or request field."""

LABELS: Dict[str, Any] = {
    "camera": lazy_gettext("Camera"),
    "stream_url": lazy_gettext("Stream URL"),
    "snapshot_url": lazy_gettext("Snapshot URL"),
    "metric": lazy_gettext("Sharpness measure"),
    "roi": lazy_gettext("Focus region"),
    "search_range": lazy_gettext("Search range"),
    "max_extension": lazy_gettext("Search extension"),
    "z_min": lazy_gettext("Lowest Z"),
    "z_max": lazy_gettext("Highest Z"),
    "coarse_points": lazy_gettext("Coarse points"),
    "tolerance": lazy_gettext("Tolerance"),
    "feedrate": lazy_gettext("Feedrate"),
    "settle": lazy_gettext("Settle time"),
    "frames_per_position": lazy_gettext("Frames per position"),
    "overscan": lazy_gettext("Backlash overscan"),
    "approach": lazy_gettext("Approach from"),
    "move_template": lazy_gettext("Move G-code"),
    "before_gcode": lazy_gettext("G-code before a run"),
    "after_gcode": lazy_gettext("G-code after a run"),
    "reference_z": lazy_gettext("Reference Z"),
    "max_correction": lazy_gettext("Largest correction without asking"),
    "confirm": lazy_gettext("Confirmation"),
    "on_failure": lazy_gettext("If @AUTOFOCUS fails"),
    "latency": lazy_gettext("Camera latency"),
    "camera_timeout": lazy_gettext("Camera timeout"),
    "history_size": lazy_gettext("Runs kept"),
    "jog_step": lazy_gettext("Jog step"),
    "simulator": lazy_gettext("Simulated microscope"),
    "simulator.enabled": lazy_gettext("Simulated microscope"),
    "simulator.focal_z": lazy_gettext("Focal plane Z"),
    "simulator.dof": lazy_gettext("Depth of field"),
    "simulator.noise": lazy_gettext("Noise"),
    "simulator.fps": lazy_gettext("Frame rate"),
    "simulator.latency": lazy_gettext("Simulated latency"),
    "simulator.backlash": lazy_gettext("Backlash"),
    "simulator.scene": lazy_gettext("Scene"),
    "simulator.seed": lazy_gettext("Seed"),
    "simulator.size": lazy_gettext("Picture size"),
    "simulator.surface": lazy_gettext("Focal surface"),
    "simulator.surface_height": lazy_gettext("Surface height"),
    "simulator.bare_spot": lazy_gettext("Bare spot"),
    "map": lazy_gettext("Focus map"),
    "map.rows": lazy_gettext("Rows"),
    "map.cols": lazy_gettext("Columns"),
    "map.margin": lazy_gettext("Margin"),
    "map.lift": lazy_gettext("Lift"),
    "map.travel_z": lazy_gettext("Travel Z"),
    "map.xy_feedrate": lazy_gettext("XY feedrate"),
    "map.xy_template": lazy_gettext("XY move G-code"),
    "map.max_failed": lazy_gettext("Largest share of failed points"),
    # fields of API requests
    "range": lazy_gettext("Search range"),
    "dz": lazy_gettext("Jog step"),
    "z": lazy_gettext("Z"),
    "rows": lazy_gettext("Rows"),
    "cols": lazy_gettext("Columns"),
    "x_min": lazy_gettext("Lowest X"),
    "x_max": lazy_gettext("Highest X"),
    "y_min": lazy_gettext("Lowest Y"),
    "y_max": lazy_gettext("Highest Y"),
    "lift": lazy_gettext("Lift"),
    "travel_z": lazy_gettext("Travel Z"),
    "max_failed": lazy_gettext("Largest share of failed points"),
    "template": lazy_gettext("XY move G-code"),
}
"""Settings key or request field -> the label people read (the settings pane uses the same)."""

METRICS: Dict[str, Dict[str, Any]] = {
    "tenengrad": {
        "label": lazy_gettext("Tenengrad (edge strength)"),
        "help": lazy_gettext("Adds up the strength of the edges; suits most pictures with text, traces or texture."),
    },
    "laplacian": {
        "label": lazy_gettext("Laplacian"),
        "help": lazy_gettext("Reacts to the finest detail; good on finely textured surfaces, but more easily upset by noise."),
    },
    "normalized_variance": {
        "label": lazy_gettext("Normalised variance"),
        "help": lazy_gettext("Contrast relative to brightness; stays steady when the light changes, weaker on fine detail."),
    },
    "brenner": {
        "label": lazy_gettext("Brenner gradient"),
        "help": lazy_gettext("Differences between pixels two apart; a sharp peak on crisp, high-contrast edges."),
    },
    "vollath_f4": {
        "label": lazy_gettext("Vollath F4"),
        "help": lazy_gettext("Compares neighbouring pixels in a way that cancels much of the noise; for noisy cameras."),
    },
    "spot": {
        "label": lazy_gettext("Spot size"),
        "help": lazy_gettext("For bright points on a dark background (stars, specks, a laser dot): the smaller the spots, the higher the score."),
    },
}
"""Focus measure name (``focus.MEASURES``) -> label and one sentence on when to use it."""

SCENES: Dict[str, Any] = {
    "pcb": lazy_gettext("circuit board"),
    "text": lazy_gettext("printed text"),
    "texture": lazy_gettext("fine texture"),
    "cells": lazy_gettext("cells"),
    "grid": lazy_gettext("grid"),
    "fibers": lazy_gettext("fibres"),
    "stars": lazy_gettext("bright points"),
    "sparse": lazy_gettext("sparse detail"),
    "flat": lazy_gettext("blank surface"),
}
"""Simulated microscope scene name (``simulator.SCENES``) -> what people read."""


def label_of(field: str) -> str:
    """The label of a settings key or request field; for ``roi.x`` that of ``roi``; else
    the field as given (``@AUTOFOCUS`` keys such as ``RANGE`` are what the user typed)."""
    for key in (field, field.split(".")[0], field.rsplit(".", 1)[0]):
        if key in LABELS:
            return str(LABELS[key])
    return field


def unit_of(field: str) -> str:
    """The unit of a number field ("" when it has none or is unknown)."""
    bounds = BOUNDS.get(field)
    return bounds.unit if bounds else ""


def amount(value: float, unit: str = "") -> str:
    """A number for people: at most 6 significant digits, the unit after a space."""
    text = "%g" % value
    return "%s %s" % (text, unit) if unit else text


def z_text(z: float) -> str:
    """A Z position for people: "4.000 mm" (a micrometre is as fine as Z moves go)."""
    return "%.3f mm" % z


def template_vars(measures: List[str], scenes: List[str], centre_roi: Dict[str, float]) -> Dict[str, Any]:
    """What the templates render from: labels, number limits, metric and scene choices (in
    the order given; unknown names show as themselves), the default focus region. Texts stay
    lazy: OctoPrint asks once and renders the page per language."""
    return {
        "centre_roi": dict(centre_roi),
        "labels": dict(LABELS),
        "bounds": {key: asdict(bounds) for key, bounds in BOUNDS.items()},
        "metrics": [
            {"value": name, "label": METRICS.get(name, {}).get("label", name),
             "help": METRICS.get(name, {}).get("help", "")}
            for name in measures
        ],
        "scenes": [{"value": name, "label": SCENES.get(name, name)} for name in scenes],
    }
