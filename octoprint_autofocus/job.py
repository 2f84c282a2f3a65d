"""FocusJob: runs one autofocus at a time on a named daemon thread.

A run: confirm the current Z, work out the limits, open the camera and take one frame
(a broken camera fails here, before anything moves), send the "before" G-code, run the
focus search, send the "after" G-code, then (by kind) store the reference or set Z with
``G92``, and keep, push and announce the record. A job hold taken
for ``@AUTOFOCUS`` in a print is released in ``finally`` on every path; a failed run
inside a print pauses it first when ``on_failure`` says so.

Every line goes out through the run's stage (:class:`.printer_stage.PrinterStage`), which
checks it against the safety limits and sends nothing once the run is cancelled. The
"after" G-code is sent only when the search ended by itself (focused or failed, the stage
back where it started); after a cancel (button, API, print cancelled or paused,
disconnect, printer error), a Z stage error or a crash nothing more is sent, and the
printer stays where it stopped.
"""

import logging
import math
import threading
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, ContextManager, Dict, List, Optional, Protocol, Tuple

from flask_babel import gettext

from .focus import FocusError, FocusResult, autofocus
from .fields import z_text
from .focus.errors import CameraError, Cancelled, MoveRefused
from .gcode_safety import split_lines
from .redact import redact_url
from .camera import roi_pixels
from .records import RecordStore, new_run_id
from .settings import RunConfig, RunRequest, SettingsError, describe, run_window, safety_limits

__all__ = ["FocusJob", "Wiring", "RunPlan", "Busy", "NotReady", "NeedsConfirmation", "KINDS", "THREAD_NAME",
           "NO_AFTER_GCODE", "json_safe"]

THREAD_NAME = "octoprint.plugins.autofocus.run"
STATUS_KEYS = ("run_id", "kind", "phase", "start_z", "window", "in_job", "point")
"""What ``status()`` tells about the current run (besides its samples); ``point`` is a
focus map's current point ({number, total, x, y}), None for a focus run."""
KINDS = ("focus", "reference", "home")
NO_AFTER_GCODE = ("cancelled", "stage_error")
"""Search outcomes after which the "after" G-code is not sent (nothing more is)."""
SILENCED_KEPT = 8
"""How many cancelled stages' tags are remembered to drop their queued lines."""
G92_TOLERANCE = 0.01
"""mm: how far the Z reported after ``G92`` may be from the reference (firmware rounding)."""


class Busy(RuntimeError):
    """A run is already going."""


class NotReady(RuntimeError):
    """The printer is not connected or not operational."""


class NeedsConfirmation(FocusError):
    """Homing by focus would shift Z by more than ``max_correction`` without the user's say."""

    reason = "needs_confirmation"

    def __init__(self, message: str, correction: float) -> None:
        super().__init__(message)
        self.correction = correction


@dataclass(frozen=True)
class RunPlan:
    """What to run: ``kind`` (one of KINDS), the settings snapshot and the overrides.

    ``in_job`` marks ``@AUTOFOCUS`` from a printing job: the job is held during the run
    and a failure pauses it unless ``config.on_failure`` is ``"continue"``. ``confirmed``
    (homing) means the user accepted a correction larger than ``config.max_correction``.
    """

    kind: str
    config: RunConfig
    request: RunRequest = RunRequest()
    in_job: bool = False
    confirmed: bool = False


class Printer(Protocol):
    """The part of OctoPrint's printer the job uses."""

    def commands(self, commands: List[str], tags: Any = None) -> None: ...

    def is_operational(self) -> bool: ...

    def is_printing(self) -> bool: ...

    def set_job_on_hold(self, value: bool, blocking: bool = True) -> bool: ...

    def pause_print(self) -> None: ...


class Stage(Protocol):
    """PrinterStage as the job uses it."""

    def move_to(self, z: float) -> None: ...

    def position(self) -> float: ...

    def send(self, lines: List[str]) -> None: ...

    def set_position(self, z: float) -> float: ...

    def feed_line(self, line: str) -> None: ...

    def note_sending(self, command: str, tags: Any = None) -> None: ...

    def abort(self, reason: str = "") -> None: ...

    @property
    def own_tag(self) -> str: ...


