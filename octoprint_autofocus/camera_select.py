"""Which camera the plugin reads, and from which URL: the one place camera selection happens.

The settings pick one of OctoPrint's webcams (1.9+ webcam API; ``""`` is the default one)
or ``"custom"`` URLs. What the backend opens (:func:`select_camera`) can differ from what
the browser shows (:func:`browser_camera`): a browser resolves a relative URL against the
page, the backend only reaches OctoPrint itself. So:

1. an absolute stream URL is read as it is;
2. a relative stream URL (``/webcam/?action=stream`` on OctoPi, served by the web server in
   front of OctoPrint, not by OctoPrint) with an absolute snapshot URL is replaced by the
   stream that snapshot URL implies (mjpg-streamer and camera-streamer ``?action=snapshot``
   -> ``?action=stream``, ustreamer and camera-streamer ``/snapshot`` -> ``/stream``), or,
   when it implies none, by snapshots;
3. otherwise a relative stream URL is resolved against OctoPrint's own address (streams
   OctoPrint serves, such as the simulated microscope's);
4. without a stream URL, snapshots are read.

The chosen source and the reason are part of the answer (``camera.source`` in the GET API),
so the user can see which one is used. URLs shown anywhere go through :mod:`.redact`.
"""

import urllib.parse
from dataclasses import dataclass, replace
from typing import Any, Dict, Iterable, List, Sequence

from flask_babel import gettext

from .redact import redact_url, split_credentials
from .sim_microscope import WEBCAM_NAME, backend_snapshot_url, backend_stream_url

__all__ = [
    "CUSTOM",
    "CameraSpec",
    "browser_camera",
    "implied_stream",
    "octoprint_webcams",
    "resolve_camera",
    "select_camera",
]

CUSTOM = "custom"
"""The camera setting that means: use the stream/snapshot URLs from the settings."""


@dataclass(frozen=True)
class CameraSpec:
    """Where the backend gets frames and how the user sees them (OctoPrint's flip/rotate
    flags). ``stream_url`` empty means snapshots are read; ``reason`` says why this source
    (a sentence for people)."""

    name: str
    stream_url: str = ""
    snapshot_url: str = ""
    flip_h: bool = False
    flip_v: bool = False
    rotate90: bool = False
    reason: str = ""

    @property
    def source(self) -> str:
        """``"stream"`` or ``"snapshot"``: what the backend reads."""
        return "stream" if self.stream_url else "snapshot"

    def source_info(self) -> Dict[str, str]:
        """``{type, url, reason}`` of the source in use, the URL redacted (for the GET API)."""
        url = self.stream_url or self.snapshot_url
        return {"type": self.source, "url": redact_url(url), "reason": self.reason}


def octoprint_webcams() -> List[Any]:
    """OctoPrint's webcam configs (1.9+ ``octoprint.webcams``), the default one first."""
    import octoprint.webcams

    webcams = [provided.config for provided in octoprint.webcams.get_webcams().values()]
    default = octoprint.webcams.get_default_webcam()
    if default is not None:
        webcams.sort(key=lambda webcam: webcam.name != default.config.name)
    return webcams


def _configured(webcams: Iterable[Any], selected: str, stream_url: str, snapshot_url: str) -> CameraSpec:
    """The selected camera with its URLs as configured (maybe relative)."""
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
            gettext('Camera "%(name)s" has neither a stream URL nor a snapshot URL.') % {"name": spec.name}
        )
    return spec


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


def _is_absolute(url: str) -> bool:
    return bool(url) and bool(urllib.parse.urlsplit(url).netloc)


def _absolute_url(url: str, base_url: str) -> str:
    if not url:
        return ""
    absolute = urllib.parse.urljoin(base_url, url)
    if urllib.parse.urlsplit(absolute).scheme not in ("http", "https"):
        raise ValueError(
            gettext('Camera URL "%(url)s" is not an http(s) URL.') % {"url": redact_url(url)}
        )
    return absolute


