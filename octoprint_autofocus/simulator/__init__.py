"""A deterministic simulated microscope: Z stage, camera and clock (numpy and OpenCV only).

Used by the search tests and benchmark, the plugin's live simulated webcam, the demo and
the end-to-end tests::

    from octoprint_autofocus.simulator import make_rig

    rig = make_rig(scene="pcb", seed=1, focal_z=4.0, dof=0.05, start_z=5.0)
    result = autofocus(rig.stage, rig.camera, 3.0, 6.0,
                       sleep=rig.clock.sleep, clock=rig.clock.now)
    rig.optical_error()      # |actual Z - true focus| in mm

For a live view, :func:`render` turns a scene image and a defocus into one frame::

    image = SCENES["cells"](seed, (640, 480))
    jpeg = render(image, z - focal_z, dof, rng, noise=0.01, jpeg_quality=80)
"""

from .camera import SimCamera
from .clock import SimClock
from .optics import blur_radius_px, defocus_blur
from .render import render
from .rig import Rig, make_rig
from .scenes import SCENES
from .stage import SimStage

__all__ = [
    "make_rig",
    "Rig",
    "render",
    "SCENES",
    "SimCamera",
    "SimClock",
    "SimStage",
    "blur_radius_px",
    "defocus_blur",
]
