"""A lead-screw Z stage and a cheap USB camera for the held-out bench (not the simulator's).

Both run on one simulated clock (:class:`~octoprint_autofocus.simulator.SimClock`, only a
counter), so a run is deterministic given its seed and time costs what it would on a printer.

:class:`ScrewStage` is a printer Z axis driven by a stepper and a lead screw:

- **Hard limits**: a target outside ``limits`` raises ``MoveRefused`` and is recorded in
  ``violations`` (nothing is clipped); every target is kept in ``commanded``.
- **Timing**: a G-code round trip (``overhead``) plus a trapezoidal move (``speed``,
  ``accel``); ``move_to`` returns when the move is done, as after M400.
- **Backlash**: the nut floats in a dead band of ``backlash`` mm, so after a move up the
  carriage sits ``backlash`` below the command, after a move down exactly on it.
- **Lead-screw pitch error**: a periodic error ``pitch_error * sin(2 pi z / lead + phase)``
  (a slightly bent or unevenly cut screw): the optics are not where the steps say.
- **Lost steps**: with probability ``lost_step_p`` a move ends one ``lost_step`` short (a
  skipped microstep under load); the offset accumulates, within a fraction of the DOF.
- **Vibration**: after each move the head rings, ``amplitude * exp(-t / tau) * sin(2 pi f t)``,
  with an amplitude growing with the move's peak speed: frames taken too soon see it.

:class:`UsbCamera` is a webcam or USB microscope streaming at ``fps``:

- **Exposure timing and rolling shutter**: a frame is the next one whose exposure starts
  after the call; rows start ``readout / h`` apart and each integrates ``exposure`` s, so
  a frame overlapping vibration or a move sees different Z in its top and bottom bands
  (rendered per band) and the light of its own instant.
- **Late and repeated frames**: with ``late_p`` the driver hands over the frame that was
  already being exposed when the call came (its exposure began up to one period earlier,
  e.g. during the end of a move); with ``repeat_p`` it sends the previous frame again.
- **Auto-exposure** (``ae_speed`` > 0): a slow loop on the mean level, gain in 1/16 steps,
  so the brightness, and the noise with it, change as the image changes with Z. The
  camera has been streaming before the run: the loops start settled on the start image.
- **White balance drift** (colour): channel gains random-walk and follow a grey-world loop.
- **LED flicker**: PWM-dimmed illumination (``pwm_hz``, ``pwm_duty``, ``pwm_depth``) seen
  through the rolling shutter as bands that move from frame to frame.
- **Sensor**: shot noise (``full_well`` electrons at 255), read noise, 8-bit quantisation,
  and MJPEG at a quality that wanders between ``jpeg_min`` and ``jpeg_max`` per frame; frames
  are returned as JPEG bytes, as from a real stream.
"""

import math
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import cv2
import numpy as np

from bench.stack_rig import StackStage
from octoprint_autofocus.simulator import SimClock

__all__ = ["StageSpec", "CameraSpec", "ScrewStage", "UsbCamera"]

ROW_BANDS = 3
"""A frame whose rows see different Z (vibration, a move) is rendered in this many bands."""
BAND_SPREAD_DOF = 0.05
"""Rows are rendered separately only when their Z differs by more than this many DOFs."""
GAIN_STEP = 1.0 / 16.0
"""Auto-exposure gain steps (analog gain registers move in sixteenths)."""
SETTLE_FRAMES = 40
"""Frames of exposure-loop settling on the start image before the run (a streaming camera)."""


@dataclass(frozen=True)
class StageSpec:
    """The mechanics of one Z axis (mm, s)."""

    limits: Tuple[float, float]
    speed: float = 8.0
    accel: float = 100.0
    overhead: float = 0.05
    backlash: float = 0.0
    pitch_error: float = 0.0
    lead: float = 8.0
    phase: float = 0.0
    lost_step: float = 0.0
    lost_step_p: float = 0.0
    amplitude: float = 0.0
    tau: float = 0.08
    ring_hz: float = 25.0


@dataclass(frozen=True)
class CameraSpec:
    """The camera's timing, exposure loops, light and sensor."""

    fps: float = 30.0
    exposure: float = 0.015
    readout: float = 0.025
    latency: float = 0.08
    late_p: float = 0.0
    repeat_p: float = 0.0
    ae_speed: float = 0.0
    ae_target: float = 110.0
    awb_drift: float = 0.0
    pwm_hz: float = 0.0
    pwm_duty: float = 0.5
    pwm_depth: float = 0.0
    full_well: float = 4000.0
    read_noise: float = 1.5
    jpeg_min: int = 70
    jpeg_max: int = 90
    gain: float = 1.0