def _push_type(result: FocusResult) -> str:
    """The plugin message type that carries a run's record."""
    if result.ok:
        return "done"
    return "aborted" if result.reason == "cancelled" else "failed"


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None (strict JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


PRIVATE_SETTINGS = ("before_gcode", "after_gcode")
"""Settings left out of run records (anyone with STATUS may download a record)."""


def record_settings(config: RunConfig) -> Dict[str, Any]:
    """The settings a record keeps: camera URLs redacted, custom G-code left out."""
    settings = {key: value for key, value in asdict(config).items() if key not in PRIVATE_SETTINGS}
    for key in ("stream_url", "snapshot_url"):
        settings[key] = redact_url(settings[key]) if settings[key] else ""
    return settings


def _check_within(z: float, floor: float, ceiling: float) -> None:
    """MoveRefused, in words for people, for a target outside the limits."""
    if z > ceiling:
        raise MoveRefused(gettext("Z %(z)s is above the highest Z (%(limit)s); nothing moved.")
                          % {"z": z_text(z), "limit": z_text(ceiling)})
    if not z >= floor:
        raise MoveRefused(gettext("Z %(z)s is below the lowest Z (%(limit)s); nothing moved.")
                          % {"z": z_text(z), "limit": z_text(floor)})


def _reason_for(exc: BaseException) -> str:
    if isinstance(exc, NeedsConfirmation):
        return exc.reason
    if isinstance(exc, Cancelled):
        return "cancelled"
    if isinstance(exc, CameraError):
        return "camera_error"
    return "stage_error"


@dataclass(frozen=True)
class Wiring:
    """How a job reaches the rest of the plugin.

    ``make_stage(config, z_min, z_max, cancel)`` builds the Z stage, ``open_camera(config)``
    is a context manager yielding a frame source, ``volume()`` gives the printer profile's
    Z range or None, ``push(type, data)`` sends a plugin message, ``fire(key, payload)`` a
    custom event (``focus_started``...), ``store_reference(z)`` saves a reference Z.
    """

    make_stage: Callable[[RunConfig, float, float, threading.Event], Stage]
    open_camera: Callable[[RunConfig], ContextManager[Any]]
    volume: Callable[[], Optional[Tuple[float, float]]]
    push: Callable[[str, Dict[str, Any]], None]
    fire: Callable[[str, Dict[str, Any]], None]
    store_reference: Callable[[float], None]


class FocusJob:
    """One run at a time; ``start`` returns at once, the work happens on a worker thread."""

    def __init__(
        self,
        printer: Printer,
        records: RecordStore,
        wiring: Wiring,
        *,
        search: Callable[..., FocusResult] = autofocus,
        logger: Optional[logging.Logger] = None,
    ) -> None:
        self._printer = printer
        self._records = records
        self._wiring = wiring
        self._search = search
        self._logger = logger or logging.getLogger("octoprint.plugins.autofocus.job")
        self._running = threading.Lock()
        self._state_lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._cancel = threading.Event()
        self._stage: Optional[Stage] = None
        self._run: Optional[Dict[str, Any]] = None
        self._silenced: List[str] = []  # own tags of cancelled stages (note_sending drops their lines)

    # ~ control

    def start(self, plan: RunPlan) -> str:
        """Start a run and return its id; Busy if one is going, NotReady without a printer.

        With ``plan.in_job`` the job hold is taken here, before returning, so no later
        line of the job can be sent before the run has finished.
        """
        if plan.kind not in KINDS:
            raise ValueError("unknown run kind %r" % plan.kind)
        run_id, cancel = self.claim(plan.kind, plan.in_job)
        try:
            self.spawn(self._work, plan, run_id, cancel)
        except BaseException:
            self.release(plan.in_job)
            raise
        return run_id

    def claim(self, kind: str, in_job: bool = False) -> Tuple[str, threading.Event]:
        """Reserve the one run slot for a run of ``kind`` (caller's thread); return its id and
        cancel event. Busy/NotReady as :meth:`start`; with ``in_job`` the job hold is taken.

        For runs of other modules (the focus map): they share the slot, :meth:`cancel`,
        :meth:`use_stage` and the line routing with focus runs. Every claim ends with
        :meth:`release`, on every path.
        """
        self._acquire(in_job)
        try:
            run_id = new_run_id()
            with self._state_lock:
                self._cancel = threading.Event()
                self._run = {"run_id": run_id, "kind": kind, "samples": [], "phase": "starting",
                             "in_job": in_job}
                cancel = self._cancel
            if in_job:
                self._printer.set_job_on_hold(True)
        except BaseException:
            self._clear_run()
            raise
        return run_id, cancel

    def release(self, in_job: bool) -> None:
        """End a claimed run: release the job hold (``in_job``), forget the run, free the slot."""
        try:
            self._release_hold(in_job)
        finally:
            self._clear_run()

    def spawn(self, work: Callable[..., None], *args: Any) -> None:
        """Run ``work(*args)`` for a claimed run on the worker thread (:meth:`wait` joins it)."""
        self._thread = threading.Thread(target=work, args=args, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def jog(self, config: RunConfig, dz: float) -> float:
        """Move Z by ``dz`` within the limits, wait for it, return the new Z (caller's thread).

        Busy while a run is going, NotReady without a printer; MoveRefused (nothing moves)
        for a target outside the limits.
        """
        return self._move(config, lambda z: z + dz)

    def move(self, config: RunConfig, z: float) -> float:
        """Move Z to ``z`` within the limits (e.g. a failed run's best Z); as :meth:`jog`,
        but a target outside the limits is refused before the printer is asked anything."""
        _check_within(z, *safety_limits(config, self._wiring.volume()))
        return self._move(config, lambda _: z)

    def _move(self, config: RunConfig, target_from: Callable[[float], float]) -> float:
        self._acquire()
        try:
            with self._state_lock:
                self._cancel = threading.Event()
            stage = self.use_stage(config, self._cancel)
            target = target_from(stage.position())
            _check_within(target, *safety_limits(config, self._wiring.volume()))
            stage.move_to(target)
            return target
        finally:
            self._clear_run()

    def cancel(self, reason: str = "", outside_job_only: bool = False) -> bool:
        """Stop the current run or jog at once (no further moves); False when none is going.

        With ``outside_job_only`` a run that holds a printing job is left alone.
        """
        with self._state_lock:
            if self._run is None and self._stage is None:
                return False
            if self._run is not None:
                if outside_job_only and self._run["in_job"]:
                    return False
                self._run.setdefault("cancel_reason", reason or gettext("cancelled"))
            self._cancel.set()
            stage = self._stage
        if stage is not None:
            stage.abort(reason or gettext("cancelled"))
            with self._state_lock:
                self._silenced = (self._silenced + [stage.own_tag])[-SILENCED_KEPT:]
        self._logger.info("Autofocus run cancelled%s", ": " + reason if reason else "")
        return True

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel any run and wait for its thread (up to ``timeout`` s)."""
        self.cancel(gettext("OctoPrint is shutting down"))
        self.wait(timeout)

    def _acquire(self, in_job: bool = False) -> None:
        """Take the "running" lock; Busy/NotReady (lock not kept) when a run may not start.

        Outside a job (API, terminal) nothing moves while a print is running: Z would
        move under the nozzle between two lines of the print.
        """
        if not self._running.acquire(blocking=False):
            raise Busy(self._busy_message())
        if not self._printer.is_operational():
            self._running.release()
            raise NotReady(gettext("The printer is not connected or not operational."))
        if not in_job and self._printer.is_printing():
            self._running.release()
            raise NotReady(gettext("A print is running; put @AUTOFOCUS in its G-code to focus during a print."))

    def _busy_message(self) -> str:
        """Why a run or jog cannot start now: what holds the run slot, in words for people."""
        with self._state_lock:
            run = dict(self._run or {})
        if run.get("kind") == "map":
            if run.get("in_job"):
                return gettext("The print job is measuring a focus map (@AUTOFOCUS MAP); autofocus and Z"
                               " moves are refused until it has ended.")
            return gettext("A focus map is running; cancel it or wait until it has ended.")
        if run.get("in_job"):
            return gettext("The print job is focusing (@AUTOFOCUS); autofocus and Z moves are refused"
                           " until it has ended.")
        return gettext("An autofocus run is already in progress.")

    def use_stage(self, config: RunConfig, cancel: threading.Event,
                  make: Optional[Callable[[RunConfig, float, float, threading.Event], Stage]] = None) -> Stage:
        """Build the stage for the safety limits (settings and printer volume) and route lines
        to it (``make`` instead of the wiring's ``make_stage``, e.g. a stage that moves X/Y too);
        :meth:`cancel` aborts it."""
        floor, ceiling = safety_limits(config, self._wiring.volume())
        stage = (make or self._wiring.make_stage)(config, floor, ceiling, cancel)
        with self._state_lock:
            self._stage = stage
        if cancel.is_set():
            stage.abort(gettext("cancelled"))
        return stage

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no run or jog holds the slot (any thread, e.g. a jog's request); True
        when it is free, False after ``timeout`` seconds."""
        if not self._running.acquire(timeout=timeout):
            return False
        self._running.release()
        return True

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait for the current run (if any) to end; True when none is going any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.running

    def feed_line(self, line: str) -> None:
        """Pass a line received from the printer to the active stage (comm thread; fast)."""
        stage = self._stage
        if stage is not None:
            stage.feed_line(line)

    def note_sending(self, command: str, tags: Any = None) -> bool:
        """Pass a line about to be written to the printer to the active stage (send thread;
        fast), so it can tell its own M114 answer from a position auto-report. False when
        the line must not go out: a line a cancelled stage had queued (after a cancel
        nothing more is sent, not even what was already in OctoPrint's send queue)."""
        if tags and self._silenced and not set(self._silenced).isdisjoint(tags):
            return False
        stage = self._stage
        if stage is not None:
            stage.note_sending(command, tags)
        return True

    def status(self) -> Dict[str, Any]:
        """``{"state": "idle"|"running", "run": {run_id, kind, samples, phase, start_z, window,
        in_job, point} or None}`` (``start_z`` and ``window`` are None until the run has worked
        them out)."""
        with self._state_lock:
            run = None if self._run is None else {key: self._run.get(key) for key in STATUS_KEYS}
            if run is not None:
                run["samples"] = list(self._run["samples"])
        return {"state": "running" if run else "idle", "run": run}

    @property
    def running(self) -> bool:
        """Whether a run or a jog is going."""
        return self._run is not None or self._stage is not None

    # ~ worker

    def _work(self, plan: RunPlan, run_id: str, cancel: threading.Event) -> None:
        started = time.time()
        details: Dict[str, Any] = {"correction": None}
        result = FocusResult(ok=False, z=float("nan"), reason="stage_error")
        try:
            self._wiring.push("state", self.status())
            self._wiring.fire("focus_started", {"run_id": run_id, "kind": plan.kind})
            self._logger.info("Autofocus %s run %s started", plan.kind, run_id)
            result, details = self._focus(plan, cancel)
            if result.reason == "cancelled":
                result.message = self.cancel_reason()
        except (FocusError, SettingsError) as exc:
            reason = _reason_for(exc)
            said = describe(exc) if isinstance(exc, SettingsError) else str(exc)
            result = self._failure(reason, self.cancel_reason() if reason == "cancelled" else said)
        except Exception as exc:
            self._logger.exception("Autofocus run %s crashed", run_id)
            result = self._failure("stage_error", gettext("internal error: %(error)s") % {"error": exc})
        finally:
            try:
                if plan.in_job and not result.ok and result.reason != "cancelled" and plan.config.on_failure == "pause":
                    self.pause_print()
            finally:
                try:
                    self._release_hold(plan.in_job)
                finally:
                    try:
                        record = self._report(plan, run_id, started, result, details)
                    finally:
                        self._clear_run()
                    self._wiring.push(_push_type(result), {"record": record})
                    self._wiring.push("state", self.status())

    def cancel_reason(self) -> str:
        """Why the current run was cancelled (a sentence for people)."""
        with self._state_lock:
            return (self._run or {}).get("cancel_reason") or gettext("cancelled")

    def _failure(self, reason: str, message: str) -> FocusResult:
        """A failed result for a run that ended before the search could report."""
        with self._state_lock:
            start_z = (self._run or {}).get("start_z")
        z = float("nan") if start_z is None else start_z
        return FocusResult(ok=False, z=z, reason=reason, message=message, start_z=z, final_z=z)

    def _focus(self, plan: RunPlan, cancel: threading.Event) -> Tuple[FocusResult, Dict[str, Any]]:
        config, request = plan.config, plan.request
        stage = self.use_stage(config, cancel)
        z0 = stage.position()
        with self._state_lock:
            self._run["start_z"] = z0
        (z_min, z_max), limits = run_window(config, z0, request, self._wiring.volume())
        self.update_run(window=[z_min, z_max])  # the tab shades the window while the run goes
        with self._wiring.open_camera(config) as camera:
            first = camera.frame()  # a broken camera fails here, before anything moves
            roi = request.roi if request.roi is not None else config.roi
            stage.send(split_lines(config.before_gcode))
            result = self._search(
                stage, camera, z_min, z_max,
                roi=roi_pixels(roi, first),
                metric=request.metric or config.metric,
                coarse_points=config.coarse_points, tolerance=config.tolerance,
                overscan=config.overscan, approach=config.approach, settle=config.settle,
                frames_per_position=config.frames_per_position, cancel=cancel,
                on_sample=self.on_sample, limits=limits, max_extension=config.max_extension,
            )
            if result.reason not in NO_AFTER_GCODE and not cancel.is_set():
                self.send_after(stage, config)
        details: Dict[str, Any] = {"correction": None}
        if result.ok and plan.kind == "reference":
            self._wiring.store_reference(result.z)
        if result.ok and plan.kind == "home":
            try:
                details["correction"] = self._home(stage, plan, result.z)
            except FocusError as exc:
                result = replace(result, ok=False, reason=_reason_for(exc), message=str(exc))
                if isinstance(exc, NeedsConfirmation):
                    details["proposed_correction"] = exc.correction
        return result, details

    def update_run(self, **fields: Any) -> None:
        """Set fields of the current run's status (``window``, ``start_z``, ``samples``,
        ``point``...) and tell the tab (a ``state`` message)."""
        with self._state_lock:
            if self._run is None:
                return
            self._run.update(fields)
        self._wiring.push("state", self.status())

    def send_after(self, stage: Stage, config: RunConfig) -> None:
        """The "after" G-code; a refused line is reported, the run's result stands."""
        try:
            stage.send(split_lines(config.after_gcode))
        except MoveRefused as exc:
            message = gettext("The G-code after the run was not sent: %(error)s") % {"error": exc}
            self._logger.warning(message)
            self._wiring.push("error", {"message": message})

    def _home(self, stage: Stage, plan: RunPlan, focused_z: float) -> float:
        """Rename the focused Z to the reference with G92; return the correction (new - old).

        NeedsConfirmation (nothing sent) when the correction exceeds ``max_correction``
        and the plan is not ``confirmed``.
        """
        config = plan.config
        if config.reference_z is None:
            raise SettingsError("reference_z", gettext("no reference Z is set; calibrate it first"))
        correction = config.reference_z - focused_z
        if abs(correction) > config.max_correction and not plan.confirmed:
            raise NeedsConfirmation(
                gettext("Z was not changed: homing would shift it by %(correction).3f mm, more than the"
                        " %(limit).3f mm allowed without confirmation.")
                % {"correction": correction, "limit": config.max_correction},
                correction,
            )
        reported = stage.set_position(config.reference_z)
        if abs(reported - config.reference_z) > G92_TOLERANCE:
            raise FocusError(
                gettext("after G92 the printer reports Z%(z).3f instead of Z%(ref).3f")
                % {"z": reported, "ref": config.reference_z}
            )
        return correction

    def on_sample(self, z: float, score: float, phase: str) -> None:
        """A search's ``on_sample``: keep the sample in the run's status and push it (``progress``)."""
        with self._state_lock:
            if self._run is None:
                return
            self._run["samples"].append([float(z), float(score)])
            self._run["phase"] = phase
            run_id = self._run["run_id"]
        self._wiring.push("progress", {"run_id": run_id, "z": float(z), "score": float(score), "phase": phase})

    def pause_print(self) -> None:
        """Pause the printing job (a failed run inside a print, ``on_failure: "pause"``)."""
        self._printer.pause_print()

    def _release_hold(self, held: bool) -> None:
        if not held:
            return
        try:
            self._printer.set_job_on_hold(False)
        except RuntimeError:  # disconnected: the job and its hold are gone with the connection
            self._logger.info("No job hold to release: the printer is disconnected")

    def _clear_run(self) -> None:
        """Forget the run and its stage and free the "running" lock."""
        with self._state_lock:
            self._stage = None
            self._run = None
        self._running.release()

    def _report(self, plan: RunPlan, run_id: str, started: float, result: FocusResult,
                details: Dict[str, Any]) -> Dict[str, Any]:
        """Keep the record, log and fire the event; return the record."""
        correction = details.get("correction")
        record = json_safe({
            **result.to_dict(),
            "run_id": run_id,
            "kind": plan.kind,
            "started": started,
            **details,
            "settings": record_settings(plan.config),
        })
        try:
            self._records.save(record)
        except OSError:
            self._logger.exception("Could not save the record of run %s", run_id)
        if result.ok:
            self._logger.info("Autofocus run %s: %s (%s)", run_id, result.message, result.detail)
            self._wiring.fire("focus_finished", {"run_id": run_id, "kind": plan.kind, "z": result.z,
                                          "correction": correction})
        else:
            self._logger.log(logging.INFO if result.reason == "cancelled" else logging.WARNING,  # a cancel is asked for
                             "Autofocus run %s failed (%s): %s%s", run_id, result.reason, result.message,
                             " (%s)" % result.detail if result.detail else "")
            self._wiring.fire("focus_failed", {"run_id": run_id, "kind": plan.kind, "reason": result.reason,
                                        "message": result.message})
        return record
