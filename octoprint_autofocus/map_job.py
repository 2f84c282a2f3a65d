"""MapJob: runs a focus map on FocusJob's run slot (one run at a time, shared cancel).

A map claims the slot a focus run uses (:meth:`FocusJob.claim`: a map and a focus run
exclude each other, ``cancel`` stops either, a job hold is taken for ``@AUTOFOCUS MAP`` in a
print), builds a :class:`~.xy_stage.PrinterHead` as the job's stage (so printer lines and
aborts reach it), confirms the start Z, opens the camera and takes one frame (a broken
camera fails here, before anything moves), then runs
:func:`~.focus.focus_map.measure_map`. After a cancel the head is lifted to the travel
height once, with a fresh stage, and nothing more is sent. The record is kept, pushed
(``map_done``/``map_failed``) and announced (``map_finished``); the hold and the slot are
released in ``finally`` on every path.
"""

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Dict, List, Optional, Tuple

from flask_babel import gettext, ngettext

from .camera import roi_pixels
from .focus import autofocus
from .focus.errors import CameraError, CameraStalled, Cancelled, FocusError
from .focus.focus_map import MapPoint, MapResult, measure_map
from .gcode_safety import split_lines
from .job import NO_AFTER_GCODE, FocusJob, Stage, json_safe, record_settings
from .map_record import finished_event, map_record, without_samples
from .map_settings import MapPlan
from .records import RecordStore
from .settings import RunConfig, RunRequest, SettingsError, run_limits, safety_limits

__all__ = ["MapJob", "MapWiring"]

KIND = "map"


@dataclass(frozen=True)
class MapWiring:
    """How a map reaches the plugin: ``make_head(config, plan, z_min, z_max, cancel)``
    builds the head, ``open_camera(config)`` is a context manager yielding a frame source,
    ``volume()`` the printer profile's Z range or None, ``push(type, data)`` a plugin
    message, ``fire(key, payload)`` a custom event."""

    make_head: Callable[[RunConfig, MapPlan, float, float, threading.Event], Stage]
    open_camera: Callable[[RunConfig], ContextManager[Any]]
    volume: Callable[[], Optional[Tuple[float, float]]]
    push: Callable[[str, Dict[str, Any]], None]
    fire: Callable[[str, Dict[str, Any]], None]


def _point_brief(point: MapPoint) -> Dict[str, Any]:
    """What the tab needs of a point while the map runs."""
    return {key: getattr(point, key) for key in ("index", "row", "col", "x", "y", "ok", "z", "reason", "message",
                                                 "frames", "confidence")}


def _message(result: MapResult, plan: MapPlan) -> str:
    """The map's outcome in a plain sentence for people (the library's words go to ``detail``)."""
    summary = result.summary
    counts = {"measured": summary.get("measured", 0), "points": summary.get("points", 0),
              "failed": summary.get("failed", 0), "share": round(100 * plan.max_failed)}
    if result.ok:
        text = gettext("Measured %(measured)d of %(points)d points.") % counts
        return text + (" " + ngettext("%(failed)d could not be focused.", "%(failed)d could not be focused.",
                                      counts["failed"], **counts) if counts["failed"] else "")
    if result.reason == "too_many_failed":
        return gettext("Stopped: %(failed)d of %(points)d points could not be focused, more than the %(share)d%% allowed.") % counts
    return result.message


