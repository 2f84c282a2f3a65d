"""A focus map: the height of a surface at a grid of XY points, measured by focus.

How a map goes (:func:`measure_map`):

1. For each point in serpentine order (:func:`~.surface.grid_points`): lift Z to the
   travel height (``lift`` mm above the last Z, or the absolute ``travel_z``), move X/Y
   there, then focus.
2. Until a point has been measured, a point gets a normal autofocus over ``first_window``.
   After that, each point searches a narrow window around the height predicted from the
   points measured so far (a plane through the nearest ones, :func:`~.surface.predict_z`):
   half as wide as ``window_fwhm`` times the focus curve's width at half height (from the
   first measured point's fit), and wider where the surface bends (the local fit's spread).
   Three coarse samples span it. The curve's flanks then sit near a third of its height,
   so one sample near the middle stands out, the fit sees both sides, and the refinement
   starts close to the top: about six frames per point when the prediction holds.
3. When the focus lies outside the window the search extends past it by itself, up to
   ``max_extension`` mm per side and never past ``limits`` (the search's own ``limits`` and
   ``max_extension`` options).
4. A point whose search fails (no peak, too little texture, ...) is kept with its reason
   and the map goes on; the map stops when more than ``max_failed`` of all points have
   failed, and at once on a device error or a cancel (nothing moves after a cancel: the
   caller may lift). A finished map lifts to the travel height.

No Z outside ``limits`` is ever commanded: windows are clipped into them, and the travel
height is capped at their top.
"""

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .devices import FrameSource, XYStage, ZStage
from .errors import Cancelled, FocusError
from .result import FocusResult
from .search import autofocus
from .surface import GridPoint, predict_z, summarize

__all__ = [
    "MAP_REASONS",
    "MapPoint",
    "MapResult",
    "measure_map",
    "WINDOW_FWHM",
    "NARROW_COARSE_POINTS",
]

WINDOW_FWHM = 0.5
"""Half-width of a predicted point's window, in focus-curve widths (FWHM) of the first point.

The three coarse samples then sit at the predicted Z and at the curve's half-height points
either side of it: the middle one stands out clearly above the noise, the samples are no
further apart than the search's own convergence gap (half a width), and a prediction that
misses by up to a third of a width still has the focus inside the window. Narrower windows
make the samples differ by little more than noise and miss more often; wider ones put the
outer samples in the tails, where they say little about the top, and the refinement needs
more frames (``bench/bench_map.py --window`` compares)."""

SPREAD_WINDOW = 2.0
"""A bending surface widens the window to this many times the local fit's RMS spread
(the prediction there misses by about one to three spreads)."""

NARROW_COARSE_POINTS = 3
"""Coarse samples in a predicted window (the fewest the search takes)."""

POINT_FAILURES = ("no_peak", "peak_at_edge", "low_texture", "poor_fit", "verify_failed", "camera_dark")
"""Search failures that fail one point (a dark picture too: a point over a dark part of the bed
or the specimen); any other failure (a device, a cancel) ends the map."""

MAP_REASONS: Dict[str, str] = {
    "": "measured",
    "too_many_failed": "more points failed than the map allows",
    "cancelled": "the map was cancelled",
    "camera_error": "the camera could not deliver a frame",
    "camera_stalled": "the camera stopped delivering fresh frames",
    "stage_error": "an axis failed to move or to confirm a move",
}
"""Every way a map can end (``""``: it ran to the end), with a plain meaning."""


@dataclass
class MapPoint:
    """One measured (or failed) point.

    ``z`` is the focused Z (None when the point failed), ``height`` that Z minus the mean
    of the measured points (set when the map ends), ``predicted`` the Z the window was
    centred on (None for a normal autofocus), ``window`` the window searched first and
    ``searched`` the whole range searched (wider when the search extended past the window),
    ``frames`` the frames taken, ``confidence`` the R^2 of the peak fit (0..1, None without
    one), ``samples`` every ``(z, score)``.
    """

    index: int
    row: int
    col: int
    x: float
    y: float
    ok: bool = False
    z: Optional[float] = None
    height: Optional[float] = None
    reason: str = ""
    message: str = ""
    predicted: Optional[float] = None
    window: Optional[List[float]] = None
    searched: Optional[List[float]] = None
    frames: int = 0
    confidence: Optional[float] = None
    elapsed: float = 0.0
    samples: List[List[float]] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        """The point as plain JSON types."""
        return asdict(self)


@dataclass
class MapResult:
    """The record of one map: ``ok`` when it ran to the end (some points may have failed:
    ``summary["failed"]``), ``reason`` a key of :data:`MAP_REASONS`, ``message`` a sentence
    for people, ``points`` in visiting order, ``summary`` from :func:`~.surface.summarize`
    over the measured points plus ``points``/``failed`` counts, ``frames`` and
    ``elapsed`` (s) for the whole map, ``fwhm`` the focus-curve width the windows used."""

    ok: bool
    reason: str
    message: str
    points: List[MapPoint]
    summary: Dict[str, Any]
    rectangle: List[float]
    frames: int = 0
    elapsed: float = 0.0
    fwhm: Optional[float] = None

    def to_dict(self) -> Dict[str, Any]:
        """The map as plain JSON types."""
        data = asdict(self)
        data["points"] = [point.to_dict() for point in self.points]
        return data