def implied_stream(snapshot_url: str) -> str:
    """The MJPEG stream a streamer serves beside ``snapshot_url``, or ``""`` if unknown.

    >>> implied_stream("http://127.0.0.1:8080/?action=snapshot")
    'http://127.0.0.1:8080/?action=stream'
    >>> implied_stream("http://10.0.0.5:8080/snapshot")
    'http://10.0.0.5:8080/stream'
    """
    parts = urllib.parse.urlsplit(snapshot_url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    if ("action", "snapshot") in query:
        query = [(key, "stream" if (key, value) == ("action", "snapshot") else value) for key, value in query]
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    if parts.path.endswith("/snapshot"):
        return urllib.parse.urlunsplit(parts._replace(path=parts.path[: -len("snapshot")] + "stream"))
    return ""


def _choose_source(spec: CameraSpec, base_url: str) -> CameraSpec:
    """``spec`` with absolute URLs for the backend and the reason for its source."""
    stream, snapshot = spec.stream_url, spec.snapshot_url
    snapshot_abs = _absolute_url(snapshot, base_url)
    shown = {"stream": redact_url(stream), "snapshot": redact_url(snapshot)}
    if not stream:
        return replace(spec, snapshot_url=snapshot_abs, reason=gettext("The camera has no stream URL: reading snapshots."))
    if _is_absolute(stream):
        return replace(spec, stream_url=_absolute_url(stream, base_url), snapshot_url=snapshot_abs,
                       reason=gettext("Reading the camera's stream."))
    if _is_absolute(snapshot):
        implied = implied_stream(snapshot)
        if implied:
            return replace(spec, stream_url=implied, snapshot_url=snapshot_abs, reason=gettext(
                "The stream URL %(stream)s is relative to the web page, whose server OctoPrint cannot"
                " reach; reading the stream the snapshot URL %(snapshot)s implies."
            ) % shown)
        return replace(spec, stream_url="", snapshot_url=snapshot_abs, reason=gettext(
            "The stream URL %(stream)s is relative to the web page, whose server OctoPrint cannot"
            " reach; reading snapshots from %(snapshot)s."
        ) % shown)
    return replace(spec, stream_url=_absolute_url(stream, base_url), snapshot_url=snapshot_abs,
                   reason=gettext("Reading the stream %(stream)s from OctoPrint's own server.") % shown)


def resolve_camera(
    webcams: Iterable[Any], selected: str, stream_url: str, snapshot_url: str, base_url: str
) -> CameraSpec:
    """Pick the camera to use and the source the backend reads (module docstring).

    ``webcams`` are OctoPrint webcam configs (anything with ``name``, ``flipH``, ``flipV``,
    ``rotate90`` and ``compat.stream``/``compat.snapshot``), the default one first or
    marked with a true ``default`` attribute. ``selected`` is a webcam name, ``""`` for the
    default or ``"custom"`` for ``stream_url``/``snapshot_url``. ``base_url`` is OctoPrint's
    own address. Raises ValueError when the camera or its URLs are missing.
    """
    return _choose_source(_configured(webcams, selected, stream_url, snapshot_url), base_url)


def select_camera(webcams: Sequence[Any], config: Any, base_url: str) -> CameraSpec:
    """The camera the backend opens for ``config`` (a RunConfig); the simulated
    microscope's URLs carry its backend token. ValueError when the selected camera or its
    URLs are missing."""
    spec = resolve_camera(webcams, config.camera, config.stream_url, config.snapshot_url, base_url)
    if spec.name != WEBCAM_NAME:
        return spec
    backend = resolve_camera([], CUSTOM, backend_stream_url(), backend_snapshot_url(), base_url)
    return replace(backend, name=WEBCAM_NAME)


def _without_credentials(url: str) -> str:
    return split_credentials(url)[0] if url else ""


def browser_camera(webcams: Sequence[Any], config: Any, base_url: str, private: bool = False) -> Dict[str, Any]:
    """The selected camera for the GET API: URLs as configured but without credentials
    (the browser resolves relative ones against the page; without ``private``, for users
    who may not read the settings, also without query values but ``action``), OctoPrint's
    flip flags, and ``source`` (:meth:`CameraSpec.source_info`): what the backend reads
    and why."""
    configured = _configured(webcams, config.camera, config.stream_url, config.snapshot_url)
    shown = _without_credentials if private else redact_url
    return {
        "name": configured.name,
        "stream_url": shown(configured.stream_url) if configured.stream_url else "",
        "snapshot_url": shown(configured.snapshot_url) if configured.snapshot_url else "",
        "flipH": configured.flip_h,
        "flipV": configured.flip_v,
        "rotate90": configured.rotate90,
        "source": select_camera(webcams, config, base_url).source_info(),
    }

