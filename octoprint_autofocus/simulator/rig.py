"""A whole simulated microscope: stage, camera and clock wired together, plus the truth."""

from dataclasses import dataclass
from inspect import signature
from typing import Any, Optional, Tuple

import numpy as np

from ..focus.devices import Frame
from .camera import SimCamera
from .clock import SimClock
from .render import render
from .scenes import SCENES
from .stage import SimStage

__all__ = ["Rig", "make_rig"]


@dataclass
class Rig:
    """The devices a focus search drives, and the ground truth to judge it by."""

    stage: SimStage
    camera: SimCamera
    clock: SimClock
    scene: str
    focal_z: float
    dof: float

    def optical_error(self) -> float:
        """Distance (mm) between where the optics really are and the true focal plane."""
        return abs(self.stage.actual_z - self.focal_z)


def make_rig(
    scene: str = "pcb",
    seed: int = 1,
    focal_z: float = 4.0,
    dof: float = 0.05,
    z_limits: Tuple[float, float] = (0.0, 10.0),
    start_z: float = 5.0,
    noise: float = 0.01,
    jpeg_quality: Optional[int] = None,
    flicker: float = 0.0,
    backlash: float = 0.0,
    speed: float = 5.0,
    move_overhead: float = 0.05,
    settle: float = 0.0,
    latency: float = 0.05,
    fps: float = 30.0,
    lag: float = 0.0,
    size: Tuple[int, int] = (640, 480),
    colour: bool = False,
    stage_fail_after: Optional[int] = None,
    camera_fail_after: Optional[int] = None,
    stall_after: Optional[int] = None,
    **render_options: Any,
) -> Rig:
    """Build a deterministic simulated microscope.

    ``scene`` is a key of :data:`~.scenes.SCENES` drawn at ``size = (width, height)`` from
    ``seed``; the same arguments always give the same run. ``focal_z`` is the true focus and
    ``dof`` the depth of field (mm). Stage options: ``z_limits``, ``start_z``, ``backlash``,
    ``speed`` (mm/s), ``move_overhead`` and ``settle`` (s per move), ``stage_fail_after``.
    Camera options: ``latency`` (s), ``fps``, ``lag`` (s, stale frames), ``noise``,
    ``flicker``, ``jpeg_quality``, ``colour``, ``camera_fail_after``, ``stall_after``.
    Extra keywords go to :func:`~.render.render` (``shot_noise``, ``gain``, ``base_blur``,
    ``asymmetry``, ``light_distance``, ``tilt``, ``hot_pixels``).
    """
    if scene not in SCENES:
        raise ValueError(f"unknown scene {scene!r}; valid: {', '.join(sorted(SCENES))}")
    signature(render).bind_partial(**render_options)
    clock = SimClock()
    stage = SimStage(clock, z_limits, start_z, backlash, speed, move_overhead, settle, stage_fail_after)
    image = SCENES[scene](seed, size)
    rng = np.random.default_rng([int(seed), 1])
    sensor = dict(noise=noise, flicker=flicker, jpeg_quality=jpeg_quality, colour=colour)

    def picture(z: float) -> Frame:
        return render(image, z - focal_z, dof, rng, **sensor, **render_options)

    camera = SimCamera(stage, clock, picture, latency, fps, lag, stall_after, camera_fail_after)
    return Rig(stage=stage, camera=camera, clock=clock, scene=scene, focal_z=float(focal_z), dof=float(dof))
