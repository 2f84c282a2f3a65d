"""Camera glue: which camera a run uses, and keeping it open only while someone needs it.

A run opens its own :class:`~.webcam_source.WebcamSource` and closes it at the end. The
live score (the UI polling ``score``) shares one source that closes itself after
``idle_close`` seconds without a request, so an idle Raspberry Pi decodes nothing.
"""

import contextlib
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from flask_babel import gettext

from .focus import score
from .focus.errors import CameraError
from .focus.frames import jpeg_size
from .settings import RunConfig, RunRequest
from .sim_microscope import WEBCAM_NAME, backend_snapshot_url, backend_stream_url
from .webcam_source import CUSTOM, CameraSpec, WebcamSource, resolve_camera

__all__ = [
    "CameraManager",
    "IDLE_CLOSE_S",
    "browser_camera",
    "frame_size",
    "octoprint_webcams",
    "roi_pixels",
    "select_camera",
]

IDLE_CLOSE_S = 10.0


def octoprint_webcams() -> List[Any]:
    """OctoPrint's webcam configs (1.9+ ``octoprint.webcams``), the default one first."""
    import octoprint.webcams

    webcams = [provided.config for provided in octoprint.webcams.get_webcams().values()]
    default = octoprint.webcams.get_default_webcam()
    if default is not None:
        webcams.sort(key=lambda webcam: webcam.name != default.config.name)
    return webcams


def _selected(webcams: Sequence[Any], config: RunConfig, base_url: str) -> CameraSpec:
    return resolve_camera(webcams, config.camera, config.stream_url, config.snapshot_url, base_url)


def select_camera(webcams: Sequence[Any], config: RunConfig, base_url: str) -> CameraSpec:
    """The camera the backend opens, URLs absolute against ``base_url`` (OctoPrint's own
    address); the simulated microscope's URLs carry its backend token. ValueError when
    the selected camera or its URLs are missing."""
    spec = _selected(webcams, config, base_url)
    if spec.name != WEBCAM_NAME:
        return spec
    return resolve_camera([], CUSTOM, backend_stream_url(), backend_snapshot_url(), base_url)


def browser_camera(webcams: Sequence[Any], config: RunConfig, base_url: str) -> Dict[str, Any]:
    """The selected camera for the GET API: URLs as configured (the browser resolves
    relative ones against the page, never against the backend's loopback address)."""
    spec = _selected(webcams, config, base_url)
    info = spec.to_dict()
    if spec.name == CUSTOM:
        info.update(stream_url=config.stream_url, snapshot_url=config.snapshot_url)
        return info
    webcam = next(w for w in webcams if w.name == spec.name)
    compat = getattr(webcam, "compat", None)
    info.update(stream_url=getattr(compat, "stream", "") or "", snapshot_url=getattr(compat, "snapshot", "") or "")
    return info


class CameraManager:
    """Opens cameras for runs and for the live score.

    ``resolve(config)`` returns the CameraSpec to use (it raises ValueError when the
    selected camera or its URLs are missing); ``source_for(spec, config)`` builds the
    frame source (a WebcamSource by default).
    """

    def __init__(
        self,
        resolve: Callable[[RunConfig], CameraSpec],
        *,
        source_for: Optional[Callable[[CameraSpec, RunConfig], Any]] = None,
        idle_close: float = IDLE_CLOSE_S,
    ) -> None:
        self._resolve = resolve
        self._source_for = source_for or (
            lambda spec, config: WebcamSource(spec, latency=config.latency, timeout=config.camera_timeout)
        )
        self._idle_close = idle_close
        self._lock = threading.Lock()
        self._live: Optional[Any] = None
        self._live_key: Optional[tuple] = None
        self._timer: Optional[threading.Timer] = None

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
        """Score one fresh frame: ``{score, metric, width, height}``; keeps the camera open a while.

        A camera closed under the request (:meth:`close` after a settings save) is opened
        again once, so saving settings never fails the live score.
        """
        spec = self.spec(config)
        key = (spec, config.latency, config.camera_timeout)
        frame = None
        for attempt in range(2):
            source = self._live_source(spec, config, key)
            try:
                frame = source.frame()
                break
            except CameraError:
                with self._lock:
                    replaced = self._live is not source
                if attempt or not replaced:
                    raise
        metric = request.metric or config.metric
        roi = request.roi if request.roi is not None else config.roi
        width, height = frame_size(frame)
        value = score(frame, roi=roi_pixels(roi, frame), metric=metric)
        return {"score": float(value), "metric": metric, "width": width, "height": height}

    def _live_source(self, spec: CameraSpec, config: RunConfig, key: tuple) -> Any:
        """The shared live-score source for ``key``, opened when there is none for it."""
        with self._lock:
            if self._live_key != key:
                self._close_live()
                self._live, self._live_key = self._source_for(spec, config), key
            self._restart_timer()
            return self._live

    def close(self) -> None:
        """Close the live-score camera now (plugin shutdown, settings change)."""
        with self._lock:
            self._close_live()

    def _restart_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(self._idle_close, self.close)
        self._timer.name = "octoprint.plugins.autofocus.camera-idle"
        self._timer.daemon = True
        self._timer.start()

    def _close_live(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._live is not None:
            self._live.close()
        self._live, self._live_key = None, None


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
