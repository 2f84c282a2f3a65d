"""A simulated microscope on an XY gantry over a focal surface: the truth for focus maps."""

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

from ..focus.devices import Frame
from ..focus.errors import MoveRefused
from .camera import SimCamera
from .clock import SimClock
from .focal_surface import FocalSurface
from .render import render
from .scenes import SCENES
from .stage import SimStage

__all__ = ["MapRig", "SimXY", "make_map_rig", "view_at"]

PX_PER_MM = 160.0
"""How many pixels of the scene the camera sees per mm of head travel (a 4 mm wide field)."""


def view_at(scene_image: np.ndarray, x: float, y: float, px_per_mm: float = PX_PER_MM) -> np.ndarray:
    """The part of an endless (tiled) scene under the camera at ``(x, y)`` mm."""
    shift_x = int(round(x * px_per_mm)) % scene_image.shape[1]
    shift_y = int(round(y * px_per_mm)) % scene_image.shape[0]
    return np.roll(scene_image, (shift_y, -shift_x), axis=(0, 1))


@dataclass
class SimXY:
    """An XY gantry on the simulated clock: ``move_xy`` takes ``overhead + distance / speed``
    seconds; a target outside ``bounds`` (x_min, x_max, y_min, y_max) is refused and
    recorded in ``violations``. ``path`` lists every XY reached."""

    clock: SimClock
    bounds: Tuple[float, float, float, float]
    x: float = 0.0
    y: float = 0.0
    speed: float = 50.0
    overhead: float = 0.05
    moves: int = 0
    travel: float = 0.0
    violations: List[Tuple[float, float]] = field(default_factory=list)
    path: List[Tuple[float, float]] = field(default_factory=list)

    def move_xy(self, x: float, y: float) -> None:
        """Move to absolute ``(x, y)`` (mm), advancing the clock by the move time."""
        x0, x1, y0, y1 = self.bounds
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            self.violations.append((x, y))
            raise MoveRefused(f"refusing X{x:.3f} Y{y:.3f}: outside the bed {self.bounds!r}")
        distance = float(np.hypot(x - self.x, y - self.y))
        self.clock.sleep(self.overhead + distance / self.speed)
        self.x, self.y = float(x), float(y)
        self.moves += 1
        self.travel += distance
        self.path.append((self.x, self.y))

    def position_xy(self) -> Tuple[float, float]:
        """The current X and Y (mm)."""
        return self.x, self.y


@dataclass
class MapRig:
    """Z stage, XY gantry, camera and clock over ``surface``, and the truth to judge by."""

    stage: SimStage
    xy: SimXY
    camera: SimCamera
    clock: SimClock
    surface: FocalSurface
    dof: float

    def focal_z(self) -> float:
        """The in-focus Z under the camera now."""
        return self.surface.z_at(self.xy.x, self.xy.y)

    def optical_error(self) -> float:
        """Distance (mm) between the optics and the surface's in-focus Z under the camera."""
        return abs(self.stage.actual_z - self.focal_z())


def make_map_rig(
    surface: FocalSurface,
    scene: str = "pcb",
    seed: int = 1,
    dof: float = 0.1,
    z_limits: Tuple[float, float] = (0.0, 20.0),
    start_z: float = 5.0,
    start_xy: Tuple[float, float] = (0.0, 0.0),
    noise: float = 0.01,
    jpeg_quality: Optional[int] = 85,
    backlash: float = 0.0,
    z_speed: float = 5.0,
    xy_speed: float = 50.0,
    move_overhead: float = 0.05,
    latency: float = 0.05,
    fps: float = 30.0,
    size: Tuple[int, int] = (320, 240),
    px_per_mm: float = PX_PER_MM,
) -> MapRig:
    """A deterministic rig for focus maps: the camera sees ``scene`` (tiled, shifted with the
    head) blurred by the distance between the optics and ``surface`` under it, or a
    featureless grey over the surface's bare spot. XY moves are refused outside
    ``surface.bed``."""
    if scene not in SCENES:
        raise ValueError(f"unknown scene {scene!r}; valid: {', '.join(sorted(SCENES))}")
    clock = SimClock()
    stage = SimStage(clock, z_limits, start_z, backlash, z_speed, move_overhead, 0.0, None)
    xy = SimXY(clock, surface.bed, start_xy[0], start_xy[1], xy_speed, move_overhead)
    image = SCENES[scene](seed, size).astype(np.float32)
    bare = np.full_like(image, float(image.mean()))
    rng = np.random.default_rng([int(seed), 2])

    def picture(z: float) -> Frame:
        seen = bare if surface.is_bare(xy.x, xy.y) else view_at(image, xy.x, xy.y, px_per_mm)
        return render(seen, z - surface.z_at(xy.x, xy.y), dof, rng, noise=noise, jpeg_quality=jpeg_quality)

    camera = SimCamera(stage, clock, picture, latency, fps)
    return MapRig(stage=stage, xy=xy, camera=camera, clock=clock, surface=surface, dof=float(dof))
