"""The error tree of the focus library.

The library raises these for bad input and device failures; search failures (no peak,
peak at the range edge, ...) are reported in :class:`~.result.FocusResult` instead.
"""

__all__ = [
    "FocusError",
    "BadImageError",
    "CameraError",
    "CameraStalled",
    "StageError",
    "MoveRefused",
    "StageTimeout",
    "Cancelled",
]


class FocusError(Exception):
    """Base class of every error raised by :mod:`octoprint_autofocus.focus`."""


class BadImageError(FocusError, ValueError):
    """A frame or ROI that cannot be scored: undecodable bytes, wrong shape, empty ROI."""


class CameraError(FocusError):
    """The camera could not deliver a frame (connection refused, HTTP error, ...)."""


class CameraStalled(CameraError):
    """The camera delivered no fresh frame within its timeout."""


class StageError(FocusError):
    """The Z stage failed to perform or confirm a move."""


class MoveRefused(StageError, ValueError):
    """A move was refused because its target lies outside the stage's limits."""


class StageTimeout(StageError):
    """A move was sent but not confirmed in time."""


class Cancelled(FocusError):
    """The run was cancelled through its cancel event."""
