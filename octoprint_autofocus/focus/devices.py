"""The two small protocols the focus search drives: a Z stage and a frame source.

Anything with these methods works: OctoPrint's printer (``printer_stage.PrinterStage``),
the simulator, a test fake or a serial printer plus a UVC camera in a plain script.
"""

from typing import Protocol, Union, runtime_checkable

import numpy as np

Frame = Union[np.ndarray, bytes]
"""An 8-bit image (HxW gray or HxWx3 BGR) or the JPEG bytes of one."""


@runtime_checkable
class ZStage(Protocol):
    """An axis that moves the focus, in millimetres.

    ``move_to(z)`` is an absolute move that returns only once the motion has finished and
    been confirmed; it raises :class:`~.errors.MoveRefused` for a target outside the
    stage's own limits (it never clips) and :class:`~.errors.StageError` on failure; a
    stage that watches the run's cancel may raise :class:`~.errors.Cancelled` while it waits.
    ``position()`` returns the current Z as the stage knows it.
    """

    def move_to(self, z: float) -> None: ...

    def position(self) -> float: ...


@runtime_checkable
class FrameSource(Protocol):
    """A camera. ``frame()`` returns an image whose capture began after the call began.

    It may return a decoded 8-bit array or JPEG bytes (cheaper: the scorer decodes only
    what it needs). It raises :class:`~.errors.CameraError` when no frame can be had.
    """

    def frame(self) -> Frame: ...


@runtime_checkable
class XYStage(Protocol):
    """The axes that move the camera over the sample, in millimetres (for focus maps).

    ``move_xy(x, y)`` is an absolute move that returns only once the motion has finished
    and been confirmed; it raises :class:`~.errors.MoveRefused` for a target outside its
    own limits (it never clips) and :class:`~.errors.StageError` on failure.
    """

    def move_xy(self, x: float, y: float) -> None: ...
