"""The simulated microscope as an OctoPrint webcam (``WebcamProviderPlugin``)."""

from urllib.parse import urlencode

from flask_babel import gettext
from octoprint.schema.webcam import RatioEnum, Webcam, WebcamCompatibility

from .handlers import ACCESS_TOKEN, SNAPSHOT_ROUTE, STREAM_ROUTE
from .microscope import SimConfig

__all__ = ["WEBCAM_NAME", "backend_snapshot_url", "backend_stream_url", "webcam_config"]

WEBCAM_NAME = "autofocus_sim"
PLUGIN_PREFIX = "/plugin/autofocus"
STREAM_URL = PLUGIN_PREFIX + STREAM_ROUTE
SNAPSHOT_URL = PLUGIN_PREFIX + SNAPSHOT_ROUTE


def webcam_config(config: SimConfig) -> Webcam:
    """The webcam entry for ``get_webcam_configurations()``; URLs relative to OctoPrint."""
    width, height = config.size
    ratio = RatioEnum.four_three if width / height < 1.55 else RatioEnum.sixteen_nine
    return Webcam(
        name=WEBCAM_NAME,
        displayName=gettext("Simulated microscope"),
        canSnapshot=True,
        snapshotDisplay=gettext("Rendered by the Autofocus plugin's simulator"),
        flipH=False,
        flipV=False,
        rotate90=False,
        compat=WebcamCompatibility(stream=STREAM_URL, snapshot=SNAPSHOT_URL, streamRatio=ratio),
    )


def _with_token(url: str) -> str:
    return f"{url}?{urlencode({'token': ACCESS_TOKEN})}"


def backend_stream_url() -> str:
    """The stream URL (relative to OctoPrint) with the backend's access token; server side only."""
    return _with_token(STREAM_URL)


def backend_snapshot_url() -> str:
    """The snapshot URL (relative to OctoPrint) with the backend's access token; server side only."""
    return _with_token(SNAPSHOT_URL)
