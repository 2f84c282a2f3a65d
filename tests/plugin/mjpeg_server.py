"""A small MJPEG + snapshot HTTP server on 127.0.0.1 for tests (real sockets, free port).

Routes: ``/stream`` (``multipart/x-mixed-replace``, like mjpg-streamer) and ``/snapshot``
(one JPEG), also spelt as mjpg-streamer does: ``/?action=stream``, ``/?action=snapshot``.
With ``frames`` (a callable returning JPEG bytes) every frame comes from it instead of
the fixed image (e.g. relayed from another camera). Every JPEG served carries its frame number in a JPEG comment
(:func:`frame_number`), and ``sent_at[n]`` is the ``time.monotonic()`` at which frame
``n`` was handed to the socket, so a test can tell when a returned frame was captured.

Fault knobs (attributes, change them at any time): ``fps``, ``status`` (HTTP status of
both routes), ``drop_after`` (close each stream connection after that many frames),
``stalled`` (an Event: while set the stream sends nothing but stays open and snapshots
are not answered),
``garbage`` (non-JPEG bytes in place of every JPEG), ``stream_content_type``,
``chunked`` (HTTP/1.1 chunked transfer encoding, as Tornado streams; default HTTP/1.0
like mjpg-streamer).

    with MjpegServer(fps=30) as server:
        source = WebcamSource(CameraSpec("test", server.url("/stream")))
"""

import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, List, Optional, Tuple

import cv2
import numpy as np

MARKER = (10, 10, 30, 30)
"""(x, y, w, h) of the bright square in the top-left quadrant of the default image."""
GARBAGE = b"<html><body>this is not a JPEG</body></html>\r\n"


def marker_image(size: Tuple[int, int] = (160, 120), marker: Tuple[int, int, int, int] = MARKER) -> np.ndarray:
    """A dark gray (h, w) image of ``size`` = (w, h) with one white square at ``marker``."""
    width, height = size
    image = np.full((height, width), 40, np.uint8)
    x, y, w, h = marker
    image[y : y + h, x : x + w] = 255
    return image


def with_comment(jpeg: bytes, text: str) -> bytes:
    """Insert a JPEG comment (COM) segment right after the start-of-image marker."""
    payload = text.encode("ascii")
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def frame_number(jpeg: bytes) -> int:
    """The frame number a :class:`MjpegServer` wrote into ``jpeg``."""
    if jpeg[2:4] != b"\xff\xfe":
        raise ValueError("no frame number comment in this JPEG")
    (length,) = struct.unpack(">H", jpeg[4:6])
    text = jpeg[6 : 4 + length].decode("ascii")
    return int(text.partition("frame=")[2])


class MjpegServer:
    """Serves numbered JPEGs of one image over a stream and a snapshot route."""

    def __init__(
        self,
        *,
        fps: float = 30.0,
        image: Optional[np.ndarray] = None,
        boundary: str = "frameboundary",
        content_length: bool = True,
        frames: Optional[Callable[[], bytes]] = None,
    ) -> None:
        ok, encoded = cv2.imencode(".jpg", marker_image() if image is None else image)
        assert ok, "OpenCV could not encode the test image"
        self.jpeg = encoded.tobytes()
        self.frames = frames
        self.fps = fps
        self.boundary = boundary
        self.content_length = content_length
        self.status = 200
        self.drop_after: Optional[int] = None
        self.garbage = False
        self.chunked = False
        self.stream_content_type = f"multipart/x-mixed-replace; boundary={boundary}"
        self.stalled = threading.Event()
        self.stopping = threading.Event()
        self.sent_at: Dict[int, float] = {}
        self.connections = 0
        self.request_headers: List[Dict[str, str]] = []
        self.paths: List[str] = []
        self._count = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = False  # server_close() joins the handler threads
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="mjpeg-test-server"
        )

    def url(self, path: str) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def start(self) -> "MjpegServer":
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and join every thread the server started."""
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> "MjpegServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def next_frame(self) -> Tuple[int, bytes]:
        """Number, time-stamp and encode the next frame."""
        with self._lock:
            self._count += 1
            number = self._count
            self.sent_at[number] = time.monotonic()
        if self.garbage:
            return number, GARBAGE
        jpeg = self.frames() if self.frames is not None else self.jpeg
        return number, with_comment(jpeg, f"frame={number}")

    def count_connection(self) -> None:
        with self._lock:
            self.connections += 1


class _Handler(BaseHTTPRequestHandler):
    timeout = 5  # a client that stops reading cannot hold a handler thread forever

    @property
    def owner(self) -> MjpegServer:
        return self.server.owner

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        self.owner.request_headers.append(dict(self.headers))
        self.owner.paths.append(self.path)
        if self.owner.status != 200:
            self.send_error(self.owner.status)
        elif self.path.startswith("/stream") or self.path == "/?action=stream":
            self._stream()
        elif self.path.startswith("/snapshot") or self.path == "/?action=snapshot":
            self._snapshot()
        else:
            self.send_error(404)

    def _snapshot(self) -> None:
        while self.owner.stalled.is_set() and not self.owner.stopping.is_set():
            self.owner.stopping.wait(0.02)
        _, body = self.owner.next_frame()
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if self.owner.garbage else "image/jpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self) -> None:
        owner = self.owner
        owner.count_connection()
        chunked = owner.chunked
        if chunked:
            self.protocol_version = "HTTP/1.1"
            self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", owner.stream_content_type)
        self.send_header("Cache-Control", "no-store")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = 0
        while not owner.stopping.is_set():
            if owner.stalled.is_set():
                owner.stopping.wait(0.02)
                continue
            _, body = owner.next_frame()
            length = f"Content-Length: {len(body)}\r\n" if owner.content_length else ""
            head = f"--{owner.boundary}\r\nContent-Type: image/jpeg\r\n{length}\r\n"
            data = head.encode("ascii") + body + b"\r\n"
            if chunked:
                data = b"%x\r\n%s\r\n" % (len(data), data)
            try:
                self.wfile.write(data)
                self.wfile.flush()
            except OSError:
                return  # the client went away
            sent += 1
            if owner.drop_after is not None and sent >= owner.drop_after:
                return  # HTTP/1.0: returning closes the connection
            owner.stopping.wait(1.0 / owner.fps)
