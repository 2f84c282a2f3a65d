"""The OctoPrint plugin class: glue only (the focus logic lives in :mod:`.focus`).

Imported by :func:`octoprint_autofocus.__plugin_load__`, so that importing the package (or
its pure :mod:`.focus` library) never imports OctoPrint."""

import dataclasses
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

import flask
import octoprint.plugin
import octoprint.util
from flask_babel import gettext, lazy_gettext
from octoprint.access import ADMIN_GROUP, USER_GROUP
from octoprint.access.permissions import Permissions
from octoprint.events import Events

from . import sim_microscope
from .api import (
    COMMAND_PERMISSIONS,
    allowed,
    check_no_payload,
    parse_home,
    parse_jog,
    parse_move,
    parse_score,
    parse_set_reference,
    parse_start,
)
from .atcommand import COMMAND
from .atcommand_runner import AtCommandRunner, AtCommandWiring
from .camera import CameraManager, RateLimit
from .camera_select import CameraSpec, browser_camera, octoprint_webcams, select_camera
from .focus.errors import CameraError, FocusError, MoveRefused
from .fields import template_vars
from .focus import MEASURES
from .job import KINDS, Busy, FocusJob, NotReady, RunPlan, Wiring
from .map_job import MapJob, MapWiring
from .map_record import KIND as MAP_KIND
from .map_record import map_csv
from .map_settings import MapPlan, MapRequest, parse_map_request, profile_xy_range, resolve_map, validate_map
from .position import PositionTracker
from .printer_stage import PrinterStage
from .xy_stage import PrinterHead
from .records import RecordStore
from .settings import CENTRE_ROI, DEFAULTS, SETTINGS_VERSION, RunConfig, RunRequest, SettingsError, describe, error_body
from .settings import check_reference, migrate, normalised, profile_z_range, run_limits, safety_limits, validate
from .settings import validate_simulator
from .settings_guard import check_settings_save, settings_save_handler
from .simulator import SCENES

ABORT_EVENTS = {
    Events.DISCONNECTED: lazy_gettext("the printer disconnected"),
    Events.ERROR: lazy_gettext("the printer reported an error"),
    Events.PRINT_CANCELLING: lazy_gettext("the print is being cancelled"),
    Events.PRINT_PAUSED: lazy_gettext("the print was paused"),
}
"""Events that stop a run at once, with the reason the record gives."""

ABORT_OUTSIDE_JOB_EVENTS = {
    Events.PRINT_STARTED: lazy_gettext("a print started"),
    Events.PRINT_RESUMED: lazy_gettext("the print was resumed"),
}
"""Events that stop a run started outside a job (API, terminal): the print must not
share Z with it."""

ABORT_STATES = {
    "PAUSING": lazy_gettext("the print is being paused"),
    "CANCELLING": lazy_gettext("the print is being cancelled"),
}
"""Printer states (``PrinterStateChanged`` ``state_id``) that stop a run at once: a pause
asked for during a job hold completes (and fires ``PrintPaused``) only after the hold."""

CONFIRM_MARGIN = 5.0
"""s a move may take beyond OctoPrint's communication timeout before the run gives up."""

POSITION_TOLERANCE = 0.02
"""mm between a move's target and the Z the printer reports (firmware rounds positions)."""

CUSTOM_EVENTS = ["focus_started", "focus_finished", "focus_failed", "map_finished"]

SCORE_RATE = (5.0, 5)
"""Live score requests per second per user, and the burst allowed (the tab asks ~3/s)."""

TAB_SCRIPTS = [
    "js/tab/format.js", "js/tab/live_view.js", "js/tab/region.js", "js/tab/live_score.js", "js/tab/large_view.js",
    "js/tab/position.js", "js/tab/jog.js", "js/tab/reference.js", "js/tab/progress.js", "js/tab/outcome.js",
    "js/tab/recovery.js", "js/tab/history.js", "js/autofocus.js",
]
"""The tab's view model in load order: the namespace and formatting its parts share, the parts
(static/js/tab/), then autofocus.js, which puts them together."""

RESTRICTED_SETTINGS = [["stream_url"], ["snapshot_url"], ["before_gcode"], ["after_gcode"]]
"""Settings only users with the SETTINGS permission may read (URLs may hold credentials)."""


def _error(message: str, status: int, **extra: Any) -> flask.Response:
    return flask.make_response(flask.jsonify(error=message, **extra), status)


