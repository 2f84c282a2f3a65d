"""What an ``@AUTOFOCUS`` line does once OctoPrint queues it (the ``atcommand.queuing`` hook).

The line starts a focus run, homing by focus or a focus map and the hook returns at once
(the comm thread never waits); in a printing job the run holds the job (:class:`.FocusJob`,
:class:`.MapJob`). A job's line that meets a run started outside the job (tab, API,
terminal, jog) cancels it and takes the run slot over. A line that cannot run is refused:
the log, the terminal and the tab are told, and a job is paused.
"""

import functools
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Optional

from flask_babel import gettext, lazy_gettext

from .atcommand import AtCommand, parse_parameters
from .job import Busy, FocusJob, NotReady, RunPlan
from .map_settings import MapRequest
from .settings import RunConfig, SettingsError, describe

__all__ = ["AtCommandRunner", "AtCommandWiring", "TAKEOVER_REASON", "TAKEOVER_TIMEOUT"]

TAKEOVER_REASON = lazy_gettext("an @AUTOFOCUS line of the print job took over")
TAKEOVER_TIMEOUT = 30.0
"""s a job's @AUTOFOCUS waits for the run it cancelled to end."""


@dataclass(frozen=True)
class AtCommandWiring:
    """How a line reaches the plugin: ``config()`` the checked settings, ``check_home(config)``
    refuses homing by focus without a usable reference, ``start_map(config, request, in_job)``
    starts a focus map, ``push(type, data)`` sends a plugin message."""

    config: Callable[[], RunConfig]
    check_home: Callable[[RunConfig], None]
    start_map: Callable[[RunConfig, MapRequest, bool], Any]
    push: Callable[[str, Dict[str, Any]], None]


class AtCommandRunner:
    """Runs ``@AUTOFOCUS`` lines for the plugin's printer and focus job."""

    def __init__(self, printer: Any, job: FocusJob, wiring: AtCommandWiring,
                 logger: Optional[logging.Logger] = None) -> None:
        self._printer = printer
        self._job = job
        self._wiring = wiring
        self._logger = logger or logging.getLogger(__name__)

    def queued(self, parameters: str, tags: Optional[Iterable[str]]) -> None:
        """An ``@AUTOFOCUS`` line was queued: start what it asks for, or refuse it."""
        in_job = "source:file" in (tags or ()) and self._printer.is_printing()
        try:
            parsed = parse_parameters(parameters)
            start = functools.partial(self._start, parsed, self._wiring.config(), in_job)
            try:
                start()
            except Busy:
                taken = in_job and (self._job.cancel(str(TAKEOVER_REASON), outside_job_only=True)
                                    or not self._job.running)  # cancelled, or ended meanwhile
                if not taken:
                    raise
                self._take_over(start, parameters)
        except (SettingsError, Busy, NotReady) as exc:
            self._refuse(parameters, describe(exc) if isinstance(exc, SettingsError) else str(exc), in_job)

    def _start(self, parsed: AtCommand, config: RunConfig, in_job: bool) -> None:
        """Start what the line asks for (a focus run, homing, a map)."""
        if parsed.map is not None:
            self._wiring.start_map(config, parsed.map, in_job)
            return
        if parsed.home:
            self._wiring.check_home(config)
        self._job.start(RunPlan(kind="home" if parsed.home else "focus", config=config,
                                request=parsed.request, in_job=in_job))

    def _take_over(self, start: Callable[[], None], parameters: str) -> None:
        """A job's line met a run outside the job, now cancelled: hold the job at once, and
        start the job's run on a thread once the cancelled one has ended (the comm thread
        never waits). The job is paused only if the job's own run cannot start."""
        self._printer.set_job_on_hold(True)

        def wait_then_start() -> None:
            try:
                if not self._job.wait_idle(TAKEOVER_TIMEOUT):
                    raise Busy(gettext("The autofocus run it replaces did not stop within %(seconds)d s.")
                               % {"seconds": TAKEOVER_TIMEOUT})
                start()
            except (SettingsError, Busy, NotReady) as exc:
                self._refuse(parameters, str(exc), True)
            finally:
                self._printer.set_job_on_hold(False)

        threading.Thread(target=wait_then_start, name="octoprint.plugins.autofocus.takeover", daemon=True).start()

    def _refuse(self, parameters: str, error: str, in_job: bool) -> None:
        """Report a refused line (log, terminal, UI); in a job, pause it."""
        message = gettext("@AUTOFOCUS %(parameters)s not run: %(error)s") % {
            "parameters": parameters,
            "error": error,
        }
        self._logger.warning(message)
        self._printer.log_lines(message)
        self._wiring.push("error", {"message": message})
        if in_job:
            self._printer.set_job_on_hold(True)
            threading.Thread(target=self._pause_then_release, name="octoprint.plugins.autofocus.pause",
                             daemon=True).start()

    def _pause_then_release(self) -> None:
        try:
            self._printer.pause_print()
        finally:
            self._printer.set_job_on_hold(False)
