"""Heights over a grid of XY points: the order to visit them, the plane through them, the
height to expect at the next point, and a summary a person can act on.

Pure numpy, no devices: :mod:`.focus_map` drives the stage with it, the plugin and the
tests use it on plain arrays. Coordinates and heights are in mm; a larger Z is a higher
surface (the camera focuses further up).
"""

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = [
    "GridPoint",
    "Plane",
    "grid_points",
    "fit_plane",
    "predict_z",
    "summarize",
    "CORNERS",
]

CORNERS = {
    (0, 0): "front left",
    (1, 0): "front right",
    (0, 1): "back left",
    (1, 1): "back right",
}
"""(x at max?, y at max?) -> the corner's name; Y grows towards the back, X to the right."""

NEIGHBOURS = 6
"""How many of the nearest measured points the prediction of the next height uses."""

RIDGE = 1e-9
"""Relative weight that pulls an undetermined slope (all neighbours on one line) to zero."""


@dataclass(frozen=True)
class GridPoint:
    """One point of a map: its place in the visiting order, its row and column, its XY (mm)."""

    index: int
    row: int
    col: int
    x: float
    y: float


@dataclass(frozen=True)
class Plane:
    """``z = offset + slope_x * x + slope_y * y`` (slopes in mm per mm)."""

    slope_x: float
    slope_y: float
    offset: float

    def at(self, x: float, y: float) -> float:
        """The plane's height at ``(x, y)``."""
        return self.offset + self.slope_x * x + self.slope_y * y


def _axis(low: float, high: float, count: int) -> List[float]:
    if count == 1:
        return [(low + high) / 2.0]
    return [low + (high - low) * i / (count - 1) for i in range(count)]


def grid_points(x_min: float, x_max: float, y_min: float, y_max: float,
                rows: int, cols: int) -> List[GridPoint]:
    """``rows`` x ``cols`` points spanning the rectangle (corners included), in serpentine order.

    Row 0 lies at ``y_min`` and is visited with X increasing, row 1 with X decreasing, and
    so on: every move between points is one grid step, never a return across the bed.
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"need at least one row and one column, got {rows} x {cols}")
    if not (x_min <= x_max and y_min <= y_max):
        raise ValueError(f"need x_min <= x_max and y_min <= y_max, got {x_min, x_max, y_min, y_max}")
    xs, ys = _axis(x_min, x_max, cols), _axis(y_min, y_max, rows)
    points = []
    for row, y in enumerate(ys):
        cols_in_order = range(cols) if row % 2 == 0 else range(cols - 1, -1, -1)
        for col in cols_in_order:
            points.append(GridPoint(len(points), row, col, xs[col], y))
    return points


def fit_plane(xs: Sequence[float], ys: Sequence[float], zs: Sequence[float]) -> Optional[Plane]:
    """The least-squares plane through the points, or None when they do not span a plane
    (fewer than three, or all on one line)."""
    x, y, z = (np.asarray(v, dtype=float) for v in (xs, ys, zs))
    if len(z) < 3:
        return None
    design = np.column_stack([np.ones_like(x), x - x.mean(), y - y.mean()])
    if np.linalg.matrix_rank(design, tol=1e-9 * max(np.ptp(x), np.ptp(y), 1.0)) < 3:
        return None
    (c, a, b), *_ = np.linalg.lstsq(design, z, rcond=None)
    return Plane(slope_x=float(a), slope_y=float(b), offset=float(c - a * x.mean() - b * y.mean()))


def predict_z(known: Sequence[Tuple[float, float, float]], x: float, y: float,
              neighbours: int = NEIGHBOURS) -> Tuple[float, float]:
    """The height expected at ``(x, y)`` from measured ``(x, y, z)`` points, and its spread.

    A plane fitted to the ``neighbours`` nearest points, each weighted by the inverse square
    of its distance, evaluated at ``(x, y)``. Slopes the neighbours cannot determine (one
    point; all of them on one line, as along the first row) are taken as level, so one
    point predicts its own height and a row predicts along its own slope. The spread is
    the weighted RMS of the fit's residuals (0 on a plane): how far the surface bends
    locally. Raises ValueError without any known point.
    """
    if not known:
        raise ValueError("no measured point to predict from")
    pts = np.asarray(known, dtype=float)
    dx, dy, z = pts[:, 0] - x, pts[:, 1] - y, pts[:, 2]
    distance = np.hypot(dx, dy)
    nearest = np.argsort(distance, kind="stable")[:neighbours]
    dx, dy, z, distance = dx[nearest], dy[nearest], z[nearest], distance[nearest]
    scale = max(float(distance.max()), 1e-9)
    weight = 1.0 / (distance / scale + 1e-3) ** 2
    design = np.column_stack([np.ones_like(dx), dx / scale, dy / scale])
    normal = design.T @ (design * weight[:, None])
    normal[1:, 1:] += RIDGE * weight.sum() * np.eye(2)
    coef = np.linalg.solve(normal, design.T @ (weight * z))
    residual = z - design @ coef
    spread = math.sqrt(float(np.sum(weight * residual ** 2) / weight.sum()))
    return float(coef[0]), spread


def summarize(xs: Sequence[float], ys: Sequence[float], zs: Sequence[float],
              rectangle: Tuple[float, float, float, float]) -> Dict[str, object]:
    """What a person needs from measured heights (mm) over ``rectangle`` (x0, x1, y0, y1).

    ``min``, ``max``, ``range``, ``mean`` of the heights; with a plane (three points not
    on one line): ``rms`` (RMS deviation from the best-fit plane), ``tilt_x`` and
    ``tilt_y`` (the plane's rise in mm per 100 mm along X and Y), ``plane`` (its
    coefficients), and the plane's corners: ``high_corner`` / ``low_corner`` (names from
    :data:`CORNERS`) and ``high_by`` (mm the high corner stands above the low one). Without
    a plane those are None. ``measured`` counts the heights.
    """
    z = np.asarray(zs, dtype=float)
    summary: Dict[str, object] = {"measured": int(len(z)), "min": None, "max": None, "range": None,
                                  "mean": None, "rms": None, "tilt_x": None, "tilt_y": None,
                                  "plane": None, "high_corner": None, "low_corner": None, "high_by": None}
    if not len(z):
        return summary
    summary.update(min=float(z.min()), max=float(z.max()), range=float(np.ptp(z)), mean=float(z.mean()))
    plane = fit_plane(xs, ys, zs)
    if plane is None:
        return summary
    residual = z - np.array([plane.at(px, py) for px, py in zip(xs, ys)])
    x0, x1, y0, y1 = rectangle
    corners = {key: plane.at(x1 if key[0] else x0, y1 if key[1] else y0) for key in CORNERS}
    high = max(corners, key=corners.get)
    low = min(corners, key=corners.get)
    summary.update(
        rms=float(np.sqrt(np.mean(residual ** 2))),
        tilt_x=100.0 * plane.slope_x,
        tilt_y=100.0 * plane.slope_y,
        plane={"slope_x": plane.slope_x, "slope_y": plane.slope_y, "offset": plane.offset},
        high_corner=CORNERS[high],
        low_corner=CORNERS[low],
        high_by=float(corners[high] - corners[low]),
    )
    return summary
