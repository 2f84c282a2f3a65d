"""From a frame (JPEG bytes or an array) to the gray ROI that a focus measure reads, cheaply.

The one public entry point is :func:`gray_roi`. It decodes JPEG bytes straight to
grayscale (optionally at 1/2, 1/4 or 1/8 size through the JPEG decoder's own DCT scaling),
crops before any colour conversion or arithmetic, and returns a 2-D ``uint8`` array for
8-bit input (``float32`` for 16-bit or float input). The search calls it once per frame
and computes both the focus score and any texture statistic on the same array.
"""

from typing import Optional, Sequence, Tuple, Union, get_args

import cv2
import numpy as np

from .errors import BadImageError

__all__ = ["DECODE_SCALES", "EncodedFrame", "FrameLike", "gray_roi", "jpeg_size", "same_frame"]

EncodedFrame = Union[bytes, bytearray, memoryview]
FrameLike = Union[np.ndarray, EncodedFrame]
"""What :func:`gray_roi` accepts: an image array or the encoded bytes of one."""

_DECODE_FLAGS = {
    1: cv2.IMREAD_GRAYSCALE,
    2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
    4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
    8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
}
DECODE_SCALES = tuple(_DECODE_FLAGS)
"""The reduction factors the JPEG decoder offers: 1 (full size), 2, 4 and 8."""

# JPEG start-of-frame markers (baseline, progressive, lossless, ...); C4, C8 and CC are not SOF.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def gray_roi(
    frame: FrameLike, roi: Optional[Sequence[float]] = None, decode_scale: int = 1
) -> np.ndarray:
    """Return the region of interest of ``frame`` as a 2-D gray array, ready for a measure.

    Parameters
    ----------
    frame : bytes or ndarray
        Encoded image bytes (JPEG; anything ``cv2.imdecode`` reads also works), or an
        ``(H, W)`` gray / ``(H, W, 3)`` BGR / ``(H, W, 4)`` BGRA array of ``uint8``,
        ``uint16`` or float.
    roi : (x, y, w, h), optional
        The region in pixels of the full-resolution frame; values are rounded to whole
        pixels. ``None`` means the whole frame. The ROI must lie entirely inside the
        frame: it is never clipped.
    decode_scale : {1, 2, 4, 8}
        Work at ``1/decode_scale`` of the resolution. JPEG bytes are decoded reduced by
        the decoder itself (much cheaper than decoding then resizing); arrays are cropped
        and then shrunk by pixel-area averaging. The ROI is given at full resolution and
        scaled here, widened outwards to whole reduced pixels.

    Returns
    -------
    ndarray
        2-D (a view into the decoded frame when only cropped); ``uint8`` for 8-bit
        input, else ``float32``. Treat it as read-only.

    Raises
    ------
    BadImageError
        Undecodable bytes, an array of the wrong shape or with non-finite values, an
        empty ROI or one not inside the frame.
    ValueError
        ``decode_scale`` not one of :data:`DECODE_SCALES`.
    """
    if decode_scale not in _DECODE_FLAGS:
        raise ValueError(f"decode_scale must be one of {DECODE_SCALES}, got {decode_scale!r}")
    if isinstance(frame, get_args(EncodedFrame)):
        return _bytes_roi(frame, roi, decode_scale)
    if isinstance(frame, np.ndarray):
        return _array_roi(frame, roi, decode_scale)
    raise BadImageError(f"a frame must be image bytes or a numpy array, got {type(frame).__name__}")


def same_frame(a: Optional[FrameLike], b: Optional[FrameLike]) -> bool:
    """Whether two frames are the very same capture: equal bytes, or equal arrays."""
    if a is None or b is None or isinstance(a, np.ndarray) != isinstance(b, np.ndarray):
        return False
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and bool(np.array_equal(a, b))
    return bytes(a) == bytes(b)