def _bad_request(exc: SettingsError) -> flask.Response:
    """400 ``{"error": "<Label>: <message>", "field": ...}`` for a refused payload or settings save."""
    return flask.make_response(flask.jsonify(**error_body(exc)), 400)


class AutofocusPlugin(
    octoprint.plugin.StartupPlugin,
    octoprint.plugin.ShutdownPlugin,
    octoprint.plugin.SettingsPlugin,
    octoprint.plugin.TemplatePlugin,
    octoprint.plugin.AssetPlugin,
    octoprint.plugin.SimpleApiPlugin,
    octoprint.plugin.BlueprintPlugin,
    octoprint.plugin.EventHandlerPlugin,
    octoprint.plugin.WebcamProviderPlugin,
):
    """The plugin; OctoPrint glue only (the focus logic lives in :mod:`.focus`)."""

    def __init__(self) -> None:
        self._port = 5000
        self._job: Optional[FocusJob] = None
        self._camera: Optional[CameraManager] = None
        self._records: Optional[RecordStore] = None
        self._score_limit = RateLimit(*SCORE_RATE)
        self._microscope = sim_microscope.SimMicroscope()
        self._atcommands: Optional[AtCommandRunner] = None
        self._position = PositionTracker(push=lambda data: self._push("position", data),
                                         request_position=self._ask_position)

    def initialize(self) -> None:
        self._records = RecordStore(
            self.get_plugin_data_folder() + "/records", keep=self._settings.get_int(["history_size"]) or 20
        )
        self._camera = CameraManager(self._camera_spec)
        wiring = Wiring(
            make_stage=self._make_stage,
            open_camera=self._camera.open_for_run,
            volume=self._volume,
            push=self._push,
            fire=self._fire,
            store_reference=self._store_reference,
        )
        self._job = FocusJob(self._printer, self._records, wiring, logger=self._logger)
        self._map = MapJob(self._job, self._records, MapWiring(
            make_head=self._make_head, open_camera=self._camera.open_for_run, volume=self._volume,
            push=self._push, fire=self._fire,
        ), logger=self._logger)
        self._atcommands = AtCommandRunner(self._printer, self._job, AtCommandWiring(
            config=self._config, check_home=self._check_home, push=self._push,
            start_map=lambda config, request, in_job: self._map.start(config, self._map_plan(config, request),
                                                                      in_job=in_job),
        ), logger=self._logger)
        self._apply_simulator()
        self._position.start()

    ##~~ StartupPlugin

    def on_startup(self, host: str, port: int) -> None:
        self._port = port

    ##~~ ShutdownPlugin

    def on_shutdown(self) -> None:
        self._job.shutdown(timeout=10.0)
        self._position.stop()
        self._camera.close()
        self._microscope.close()

    ##~~ SettingsPlugin

    def get_settings_defaults(self) -> Dict[str, Any]:
        return {**DEFAULTS, "simulator": dict(DEFAULTS["simulator"]), "map": dict(DEFAULTS["map"])}

    def get_settings_version(self) -> int:
        return SETTINGS_VERSION

    def on_settings_migrate(self, target: int, current: Optional[int]) -> None:
        stored = self._settings.get_all_data(merged=False) or {}
        migrated = migrate(stored, current)
        for key in set(stored) - set(migrated):
            self._settings.remove([key])
        for key, value in migrated.items():
            if stored.get(key) != value:
                self._settings.set([key], value)
        self._logger.info("Migrated settings from version %s to %s", current, target)

    def on_settings_save(self, data: Dict[str, Any]) -> Dict[str, Any]:
        data = normalised(data)
        try:  # POST /api/settings was checked already (_guard_settings_save); other callers were not
            config = self._check_settings_save(data)
        except SettingsError as exc:
            message = gettext("Autofocus settings not saved: %(error)s") % {"error": describe(exc)}
            self._logger.warning("Refused a settings save: %s", exc)
            self._push("error", {"message": message})
            return {}
        diff = octoprint.plugin.SettingsPlugin.on_settings_save(self, data)
        self._records.keep = config.history_size
        self._apply_simulator()  # the live camera follows a camera change by itself
        return diff

    def get_settings_restricted_paths(self) -> Dict[str, List[List[str]]]:
        return {"admin": RESTRICTED_SETTINGS}

    ##~~ TemplatePlugin

    def get_template_configs(self) -> List[Dict[str, Any]]:
        return [
            {"type": "tab", "name": gettext("Autofocus"), "custom_bindings": True},
            {"type": "settings", "name": gettext("Autofocus"), "custom_bindings": True},
        ]

    def is_template_autoescaped(self) -> bool:
        return True

    def get_template_vars(self) -> Dict[str, Any]:
        """Labels, limits, metric and scene names for the templates (written once, in fields.py)."""
        return template_vars(list(MEASURES), list(SCENES), CENTRE_ROI)

    ##~~ AssetPlugin

    def get_assets(self) -> Dict[str, List[str]]:
        return {
            "js": ["js/autofocus_plot.js", *TAB_SCRIPTS, "js/autofocus_settings.js", "js/autofocus_map.js"],
            "clientjs": ["clientjs/autofocus.js"],
            "css": ["css/autofocus.css", "css/autofocus_map.css"],
        }

    ##~~ SimpleApiPlugin

    def get_api_commands(self) -> Dict[str, List[str]]:
        return {command: [] for command in COMMAND_PERMISSIONS}

    def is_api_protected(self) -> bool:
        return True

    def on_api_command(self, command: str, data: Dict[str, Any]) -> flask.Response:
        if not allowed(command, lambda name: getattr(Permissions, name).can()):
            return _error(gettext("You lack the permission for %(command)s.") % {"command": command}, 403)
        try:
            return getattr(self, "_api_" + command)(data)
        except SettingsError as exc:
            return _bad_request(exc)
        except (Busy, NotReady) as exc:
            return _error(str(exc), 409)
        except CameraError as exc:
            return _error(str(exc), 503)

    def on_api_get(self, request: Any) -> flask.Response:
        if not Permissions.STATUS.can():
            return _error(gettext("You lack the STATUS permission."), 403)
        return flask.jsonify(
            **self._job.status(),
            last=self._records.last(kinds=KINDS),
            map=dict(self._map.status(), defaults=self._map_defaults()),
            history=self._records.history(),
            reference_z=self._settings.get_float(["reference_z"]),
            camera=self._camera_info(),
            position=self._position.snapshot(),
        )

    ##~~ BlueprintPlugin

    @octoprint.plugin.BlueprintPlugin.route("/records/<run_id>.json", methods=["GET"])
    @Permissions.STATUS.require(403)
    def download_record(self, run_id: str) -> flask.Response:
        record = self._records.load(run_id)
        if record is None:
            flask.abort(404)
        response = flask.jsonify(record)
        response.headers["Content-Disposition"] = 'attachment; filename="autofocus-%s.json"' % run_id
        return response

    @octoprint.plugin.BlueprintPlugin.route("/records/<run_id>.csv", methods=["GET"])
    @Permissions.STATUS.require(403)
    def download_map_csv(self, run_id: str) -> flask.Response:
        record = self._records.load(run_id)
        if record is None or record.get("kind") != MAP_KIND:
            flask.abort(404)
        response = flask.make_response(map_csv(record))
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
        response.headers["Content-Disposition"] = 'attachment; filename="autofocus-map-%s.csv"' % run_id
        return response

    def is_blueprint_csrf_protected(self) -> bool:
        return True

    ##~~ EventHandlerPlugin

    def on_event(self, event: str, payload: Dict[str, Any]) -> None:
        state = (payload or {}).get("state_id") if event == Events.PRINTER_STATE_CHANGED else None
        if event in ABORT_EVENTS and self._job.running:
            self._job.cancel(str(ABORT_EVENTS[event]))
        elif state in ABORT_STATES and self._job.running:
            self._job.cancel(str(ABORT_STATES[state]))
        elif event in ABORT_OUTSIDE_JOB_EVENTS and self._job.running:
            self._job.cancel(str(ABORT_OUTSIDE_JOB_EVENTS[event]), outside_job_only=True)
        elif event == Events.CONNECTED:
            self._microscope.tracker.reset()
        elif event == Events.PRINTER_PROFILE_MODIFIED:
            self._apply_simulator()  # the simulated surface spans the bed
        self._follow_position(event, state)

    ##~~ WebcamProviderPlugin

    def get_webcam_configurations(self) -> List[Any]:
        if not self._simulator_enabled():
            return []
        return [sim_microscope.webcam_config(self._microscope.config)]

    def take_webcam_snapshot(self, webcamName: str) -> Any:
        if webcamName != sim_microscope.WEBCAM_NAME or not self._simulator_enabled():
            raise ValueError("unknown webcam %r" % webcamName)
        return iter([self._microscope.snapshot()])

    ##~~ hooks

    def on_gcode_received(self, comm: Any, line: str, *args: Any, **kwargs: Any) -> str:
        """``octoprint.comm.protocol.gcode.received``: replies for the active stage and the Z readout."""
        self._job.feed_line(line)
        self._position.feed_line(line)
        return line

    def on_gcode_sending(self, comm: Any, phase: str, cmd: str, cmd_type: Any, gcode: Any,
                         *args: Any, tags: Any = None, **kwargs: Any) -> Optional[Tuple[None]]:
        """``octoprint.comm.protocol.gcode.sending``: lets the stage match its M114 answer, and
        drops what a cancelled run had queued (``(None,)`` suppresses the line)."""
        return None if self._job.note_sending(cmd, tags) else (None,)

    def on_gcode_sent(self, comm: Any, phase: str, cmd: str, *args: Any, tags: Any = None, **kwargs: Any) -> None:
        """``octoprint.comm.protocol.gcode.sent``: the simulated microscope follows Z; a Z move
        makes the Z readout stale."""
        if self._simulator_enabled():
            self._microscope.tracker.on_sent(cmd)
        self._position.note_sent(cmd, tags)

    def on_atcommand(self, comm: Any, phase: str, command: str, parameters: str,
                     tags: Any = None, *args: Any, **kwargs: Any) -> None:
        """``octoprint.comm.protocol.atcommand.queuing``: start ``@AUTOFOCUS``, return at once."""
        if phase == "queuing" and command.upper() == COMMAND:
            self._atcommands.queued(parameters, tags)

    def get_additional_permissions(self, *args: Any, **kwargs: Any) -> List[Dict[str, Any]]:
        """``octoprint.access.permissions``: RUN (with CONTROL) runs autofocus and moves Z."""
        return [
            {
                "key": "RUN",
                "name": gettext("Run autofocus"),
                "description": gettext(
                    "Allows to run autofocus, set the focus reference, home Z by focus and jog Z"
                    " from the Autofocus tab (CONTROL is needed as well)"
                ),
                "roles": ["run"],
                "dangerous": False,
                "default_groups": [ADMIN_GROUP, USER_GROUP],
            }
        ]

    def get_http_routes(self, server_routes: Any, *args: Any, **kwargs: Any) -> List[Tuple]:
        """``octoprint.server.http.routes``: the simulated microscope's stream and snapshot."""
        return sim_microscope.http_routes(self._microscope, is_enabled=self._simulator_enabled)

    def autofocus_helper(self, wait: bool = True, timeout: Optional[float] = None,
                         **overrides: Any) -> Dict[str, Any]:
        """``__plugin_helpers__["autofocus"]``: run autofocus for another plugin.

        ``overrides`` as in the API's ``start`` (``range``, ``z_min``, ``z_max``, ``metric``,
        ``roi``). Returns the record when ``wait`` (None if it did not end within
        ``timeout``), else ``{"run_id": ...}``. Raises SettingsError, Busy or NotReady.
        """
        run_id = self._job.start(RunPlan(kind="focus", config=self._config(), request=parse_start(overrides)))
        if not wait:
            return {"run_id": run_id}
        self._job.wait(timeout)
        return self._records.load(run_id)

    ##~~ API commands

    def _api_start(self, data: Dict[str, Any]) -> flask.Response:
        return self._start_run("focus", parse_start(data))

    def _api_map(self, data: Dict[str, Any]) -> flask.Response:
        request = parse_map_request(data)
        config = self._config()
        plan = self._map_plan(config, request)
        self._camera.spec(config)
        return flask.make_response(flask.jsonify(run_id=self._map.start(config, plan)), 202)

    def _api_cancel(self, data: Dict[str, Any]) -> flask.Response:
        check_no_payload(data)
        return flask.jsonify(cancelled=self._job.cancel(gettext("cancelled by the user")))

    def _api_score(self, data: Dict[str, Any]) -> flask.Response:
        request = parse_score(data)
        if not self._score_limit.allow(_caller()):
            response = _error(gettext("Too many score requests; ask at most %(rate)d times a second.")
                              % {"rate": SCORE_RATE[0]}, 429)
            response.headers["Retry-After"] = "1"
            return response
        return flask.jsonify(**self._camera.live_score(self._config(), request))

    def _api_set_reference(self, data: Dict[str, Any]) -> flask.Response:
        z = parse_set_reference(data)
        if z is None:
            return self._start_run("reference", RunRequest())
        check_reference(z, self._config(), self._volume(), field="z")
        self._store_reference(z)
        return flask.jsonify(reference_z=z)

    def _api_home(self, data: Dict[str, Any]) -> flask.Response:
        confirmed = parse_home(data)
        self._check_home(self._config())
        return self._start_run("home", RunRequest(), confirmed=confirmed)

    def _api_jog(self, data: Dict[str, Any]) -> flask.Response:
        dz = parse_jog(data)
        return self._moved("dz", lambda: self._job.jog(self._config(), dz))

    def _api_move(self, data: Dict[str, Any]) -> flask.Response:
        z = parse_move(data)
        return self._moved("z", lambda: self._job.move(self._config(), z))

    def _moved(self, field: str, move: Callable[[], float]) -> flask.Response:
        """Run a jog or move and answer the Z reached (400 refused, 503 the printer failed)."""
        try:
            return flask.jsonify(z=move())
        except MoveRefused as exc:  # a whole sentence ("Z 105.000 mm is above ..."), no label
            return _error(str(exc), 400, field=field)
        except FocusError as exc:
            return _error(str(exc), 503)

    ##~~ helpers

    def _start_run(self, kind: str, request: RunRequest, confirmed: bool = False) -> flask.Response:
        """Check what can be checked before anything moves, then start the run (202)."""
        config = self._config()
        if request.z_min is not None:
            run_limits(config, None, request, self._volume())
        self._camera.spec(config)
        run_id = self._job.start(RunPlan(kind=kind, config=config, request=request, confirmed=confirmed))
        return flask.make_response(flask.jsonify(run_id=run_id), 202)

    def _config(self) -> RunConfig:
        return validate(self._settings.get_all_data())

    def _check_home(self, config: RunConfig) -> None:
        """Refuse homing by focus before anything moves: no reference Z, or one outside the limits."""
        _require_reference(config)
        check_reference(config.reference_z, config, self._volume())

    def _check_settings_save(self, payload: Any) -> RunConfig:
        """SettingsError unless saving ``payload`` (``plugins.autofocus``) keeps every setting valid."""
        return check_settings_save(payload, self._settings.get_all_data() or {}, self._volume())

    def get_api_before_request_handlers(self, *args: Any, **kwargs: Any) -> List[Any]:
        """``octoprint.server.api.before_request``: an invalid settings save answers 400."""

        def refuse(exc: SettingsError) -> flask.Response:  # the person saving is told (400): no warning
            self._logger.info("Refused a settings save: %s", exc)
            return _bad_request(exc)

        return [settings_save_handler(self._check_settings_save, Permissions.SETTINGS.can, refuse)]

    def _simulator_enabled(self) -> bool:
        return bool(self._settings.get_boolean(["simulator", "enabled"]))

    def _apply_simulator(self) -> None:
        try:
            values = validate_simulator(self._settings.get(["simulator"]) or {})
            config = sim_microscope.SimConfig.from_settings(values)
            bed = self._bed()
            self._microscope.reconfigure(dataclasses.replace(config, bed=bed) if bed else config)
        except ValueError as exc:
            self._logger.warning("Simulated microscope settings ignored: %s", exc)

    def _make_stage(self, config: RunConfig, z_min: float, z_max: float, cancel: threading.Event) -> PrinterStage:
        return PrinterStage(self._printer, **self._stage_options(config, z_min, z_max, cancel))

    def _make_head(self, config: RunConfig, plan: MapPlan, z_min: float, z_max: float,
                   cancel: threading.Event) -> PrinterHead:
        return PrinterHead(self._printer, bed=plan.bed, xy_feedrate=plan.xy_feedrate, xy_template=plan.xy_template,
                           **self._stage_options(config, z_min, z_max, cancel))

    def _stage_options(self, config: RunConfig, z_min: float, z_max: float, cancel: threading.Event) -> Dict[str, Any]:
        return dict(
            z_min=z_min, z_max=z_max, feedrate=config.feedrate,
            move_template=config.move_template, tolerance=POSITION_TOLERANCE,
            timeout=self._confirm_timeout(), cancel=cancel, logger=self._logger,
        )

    def _map_plan(self, config: RunConfig, request: MapRequest) -> MapPlan:
        """Check a map request against the settings, the bed and the Z limits (before anything moves)."""
        return resolve_map(validate_map(self._settings.get(["map"])), request, self._bed(),
                           safety_limits(config, self._volume()))

    def _map_defaults(self) -> Optional[Dict[str, Any]]:
        """What the tab's map form starts from: the plan of a map request without overrides."""
        try:
            config = self._config()
            return self._map_plan(config, MapRequest()).record()
        except SettingsError as exc:
            self._logger.debug("No map defaults: %s", exc)
            return None

    def _bed(self) -> Optional[Tuple[float, float, float, float]]:
        return profile_xy_range(self._printer_profile_manager.get_current_or_default())

    def _confirm_timeout(self) -> float:
        """Seconds a move may go unconfirmed (plus travel): longer than OctoPrint's own
        communication timeout, after which it recovers a lost ``ok`` by itself."""
        communication = self._settings.global_get_float(["serial", "timeout", "communication"]) or 30.0
        return communication + CONFIRM_MARGIN

    def _volume(self) -> Optional[Tuple[float, float]]:
        return profile_z_range(self._printer_profile_manager.get_current_or_default())

    def _base_url(self) -> str:
        return "http://127.0.0.1:%d" % self._port

    def _camera_spec(self, config: RunConfig) -> CameraSpec:
        return select_camera(octoprint_webcams(), config, self._base_url())

    def _camera_info(self) -> Optional[Dict[str, Any]]:
        try:
            return browser_camera(octoprint_webcams(), self._config(), self._base_url(),
                                  private=Permissions.SETTINGS.can())
        except ValueError:
            return None

    def _store_reference(self, z: float) -> None:
        z = round(float(z), 3)  # what G92 will send; no 3.999750985008485 in the settings pane
        self._settings.set_float(["reference_z"], z)
        self._settings.save(trigger_event=True)
        self._logger.info("Focus reference set to Z%.3f", z)

    ##~~ the Z readout

    def _follow_position(self, event: str, state: Optional[str]) -> None:
        """Forget Z when the connection changes; ask for it when the printer becomes idle."""
        if event in (Events.CONNECTED, Events.DISCONNECTED):
            self._position.reset()
        if event == Events.CONNECTED or (state == "OPERATIONAL" and self._position.snapshot()["state"] != "known"):
            self._position.ask_soon()

    def _ask_position(self) -> bool:
        """Queue an M114 for the Z readout, only while the printer is idle (no print, no run)."""
        if not self._printer.is_operational() or self._printer.is_printing() or self._job.running:
            return False
        self._printer.commands(["M114"], tags={"plugin:autofocus", "plugin:autofocus:position"})
        return True

    def _push(self, kind: str, data: Dict[str, Any]) -> None:
        self._plugin_manager.send_plugin_message(self._identifier, {"type": kind, **data})

    def _fire(self, key: str, payload: Dict[str, Any]) -> None:
        self._event_bus.fire(getattr(Events, "PLUGIN_AUTOFOCUS_" + key.upper()), payload)