class ScrewStage(StackStage):
    """A ZStage over a simulated lead-screw axis (see the module docstring).

    Limits, ``commanded``, ``violations`` and the backlash dead band come from
    :class:`~bench.stack_rig.StackStage`, whose ``optical_z`` is here the *carriage*; the
    optics sit at :meth:`rest_z` (carriage, screw error, lost steps) once the ringing is
    over, and at :meth:`optical_z_at` at any moment.
    """

    def __init__(self, spec: StageSpec, clock: SimClock, start: float, rng: np.random.Generator) -> None:
        super().__init__(spec.limits, start, spec.backlash)
        self.spec = spec
        self.clock = clock
        self.rng = rng
        self._lost = 0.0
        self._from = self.rest_z()
        self._move_start = -1.0
        self._move_end = -1.0
        self._ring = 0.0

    def move_to(self, z: float) -> None:
        """Move to ``z`` (refused outside the limits), returning once the move is done."""
        spec = self.spec
        before, start_opt = self._z, self.optical_z_at(self.clock.now())
        super().move_to(z)
        distance = abs(self._z - before)
        duration, peak = _trapezoid(distance, spec.speed, spec.accel)
        if distance > 0 and self.rng.random() < spec.lost_step_p:
            self._lost += -spec.lost_step if self._z > before else spec.lost_step
        self.clock.sleep(spec.overhead)
        self._from = start_opt
        self._move_start = self.clock.now()
        self.clock.sleep(duration)
        self._move_end = self.clock.now()
        self._ring = spec.amplitude * min(1.0, peak / spec.speed) if distance > 0 else 0.0

    def rest_z(self) -> float:
        """Where the optics are at rest: carriage plus screw error plus lost steps."""
        return self.optics_over(self.spec, self.optical_z) + self._lost

    @staticmethod
    def optics_over(spec: StageSpec, carriage: float) -> float:
        """Where the optics rest with the carriage at ``carriage`` (no lost steps): plus the
        screw's periodic pitch error."""
        return carriage + spec.pitch_error * math.sin(2.0 * math.pi * carriage / spec.lead + spec.phase)

    def optical_z_at(self, t: float) -> float:
        """The optical Z at time ``t``: gliding during the last move, then ringing down."""
        rest = self.rest_z()
        if self._move_start <= t < self._move_end:
            frac = (t - self._move_start) / max(self._move_end - self._move_start, 1e-9)
            return self._from + (rest - self._from) * frac
        if t < self._move_start:
            return self._from
        dt = t - self._move_end
        return rest + self._ring * math.exp(-dt / self.spec.tau) * math.sin(2.0 * math.pi * self.spec.ring_hz * dt)


def _trapezoid(distance: float, speed: float, accel: float) -> Tuple[float, float]:
    """Duration (s) and peak speed of a move with a trapezoidal (or triangular) profile."""
    if distance <= 0:
        return 0.0, 0.0
    ramp = speed * speed / accel
    if distance >= ramp:
        return distance / speed + speed / accel, speed
    peak = math.sqrt(distance * accel)
    return 2.0 * peak / accel, peak


@dataclass
class _Loops:
    """The camera's state that persists from frame to frame."""

    gain: float
    wb: np.ndarray
    last: Optional[bytes] = None
    frames: int = 0
    quality: float = 80.0


