"""Fakes for the plugin tests: stand-ins for the OctoPrint objects the plugin talks to.

``FakePrinter`` behaves like OctoPrint's ``PrinterInterface`` plus the firmware behind it:
``commands()`` only queues, and a named thread (like OctoPrint's comm thread) works
through the queue and hands every reply line to the registered listeners, the way the
``octoprint.comm.protocol.gcode.received`` hook would (and each line about to run to the
sending listeners, like the ``...gcode.sending`` hook). Use it as a context manager (or
call ``close()``) so the thread stops at the end of the test.
"""

import contextlib
import queue
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, FrozenSet, Iterator, List, Optional, Sequence, Tuple, Union

VIRTUAL_PRINTER_M114 = "ok X:{x} Y:{y} Z:{z} E:0.0 Count: A:0 B:0 C:{counts}"
"""The position reply format of OctoPrint's bundled virtual printer."""

_Z_WORD = re.compile(r"\bZ\s*([-+]?\d*\.?\d+)", re.IGNORECASE)
_XY_WORD = re.compile(r"\b([XY])\s*([-+]?\d*\.?\d+)", re.IGNORECASE)
_LINEAR_MOVE = re.compile(r"^G0*[01]\b", re.IGNORECASE)


class FakePrinter:
    """A printer that answers queued G-code on its own thread.

    It tracks Z (and X, Y) for G0/G1 (absolute after ``G90``, relative after ``G91``) and ``G92 Z``,
    answers ``ok`` to every line and a position line (``m114_format``) to ``M114``.

    Knobs for fault tests:
    - ``operational``: what ``is_operational()`` returns.
    - ``answer_m114``: False makes ``M114`` get only ``ok`` (a timeout for the caller).
    - ``z_error``: added to every Z the printer reaches (a missed move).
    - ``autoreport_in_m400``: while ``M400`` waits, send a position line with the Z from
      before the last move, as a position auto-report (``M154``) taken mid-move would.

    Records: ``sent`` holds ``(line, tags)`` in the order queued; ``holds`` the values
    passed to ``set_job_on_hold``; ``pauses`` counts ``pause_print()`` calls; ``job_calls``
    has both in the order they came (``("hold", True)``, ``("pause", None)``, ...).
    """

    def __init__(
        self,
        z: float = 0.0,
        *,
        operational: bool = True,
        answer_m114: bool = True,
        z_error: float = 0.0,
        m114_format: str = VIRTUAL_PRINTER_M114,
        autoreport_in_m400: bool = False,
    ) -> None:
        self.z = z
        self.x = 0.0
        self.y = 0.0
        self.operational = operational
        self.answer_m114 = answer_m114
        self.z_error = z_error
        self.m114_format = m114_format
        self.autoreport_in_m400 = autoreport_in_m400
        self._z_before_move = z
        self.relative = False
        self.sent: List[Tuple[str, FrozenSet[str]]] = []
        self.holds: List[bool] = []
        self.pauses = 0
        self.job_calls: List[Tuple[str, Optional[bool]]] = []
        self.printing = False
        self._listeners: List[Callable[[str], None]] = []
        self._sending_listeners: List[Callable[[str, FrozenSet[str]], None]] = []
        self._queue: "queue.Queue[Optional[Tuple[str, Any]]]" = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="fake-printer-comm", daemon=True)
        self._thread.start()

    # ~ PrinterInterface

    def commands(
        self, commands: Union[str, Sequence[str]], tags: Optional[FrozenSet[str]] = None, force: bool = False
    ) -> None:
        """Queue lines like OctoPrint does: return at once, answer later on the comm thread."""
        for line in [commands] if isinstance(commands, str) else commands:
            self.sent.append((line, frozenset(tags or ())))
            self._queue.put(("gcode", (line, frozenset(tags or ()))))

    def is_operational(self) -> bool:
        return self.operational

    def is_printing(self) -> bool:
        return self.printing

    def set_job_on_hold(self, value: bool, blocking: bool = True) -> bool:
        self.holds.append(value)
        self.job_calls.append(("hold", value))
        return True

    def pause_print(self) -> None:
        self.pauses += 1
        self.job_calls.append(("pause", None))

    @contextlib.contextmanager
    def job_on_hold(self, blocking: bool = True) -> Iterator[None]:
        self.set_job_on_hold(True, blocking=blocking)
        try:
            yield
        finally:
            self.set_job_on_hold(False)

    # ~ test helpers

    def add_listener(self, listener: Callable[[str], None]) -> None:
        """Have ``listener`` called (on the comm thread) with every line the printer sends."""
        self._listeners.append(listener)

    def add_sending_listener(self, listener: Callable[[str, FrozenSet[str]], None]) -> None:
        """Have ``listener(line, tags)`` called (on the comm thread) before each line runs."""
        self._sending_listeners.append(listener)

    def receive(self, line: str) -> None:
        """Make the printer send ``line`` on the comm thread, in order with the replies."""
        self._queue.put(("send", line))

    def sent_lines(self) -> List[str]:
        """The lines queued so far, without their tags."""
        return [line for line, _ in self.sent]

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every line queued so far has been answered."""
        idle = threading.Event()
        self._queue.put(("idle", idle))
        return idle.wait(timeout)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def __enter__(self) -> "FakePrinter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ~ the firmware

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            kind, payload = item
            if kind == "idle":
                payload.set()
            elif kind == "send":
                self._send(payload)
            else:
                line, tags = payload
                for listener in list(self._sending_listeners):
                    listener(line, tags)
                self._execute(line)

    def _execute(self, line: str) -> None:
        word = line.split()[0].upper() if line.split() else ""
        if word == "G90":
            self.relative = False
        elif word == "G91":
            self.relative = True
        elif _LINEAR_MOVE.match(line):
            for axis, value in _XY_WORD.findall(line):
                delta = float(value)
                if axis.upper() == "X":
                    self.x = self.x + delta if self.relative else delta
                else:
                    self.y = self.y + delta if self.relative else delta
            match = _Z_WORD.search(line)
            if match:
                target = float(match.group(1))
                self._z_before_move = self.z
                self.z = (self.z + target if self.relative else target) + self.z_error
        elif word == "G92":
            match = _Z_WORD.search(line)
            if match:
                self.z = float(match.group(1))
        elif word == "M400" and self.autoreport_in_m400:
            self._send(self.m114_format.format(x=self.x, y=self.y, z=self._z_before_move, counts=0))
        elif word == "M114" and self.answer_m114:
            self._send(self.m114_format.format(x=round(self.x, 4), y=round(self.y, 4), z=round(self.z, 4),
                                               counts=int(self.z * 100)))
            return
        self._send("ok")

    def _send(self, line: str) -> None:
        for listener in list(self._listeners):
            listener(line)


@dataclass
class FakeCompat:
    """The ``compat`` part of an OctoPrint 1.9+ ``Webcam`` config."""

    stream: str = ""
    snapshot: str = ""


@dataclass
class FakeWebcam:
    """A plain stand-in for ``octoprint.schema.webcam.Webcam`` (same attribute names)."""

    name: str
    displayName: str = ""
    flipH: bool = False
    flipV: bool = False
    rotate90: bool = False
    canSnapshot: bool = True
    compat: Optional[FakeCompat] = field(default_factory=FakeCompat)
