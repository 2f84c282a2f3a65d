"""The MJPEG transport: one HTTP connection to a ``multipart/x-mixed-replace`` stream.

:class:`MjpegParser` splits the body into JPEG parts; :class:`MjpegStream` is the daemon
thread that holds the connection, reconnects when it drops and keeps only the newest JPEG
with the moment it arrived. Only the standard library talks HTTP here. Errors name the
URL redacted (:func:`.redact.redact_url`): no credentials or tokens in messages or logs.
"""

import http.client
import logging
import socket
import threading
import time
import urllib.parse
from typing import Dict, List, Optional, Tuple

from flask_babel import gettext

from .focus.errors import CameraError, CameraStalled
from .redact import redact_text, redact_url, split_credentials

__all__ = ["MjpegParser", "MjpegStream", "check_jpeg", "stalled_message", "unreachable_message", "http_error_message"]

_logger = logging.getLogger("octoprint.plugins.autofocus.camera")

JPEG_SOI = b"\xff\xd8"
JPEG_EOI = b"\xff\xd9"
MAX_PART_BYTES = 16 * 1024 * 1024
"""More bytes than this without a complete frame means the stream is not MJPEG."""
RECONNECT_DELAYS = (0.1, 0.25, 0.5, 1.0)
THREAD_NAME = "octoprint.plugins.autofocus.mjpeg"


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
        raise CameraError(http_error_message(url, response.status, response.reason))
    media, options = _content_type(response)
    if not media.startswith("multipart/") or not options.get("boundary"):
        raise CameraError(
            gettext("camera error: %(url)s is not an MJPEG stream (Content-Type %(type)s)")
            % {"url": redact_url(url), "type": (response.getheader("Content-Type") or "")[:60]}
        )
    return options["boundary"]


def check_jpeg(data: bytes, url: str, content_type: Optional[str] = None) -> None:
    """CameraError unless ``data`` starts like a JPEG; the message never echoes the bytes."""
    if not data.startswith(JPEG_SOI):
        raise CameraError(
            gettext("camera error: %(url)s sent something that is not a JPEG (%(type)s, %(size)d bytes)")
            % {"url": redact_url(url), "type": content_type or gettext("no content type"), "size": len(data)}
        )


def http_error_message(url: str, status: int, reason: object) -> str:
    """A sentence for an HTTP error status from ``url`` (redacted)."""
    return gettext("camera error: HTTP %(status)d %(reason)s from %(url)s") % {
        "status": status,
        "reason": redact_text(str(reason), [url]),
        "url": redact_url(url),
    }


def unreachable_message(url: str, cause: object) -> str:
    """A sentence for a connection failure to ``url`` (redacted, also inside ``cause``)."""
    return gettext("camera error: cannot reach %(url)s: %(cause)s") % {
        "url": redact_url(url),
        "cause": redact_text(str(cause), [url]),
    }


def stalled_message(url: str, seconds: float) -> str:
    """A sentence for a camera that sent no new frame for ``seconds``."""
    return gettext("camera stalled: no new frame for %(seconds).1f s from %(url)s") % {
        "seconds": seconds,
        "url": redact_url(url),
    }


class MjpegStream:
    """The daemon thread that holds one MJPEG connection and keeps the newest frame.

    It starts at once and reconnects when the stream drops. A failed connection attempt
    is kept as ``_error`` until a frame arrives, so waiting callers fail at once instead of
    at their timeout. Credentials in ``url`` (``user:pw@``) are sent as HTTP Basic auth.
    """

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self._bare_url, auth = split_credentials(url)
        self._headers = auth
        self._timeout = timeout
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._jpeg: Optional[bytes] = None
        self._arrived = float("-inf")
        self._error: Optional[CameraError] = None
        self._socket: Optional[socket.socket] = None
        self._thread = threading.Thread(
            target=self._run, name=THREAD_NAME, daemon=True
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
                    raise CameraStalled(stalled_message(self.url, self._timeout))
                self._changed.wait(remaining)
            return self._jpeg

    def stop(self) -> None:
        """Stop the thread: wake waiters, shut the socket down so a blocked read returns."""
        self._stopping.set()
        with self._changed:
            self._error = CameraError(gettext("camera closed: %(url)s") % {"url": redact_url(self.url)})
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
                _logger.debug("MJPEG stream %s dropped (%s), reconnecting", redact_url(self.url),
                              redact_text(str(exc), [self.url]))
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
        parts = urllib.parse.urlsplit(self._bare_url)
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
            raise CameraError(unreachable_message(self.url, exc)) from exc
        try:
            return response, _stream_boundary(self.url, response)
        except CameraError:
            response.close()
            raise

    def _deliver(self, part: bytes) -> None:
        try:
            check_jpeg(part, self.url, gettext("a stream part"))
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