class UsbCamera:
    """A FrameSource returning JPEG bytes of ``render(optical_z)`` through a real-ish camera.

    ``render(z)`` gives the clean float32 image (gray or BGR, 0..255 scale) at optical Z;
    ``dof`` is only used to decide when rows must be rendered separately. ``frames``
    counts the frames handed out.
    """

    def __init__(self, spec: CameraSpec, clock: SimClock, stage: ScrewStage,
                 render: Callable[[float], np.ndarray], dof: float, rng: np.random.Generator) -> None:
        self.spec = spec
        self.clock = clock
        self.stage = stage
        self.render = render
        self.dof = dof
        self.rng = rng
        self.frames = 0
        self._loops = _Loops(gain=spec.gain, wb=np.ones(3, np.float32),
                             quality=0.5 * (spec.jpeg_min + spec.jpeg_max))
        self._settle_loops()

    def _settle_loops(self) -> None:
        """Run the exposure loops on the clean start image until they settle."""
        if self.spec.ae_speed <= 0 and self.spec.awb_drift <= 0:
            return
        clean = self.render(self.stage.optical_z_at(self.clock.now()))
        for _ in range(SETTLE_FRAMES):
            img = clean * np.float32(self._loops.gain)
            if img.ndim == 3:
                img = img * self._loops.wb[None, None, :]
            self._update_loops(np.clip(img, 0, 255))

    def frame(self) -> bytes:
        """The next frame as JPEG bytes (capture timing, loops and sensor applied)."""
        spec, loops = self.spec, self._loops
        period = 1.0 / spec.fps
        now = self.clock.now()
        start = math.ceil(now / period) * period
        if self.rng.random() < spec.late_p:
            start -= period  # the frame already being exposed when the call came
        self.clock.advance_to(start + spec.readout + spec.exposure + spec.latency)
        self.frames += 1
        if loops.last is not None and self.rng.random() < spec.repeat_p:
            return loops.last
        image = self._expose(start)
        loops.last = self._encode(image)
        return loops.last

    def _expose(self, start: float) -> np.ndarray:
        """The clean image integrated over the rolling-shutter rows starting at ``start``."""
        spec = self.spec
        h = self._height()
        bands = np.array_split(np.arange(h), ROW_BANDS)
        zs = [self._mean_z(start + spec.readout * (b[0] + b[-1]) / (2.0 * h)) for b in bands]
        if max(zs) - min(zs) <= BAND_SPREAD_DOF * self.dof:
            image = self.render(float(np.mean(zs)))
        else:
            image = np.concatenate([self.render(z)[b[0] : b[-1] + 1] for z, b in zip(zs, bands)], axis=0)
        light = self._light_rows(start, h)
        return image * (light[:, None, None] if image.ndim == 3 else light[:, None])

    def _height(self) -> int:
        """Frame height in rows (from one render, cached)."""
        if not hasattr(self, "_h"):
            self._h = int(self.render(self.stage.optical_z_at(self.clock.now())).shape[0])
        return self._h

    def _mean_z(self, t0: float) -> float:
        """Mean optical Z over one exposure starting at ``t0`` (5 samples)."""
        ts = t0 + np.linspace(0.0, self.spec.exposure, 5)
        return float(np.mean([self.stage.optical_z_at(float(t)) for t in ts]))

    def _light_rows(self, start: float, h: int) -> np.ndarray:
        """Illumination per row: PWM LED light averaged over each row's exposure."""
        spec = self.spec
        if spec.pwm_depth <= 0 or spec.pwm_hz <= 0:
            return np.ones(h, np.float32)
        t0 = start + spec.readout * np.arange(h) / h
        on = (_on_time(t0 + spec.exposure, spec.pwm_hz, spec.pwm_duty)
              - _on_time(t0, spec.pwm_hz, spec.pwm_duty)) / spec.exposure
        return ((1.0 - spec.pwm_depth) + spec.pwm_depth * on / spec.pwm_duty).astype(np.float32)

    def _encode(self, image: np.ndarray) -> bytes:
        """Exposure loops, white balance, sensor noise, quantisation and MJPEG."""
        spec, loops, rng = self.spec, self._loops, self.rng
        img = image * np.float32(loops.gain)
        if img.ndim == 3:
            loops.wb *= np.exp(rng.normal(0.0, spec.awb_drift, 3)).astype(np.float32)
            img = img * loops.wb[None, None, :]
        electrons = np.clip(img, 0, None) * (spec.full_well / 255.0)
        sigma = np.sqrt(electrons + (spec.read_noise * spec.full_well / 255.0) ** 2 * loops.gain ** 2)
        electrons = electrons + rng.standard_normal(img.shape).astype(np.float32) * sigma.astype(np.float32)
        out = np.clip(electrons * (255.0 / spec.full_well) + 0.5, 0, 255).astype(np.uint8)
        self._update_loops(out)
        loops.quality = float(np.clip(loops.quality + rng.normal(0.0, 4.0), spec.jpeg_min, spec.jpeg_max))
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(loops.quality)])
        return buf.tobytes()

    def _update_loops(self, out: np.ndarray) -> None:
        """Auto-exposure (slow, stepped) and grey-world white balance after a frame."""
        spec, loops = self.spec, self._loops
        mean = float(out.mean())
        if spec.ae_speed > 0 and mean > 1.0:
            target = loops.gain * (spec.ae_target / mean) ** spec.ae_speed
            loops.gain = float(np.clip(round(target / GAIN_STEP) * GAIN_STEP, 0.25, 8.0))
        if out.ndim == 3 and spec.awb_drift > 0:
            means = out.reshape(-1, 3).mean(axis=0) + 1.0
            loops.wb *= (means.mean() / means) ** np.float32(0.1)


def _on_time(t: np.ndarray, hz: float, duty: float) -> np.ndarray:
    """Seconds the PWM light has been on from 0 to ``t`` (square wave, on first)."""
    cycles = np.floor(t * hz)
    frac = t * hz - cycles
    return (cycles * duty + np.minimum(frac, duty)) / hz
