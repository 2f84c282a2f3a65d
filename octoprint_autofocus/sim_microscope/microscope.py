"""The simulated microscope: the simulator's scene, blurred by where the tracked Z is now.

The scene is tiled over the bed and moves with the head's X/Y; the in-focus Z follows a
focal surface over X/Y (flat, tilted or warped, :mod:`..simulator.focal_surface`), so a
focus map has a real surface to find.

Frames (and the scene itself) are made only when someone asks (a snapshot, or a connected
stream client), so an idle OctoPrint on a Raspberry Pi spends nothing on it; ``renders``
counts the frames.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any, Mapping, Optional, Tuple

import numpy as np

from ..simulator import SCENES, render
from ..simulator.focal_surface import FocalSurface
from ..simulator.map_rig import view_at
from .ztracker import ZTracker

__all__ = ["SimConfig", "SimMicroscope"]


@dataclass(frozen=True)
class SimConfig:
    """Settings of the simulated microscope (``plugins.autofocus.simulator``).

    ``focal_z`` is the physical Z (mm) in focus, ``dof`` the depth of field (mm), ``noise``
    the sensor noise sigma (fraction of full scale), ``fps`` the stream's frame rate,
    ``latency`` (s) how old a frame is when it is delivered, ``backlash`` (mm) the Z dead
    band, ``scene``/``seed`` pick the simulator scene, ``size`` is (width, height) in px.
    ``surface`` (one of ``SURFACES``) shapes the in-focus Z over the ``bed`` (x_min,
    x_max, y_min, y_max; the printer's): ``focal_z`` at the level part or the bed's centre,
    ``surface_height`` mm of tilt or bump; ``bare_spot`` None or (x, y, radius) mm: a spot
    without texture.
    """

    focal_z: float = 4.0
    dof: float = 0.1
    noise: float = 0.01
    fps: float = 15.0
    latency: float = 0.05
    backlash: float = 0.0
    scene: str = "pcb"
    seed: int = 1
    size: Tuple[int, int] = (640, 480)
    jpeg_quality: int = 85
    surface: str = "flat"
    surface_height: float = 0.3
    bare_spot: Optional[Tuple[float, float, float]] = None
    bed: Tuple[float, float, float, float] = (0.0, 200.0, 0.0, 200.0)

    def __post_init__(self) -> None:
        if self.dof <= 0 or self.fps <= 0:
            raise ValueError("dof and fps must be > 0")
        if self.noise < 0 or self.latency < 0 or self.backlash < 0:
            raise ValueError("noise, latency and backlash must be >= 0")
        if self.scene not in SCENES:
            raise ValueError(f"unknown scene {self.scene!r}, expected one of {sorted(SCENES)}")
        width, height = self.size
        if width < 8 or height < 8:
            raise ValueError(f"size must be at least 8x8 px, got {self.size!r}")
        self.focal_surface()  # checks surface, bed and bare_spot

    def focal_surface(self) -> FocalSurface:
        """The in-focus Z over the bed that these settings describe."""
        return FocalSurface(self.surface, self.focal_z, self.surface_height, tuple(self.bed),
                            None if self.bare_spot is None else tuple(self.bare_spot))

    @classmethod
    def from_settings(cls, values: Mapping[str, Any]) -> "SimConfig":
        """Build from a settings dict; keys that are not fields (e.g. ``enabled``) are ignored."""
        names = {field.name for field in fields(cls)}
        kwargs = {key: value for key, value in values.items() if key in names and value is not None}
        if "size" in kwargs:
            kwargs["size"] = (int(kwargs["size"][0]), int(kwargs["size"][1]))
        for key in ("focal_z", "dof", "noise", "fps", "latency", "backlash", "surface_height"):
            if key in kwargs:
                kwargs[key] = float(kwargs[key])
        for key in ("bare_spot", "bed"):
            if key in kwargs:
                kwargs[key] = tuple(float(v) for v in kwargs[key])
        for key in ("seed", "jpeg_quality"):
            if key in kwargs:
                kwargs[key] = int(kwargs[key])
        return cls(**kwargs)


class SimMicroscope:
    """A camera whose JPEG frames show the scene as seen from the Z that ``tracker`` follows.

    ``capture(max_age)`` is the one way frames are made: it reuses the last frame when it is
    younger than ``max_age`` seconds (so stream clients share renders), else renders one of
    the optics at ``now - latency``. Thread-safe; renders one frame at a time.
    ``executor`` is a one-thread pool for callers that must not block (the Tornado handlers).
    """

    def __init__(self, config: Optional[SimConfig] = None, tracker: Optional[ZTracker] = None) -> None:
        self.tracker = tracker if tracker is not None else ZTracker()
        self.renders = 0
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="AutofocusSimMicroscope")
        self._lock = threading.Lock()
        self._last: Optional[Tuple[float, bytes]] = None
        self._config = config if config is not None else SimConfig()
        self._scene: Optional[np.ndarray] = None  # made on the first capture
        self._bare: Optional[np.ndarray] = None
        self._surface = self._config.focal_surface()
        self._rng = np.random.default_rng(self._config.seed)
        self.tracker.backlash = self._config.backlash

    @property
    def config(self) -> SimConfig:
        """The settings in use."""
        return self._config

    def reconfigure(self, config: SimConfig) -> None:
        """Apply new settings at once; the next frame uses them."""
        with self._lock:
            old = self._config
            if (config.scene, config.seed, config.size) != (old.scene, old.seed, old.size):
                self._scene = None
                self._rng = np.random.default_rng(config.seed)
            self._config = config
            self._surface = config.focal_surface()
            self._last = None
            self.tracker.backlash = config.backlash

    def capture(self, max_age: float = 0.0) -> bytes:
        """A JPEG frame no older than ``max_age`` seconds (0: always a fresh one)."""
        with self._lock:
            now = self.tracker.clock()
            if self._last is not None and now - self._last[0] < max_age:
                return self._last[1]
            config = self.config
            if self._scene is None:
                self._scene = SCENES[config.scene](config.seed, tuple(config.size))
                self._bare = np.full(self._scene.shape, float(self._scene.mean()), np.float32)
            seen = now - config.latency
            x, y = self.tracker.xy_at(seen)
            view = self._bare if self._surface.is_bare(x, y) else view_at(self._scene, x, y)
            jpeg = render(
                view,
                self.tracker.z_at(seen) - self._surface.z_at(x, y),
                config.dof,
                self._rng,
                noise=config.noise,
                jpeg_quality=config.jpeg_quality,
            )
            self.renders += 1
            self._last = (now, jpeg)
            return jpeg

    def snapshot(self) -> bytes:
        """A freshly rendered JPEG of the view as it was ``latency`` seconds ago."""
        return self.capture(0.0)

    def close(self) -> None:
        """Stop the render thread (call on plugin shutdown)."""
        self.executor.shutdown(wait=False, cancel_futures=True)

