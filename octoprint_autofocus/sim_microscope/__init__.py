"""The simulated microscope inside OctoPrint (off by default).

- :class:`ZTracker` follows the printer's physical Z from sent G-code (``on_sent``), with
  move timing and backlash.
- :class:`SimMicroscope` renders the simulator's scene blurred by ``z - focal_z``, lazily.
- :func:`http_routes` gives the Tornado MJPEG stream and snapshot routes.
- :func:`webcam_config` registers it as the webcam ``autofocus_sim``.
"""

from .handlers import ACCESS_TOKEN, http_routes
from .microscope import SimConfig, SimMicroscope
from .webcam import WEBCAM_NAME, backend_snapshot_url, backend_stream_url, webcam_config
from .ztracker import ZTracker

__all__ = [
    "ACCESS_TOKEN",
    "WEBCAM_NAME",
    "SimConfig",
    "SimMicroscope",
    "ZTracker",
    "backend_snapshot_url",
    "backend_stream_url",
    "http_routes",
    "webcam_config",
]
