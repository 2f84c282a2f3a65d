"""The height at which a simulated camera is in focus, over the bed's X and Y.

A real sample is rarely level: a bed is tilted, a PCB warps. :class:`FocalSurface` gives the
in-focus Z at any XY (the truth a focus map is judged by), and can mark a bare spot where
the surface has no texture (a hole, the edge of a board) so a point there cannot focus.
"""

import math
from dataclasses import dataclass
from typing import Optional, Tuple

__all__ = ["SURFACES", "FocalSurface"]

SURFACES = ("flat", "tilted", "warped")
"""``flat``: level at ``focal_z``; ``tilted``: a plane rising ``height`` mm from the bed's
front-left to its back-right corner (two thirds of it along X, one third along Y), level
at the bed's centre; ``warped``: level with a smooth round bump ``height`` mm high
(Gaussian, sigma a quarter of the bed's smaller side) centred at 60 % of the width and 40 %
of the depth."""

TILT_SHARE_X = 2.0 / 3.0
"""Share of a tilted surface's corner-to-corner rise that happens along X (the rest along Y)."""
BUMP_CENTRE = (0.6, 0.4)
"""Where the warped surface's bump sits, as fractions of the bed's width and depth."""
BUMP_SIGMA = 0.25
"""The bump's sigma as a fraction of the bed's smaller side."""


@dataclass(frozen=True)
class FocalSurface:
    """The in-focus Z over the bed ``(x_min, x_max, y_min, y_max)`` (mm).

    ``kind`` is one of :data:`SURFACES`, ``focal_z`` the in-focus Z of the level part (or
    the bed's centre), ``height`` the tilt's rise or the bump's height (mm, may be
    negative: a dip). ``bare_spot`` is None or ``(x, y, radius)``: within it the surface
    shows no texture.
    """

    kind: str = "flat"
    focal_z: float = 4.0
    height: float = 0.3
    bed: Tuple[float, float, float, float] = (0.0, 200.0, 0.0, 200.0)
    bare_spot: Optional[Tuple[float, float, float]] = None

    def __post_init__(self) -> None:
        if self.kind not in SURFACES:
            raise ValueError(f"unknown surface {self.kind!r}, expected one of {', '.join(SURFACES)}")
        x0, x1, y0, y1 = self.bed
        if not (x0 < x1 and y0 < y1):
            raise ValueError(f"the bed must have x_min < x_max and y_min < y_max, got {self.bed!r}")
        if self.bare_spot is not None and not self.bare_spot[2] > 0:
            raise ValueError(f"the bare spot's radius must be > 0, got {self.bare_spot!r}")

    def z_at(self, x: float, y: float) -> float:
        """The in-focus Z (mm) above ``(x, y)``."""
        x0, x1, y0, y1 = self.bed
        width, depth = x1 - x0, y1 - y0
        if self.kind == "tilted":
            u = (x - (x0 + x1) / 2.0) / width
            v = (y - (y0 + y1) / 2.0) / depth
            return self.focal_z + self.height * (TILT_SHARE_X * u + (1.0 - TILT_SHARE_X) * v)
        if self.kind == "warped":
            cx, cy = x0 + BUMP_CENTRE[0] * width, y0 + BUMP_CENTRE[1] * depth
            sigma = BUMP_SIGMA * min(width, depth)
            return self.focal_z + self.height * math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2.0 * sigma ** 2))
        return self.focal_z

    def is_bare(self, x: float, y: float) -> bool:
        """Whether ``(x, y)`` lies in the bare spot (no texture to focus on)."""
        if self.bare_spot is None:
            return False
        bx, by, radius = self.bare_spot
        return math.hypot(x - bx, y - by) <= radius
