"""score(): one call from a frame in any accepted form to a focus value."""

import math

import cv2
import numpy as np
import pytest

from octoprint_autofocus.focus import MEASURES, BadImageError, score
from octoprint_autofocus.focus.scoring import measure_for

TEXTURE_METRICS = ["tenengrad", "laplacian", "normalized_variance", "brenner", "vollath_f4"]


def picture(seed: int, size=(240, 320)) -> np.ndarray:
    """A seeded BGR scene of soft blobs and a few crisp bars, the kind a webcam sees."""
    rng = np.random.default_rng(seed)
    height, width = size
    blobs = cv2.GaussianBlur(rng.normal(0, 1, size).astype(np.float32), (0, 0), 1.5)
    gray = 120 + 35 * blobs / blobs.std()
    for row in range(20, height - 20, 40):
        cv2.rectangle(gray, (20, row), (width - 20, row + 6), float(rng.uniform(30, 220)), -1)
    gray = np.clip(gray, 10, 245).astype(np.uint8)
    return cv2.merge([gray, gray, gray])


def jpeg(image: np.ndarray, quality: int = 95) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def test_an_unknown_metric_is_a_value_error_listing_every_valid_name():
    with pytest.raises(ValueError) as caught:
        score(np.zeros((8, 8), np.uint8), metric="sharpness")
    assert "sharpness" in str(caught.value)
    assert all(name in str(caught.value) for name in MEASURES)


def test_measure_for_returns_the_registered_function():
    assert all(measure_for(name) is fn for name, fn in MEASURES.items())


@pytest.mark.parametrize("metric", sorted(MEASURES))
def test_gray_and_bgr_frames_of_one_picture_score_the_same(metric):
    bgr = picture(1)
    gray = bgr[:, :, 0].copy()
    assert score(bgr, metric=metric) == score(gray, metric=metric)


@pytest.mark.parametrize("metric", TEXTURE_METRICS)
@pytest.mark.parametrize("seed", [1, 2])
def test_a_jpeg_scores_close_to_the_array_it_was_encoded_from(metric, seed):
    image = picture(seed)
    assert score(jpeg(image), metric=metric) == pytest.approx(score(image, metric=metric), rel=0.1)


@pytest.mark.parametrize("metric", sorted(MEASURES))
def test_an_roi_scores_the_same_as_the_measure_on_the_sliced_array(metric):
    gray = picture(3)[:, :, 0]
    roi = (40, 30, 150, 120)
    assert score(gray, roi, metric) == MEASURES[metric](gray[30:150, 40:190])


@pytest.mark.parametrize("metric", TEXTURE_METRICS)
def test_a_reduced_decode_scores_close_to_the_half_size_picture(metric):
    image = picture(4)
    half = cv2.resize(image, (160, 120), interpolation=cv2.INTER_AREA)
    reduced = score(jpeg(image), (40, 40, 200, 160), metric, decode_scale=2)
    assert reduced == pytest.approx(score(half, (20, 20, 100, 80), metric), rel=0.15)


@pytest.mark.parametrize("metric", TEXTURE_METRICS)
@pytest.mark.parametrize("scale", [1, 2, 4])
def test_a_sharp_jpeg_outscores_a_defocused_one_at_every_decode_scale(metric, scale):
    image = picture(5)
    soft = cv2.GaussianBlur(image, (0, 0), 2.5)
    roi = (16, 16, 256, 192)
    sharp_score = score(jpeg(image), roi, metric, decode_scale=scale)
    assert sharp_score > score(jpeg(soft), roi, metric, decode_scale=scale)


@pytest.mark.parametrize("metric", sorted(MEASURES))
def test_score_returns_a_finite_python_float(metric):
    value = score(jpeg(picture(6)), (0, 0, 64, 64), metric)
    assert type(value) is float and math.isfinite(value)


def test_a_bad_roi_is_reported_with_its_numbers():
    with pytest.raises(BadImageError, match=r"x=300, y=10, w=50, h=50.*320x240"):
        score(jpeg(picture(7)), (300, 10, 50, 50))


def test_the_metric_is_checked_before_the_frame_is_decoded():
    with pytest.raises(ValueError, match="valid metrics"):
        score(b"not an image", metric="nope")


@pytest.mark.parametrize("metric", sorted(MEASURES))
@pytest.mark.parametrize("view", ["transposed", "flipped and strided"])
def test_strided_array_views_score_like_contiguous_copies(metric, view):
    bgr = picture(8)
    frame = bgr.transpose(1, 0, 2) if view == "transposed" else bgr[::-1, ::2]
    assert score(frame, metric=metric) == score(np.ascontiguousarray(frame), metric=metric)