class MapJob:
    """Focus maps on ``job``'s run slot; ``start`` returns at once, the work happens on the
    job's worker thread."""

    def __init__(self, job: FocusJob, records: RecordStore, wiring: MapWiring, *,
                 search: Callable[..., Any] = autofocus, logger: Optional[logging.Logger] = None) -> None:
        self._job = job
        self._records = records
        self._wiring = wiring
        self._search = search
        self._logger = logger or logging.getLogger("octoprint.plugins.autofocus.map")
        self._lock = threading.Lock()
        self._progress: Optional[Dict[str, Any]] = None
        self._durations: List[float] = []  # s per point after the first, for the time left

    # ~ control

    def start(self, config: RunConfig, plan: MapPlan, in_job: bool = False) -> str:
        """Start a map and return its run id; Busy/NotReady as a focus run. With ``in_job``
        the job is held from now until the map has ended."""
        run_id, cancel = self._job.claim(KIND, in_job)
        try:
            with self._lock:
                self._progress = {"run_id": run_id, "started": time.time(), "done": 0, "total": len(plan.points),
                                  "rows": plan.rows, "cols": plan.cols, "rectangle": list(plan.rectangle),
                                  "bed": list(plan.bed), "points": [], "elapsed": 0.0, "remaining": None}
                self._durations = []
            self._job.spawn(self._work, config, plan, run_id, cancel, in_job)
        except BaseException:
            self._end_progress()
            self._job.release(in_job)
            raise
        return run_id

    def status(self) -> Dict[str, Any]:
        """``{"state": "running"|"idle", "progress": {...} or None, "last": the newest map
        record (points without samples) or None}``."""
        with self._lock:
            progress = None if self._progress is None else {**self._progress, "points": list(self._progress["points"])}
        last = self._records.last(kinds=(KIND,))
        return {"state": "running" if progress else "idle", "progress": progress, "last": without_samples(last)}

    # ~ worker

    def _work(self, config: RunConfig, plan: MapPlan, run_id: str, cancel: threading.Event, in_job: bool) -> None:
        started = time.time()
        result = self._failure("stage_error", gettext("the map did not start"))
        try:
            self._wiring.push("state", self._job.status())
            self._push_progress(run_id)
            self._logger.info("Focus map %s started: %d x %d points over X%.1f..%.1f Y%.1f..%.1f", run_id,
                              plan.rows, plan.cols, *plan.rectangle)
            result = self._measure(config, plan, cancel)
            if result.reason == "cancelled":
                result.message = self._job.cancel_reason()
                self._lift(config, plan)
        except Cancelled:
            result = self._failure("cancelled", self._job.cancel_reason())
        except CameraStalled as exc:
            result = self._failure("camera_stalled", str(exc))
        except CameraError as exc:
            result = self._failure("camera_error", str(exc))
        except (FocusError, SettingsError) as exc:
            result = self._failure("stage_error", str(exc))
        except Exception as exc:
            self._logger.exception("Focus map %s crashed", run_id)
            result = self._failure("stage_error", gettext("internal error: %(error)s") % {"error": exc})
        finally:
            try:
                if in_job and not result.ok and result.reason != "cancelled" and config.on_failure == "pause":
                    self._job.pause_print()
            finally:
                try:
                    record = self._report(config, plan, run_id, started, result)
                finally:
                    self._end_progress()
                    self._job.release(in_job)
                self._wiring.push("map_done" if result.ok else "map_failed", {"map": without_samples(record)})
                self._wiring.push("state", self._job.status())

    def _measure(self, config: RunConfig, plan: MapPlan, cancel: threading.Event) -> MapResult:
        head = self._job.use_stage(config, cancel, make=self._maker(plan))
        z0 = head.position()
        limits = safety_limits(config, self._wiring.volume())
        first_window = run_limits(config, z0, RunRequest(), self._wiring.volume())
        with self._wiring.open_camera(config) as camera:
            first = camera.frame()  # a broken camera fails here, before anything moves
            head.send(split_lines(config.before_gcode))
            result = measure_map(
                head, head, camera, plan.points, limits=limits, first_window=first_window,
                lift=plan.lift, travel_z=plan.travel_z, roi=roi_pixels(config.roi, first), metric=config.metric,
                search_options=dict(tolerance=config.tolerance, overscan=config.overscan,
                                    approach=config.approach, settle=config.settle,
                                    frames_per_position=config.frames_per_position,
                                    coarse_points=config.coarse_points),
                max_extension=config.search_range if config.max_extension is None else config.max_extension,
                max_failed=plan.max_failed, cancel=cancel, on_point=self._on_point,
                search=self._point_search(plan))
            if result.reason not in NO_AFTER_GCODE and not cancel.is_set():
                self._job.send_after(head, config)
        return result

    def _point_search(self, plan: MapPlan) -> Callable[..., Any]:
        """The search of one point, shown in the tab as a focus run's is: its window and
        samples in the run's status (the readout, the sparkline and the plot follow them)."""

        def search(stage: Stage, camera: Any, z_min: float, z_max: float, **options: Any) -> Any:
            with self._lock:
                done = self._progress["done"] if self._progress else 0
            point = plan.points[min(done, len(plan.points) - 1)]
            self._job.update_run(samples=[], window=[z_min, z_max], phase="starting",
                                 point={"number": done + 1, "total": len(plan.points), "x": point.x, "y": point.y})
            return self._search(stage, camera, z_min, z_max, on_sample=self._job.on_sample, **options)

        return search

    def _maker(self, plan: MapPlan) -> Callable[[RunConfig, float, float, threading.Event], Stage]:
        return lambda config, z_min, z_max, cancel: self._wiring.make_head(config, plan, z_min, z_max, cancel)

    def _lift(self, config: RunConfig, plan: MapPlan) -> None:
        """After a cancel: lift to the travel height once (never down), if the printer still
        works; a second cancel stops the lift too."""
        try:
            head = self._job.use_stage(config, threading.Event(), make=self._maker(plan))
            z = head.position()
            floor, ceiling = safety_limits(config, self._wiring.volume())
            target = min(z + plan.lift, ceiling) if plan.travel_z is None else plan.travel_z
            if target > z:
                head.move_to(target)
                self._logger.info("Focus map cancelled: lifted to Z%.3f", target)
        except FocusError as exc:
            self._logger.info("Focus map cancelled: no lift (%s)", exc)

    # ~ progress and results

    def _on_point(self, point: MapPoint, done: int, total: int) -> None:
        with self._lock:
            if self._progress is None:
                return
            progress = self._progress
            progress["points"].append(_point_brief(point))
            progress["done"] = done
            progress["elapsed"] = time.time() - progress["started"]
            if done >= 2:  # the first point is a full autofocus: it says little about the rest
                self._durations.append(point.elapsed)
            if self._durations:
                progress["remaining"] = sum(self._durations) / len(self._durations) * (total - done)
            run_id = progress["run_id"]
        self._push_progress(run_id, point)

    def _push_progress(self, run_id: str, point: Optional[MapPoint] = None) -> None:
        with self._lock:
            progress = self._progress
            data = {key: progress[key] for key in ("run_id", "done", "total", "rows", "cols", "rectangle", "bed",
                                                   "elapsed", "remaining")} if progress else {"run_id": run_id}
        data["point"] = None if point is None else _point_brief(point)
        self._wiring.push("map_progress", data)

    def _end_progress(self) -> None:
        with self._lock:
            self._progress = None

    def _failure(self, reason: str, message: str) -> MapResult:
        """A failed map that ended before it could report (or with the points so far)."""
        with self._lock:
            progress = self._progress
        summary = {"points": progress["total"] if progress else 0, "failed": 0, "measured": 0}
        return MapResult(ok=False, reason=reason, message=message, points=[], summary=summary,
                         rectangle=list(progress["rectangle"]) if progress else [])

    def _report(self, config: RunConfig, plan: MapPlan, run_id: str, started: float,
                result: MapResult) -> Dict[str, Any]:
        """Keep the record, log and fire the event; return the record."""
        record = map_record(result, run_id=run_id, started=started, plan=plan.record(), settings=record_settings(config))
        record["detail"], record["message"] = result.message, _message(result, plan)
        record = json_safe(record)
        try:
            self._records.save(record)
        except OSError:
            self._logger.exception("Could not save the record of map %s", run_id)
        summary = result.summary
        if result.ok:
            self._logger.info("Focus map %s: %s; range %s mm", run_id, result.message, summary.get("range"))
        else:
            self._logger.log(logging.INFO if result.reason == "cancelled" else logging.WARNING,  # a cancel is asked for
                             "Focus map %s failed (%s): %s", run_id, result.reason, result.message)
        self._wiring.fire("map_finished", finished_event(record))
        return record
