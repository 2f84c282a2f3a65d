"""The focus library: measures, frame pipeline, search engine and run records.

Pure Python on numpy and OpenCV; it never imports OctoPrint, so a plain script can drive a
USB camera and a serial printer with it::

    from octoprint_autofocus.focus import autofocus, score

    result = autofocus(stage, camera, z_min=2.0, z_max=6.0, roi=(x, y, w, h), metric="tenengrad")
    value = score(frame, roi=None, metric="tenengrad")
"""

from . import errors
from .devices import Frame, FrameSource, ZStage
from .errors import *  # noqa: F401,F403 -- the error tree is part of the public API
from .measures import MEASURES
from .result import REASONS, Fit, FocusResult
from .scoring import score
from .search import autofocus

__all__ = [
    "autofocus",
    "score",
    "MEASURES",
    "REASONS",
    "Fit",
    "FocusResult",
    "Frame",
    "FrameSource",
    "ZStage",
] + errors.__all__