def _inside(low: float, high: float, limits: Tuple[float, float]) -> Tuple[float, float]:
    """``[low, high]`` moved (and, if wider, cut) to lie within ``limits``."""
    width = min(high - low, limits[1] - limits[0])
    low = min(max(low, limits[0]), limits[1] - width)
    return low, low + width


def _fwhm(result: FocusResult) -> Optional[float]:
    width = (result.fit.params or {}).get("fwhm") if result.fit is not None else None
    return float(width) if width is not None and math.isfinite(width) and width > 0 else None


def measure_map(
    stage: ZStage,
    xy: XYStage,
    camera: FrameSource,
    points: Sequence[GridPoint],
    *,
    limits: Tuple[float, float],
    first_window: Tuple[float, float],
    lift: Optional[float] = 1.0,
    travel_z: Optional[float] = None,
    roi: Optional[Sequence[float]] = None,
    metric: str = "tenengrad",
    search_options: Optional[Dict[str, Any]] = None,
    window_fwhm: float = WINDOW_FWHM,
    max_extension: Optional[float] = None,
    max_failed: float = 0.25,
    cancel: Any = None,
    on_point: Optional[Callable[[MapPoint, int, int], None]] = None,
    search: Callable[..., FocusResult] = autofocus,
    clock: Callable[[], float] = time.monotonic,
) -> MapResult:
    """Measure the focused Z at every point (see the module doc); return the map.

    ``limits`` are hard Z bounds (no Z outside them is commanded); ``first_window`` lies
    within them. Travel: ``lift`` mm above the last Z, or the absolute ``travel_z`` (give
    one). ``search_options`` go to every autofocus (``cancel`` is added; predicted windows
    get ``NARROW_COARSE_POINTS`` coarse points; a point whose search grew its overscan, see
    ``FocusResult.overscan_grown``, passes it on to the points after it). ``max_extension``
    (mm per side past a predicted window; default the first window's half-width).
    ``on_point(point, done, total)`` after each point. Raises ValueError for bad arguments before anything moves.
    """
    lo, hi = float(limits[0]), float(limits[1])
    if not lo < hi:
        raise ValueError(f"need limits low < high, got {limits!r}")
    if not lo <= first_window[0] < first_window[1] <= hi:
        raise ValueError(f"the first window {first_window!r} must lie within the limits {limits!r}")
    if (lift is None) == (travel_z is None):
        raise ValueError("give either lift (mm above the last Z) or travel_z (an absolute Z)")
    if lift is not None and not lift >= 0:
        raise ValueError(f"lift must be >= 0 mm, got {lift!r}")
    if travel_z is not None and not lo <= travel_z <= hi:
        raise ValueError(f"travel_z {travel_z!r} lies outside the limits {limits!r}")
    if not 0.0 <= max_failed <= 1.0:
        raise ValueError(f"max_failed must be a share from 0 to 1, got {max_failed!r}")
    if not window_fwhm > 0:
        raise ValueError(f"window_fwhm must be > 0, got {window_fwhm!r}")
    options = dict(search_options or {})
    for name in ("cancel", "on_sample", "limits", "max_extension"):
        options.pop(name, None)
    run = _MapRun(stage, xy, camera, list(points), (lo, hi), tuple(first_window), lift, travel_z,
                  roi, metric, options, window_fwhm, max_extension, max_failed, cancel, on_point,
                  search, clock)
    return run.execute()


