"""The frame pipeline: bytes or arrays to a gray ROI, reduced decoding, and clear rejections."""

import cv2
import numpy as np
import pytest

from octoprint_autofocus.focus.errors import BadImageError
from octoprint_autofocus.focus.frames import gray_roi, jpeg_size, same_frame


def scene(seed: int = 1, size=(240, 320)) -> np.ndarray:
    """A seeded BGR picture with smooth texture, so JPEG and reduced decoding stay close."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.normal(128, 50, size).astype(np.float32), (0, 0), 2.0)
    tint = np.stack([base, base * 0.9 + 10, base * 1.1 - 10], axis=2)
    return np.clip(tint, 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int = 95) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def test_a_gray_roi_equals_numpy_slicing():
    gray = cv2.cvtColor(scene(), cv2.COLOR_BGR2GRAY)
    np.testing.assert_array_equal(gray_roi(gray, (30, 20, 100, 50)), gray[20:70, 30:130])


def test_a_bgr_roi_equals_slicing_the_gray_conversion():
    image = scene()
    expected = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[5:45, 7:207]
    np.testing.assert_array_equal(gray_roi(image, (7, 5, 200, 40)), expected)


def test_a_jpeg_roi_equals_slicing_the_gray_decode():
    data = jpeg(scene())
    full = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(gray_roi(data), full)
    np.testing.assert_array_equal(gray_roi(data, (100, 60, 64, 32)), full[60:92, 100:164])


def test_a_bgra_frame_and_a_single_channel_frame_are_accepted():
    image = scene()
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    np.testing.assert_array_equal(gray_roi(bgra), gray)
    np.testing.assert_array_equal(gray_roi(gray[:, :, None]), gray)


def test_8bit_frames_stay_8bit_and_other_depths_become_float32():
    gray = cv2.cvtColor(scene(), cv2.COLOR_BGR2GRAY)
    assert gray_roi(gray).dtype == np.uint8
    wide = gray_roi(gray.astype(np.uint16) * 257)
    assert wide.dtype == np.float32
    np.testing.assert_array_equal(wide, gray.astype(np.float32) * 257)


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_reduced_decoding_scales_the_roi(scale):
    data = jpeg(scene())
    roi = (64, 48, 128, 96)
    reduced = gray_roi(data, roi, decode_scale=scale)
    assert reduced.shape == (96 // scale, 128 // scale)
    full = gray_roi(data, roi)
    expected = cv2.resize(full, (128 // scale, 96 // scale), interpolation=cv2.INTER_AREA)
    assert np.abs(reduced.astype(int) - expected).mean() < 3.0


def test_a_reduced_roi_not_on_the_pixel_grid_is_widened_to_cover_it():
    data = jpeg(scene())
    reduced = gray_roi(data, (33, 21, 10, 10), decode_scale=4)
    # x 33..43 -> reduced columns 8..10 (3 columns), y 21..31 -> rows 5..7 (3 rows)
    assert reduced.shape == (3, 3)


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_arrays_and_jpegs_of_one_picture_give_the_same_reduced_shape(scale):
    image = scene(size=(237, 311))
    roi = (10, 9, 101, 77)
    assert gray_roi(image, roi, scale).shape == gray_roi(jpeg(image), roi, scale).shape


@pytest.mark.parametrize("progressive", [0, 1])
@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_size_reads_the_frame_header(progressive, channels):
    image = scene(size=(123, 457))
    image = image if channels == 3 else image[:, :, 0]
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_PROGRESSIVE, progressive])
    assert ok
    assert jpeg_size(buf.tobytes()) == (457, 123)
    assert jpeg_size(bytearray(buf.tobytes())) == (457, 123)


def test_jpeg_size_of_anything_else_is_none():
    assert jpeg_size(b"\x89PNG\r\n\x1a\n") is None
    assert jpeg_size(b"\xff\xd8\xff\xda") is None


BAD_ROIS = [
    (-1, 0, 10, 10),
    (0, -5, 10, 10),
    (300, 0, 21, 10),
    (0, 200, 10, 41),
    (0, 0, 0, 10),
    (0, 0, 10, -3),
    (400, 300, 10, 10),
]


@pytest.mark.parametrize("roi", BAD_ROIS)
@pytest.mark.parametrize("kind", ["gray", "bgr", "jpeg"])
@pytest.mark.parametrize("scale", [1, 2])
def test_an_roi_not_inside_the_frame_is_rejected_with_its_numbers(roi, kind, scale):
    image = scene()
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    frame = {"gray": gray, "bgr": image, "jpeg": jpeg(image)}[kind]
    with pytest.raises(BadImageError) as caught:
        gray_roi(frame, roi, decode_scale=scale)
    message = str(caught.value)
    assert f"x={roi[0]}, y={roi[1]}, w={roi[2]}, h={roi[3]}" in message
    assert "empty" in message or "320x240" in message


def test_an_odd_sized_jpeg_refuses_an_roi_one_pixel_past_its_edge_at_reduced_scale():
    data = jpeg(scene(size=(241, 321)))
    assert gray_roi(data, (0, 0, 321, 241), decode_scale=2).shape == (121, 161)
    with pytest.raises(BadImageError, match="321x241"):
        gray_roi(data, (0, 0, 322, 241), decode_scale=2)


@pytest.mark.parametrize("roi", [(1, 2, 3), ("a", 0, 1, 1), "1234", 7])
def test_an_roi_that_is_not_four_numbers_is_rejected(roi):
    with pytest.raises(BadImageError, match="four numbers"):
        gray_roi(np.zeros((10, 10), np.uint8), roi)


def test_fractional_roi_values_are_rounded_to_whole_pixels():
    gray = cv2.cvtColor(scene(), cv2.COLOR_BGR2GRAY)
    np.testing.assert_array_equal(gray_roi(gray, (10.4, 19.6, 30.2, 9.8)), gray[20:30, 10:40])


@pytest.mark.parametrize("data", [b"", b"not a jpeg at all", jpeg(scene())[:200]])
def test_undecodable_bytes_are_rejected(data):
    with pytest.raises(BadImageError, match="decode"):
        gray_roi(data)


@pytest.mark.parametrize(
    "array",
    [
        np.zeros(10, np.uint8),
        np.zeros((4, 4, 2), np.uint8),
        np.zeros((2, 4, 4, 3), np.uint8),
        np.zeros((0, 4), np.uint8),
    ],
)
def test_arrays_of_the_wrong_shape_are_rejected_with_their_shape(array):
    with pytest.raises(BadImageError, match=r"shape \("):
        gray_roi(array)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_float_frames_are_rejected(value):
    image = np.ones((8, 8), np.float32)
    image[3, 3] = value
    with pytest.raises(BadImageError, match="NaN or infinite"):
        gray_roi(image)


@pytest.mark.parametrize("frame", ["a string", 42, np.zeros((4, 4), bool)])
def test_frames_of_unsupported_types_are_rejected(frame):
    with pytest.raises(BadImageError):
        gray_roi(frame)


@pytest.mark.parametrize("scale", [0, 3, 16])
def test_an_unsupported_decode_scale_is_a_value_error(scale):
    with pytest.raises(ValueError, match="decode_scale"):
        gray_roi(np.zeros((8, 8), np.uint8), decode_scale=scale)


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_png_bytes_are_cropped_and_shrunk_like_the_array_they_hold(scale):
    image = scene(size=(241, 321))
    ok, png = cv2.imencode(".png", image)
    assert ok
    roi = (0, 0, 321, 241)
    from_png, from_array = gray_roi(png.tobytes(), roi, scale), gray_roi(image, roi, scale)
    assert from_png.shape == from_array.shape
    assert np.abs(from_png.astype(int) - from_array).max() <= 1  # the decoder's own luma rounding


@pytest.mark.parametrize("wrap", [bytearray, memoryview])
def test_any_bytes_like_frame_decodes_like_bytes(wrap):
    data = jpeg(scene())
    roi = (8, 8, 100, 60)
    np.testing.assert_array_equal(gray_roi(wrap(data), roi, 2), gray_roi(data, roi, 2))


def test_the_same_capture_is_equal_bytes_or_equal_arrays_and_nothing_else():
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert same_frame(a, a.copy()) and same_frame(b"\xff\xd8jpeg", bytearray(b"\xff\xd8jpeg"))
    assert not same_frame(a, a.reshape(4, 3)) and not same_frame(a, a + 1)
    assert not same_frame(b"\xff\xd8jpeg", b"\xff\xd8jpef")
    assert not same_frame(a, a.tobytes()) and not same_frame(a.tobytes(), a)
    assert not same_frame(None, a) and not same_frame(a, None)
