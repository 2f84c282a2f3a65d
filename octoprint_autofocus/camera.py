"""Camera glue: the run's camera, and the live score that never slows OctoPrint down.

A run opens its own :class:`~.webcam_source.WebcamSource` and closes it at the end. The
live score (the UI polling ``score``) shares one :class:`LiveCamera`:

- one frame grab at a time, on its own thread, however many clients poll;
- a request waits for a fresh frame at most until ``wait`` seconds after the current grab
  began, then answers with the last frame (if younger than ``max_age``, marked stale) or
  503; a camera whose last grab failed answers its error at once while it is retried, so
  a dead camera holds no request thread (OctoPrint serves every request from a pool of a
  few threads);
- a changed camera is swapped in without failing requests that are in flight (a frame of
  the old camera is never returned after the swap), and the camera closes itself after
  ``idle_close`` seconds without a request, so an idle Raspberry Pi decodes nothing.

:class:`RateLimit` bounds how often one user may ask.
"""

import contextlib
import threading
import time
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

from flask_babel import gettext

from .camera_select import CameraSpec
from .focus import score
from .focus.errors import CameraError, CameraStalled
from .focus.frames import jpeg_size
from .settings import RunConfig, RunRequest
from .webcam_source import WebcamSource

__all__ = [
    "CameraManager",
    "IDLE_CLOSE_S",
    "LIVE_WAIT_S",
    "LIVE_MAX_AGE_S",
    "LiveCamera",
    "RateLimit",
    "frame_size",
    "roi_pixels",
]

IDLE_CLOSE_S = 10.0
LIVE_WAIT_S = 0.75
"""s after a grab began that a score request may wait for its frame."""
LIVE_MAX_AGE_S = 3.0
"""s: the oldest frame a score request is answered with when no fresh one comes in time."""

SourceFor = Callable[[CameraSpec, RunConfig], Any]


def _webcam_source(spec: CameraSpec, config: RunConfig) -> WebcamSource:
    return WebcamSource(spec, latency=config.latency, timeout=config.camera_timeout)