class _Stop(Exception):
    """Ends the map early with a key of MAP_REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class _MapRun:
    """One map: the state shared by its points."""

    def __init__(self, stage, xy, camera, points, limits, first_window, lift, travel_z, roi,
                 metric, options, window_fwhm, max_extension, max_failed, cancel, on_point,
                 search, clock) -> None:
        self.stage, self.xy, self.camera = stage, xy, camera
        self.points: List[GridPoint] = points
        self.limits, self.first_window = limits, first_window
        self.lift, self.travel_z = lift, travel_z
        self.roi, self.metric, self.options = roi, metric, options
        self.window_fwhm, self.max_failed = window_fwhm, max_failed
        half = (first_window[1] - first_window[0]) / 2.0
        self.max_extension = half if max_extension is None else float(max_extension)
        self.cancel, self.on_point = cancel, on_point
        self.search, self.clock = search, clock
        self.started = clock()
        self.z = float(stage.position())
        self.fwhm: Optional[float] = None
        self.done: List[MapPoint] = []

    # ~~ the map

    def execute(self) -> MapResult:
        try:
            for point in self.points:
                self._checkpoint()
                record = self._measure(point)
                if record.reason == "cancelled":
                    raise Cancelled(record.message)  # a point cut short is no result
                self.done.append(record)
                if self.on_point is not None:
                    self.on_point(record, len(self.done), len(self.points))
                if not record.ok and record.reason not in POINT_FAILURES:
                    reason = record.reason if record.reason in MAP_REASONS else "stage_error"
                    raise _Stop(reason, record.message or MAP_REASONS[reason])
                self._check_failures()
            self._travel()
            return self._result("", self._finished_message())
        except _Stop as stop:
            if stop.reason == "too_many_failed":
                self._travel_quietly()
            return self._result(stop.reason, str(stop))
        except Cancelled:
            return self._result("cancelled", "cancelled")
        except FocusError as exc:
            return self._result("stage_error", str(exc))

    def _measure(self, point: GridPoint) -> MapPoint:
        """Travel to ``point`` and focus there; a failed search is a failed point."""
        started = self.clock()
        self._travel()
        self.xy.move_xy(point.x, point.y)
        record = MapPoint(point.index, point.row, point.col, point.x, point.y)
        final = self._focus(record)
        self.z = final.final_z
        if final.overscan_grown is not None:  # the axis has more backlash: later points know it
            self.options["overscan"] = final.overscan_grown
        record.frames = final.frames
        record.samples = [[float(z), float(s)] for z, s in final.samples]
        record.searched = [final.z_min, final.z_max]
        record.elapsed = self.clock() - started
        record.ok, record.reason, record.message = final.ok, final.reason, final.message
        if final.ok:
            record.z = float(final.z)
            record.confidence = float(final.fit.r2) if final.fit is not None else None
            if self.fwhm is None:
                self.fwhm = _fwhm(final)
        return record

    def _focus(self, record: MapPoint) -> FocusResult:
        """One point's search: a normal autofocus, or a narrow window around the prediction."""
        known = [(p.x, p.y, p.z) for p in self.done if p.ok]
        if not known:
            record.window = list(self.first_window)
            return self._search(self.first_window, dict(self.options, limits=self.limits))
        predicted, spread = predict_z(known, record.x, record.y)
        half = max(self.window_fwhm * self._width(), SPREAD_WINDOW * spread)
        window = _inside(predicted - half, predicted + half, self.limits)
        record.predicted, record.window = predicted, list(window)
        narrow = {key: value for key, value in self.options.items() if key not in ("coarse_points", "coarse_step")}
        narrow.update(coarse_points=NARROW_COARSE_POINTS, limits=self.limits, max_extension=self.max_extension)
        return self._search(window, narrow)

    def _search(self, window: Tuple[float, float], options: Dict[str, Any]) -> FocusResult:
        self._checkpoint()
        return self.search(self.stage, self.camera, window[0], window[1], roi=self.roi,
                           metric=self.metric, cancel=self.cancel, **options)

    def _width(self) -> float:
        """The focus curve's FWHM (mm), or an eighth of the first window without a fit."""
        if self.fwhm is not None:
            return self.fwhm
        return (self.first_window[1] - self.first_window[0]) / 8.0

    # ~~ moves

    def _travel_height(self) -> float:
        if self.travel_z is not None:
            return self.travel_z
        return min(self.z + self.lift, self.limits[1])

    def _travel(self) -> None:
        """Go to the travel height (a lift, or the absolute travel Z)."""
        target = self._travel_height()
        if target != self.z:
            self._checkpoint()
            self.stage.move_to(target)
            self.z = target

    def _travel_quietly(self) -> None:
        try:
            self._travel()
        except FocusError:
            pass  # the map already ends with its reason; the device error shows in the log

    def _checkpoint(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("cancelled")

    # ~~ results

    def _check_failures(self) -> None:
        failed = sum(1 for p in self.done if not p.ok)
        if failed > self.max_failed * len(self.points):
            raise _Stop("too_many_failed",
                        f"stopped after {failed} of {len(self.points)} points failed (more than "
                        f"{self.max_failed:.0%} of them)")

    def _finished_message(self) -> str:
        measured = sum(1 for p in self.done if p.ok)
        failed = len(self.done) - measured
        message = f"measured {measured} of {len(self.points)} points"
        return message + (f"; {failed} failed" if failed else "")

    def _result(self, reason: str, message: str) -> MapResult:
        measured = [p for p in self.done if p.ok]
        mean = sum(p.z for p in measured) / len(measured) if measured else None
        for p in measured:
            p.height = p.z - mean
        xs, ys = [p.x for p in self.points], [p.y for p in self.points]
        rectangle = [min(xs), max(xs), min(ys), max(ys)] if self.points else [0.0, 0.0, 0.0, 0.0]
        summary = summarize([p.x for p in measured], [p.y for p in measured], [p.z for p in measured],
                            tuple(rectangle))
        summary.update(points=len(self.points), failed=len(self.done) - len(measured))
        return MapResult(ok=reason == "", reason=reason, message=message, points=self.done,
                         summary=summary, rectangle=rectangle, frames=sum(p.frames for p in self.done),
                         elapsed=self.clock() - self.started, fwhm=self.fwhm)