def _caller() -> str:
    """Who is asking: the logged-in user (session or API key), else the remote address."""
    from flask_login import current_user

    user_id = getattr(current_user, "get_id", lambda: None)()
    return "user:%s" % user_id if user_id else "address:%s" % flask.request.remote_addr


def _require_reference(config: RunConfig) -> None:
    """Refuse homing by focus before anything moves when no reference Z is calibrated."""
    if config.reference_z is None:
        raise SettingsError("reference_z", gettext("no reference Z is set; calibrate it first"))


def _register_custom_events(*args: Any, **kwargs: Any) -> List[str]:
    return list(CUSTOM_EVENTS)


def plugin_hooks(plugin: AutofocusPlugin) -> Dict[str, Any]:
    """The hooks the plugin registers, bound to its instance."""
    return {
        "octoprint.comm.protocol.gcode.received": plugin.on_gcode_received,
        "octoprint.comm.protocol.gcode.sending": plugin.on_gcode_sending,
        "octoprint.comm.protocol.gcode.sent": plugin.on_gcode_sent,
        "octoprint.comm.protocol.atcommand.queuing": plugin.on_atcommand,
        "octoprint.access.permissions": plugin.get_additional_permissions,
        "octoprint.events.register_custom_events": _register_custom_events,
        "octoprint.server.http.routes": plugin.get_http_routes,
        "octoprint.server.api.before_request": plugin.get_api_before_request_handlers,
    }
