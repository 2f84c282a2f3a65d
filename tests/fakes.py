"""Small, honest fakes of the focus library's devices, for unit tests.

``FakeStage`` behaves like a printer's Z axis (limits that refuse, backlash, a dead axis on
cue) and ``BlurringCamera`` renders a seeded texture blurred by the stage's distance from a
focal plane. Both append to a shared ``log`` so a test can check the order of moves and
frames, e.g. that nothing happened after a cancel.
"""

from typing import List, Optional, Tuple

import cv2
import numpy as np

from octoprint_autofocus.focus.errors import CameraError, CameraStalled, MoveRefused, StageError

__all__ = ["FakeStage", "BlurringCamera", "StackCamera", "DarkeningCamera", "Event"]

Event = Tuple[str, float]
"""A log entry: ``("move", z)`` or ``("frame", optical z)``."""


class FakeStage:
    """A Z axis with hard limits, backlash and an optional failure after N moves.

    Targets outside ``limits`` are refused with :class:`MoveRefused` and kept in
    ``violations``; every target asked for is kept in ``commanded``. The carriage
    (``actual_z``) follows a move down exactly and lags ``backlash`` behind a move up.
    """

    def __init__(
        self,
        limits: Tuple[float, float] = (0.0, 10.0),
        start: float = 5.0,
        backlash: float = 0.0,
        fail_after: Optional[int] = None,
        log: Optional[List[Event]] = None,
    ) -> None:
        self.limits = limits
        self.backlash = backlash
        self.fail_after = fail_after
        self.commanded: List[float] = []
        self.violations: List[float] = []
        self.log: List[Event] = log if log is not None else []
        self.actual_z = float(start)
        self._z = float(start)

    def position(self) -> float:
        """The Z the axis believes it is at."""
        return self._z

    def move_to(self, z: float) -> None:
        """Move to absolute ``z``; refuse targets outside the limits, fail on cue."""
        self.commanded.append(z)
        if not self.limits[0] <= z <= self.limits[1]:
            self.violations.append(z)
            raise MoveRefused(f"refusing Z{z}: outside {self.limits}")
        if self.fail_after is not None and len(self.commanded) > self.fail_after:
            raise StageError("fake stage failure")
        self.log.append(("move", z))
        self._z = z
        self.actual_z = min(max(self.actual_z, z - self.backlash), z)


class BlurringCamera:
    """A camera looking at a seeded random texture, Gaussian-blurred by defocus.

    The blur sigma is ``blur_per_mm * |stage.actual_z - focus_z|`` pixels. ``texture=0``
    gives a featureless grey scene; ``noise`` is the sensor noise sigma in grey levels.
    With ``stall_after=N`` / ``fail_after=N`` every frame after the first N raises
    :class:`CameraStalled` / :class:`CameraError`.
    """

    def __init__(
        self,
        stage: FakeStage,
        focus_z: float,
        blur_per_mm: float = 20.0,
        seed: int = 0,
        texture: float = 60.0,
        noise: float = 1.0,
        size: Tuple[int, int] = (160, 120),
        stall_after: Optional[int] = None,
        fail_after: Optional[int] = None,
    ) -> None:
        self.stage = stage
        self.focus_z = focus_z
        self.blur_per_mm = blur_per_mm
        self.noise = noise
        self.stall_after = stall_after
        self.fail_after = fail_after
        self.frames = 0
        self._rng = np.random.default_rng(seed)
        width, height = size
        coarse = self._rng.normal(0.0, 1.0, (height // 4, width // 4)).astype(np.float32)
        pattern = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
        self.scene = np.float32(128.0) + np.float32(texture) * pattern

    def frame(self) -> np.ndarray:
        """The scene as seen from the stage's optical Z, as a uint8 gray frame."""
        if self.stall_after is not None and self.frames >= self.stall_after:
            raise CameraStalled("fake camera stalled")
        if self.fail_after is not None and self.frames >= self.fail_after:
            raise CameraError("fake camera failed")
        self.frames += 1
        self.stage.log.append(("frame", self.stage.actual_z))
        sigma = self.blur_per_mm * abs(self.stage.actual_z - self.focus_z)
        image = cv2.GaussianBlur(self.scene, (0, 0), sigma) if sigma > 0.05 else self.scene
        noisy = image + self._rng.normal(0.0, self.noise, image.shape).astype(np.float32)
        return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)


class DriftingCamera(BlurringCamera):
    """A :class:`BlurringCamera` whose contrast grows by ``gain`` with every frame (a lamp
    warming up): a late frame scores higher than an early one at the same Z."""

    def __init__(self, stage: FakeStage, focus_z: float, gain: float = 0.02, **kwargs) -> None:
        super().__init__(stage, focus_z, **kwargs)
        self.gain = gain

    def frame(self) -> np.ndarray:
        """The blurred frame, its contrast around mid-grey grown by the frames taken so far."""
        image = super().frame().astype(np.float32)
        grown = 128.0 + (image - 128.0) * (1.0 + self.gain * self.frames)
        return np.clip(grown, 0, 255).astype(np.uint8)


class StackCamera(BlurringCamera):
    """A :class:`BlurringCamera` that only has the slices of a recorded focus stack.

    Each frame shows the slice nearest to the stage's optical Z; outside
    ``[slices[0], slices[-1]]`` the end slice repeats. Sensor noise is fresh on every
    frame, so frames of one slice differ by noise alone, as a replayed stack with live
    noise (or a JPEG re-encode) does.
    """

    def __init__(self, stage: FakeStage, focus_z: float, slices: np.ndarray, **kwargs) -> None:
        super().__init__(stage, focus_z, **kwargs)
        self.slices = np.asarray(slices, dtype=float)

    def frame(self) -> np.ndarray:
        """The nearest slice's image, seen through fresh noise."""
        actual = self.stage.actual_z
        self.stage.actual_z = float(self.slices[np.argmin(np.abs(self.slices - actual))])
        try:
            return super().frame()
        finally:
            self.stage.actual_z = actual


class DarkeningCamera:
    """Numbered frames (from 0); those whose number is in ``dark`` (anything ``in`` answers:
    a set, a range) are dark: the frame times ``dim`` (0: black, a camera's empty buffer; a few
    hundredths: the light went out and the sensor sees its own dark noise).

    The frames are ``camera``'s (arrays or JPEG bytes), or without one seeded textures, a new
    one every frame.
    """

    def __init__(self, dark, camera=None, dim: float = 0.0) -> None:
        self.dark, self.camera, self.dim, self.taken = dark, camera, dim, 0

    def frame(self):
        """The next frame, dark if its number is in ``dark``."""
        index, self.taken = self.taken, self.taken + 1
        if self.camera is None:
            image = np.random.default_rng(index).integers(40, 200, (64, 64)).astype(np.uint8)
        else:
            image = self.camera.frame()
        if index not in self.dark:
            return image
        if isinstance(image, bytes):
            decoded = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_UNCHANGED)
            return cv2.imencode(".jpg", (decoded * self.dim).astype(np.uint8))[1].tobytes()
        return (image * self.dim).astype(np.uint8)