class LiveCamera:
    """The live-score camera (see the module docstring). Thread-safe."""

    def __init__(self, source_for: SourceFor, *, wait: float = LIVE_WAIT_S, max_age: float = LIVE_MAX_AGE_S,
                 idle_close: float = IDLE_CLOSE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._source_for = source_for
        self._wait = wait
        self._max_age = max_age
        self._idle_close = idle_close
        self._clock = clock
        self._changed = threading.Condition()
        self._source: Optional[Any] = None
        self._key: Optional[tuple] = None
        self._generation = 0
        self._results = 0  # grabs finished for the current camera
        self._last: Any = None  # (frame, arrived) or a CameraError
        self._grab_started: Optional[float] = None  # None while no grab is going
        self._timer: Optional[threading.Timer] = None

    def frame(self, spec: CameraSpec, config: RunConfig) -> Tuple[Any, float]:
        """A frame of the camera ``spec`` and its age in seconds (0 when fresh).

        CameraError (with the camera's own error) or CameraStalled when there is none.
        """
        retired = None
        try:
            with self._changed:
                retired = self._use(spec, config)
                self._restart_timer()
                fresh, last = self._wait_for_grab()
        finally:
            if retired is not None:
                retired.close()
        if isinstance(last, CameraError):
            raise self._copy(last)
        if fresh:
            return last[0], 0.0
        age = self._clock() - last[1] if last is not None else None
        if age is not None and age <= self._max_age:
            return last[0], age
        raise CameraStalled(
            gettext("camera stalled: no picture within %(seconds).1f s") % {"seconds": self._wait}
        )

    def close(self) -> None:
        """Close the camera now (shutdown); a grab in flight is discarded."""
        with self._changed:
            source = self._retire()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if source is not None:
            source.close()

    # ~ helpers (with self._changed held unless said otherwise)

    def _wait_for_grab(self) -> Tuple[bool, Any]:
        """Wait (within the deadline) for the grab going on or a new one; return whether a
        grab finished meanwhile and the last outcome. A camera swapped by another request
        meanwhile is waited for instead."""
        while True:
            if self._source is None:
                raise CameraError(gettext("camera closed"))
            if self._grab_started is not None and isinstance(self._last, CameraError):
                raise self._copy(self._last)  # known bad and being retried: answer at once
            generation, mark = self._generation, self._results
            if self._grab_started is None:
                self._start_grab()
            deadline = self._grab_started + self._wait
            while self._generation == generation and self._results == mark and self._clock() < deadline:
                self._changed.wait(max(0.0, deadline - self._clock()))
            if self._generation == generation:
                return self._results != mark, self._last

    def _use(self, spec: CameraSpec, config: RunConfig) -> Optional[Any]:
        """Switch to camera ``spec`` when it changed; return the source to close (or None)."""
        key = (spec, config.latency, config.camera_timeout)
        if key == self._key:
            return None
        retired = self._retire()
        self._source, self._key = self._source_for(spec, config), key
        return retired

    def _retire(self) -> Optional[Any]:
        source = self._source
        self._source, self._key = None, None
        self._generation += 1
        self._results, self._last, self._grab_started = 0, None, None
        self._changed.notify_all()
        return source

    def _start_grab(self) -> None:
        self._grab_started = self._clock()
        thread = threading.Thread(target=self._grab, args=(self._source, self._generation),
                                  name="octoprint.plugins.autofocus.live-score", daemon=True)
        thread.start()

    def _grab(self, source: Any, generation: int) -> None:
        """One frame, or the error; published only if the camera was not swapped meanwhile
        (runs on its own thread; takes the lock itself)."""
        try:
            outcome: Any = (source.frame(), self._clock())
        except CameraError as exc:
            outcome = exc
        except Exception as exc:  # a broken camera must not kill the live score
            outcome = CameraError(gettext("camera error: %(error)s") % {"error": exc})
        with self._changed:
            if generation != self._generation:
                return
            self._last, self._results = outcome, self._results + 1
            self._grab_started = None
            self._changed.notify_all()

    def _restart_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(self._idle_close, self.close)
        self._timer.name = "octoprint.plugins.autofocus.camera-idle"
        self._timer.daemon = True
        self._timer.start()

    @staticmethod
    def _copy(error: CameraError) -> CameraError:
        return type(error)(*error.args)


class RateLimit:
    """At most ``rate`` calls per second per key on average, ``burst`` at once (a token
    bucket per key). Thread-safe."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = float(rate)
        self.burst = int(burst)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: Dict[Any, Tuple[float, float]] = {}  # key -> (tokens, when)

    def allow(self, key: Any) -> bool:
        """Take one call for ``key``; False when it is over the limit."""
        now = self._clock()
        with self._lock:
            tokens, when = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - when) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            if len(self._buckets) > 1000:  # forget idle keys
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60.0}
            return allowed


class CameraManager:
    """Opens cameras for runs and serves the live score.

    ``resolve(config)`` returns the CameraSpec to use (it raises ValueError when the
    selected camera or its URLs are missing); ``source_for(spec, config)`` builds the
    frame source (a WebcamSource by default).
    """

    def __init__(
        self,
        resolve: Callable[[RunConfig], CameraSpec],
        *,
        source_for: Optional[SourceFor] = None,
        idle_close: float = IDLE_CLOSE_S,
        live_wait: float = LIVE_WAIT_S,
    ) -> None:
        self._resolve = resolve
        self._source_for = source_for or _webcam_source
        self.live = LiveCamera(self._source_for, wait=live_wait, idle_close=idle_close)

    def spec(self, config: RunConfig) -> CameraSpec:
        """The camera ``config`` selects; CameraError (with the reason) when there is none."""
        try:
            return self._resolve(config)
        except ValueError as exc:
            raise CameraError(str(exc)) from exc

    @contextlib.contextmanager
    def open_for_run(self, config: RunConfig) -> Iterator[Any]:
        """A frame source for one run, closed when the block ends."""
        source = self._source_for(self.spec(config), config)
        try:
            source.open()
            yield source
        finally:
            source.close()

    def live_score(self, config: RunConfig, request: RunRequest) -> Dict[str, Any]:
        """Score a recent frame: ``{score, metric, width, height, age, stale}``.

        ``age`` is how old the frame is (s, 0 when fresh); ``stale`` is true when the
        camera did not deliver in time and the last frame was scored instead.
        """
        frame, age = self.live.frame(self.spec(config), config)
        metric = request.metric or config.metric
        roi = request.roi if request.roi is not None else config.roi
        width, height = frame_size(frame)
        value = score(frame, roi=roi_pixels(roi, frame), metric=metric)
        return {"score": float(value), "metric": metric, "width": width, "height": height,
                "age": round(age, 3), "stale": age > 0}

    def close(self) -> None:
        """Close the live-score camera now (plugin shutdown)."""
        self.live.close()


def frame_size(frame: Any) -> Tuple[int, int]:
    """``(width, height)`` of JPEG bytes or an image array."""
    if isinstance(frame, (bytes, bytearray, memoryview)):
        size = jpeg_size(frame)
        if size is None:
            raise CameraError(gettext("the camera sent an image whose size cannot be read"))
        return size
    return frame.shape[1], frame.shape[0]


def roi_pixels(roi: Optional[Tuple[float, float, float, float]], frame: Any) -> Optional[Tuple[int, int, int, int]]:
    """An ROI in fractions of the image as ``(x, y, w, h)`` pixels of ``frame`` (at least 1x1)."""
    if roi is None:
        return None
    width, height = frame_size(frame)
    x, y = int(roi[0] * width), int(roi[1] * height)
    w = max(1, min(width - x, int(round(roi[2] * width))))
    h = max(1, min(height - y, int(round(roi[3] * height))))
    return (x, y, w, h)
