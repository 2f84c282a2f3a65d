"""A simulated camera: frames of the view at the stage's optical Z, in simulated time."""

from typing import Callable, Optional

import numpy as np

from ..focus.devices import Frame
from ..focus.errors import CameraError, CameraStalled
from .clock import SimClock
from .stage import SimStage

__all__ = ["SimCamera"]


class SimCamera:
    """A :class:`~octoprint_autofocus.focus.devices.FrameSource` over a :class:`SimStage`.

    ``picture(z)`` makes the frame seen with the optics at ``z`` (e.g. :func:`~.render.render`
    of a scene at ``z - focal_z``); this class adds time and faults. Frames start on a fixed
    grid of ``1 / fps`` seconds. ``frame()`` waits for the next frame start, captures the
    picture at the stage's optical Z at that instant, and returns ``latency`` seconds later
    on the clock. With ``lag`` > 0 the picture shows the optics as they were ``lag`` seconds
    before the capture (a buffered stream serving stale frames), so a frame taken right
    after a move may still show the old Z. ``frames`` counts the frames delivered.

    Fault injection: with ``stall_after=N`` the first N frames arrive and every later call
    waits ``stall_timeout`` seconds and raises :class:`CameraStalled`; with
    ``fail_after=N`` later calls raise :class:`CameraError` at once.
    """

    def __init__(
        self,
        stage: SimStage,
        clock: SimClock,
        picture: Callable[[float], Frame],
        latency: float = 0.05,
        fps: float = 30.0,
        lag: float = 0.0,
        stall_after: Optional[int] = None,
        fail_after: Optional[int] = None,
        stall_timeout: float = 2.0,
    ) -> None:
        if fps <= 0 or latency < 0 or lag < 0:
            raise ValueError("fps must be > 0, latency and lag >= 0")
        self.stage = stage
        self.clock = clock
        self.picture = picture
        self.latency = float(latency)
        self.fps = float(fps)
        self.lag = float(lag)
        self.stall_after = stall_after
        self.fail_after = fail_after
        self.stall_timeout = float(stall_timeout)
        self.frames = 0

    def frame(self) -> Frame:
        """Capture the next frame (array or JPEG bytes), advancing the clock."""
        if self.fail_after is not None and self.frames >= self.fail_after:
            raise CameraError(f"simulated camera failure after {self.fail_after} frames")
        if self.stall_after is not None and self.frames >= self.stall_after:
            self.clock.sleep(self.stall_timeout)
            raise CameraStalled(f"simulated camera stalled after {self.stall_after} frames")
        period = 1.0 / self.fps
        start = float(np.ceil(self.clock.now() / period - 1e-9)) * period
        self.clock.advance_to(start)
        image = self.picture(self.stage.actual_z_at(start - self.lag))
        self.clock.sleep(self.latency)
        self.frames += 1
        return image