def jpeg_size(data: EncodedFrame) -> Optional[Tuple[int, int]]:
    """Return ``(width, height)`` from a JPEG's start-of-frame header, or None if not found.

    Reads only the marker segments before the image data, so it costs microseconds.
    """
    buf = data if isinstance(data, bytes) else bytes(data)
    if buf[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 <= len(buf):
        if buf[i] != 0xFF:
            return None
        marker = buf[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker in _SOF_MARKERS:
            height = int.from_bytes(buf[i + 5 : i + 7], "big")
            width = int.from_bytes(buf[i + 7 : i + 9], "big")
            return width, height
        if marker == 0xDA:  # start of scan: no SOF before the image data
            return None
        i += 2 + int.from_bytes(buf[i + 2 : i + 4], "big")
    return None


def _bytes_roi(data: EncodedFrame, roi: Optional[Sequence[float]], scale: int) -> np.ndarray:
    """Decode ``data`` to gray at ``1/scale`` size and crop the scaled ROI from it.

    Only JPEG decoders can reduce while decoding; other formats (PNG, ...) are decoded
    at full size and then cropped and shrunk exactly like an array.
    """
    size = jpeg_size(data) if scale > 1 else None
    if scale > 1 and size is None:
        return _array_roi(_decode_gray(data, 1), roi, scale)
    gray = _decode_gray(data, scale)
    if roi is None:
        return gray
    height, width = gray.shape
    if size is None or (_ceil_div(size[0], scale), _ceil_div(size[1], scale)) != (width, height):
        size = (width * scale, height * scale)
    x0, y0, x1, y1 = _checked_bounds(roi, size)
    return gray[y0 // scale : _ceil_div(y1, scale), x0 // scale : _ceil_div(x1, scale)]


def _decode_gray(data: EncodedFrame, scale: int) -> np.ndarray:
    """``cv2.imdecode`` straight to 8-bit gray at ``1/scale`` size (EXIF orientation ignored)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0:
        raise BadImageError("cannot decode an empty byte string")
    gray = cv2.imdecode(buf, _DECODE_FLAGS[scale] | cv2.IMREAD_IGNORE_ORIENTATION)
    if gray is None:
        start = bytes(buf[:4])
        raise BadImageError(f"cannot decode {buf.size} bytes as an image (starts with {start!r})")
    return gray


def _array_roi(image: np.ndarray, roi: Optional[Sequence[float]], scale: int) -> np.ndarray:
    """Crop an image array, convert the crop alone to gray and shrink it by ``scale``."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise BadImageError(
            f"a frame array must be HxW gray, HxWx3 BGR or HxWx4 BGRA, got shape {image.shape}"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise BadImageError(f"the frame is empty (shape {image.shape})")
    if roi is not None:
        x0, y0, x1, y1 = _checked_bounds(roi, (image.shape[1], image.shape[0]))
        image = image[y0:y1, x0:x1]
    gray = _to_gray(_supported_dtype(image))
    if scale > 1:
        size = (_ceil_div(gray.shape[1], scale), _ceil_div(gray.shape[0], scale))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return gray


def _supported_dtype(image: np.ndarray) -> np.ndarray:
    """Keep ``uint8``; turn any other integer or float image into finite ``float32``."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.bool_ or not (
        np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)
    ):
        raise BadImageError(f"unsupported frame dtype {image.dtype}")
    image = image.astype(np.float32)
    if not np.isfinite(image).all():
        raise BadImageError("the frame contains NaN or infinite values")
    return image


def _to_gray(image: np.ndarray) -> np.ndarray:
    """BGR(A) -> gray with OpenCV's luma weights; gray passes through untouched."""
    if image.ndim == 2:
        return image
    code = cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
    return cv2.cvtColor(np.ascontiguousarray(image), code)


def _checked_bounds(roi: Sequence[float], size: Tuple[int, int]) -> Tuple[int, int, int, int]:
    """Validate ``roi`` against a ``(width, height)`` frame; return ``(x0, y0, x1, y1)``."""
    try:
        if isinstance(roi, (str, bytes)):
            raise TypeError("a string is not an ROI")
        x, y, w, h = (int(round(float(v))) for v in roi)
    except (TypeError, ValueError) as exc:
        raise BadImageError(f"ROI must be four numbers (x, y, w, h), got {roi!r}") from exc
    width, height = size
    if w <= 0 or h <= 0:
        raise BadImageError(
            f"ROI (x={x}, y={y}, w={w}, h={h}) is empty: width and height must be positive"
        )
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise BadImageError(
            f"ROI (x={x}, y={y}, w={w}, h={h}) is not inside the {width}x{height} frame"
        )
    return x, y, x + w, y + h


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)
