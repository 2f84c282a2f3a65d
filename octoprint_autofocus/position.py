"""PositionTracker: the printer's Z as its position answers report it, for the tab.

OctoPrint has no position getter. The plugin already sees every received line (the
``gcode.received`` hook) and every sent one (``gcode.sent``): position answers (``M114``,
``M154`` auto-reports) give Z; a sent line that moves Z makes the last answer stale
("moving") until the next answer. After a Z move the plugin did not follow with its own
``M114`` (a jog from the Control tab, the terminal) it asks for the position once the
printer is idle, so the tab never shows an old Z as if it were current.

The hooks only parse and note (cheap, never block); a daemon thread pushes updates to the
browser at most every ``min_interval`` seconds and sends the delayed ``M114``.
"""

import re
import threading
import time
from typing import Any, Callable, Collection, Dict, Optional

from .printer_stage import parse_m114

__all__ = ["PositionTracker", "moves_z", "THREAD_NAME"]

THREAD_NAME = "octoprint.plugins.autofocus.position"
OWN_TAG = "plugin:autofocus"

_MOVE = re.compile(r"^(?:N\d+\s+)?G0*([0-3])(?![0-9.])", re.IGNORECASE)
_REDEFINES = re.compile(r"^(?:N\d+\s+)?G(?:28|29|30|92)(?![0-9])", re.IGNORECASE)
_Z_WORD = re.compile(r"\bZ\s*[-+.\d]", re.IGNORECASE)


def moves_z(command: str) -> bool:
    """Whether a sent line may change Z: a move with a Z word, homing, probing or G92."""
    line = command.strip()
    if _REDEFINES.match(line):
        return True
    return _MOVE.match(line) is not None and _Z_WORD.search(line) is not None


class PositionTracker:
    """Z from position answers; ``snapshot()`` is ``{"z": float|None, "state": ...}``.

    ``state``: ``"known"`` (the last answer holds), ``"moving"`` (a Z move went out after
    it), ``"unknown"`` (no answer since the connection began). ``push(data)`` sends an
    update to the browser; ``request_position()`` queues an ``M114`` when the printer is
    idle and returns whether it did.
    """

    def __init__(
        self,
        push: Callable[[Dict[str, Any]], None],
        request_position: Callable[[], bool],
        *,
        min_interval: float = 0.25,
        quiet: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._push = push
        self._request_position = request_position
        self.min_interval = min_interval
        self.quiet = quiet
        self._clock = clock
        self._wake = threading.Condition()
        self._z: Optional[float] = None
        self._state = "unknown"
        self._changed = False
        self._ask_at: Optional[float] = None
        self._stopped = False
        self._thread: Optional[threading.Thread] = None

    # ~ hooks (OctoPrint's comm and send threads: cheap)

    def feed_line(self, line: str) -> None:
        """A line received from the printer."""
        z = parse_m114(line)
        if z is None:
            return
        with self._wake:
            self._z, self._state, self._changed = z, "known", True
            self._ask_at = None
            self._wake.notify()

    def note_sent(self, command: str, tags: Optional[Collection[str]] = None) -> None:
        """A line sent to the printer: a Z move makes the position stale; after a move that
        is not the plugin's own (its moves end with M114) the position is asked for."""
        if not moves_z(command):
            return
        with self._wake:
            if self._state == "known":
                self._state, self._changed = "moving", True
            if OWN_TAG not in (tags or ()):
                self._ask_at = self._clock() + self.quiet
            self._wake.notify()

    def reset(self) -> None:
        """Forget the position (printer connected or disconnected)."""
        with self._wake:
            self._z, self._state, self._changed = None, "unknown", True
            self._ask_at = None
            self._wake.notify()

    def ask_soon(self) -> None:
        """Ask the printer for its position once it is idle (e.g. right after connecting)."""
        with self._wake:
            self._ask_at = self._clock() + self.quiet
            self._wake.notify()

    def snapshot(self) -> Dict[str, Any]:
        with self._wake:
            return {"z": self._z, "state": self._state}

    # ~ worker

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and not self._changed and not self._due():
                    self._wake.wait(self._wait_time())
                if self._stopped:
                    return
                ask = self._due()
                if ask:
                    self._ask_at = None
                data = {"z": self._z, "state": self._state} if self._changed else None
                self._changed = False
            if ask and not self._request_position():
                with self._wake:  # printer busy: the next answer or move decides
                    self._ask_at = None
            if data is not None:
                self._push(data)
                self._sleep(self.min_interval)

    def _due(self) -> bool:
        return self._ask_at is not None and self._clock() >= self._ask_at

    def _wait_time(self) -> Optional[float]:
        return None if self._ask_at is None else max(0.0, self._ask_at - self._clock())

    def _sleep(self, seconds: float) -> None:
        with self._wake:
            self._wake.wait_for(lambda: self._stopped, timeout=seconds)
