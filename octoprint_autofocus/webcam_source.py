"""WebcamSource: a focus-library FrameSource over an MJPEG stream or a snapshot URL.

The stream is preferred: one persistent HTTP connection, read by a daemon thread that
keeps only the newest JPEG and the moment it arrived. ``frame()`` waits for a JPEG that
arrived at least ``latency`` seconds after the call, so nothing captured before or during
the last move is ever scored. Without a stream URL each ``frame()`` waits ``latency``
and then requests a snapshot. Only the standard library talks HTTP here.
"""

import http.client
import logging
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import cv2
import numpy as np
from flask_babel import gettext

from .focus.devices import Frame
from .focus.errors import CameraError, CameraStalled

_logger = logging.getLogger("octoprint.plugins.autofocus.camera")

__all__ = ["CameraSpec", "MjpegParser", "WebcamSource", "resolve_camera"]

CUSTOM = "custom"
"""The camera setting that means: use the stream/snapshot URLs from the settings."""
JPEG_SOI = b"\xff\xd8"
JPEG_EOI = b"\xff\xd9"
MAX_PART_BYTES = 16 * 1024 * 1024
"""More bytes than this without a complete frame means the stream is not MJPEG."""
RECONNECT_DELAYS = (0.1, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class CameraSpec:
    """Where to get frames and how the user sees them (OctoPrint's flip/rotate flags)."""

    name: str
    stream_url: str = ""
    snapshot_url: str = ""
    flip_h: bool = False
    flip_v: bool = False
    rotate90: bool = False

    def to_dict(self) -> Dict[str, Any]:
        """The ``camera`` object of the plugin's GET API."""
        return {
            "name": self.name,
            "stream_url": self.stream_url,
            "snapshot_url": self.snapshot_url,
            "flipH": self.flip_h,
            "flipV": self.flip_v,
            "rotate90": self.rotate90,
        }


def resolve_camera(
    webcams: Iterable[Any], selected: str, stream_url: str, snapshot_url: str, base_url: str
) -> CameraSpec:
    """Pick the camera to use and make its URLs absolute.

    ``webcams`` are OctoPrint webcam configs (anything with ``name``, ``flipH``, ``flipV``,
    ``rotate90`` and ``compat.stream``/``compat.snapshot``), the default one first or
    marked with a true ``default`` attribute. ``selected`` is a webcam name, ``""`` for
    the default or ``"custom"`` for ``stream_url``/``snapshot_url``. Relative URLs
    (``/webcam/?action=stream``) are resolved against ``base_url``, OctoPrint's own
    address. Raises ValueError when the camera or its URLs are missing.
    """
    if selected == CUSTOM:
        spec = CameraSpec(CUSTOM, stream_url or "", snapshot_url or "")
    else:
        webcam = _pick_webcam(list(webcams), selected)
        compat = getattr(webcam, "compat", None)
        spec = CameraSpec(
            webcam.name,
            getattr(compat, "stream", None) or "",
            getattr(compat, "snapshot", None) or "",
            bool(webcam.flipH),
            bool(webcam.flipV),
            bool(webcam.rotate90),
        )
    if not (spec.stream_url or spec.snapshot_url):
        raise ValueError(
            gettext('Camera "%(name)s" has neither a stream URL nor a snapshot URL.')
            % {"name": spec.name}
        )
    return CameraSpec(
        spec.name,
        _absolute_url(spec.stream_url, base_url),
        _absolute_url(spec.snapshot_url, base_url),
        spec.flip_h,
        spec.flip_v,
        spec.rotate90,
    )


def _pick_webcam(webcams: List[Any], selected: str) -> Any:
    if not webcams:
        raise ValueError(
            gettext("No webcam is configured in OctoPrint; add one or set a custom stream URL.")
        )
    if not selected:
        return next((w for w in webcams if getattr(w, "default", False)), webcams[0])
    for webcam in webcams:
        if webcam.name == selected:
            return webcam
    raise ValueError(
        gettext('Webcam "%(name)s" not found; available: %(names)s.')
        % {"name": selected, "names": ", ".join(w.name for w in webcams)}
    )


def _absolute_url(url: str, base_url: str) -> str:
    if not url:
        return ""
    absolute = urllib.parse.urljoin(base_url, url)
    if urllib.parse.urlsplit(absolute).scheme not in ("http", "https"):
        raise ValueError(
            gettext('Camera URL "%(url)s" is not an http(s) URL (base URL "%(base)s").')
            % {"url": url, "base": base_url}
        )
    return absolute


class MjpegParser:
    """Incremental parser of a ``multipart/x-mixed-replace`` body into JPEG parts.

    Parts are found by their boundary line; a part's body is read by its
    ``Content-Length`` when given, else from the JPEG start (FF D8) to end (FF D9) marker.
    Raises CameraError when ``MAX_PART_BYTES`` pass without a complete part.
    """

    def __init__(self, boundary: str) -> None:
        self._boundary = boundary.strip().strip('"').lstrip("-").encode("latin-1")
        self._buffer = bytearray()
        self._state = "boundary"
        self._length: Optional[int] = None

    def feed(self, data: bytes) -> List[bytes]:
        """Add received bytes; return the parts completed by them, oldest first."""
        self._buffer += data
        parts = []
        while True:
            part = self._step()
            if part is None:
                break
            if part:
                parts.append(part)
        if len(self._buffer) > MAX_PART_BYTES:
            raise CameraError(
                gettext("no MJPEG frame in %(size)d bytes (boundary %(boundary)s)")
                % {"size": len(self._buffer), "boundary": self._boundary.decode("latin-1")}
            )
        return parts

    def _step(self) -> Optional[bytes]:
        """Advance the state machine once: a part, b"" for progress, None for 'need data'."""
        if self._state == "body":
            return self._body()
        end = self._buffer.find(b"\n")
        if end < 0:
            return None
        line = bytes(self._buffer[:end]).strip()
        del self._buffer[: end + 1]
        if self._state == "boundary":
            if self._boundary and self._boundary in line:
                self._state, self._length = "headers", None
        elif not line:
            self._state = "body"
        else:
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length" and value.strip().isdigit():
                self._length = int(value.strip())
        return b""

    def _body(self) -> Optional[bytes]:
        if self._length is not None:
            if len(self._buffer) < self._length:
                return None
            end = self._length
        else:
            start = self._buffer.find(JPEG_SOI)
            eoi = self._buffer.find(JPEG_EOI, max(start, 0) + 2) if start >= 0 else -1
            if eoi < 0:
                return None
            del self._buffer[:start]
            end = eoi - start + 2
        part = bytes(self._buffer[:end])
        del self._buffer[:end]
        self._state = "boundary"
        return part


def _content_type(response: http.client.HTTPResponse) -> Tuple[str, Dict[str, str]]:
    """Split a Content-Type header into its media type and parameters."""
    media, *params = (response.getheader("Content-Type") or "").split(";")
    options = {}
    for param in params:
        key, _, value = param.partition("=")
        options[key.strip().lower()] = value.strip().strip('"')
    return media.strip().lower(), options


def _stream_boundary(url: str, response: http.client.HTTPResponse) -> str:
    """The multipart boundary of an MJPEG stream response; CameraError if it is not one."""
    if response.status != 200:
        raise CameraError(_http_error(url, response.status, response.reason))
    media, options = _content_type(response)
    if not media.startswith("multipart/") or not options.get("boundary"):
        raise CameraError(
            gettext("camera error: %(url)s is not an MJPEG stream (Content-Type %(type)s)")
            % {"url": url, "type": response.getheader("Content-Type")}
        )
    return options["boundary"]


def _check_jpeg(data: bytes, url: str) -> None:
    if not data.startswith(JPEG_SOI):
        raise CameraError(
            gettext("camera error: %(url)s sent something that is not a JPEG (%(start)r...)")
            % {"url": url, "start": bytes(data[:16])}
        )


class WebcamSource:
    """A FrameSource over an MJPEG stream (preferred) or a snapshot URL.

    ``frame()`` returns JPEG bytes when ``spec`` has no flip or rotation (the scorer
    decodes only what it needs), else a gray array flipped and rotated like OctoPrint
    shows it (flip first, then 90 degrees counter-clockwise). Nothing connects or decodes
    before :meth:`open` or the first :meth:`frame`; :meth:`close` stops the reader thread
    and its connection. Also a context manager.

    Errors: CameraStalled when no fresh frame arrives within ``timeout`` seconds,
    CameraError for refused connections, HTTP errors and answers that are not JPEG.
    ``extra_headers`` are sent with every request (e.g. an ``X-Api-Key``).
    """

    def __init__(
        self,
        spec: CameraSpec,
        *,
        latency: float = 0.1,
        timeout: float = 5.0,
        extra_headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        if not (spec.stream_url or spec.snapshot_url):
            raise ValueError(f"camera {spec.name!r} has no stream or snapshot URL")
        if latency < 0 or timeout <= 0:
            raise ValueError(f"need latency >= 0 and timeout > 0, got {latency}, {timeout}")
        self.spec = spec
        self.latency = float(latency)
        self.timeout = float(timeout)
        self._headers = dict(extra_headers or {})
        self._reader: Optional[_StreamReader] = None
        self._lock = threading.Lock()

    def open(self) -> "WebcamSource":
        """Start reading the stream (no-op for snapshot cameras or when already open)."""
        if self.spec.stream_url:
            self._running_reader()
        return self

    def _running_reader(self) -> "_StreamReader":
        with self._lock:
            if self._reader is None:
                self._reader = _StreamReader(self.spec.stream_url, self._headers, self.timeout)
            return self._reader

    def close(self) -> None:
        """Stop the reader thread and drop the connection."""
        with self._lock:
            reader, self._reader = self._reader, None
        if reader is not None:
            reader.stop()

    def __enter__(self) -> "WebcamSource":
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def frame(self) -> Frame:
        """Return a frame captured after this call began (see the class docstring)."""
        called = time.monotonic()
        if self.spec.stream_url:
            reader = self._running_reader()
            jpeg = reader.newest_after(called + self.latency, called + self.timeout)
        else:
            time.sleep(self.latency)
            jpeg = self._snapshot()
        if not (self.spec.flip_h or self.spec.flip_v or self.spec.rotate90):
            return jpeg
        return self._oriented(jpeg)

    def _snapshot(self) -> bytes:
        url = self.spec.snapshot_url
        request = urllib.request.Request(url, headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = response.read()
        except urllib.error.HTTPError as exc:
            raise CameraError(_http_error(url, exc.code, exc.reason)) from exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            cause = getattr(exc, "reason", exc)
            if isinstance(cause, (TimeoutError, socket.timeout)):  # distinct before Python 3.10
                raise CameraStalled(_stalled(url, self.timeout)) from exc
            raise CameraError(_unreachable(url, cause)) from exc
        _check_jpeg(data, url)
        return data

    def _oriented(self, jpeg: bytes) -> np.ndarray:
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
        if image is None:
            url = self.spec.stream_url or self.spec.snapshot_url
            raise CameraError(gettext("camera error: cannot decode the JPEG from %(url)s") % {"url": url})
        if self.spec.flip_h or self.spec.flip_v:
            code = -1 if self.spec.flip_h and self.spec.flip_v else (1 if self.spec.flip_h else 0)
            image = cv2.flip(image, code)
        if self.spec.rotate90:
            image = cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
        return image


def _http_error(url: str, status: int, reason: Any) -> str:
    return gettext("camera error: HTTP %(status)d %(reason)s from %(url)s") % {
        "status": status,
        "reason": reason,
        "url": url,
    }


def _unreachable(url: str, cause: Any) -> str:
    return gettext("camera error: cannot reach %(url)s: %(cause)s") % {"url": url, "cause": cause}


def _stalled(url: str, seconds: float) -> str:
    return gettext("camera stalled: no new frame for %(seconds).1f s from %(url)s") % {
        "seconds": seconds,
        "url": url,
    }


class _StreamReader:
    """The daemon thread that holds one MJPEG connection and keeps the newest frame.

    It reconnects when the stream drops. A failed connection attempt is kept as
    ``_error`` until a frame arrives, so waiting callers fail at once instead of at
    their timeout.
    """

    def __init__(self, url: str, headers: Mapping[str, str], timeout: float) -> None:
        self.url = url
        self._headers = dict(headers)
        self._timeout = timeout
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._jpeg: Optional[bytes] = None
        self._arrived = float("-inf")
        self._error: Optional[CameraError] = None
        self._socket: Optional[socket.socket] = None
        self._thread = threading.Thread(
            target=self._run, name="octoprint.plugins.autofocus.mjpeg", daemon=True
        )
        self._thread.start()

    def newest_after(self, not_before: float, deadline: float) -> bytes:
        """Wait until ``deadline`` for a frame that arrived at or after ``not_before``."""
        with self._changed:
            while self._arrived < not_before:
                if self._error is not None:
                    raise type(self._error)(*self._error.args)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CameraStalled(_stalled(self.url, self._timeout))
                self._changed.wait(remaining)
            return self._jpeg

    def stop(self) -> None:
        """Stop the thread: wake waiters, shut the socket down so a blocked read returns."""
        self._stopping.set()
        with self._changed:
            self._error = CameraError(gettext("camera closed: %(url)s") % {"url": self.url})
            self._changed.notify_all()
            sock = self._socket
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # not connected yet, or already closed by the other side
        self._thread.join(timeout=self._timeout + 1.0)

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                self._read_stream()
                failures = 0
            except CameraError as exc:
                if not self._stopping.is_set():
                    self._set_error(exc)
                failures += 1
            except (OSError, http.client.HTTPException) as exc:
                _logger.debug("MJPEG stream %s dropped (%s), reconnecting", self.url, exc)
            finally:
                self._close_socket()
            self._stopping.wait(RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)])

    def _read_stream(self) -> None:
        """Connect and deliver frames until the stream ends or the reader stops."""
        response, boundary = self._connect()
        parser = MjpegParser(boundary)
        with response:
            while not self._stopping.is_set():
                data = response.read1(65536)
                if not data:
                    return
                for part in parser.feed(data):
                    self._deliver(part)

    def _connect(self) -> Tuple[http.client.HTTPResponse, str]:
        """Open the stream; return it and its multipart boundary. Failures raise CameraError."""
        parts = urllib.parse.urlsplit(self.url)
        factory = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = factory(parts.hostname, parts.port, timeout=self._timeout)
        path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        try:
            connection.connect()
            with self._changed:  # the response may own the socket later: keep it to shut down
                self._socket = connection.sock
            connection.request("GET", path, headers=self._headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            raise CameraError(_unreachable(self.url, exc)) from exc
        try:
            return response, _stream_boundary(self.url, response)
        except CameraError:
            response.close()
            raise

    def _deliver(self, part: bytes) -> None:
        try:
            _check_jpeg(part, self.url)
        except CameraError as exc:
            self._set_error(exc)
            return
        with self._changed:
            self._jpeg, self._arrived, self._error = part, time.monotonic(), None
            self._changed.notify_all()

    def _set_error(self, error: CameraError) -> None:
        with self._changed:
            self._error = error
            self._changed.notify_all()

    def _close_socket(self) -> None:
        with self._changed:
            sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()
