"""Tornado handlers that serve the simulated microscope: an MJPEG stream and a snapshot.

OctoPrint buffers Flask responses whole, so the stream needs Tornado routes (hook
``octoprint.server.http.routes``, mounted under ``/plugin/autofocus/``). Renders run on the
microscope's own one-thread executor, never on the IOLoop, and a stream stops rendering as
soon as its client goes away.

Access: the browser is checked by OctoPrint's permission validator (its session cookie or
API key, permission STATUS). OctoPrint's own backend has no session, so a request whose
``token`` query argument equals :data:`ACCESS_TOKEN` (random per process, never shown to
browsers) is let in as well.
"""

import asyncio
import hmac
import secrets
from typing import Any, Callable, Dict, List, Optional, Tuple

import tornado.web
from tornado.httputil import HTTPServerRequest
from tornado.ioloop import IOLoop
from tornado.iostream import StreamClosedError

from .microscope import SimMicroscope

__all__ = [
    "ACCESS_TOKEN",
    "SNAPSHOT_ROUTE",
    "STREAM_ROUTE",
    "SnapshotHandler",
    "StreamHandler",
    "http_routes",
    "status_validation",
]

ACCESS_TOKEN = secrets.token_urlsafe(32)
"""Lets OctoPrint's backend (the focus run) open the routes with ``?token=...``."""

STREAM_ROUTE = "/sim/stream"
SNAPSHOT_ROUTE = "/sim/snapshot"
BOUNDARY = "autofocusframe"

AccessValidation = Callable[[HTTPServerRequest], None]


def status_validation() -> AccessValidation:
    """OctoPrint's check that the request's session or API key has the STATUS permission.

    Raises ``tornado.web.HTTPError(403)`` otherwise. Needs a running OctoPrint server.
    """
    from octoprint.access.permissions import Permissions
    from octoprint.server import app
    from octoprint.server.util.flask import permission_validator
    from octoprint.server.util.tornado import access_validation_factory

    return access_validation_factory(app, permission_validator, Permissions.STATUS)


class _MicroscopeHandler(tornado.web.RequestHandler):
    """Shared access check, headers and non-blocking capture."""

    def initialize(
        self,
        microscope: SimMicroscope,
        access_validation: Optional[AccessValidation] = None,
        token: str = ACCESS_TOKEN,
        is_enabled: Callable[[], bool] = lambda: True,
    ) -> None:
        self._microscope = microscope
        self._access_validation = access_validation
        self._token = token
        self._is_enabled = is_enabled

    def prepare(self) -> None:
        supplied = self.get_query_argument("token", "")
        if not (supplied and hmac.compare_digest(supplied.encode(), self._token.encode())):
            if self._access_validation is None:
                raise tornado.web.HTTPError(403)
            self._access_validation(self.request)
        if not self._is_enabled():
            raise tornado.web.HTTPError(404)

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0")
        self.set_header("Pragma", "no-cache")

    async def _capture(self, max_age: float) -> bytes:
        microscope = self._microscope
        return await IOLoop.current().run_in_executor(microscope.executor, microscope.capture, max_age)


class SnapshotHandler(_MicroscopeHandler):
    """``GET`` -> one freshly rendered JPEG."""

    async def get(self) -> None:
        jpeg = await self._capture(0.0)
        self.set_header("Content-Type", "image/jpeg")
        self.finish(jpeg)


class StreamHandler(_MicroscopeHandler):
    """``GET`` -> ``multipart/x-mixed-replace`` JPEG parts at the configured fps, until the
    client disconnects or the simulator is disabled. Clients share frames younger than one
    frame interval."""

    def initialize(self, **kwargs: Any) -> None:
        super().initialize(**kwargs)
        self._closed = False

    def on_connection_close(self) -> None:
        self._closed = True

    async def get(self) -> None:
        loop = IOLoop.current()
        self.set_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.set_header("X-Accel-Buffering", "no")
        while not self._closed and self._is_enabled():
            interval = 1.0 / self._microscope.config.fps
            started = loop.time()
            jpeg = await self._capture(interval)
            head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
            self.write(head.encode("ascii") + jpeg + b"\r\n")
            try:
                await self.flush()
            except StreamClosedError:
                return
            await asyncio.sleep(max(0.0, interval - (loop.time() - started)))


def http_routes(
    microscope: SimMicroscope,
    access_validation: Optional[AccessValidation] = None,
    token: str = ACCESS_TOKEN,
    is_enabled: Callable[[], bool] = lambda: True,
) -> List[Tuple[str, type, Dict[str, Any]]]:
    """Routes for the hook ``octoprint.server.http.routes`` (OctoPrint prefixes them with
    ``/plugin/autofocus``). ``access_validation`` defaults to :func:`status_validation`.

    OctoPrint asks for routes once, at startup: register them always and pass
    ``is_enabled`` (e.g. the ``simulator.enabled`` setting) so they answer 404 while off.
    """
    kwargs = {
        "microscope": microscope,
        "access_validation": access_validation if access_validation is not None else status_validation(),
        "token": token,
        "is_enabled": is_enabled,
    }
    return [(STREAM_ROUTE, StreamHandler, kwargs), (SNAPSHOT_ROUTE, SnapshotHandler, kwargs)]
