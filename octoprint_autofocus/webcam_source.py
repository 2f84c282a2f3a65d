"""WebcamSource: a focus-library FrameSource over an MJPEG stream or a snapshot URL.

The stream is preferred (the transport is :mod:`.mjpeg`: one persistent connection whose
reader thread keeps only the newest JPEG and when it arrived). ``frame()`` waits for a
JPEG that arrived at least ``latency`` seconds after the call, so nothing captured before
or during the last move is ever scored. Without a stream URL each ``frame()`` waits
``latency`` and then requests a snapshot. Which URL a camera uses is decided in
:mod:`.camera_select`; messages name URLs redacted (:mod:`.redact`).
"""

import http.client
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Optional

import cv2
import numpy as np
from flask_babel import gettext

from .camera_select import CameraSpec
from .focus.devices import Frame
from .focus.errors import CameraError, CameraStalled
from .mjpeg import MjpegStream, check_jpeg, http_error_message, stalled_message, unreachable_message
from .redact import redact_url, split_credentials

__all__ = ["WebcamSource"]

MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024
"""A snapshot larger than this is refused (a camera URL that streams endlessly)."""


class WebcamSource:
    """A FrameSource over an MJPEG stream (preferred) or a snapshot URL.

    ``frame()`` returns JPEG bytes when ``spec`` has no flip or rotation (the scorer
    decodes only what it needs), else a gray array flipped and rotated like OctoPrint
    shows it (flip first, then 90 degrees counter-clockwise). Nothing connects or decodes
    before :meth:`open` or the first :meth:`frame`; :meth:`close` stops the reader thread
    and its connection. Also a context manager.

    Errors: CameraStalled when no fresh frame arrives within ``timeout`` seconds,
    CameraError for refused connections, HTTP errors and answers that are not JPEG.
    Credentials in a URL (``http://user:pw@cam/...``) are sent as HTTP Basic auth.
    """

    def __init__(
        self,
        spec: CameraSpec,
        *,
        latency: float = 0.1,
        timeout: float = 5.0,
    ) -> None:
        if not (spec.stream_url or spec.snapshot_url):
            raise ValueError(f"camera {spec.name!r} has no stream or snapshot URL")
        if latency < 0 or timeout <= 0:
            raise ValueError(f"need latency >= 0 and timeout > 0, got {latency}, {timeout}")
        self.spec = spec
        self.latency = float(latency)
        self.timeout = float(timeout)
        self._reader: Optional[MjpegStream] = None
        self._lock = threading.Lock()

    def open(self) -> "WebcamSource":
        """Start reading the stream (no-op for snapshot cameras or when already open)."""
        if self.spec.stream_url:
            self._running_reader()
        return self

    def _running_reader(self) -> MjpegStream:
        with self._lock:
            if self._reader is None:
                self._reader = MjpegStream(self.spec.stream_url, self.timeout)
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
        bare, auth = split_credentials(url)
        request = urllib.request.Request(bare, headers=auth)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = response.read(MAX_SNAPSHOT_BYTES + 1)
                content_type = response.headers.get("Content-Type")
        except urllib.error.HTTPError as exc:
            raise CameraError(http_error_message(url, exc.code, exc.reason)) from exc
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            cause = getattr(exc, "reason", exc)
            if isinstance(cause, (TimeoutError, socket.timeout)):  # distinct before Python 3.10
                raise CameraStalled(stalled_message(url, self.timeout)) from exc
            raise CameraError(unreachable_message(url, cause)) from exc
        if len(data) > MAX_SNAPSHOT_BYTES:
            raise CameraError(gettext("camera error: the snapshot from %(url)s is too large")
                              % {"url": redact_url(url)})
        check_jpeg(data, url, content_type)
        return data

    def _oriented(self, jpeg: bytes) -> np.ndarray:
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
        if image is None:
            url = self.spec.stream_url or self.spec.snapshot_url
            raise CameraError(gettext("camera error: cannot decode the JPEG from %(url)s") % {"url": redact_url(url)})
        if self.spec.flip_h or self.spec.flip_v:
            code = -1 if self.spec.flip_h and self.spec.flip_v else (1 if self.spec.flip_h else 0)
            image = cv2.flip(image, code)
        if self.spec.rotate90:
            image = cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
        return image
