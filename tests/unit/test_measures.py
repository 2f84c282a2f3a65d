"""Focus measures: sharper scores higher, blur lowers the score, brightness acts as documented."""

import math

import cv2
import numpy as np
import pytest

from octoprint_autofocus.focus.errors import BadImageError
from octoprint_autofocus.focus.measures import MEASURES, spot

TEXTURE_METRICS = ["tenengrad", "laplacian", "normalized_variance", "brenner", "vollath_f4"]
GRADIENT_METRICS = ["tenengrad", "laplacian", "brenner", "vollath_f4"]
SEEDS = [1, 2, 3]
SIGMAS = [0.7, 1.2, 2.0, 3.0, 4.5]


def textured(seed: int, size=(160, 200)) -> np.ndarray:
    """A seeded uint8 scene: fine noise texture plus a few solid shapes, mid-grey, unsaturated."""
    rng = np.random.default_rng(seed)
    height, width = size
    image = cv2.GaussianBlur(rng.normal(0, 1, size).astype(np.float32), (0, 0), 0.8)
    image = 128 + 30 * image / image.std()
    for _ in range(6):
        x, y = int(rng.integers(0, width - 30)), int(rng.integers(0, height - 30))
        cv2.rectangle(image, (x, y), (x + 25, y + 18), float(rng.uniform(60, 200)), -1)
    return np.clip(image, 20, 235).astype(np.uint8)


def blurred(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma)


def gaussian_star(image: np.ndarray, cx: float, cy: float, sigma: float, peak: float) -> None:
    """Add a Gaussian spot to a float image in place."""
    yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]].astype(np.float32)
    image += peak * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))


def spot_image(
    radius_sigma: float, seed: int, noise: float = 6.0, peak: float = 200.0, size: int = 64
) -> np.ndarray:
    """A Gaussian spot off-centre on a dark, noisy background, as float32."""
    rng = np.random.default_rng(seed)
    image = (15 + rng.normal(0, noise, (size, size))).astype(np.float32)
    gaussian_star(image, size * 0.45, size * 0.55, radius_sigma, peak)
    return image


def as_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def test_the_registry_offers_every_documented_metric():
    assert set(MEASURES) == set(TEXTURE_METRICS) | {"spot"}


@pytest.mark.parametrize("metric", TEXTURE_METRICS)
@pytest.mark.parametrize("seed", SEEDS)
def test_a_sharp_image_scores_above_its_blurred_copy(metric, seed):
    image = textured(seed)
    assert MEASURES[metric](image) > MEASURES[metric](blurred(image, 1.0))


@pytest.mark.parametrize("metric", TEXTURE_METRICS)
@pytest.mark.parametrize("seed", SEEDS)
def test_score_falls_as_blur_rises(metric, seed):
    image = textured(seed)
    scores = [MEASURES[metric](blurred(image, sigma)) for sigma in SIGMAS]
    assert all(a > b for a, b in zip(scores, scores[1:])), scores


@pytest.mark.parametrize("seed", SEEDS)
def test_spot_score_falls_as_the_spot_spreads(seed):
    scores = [spot(as_uint8(spot_image(sigma, seed))) for sigma in (1.0, 1.6, 2.5, 4.0, 6.0)]
    assert all(a > b for a, b in zip(scores, scores[1:])), scores


@pytest.mark.parametrize("seed", range(10))
def test_a_noisy_background_does_not_flip_the_spot_order(seed):
    small = spot(as_uint8(spot_image(1.5, seed, noise=15.0)))
    large = spot(as_uint8(spot_image(2.5, seed + 100, noise=15.0)))
    assert small > large


@pytest.mark.parametrize("seed", range(5))
def test_a_background_clipped_at_black_does_not_flip_the_spot_order(seed):
    # More than half the background pixels are 0, so the MAD alone would see no noise.
    images = [as_uint8(spot_image(sigma, seed, noise=10.0) - 15) for sigma in (1.2, 1.8, 2.5, 4.0)]
    scores = [spot(image) for image in images]
    assert all(a > b for a, b in zip(scores, scores[1:])), scores


def test_spot_score_is_the_inverse_half_flux_radius_of_a_disc():
    disc = np.zeros((80, 80), np.uint8)
    cv2.circle(disc, (40, 40), 10, 200, -1)
    # Half the flux of a uniform disc of radius R lies within R / sqrt(2).
    assert 1 / spot(disc) == pytest.approx(10 / math.sqrt(2), rel=0.08)


def test_spot_score_ignores_the_exposure_gain():
    image = spot_image(2.0, seed=5, noise=3.0)
    assert spot(0.5 * image) == pytest.approx(spot(image), rel=0.05)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("to_dtype", [as_uint8, np.float32])
def test_a_spot_roi_of_pure_noise_scores_zero(seed, to_dtype):
    background = np.random.default_rng(seed).normal(20, 5, (128, 128))
    assert spot(to_dtype(background)) == 0.0


def star_field(sigma: float, seed: int, stars: int = 6, size: int = 200) -> np.ndarray:
    """Several Gaussian stars of equal width and random brightness on a noisy background."""
    rng = np.random.default_rng(seed)
    field = (12 + rng.normal(0, 3, (size, size))).astype(np.float32)
    for _ in range(stars):
        cx, cy = rng.uniform(20, size - 20, 2)
        gaussian_star(field, cx, cy, sigma, rng.uniform(80, 200))
    return as_uint8(field)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_star_field_scores_its_stars_not_the_distance_between_them(seed):
    lone = spot(as_uint8(spot_image(1.5, seed, noise=3.0, peak=150.0, size=200)))
    assert spot(star_field(1.5, seed)) == pytest.approx(lone, rel=0.2)


@pytest.mark.parametrize("seed", SEEDS)
def test_spot_score_falls_as_a_star_field_defocuses(seed):
    scores = [spot(star_field(sigma, seed)) for sigma in (1.0, 1.5, 2.2, 3.2, 4.5)]
    assert all(a > b for a, b in zip(scores, scores[1:])), scores


def test_two_identical_stars_score_as_one():
    one, two = np.zeros((80, 160), np.float32), np.zeros((80, 160), np.float32)
    gaussian_star(one, 40.3, 40.6, 2.0, 150.0)
    gaussian_star(two, 40.3, 40.6, 2.0, 150.0)
    gaussian_star(two, 120.3, 40.6, 2.0, 150.0)
    assert spot(two) == pytest.approx(spot(one), rel=1e-6)


def test_a_field_of_a_sharp_and_a_soft_star_scores_between_them():
    sharp, soft, both = (np.zeros((80, 160), np.float32) for _ in range(3))
    gaussian_star(sharp, 40.0, 40.0, 1.5, 150.0)
    gaussian_star(soft, 120.0, 40.0, 4.0, 150.0)
    gaussian_star(both, 40.0, 40.0, 1.5, 150.0)
    gaussian_star(both, 120.0, 40.0, 4.0, 150.0)
    assert spot(soft) < spot(both) < spot(sharp)


def test_a_faint_wide_disc_is_measured_as_one_spot():
    rng = np.random.default_rng(3)
    disc = np.zeros((120, 120), np.float32)
    cv2.circle(disc, (60, 60), 20, 6.0, -1)  # 1.5 noise sigmas per pixel: mostly under 3 sigma
    image = as_uint8(30 + disc + rng.normal(0, 4, disc.shape))
    assert 1 / spot(image) == pytest.approx(20 / math.sqrt(2), rel=0.25)


@pytest.mark.parametrize("metric", GRADIENT_METRICS)
@pytest.mark.parametrize("gain", [0.5, 2.0, 3.0])
def test_gradient_measures_scale_with_the_square_of_the_gain(metric, gain):
    image = textured(4).astype(np.float32)
    expected = gain**2 * MEASURES[metric](image)
    assert MEASURES[metric](gain * image) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("gain", [0.25, 0.5, 2.0])
def test_normalized_variance_ignores_the_exposure_gain(gain):
    image = textured(4).astype(np.float32)
    assert MEASURES["normalized_variance"](gain * image) == pytest.approx(
        MEASURES["normalized_variance"](image), rel=1e-4
    )


def test_normalized_variance_falls_when_a_black_level_offset_is_added():
    image = textured(4)
    measure = MEASURES["normalized_variance"]
    assert measure(image + np.uint8(20)) < measure(image)


@pytest.mark.parametrize("metric", GRADIENT_METRICS)
def test_gradient_measures_ignore_a_brightness_offset(metric):
    image = textured(4)
    measure = MEASURES[metric]
    assert measure(image + np.uint8(15)) == pytest.approx(measure(image), rel=1e-9)


@pytest.mark.parametrize("metric", TEXTURE_METRICS)
def test_the_8bit_integer_path_agrees_with_the_float_path(metric):
    image = textured(6)
    measure = MEASURES[metric]
    assert measure(image) == pytest.approx(measure(image.astype(np.float32)), rel=1e-5)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_8bit_spot_path_agrees_with_the_float_path(seed):
    image = as_uint8(spot_image(2.0, seed))
    assert spot(image) == pytest.approx(spot(image.astype(np.float32)), rel=0.01)


@pytest.mark.parametrize("metric", sorted(MEASURES))
def test_uint16_input_is_scored_like_the_same_values_in_float(metric):
    image = textured(8).astype(np.uint16) * 200
    measure = MEASURES[metric]
    assert measure(image) == pytest.approx(measure(image.astype(np.float32)), rel=1e-6)


# Tall and wide frames are filtered in bands of rows; each band must join its neighbours exactly.
REFERENCE_SHAPES = [(160, 200), (1100, 150), (333, 1280), (40, 20000)]


@pytest.mark.parametrize("shape", REFERENCE_SHAPES)
def test_tenengrad_matches_a_plain_numpy_sobel(shape):
    image = textured(9, shape)
    padded = np.pad(image.astype(np.float64), 1, mode="reflect")
    smooth = padded[:-2] + 2 * padded[1:-1] + padded[2:]  # vertical [1 2 1]
    gx = smooth[:, 2:] - smooth[:, :-2]
    smooth = padded[:, :-2] + 2 * padded[:, 1:-1] + padded[:, 2:]
    gy = smooth[2:] - smooth[:-2]
    assert MEASURES["tenengrad"](image) == pytest.approx(np.mean(gx**2 + gy**2), rel=1e-12)


@pytest.mark.parametrize("shape", REFERENCE_SHAPES)
def test_laplacian_matches_a_plain_numpy_laplacian(shape):
    image = textured(10, shape)
    p = np.pad(image.astype(np.float64), 1, mode="reflect")
    lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * p[1:-1, 1:-1]
    assert MEASURES["laplacian"](image) == pytest.approx(lap.var(), rel=1e-9)


DEGENERATE = {
    "black": np.zeros((48, 64), np.uint8),
    "flat grey": np.full((48, 64), 128, np.uint8),
    "saturated": np.full((48, 64), 255, np.uint8),
    "one pixel": np.full((1, 1), 90, np.uint8),
    "2x2": np.array([[0, 255], [255, 0]], np.uint8),
    "1xN": np.random.default_rng(1).integers(0, 256, (1, 50), dtype=np.uint8),
    "Nx1": np.random.default_rng(2).integers(0, 256, (50, 1), dtype=np.uint8),
    "2xN": np.random.default_rng(3).integers(0, 256, (2, 50), dtype=np.uint8),
    "float flat": np.full((20, 20), 0.5, np.float32),
}


@pytest.mark.parametrize("metric", sorted(MEASURES))
@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_degenerate_frames_give_a_finite_score(metric, name):
    assert math.isfinite(MEASURES[metric](DEGENERATE[name]))


@pytest.mark.parametrize("metric", sorted(MEASURES))
@pytest.mark.parametrize("name", ["black", "flat grey", "saturated", "one pixel", "float flat"])
def test_a_featureless_frame_scores_zero(metric, name):
    assert MEASURES[metric](DEGENERATE[name]) == 0.0


@pytest.mark.parametrize("metric", sorted(MEASURES))
@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4, 3), np.uint8),
        np.zeros(10, np.uint8),
        np.zeros((0, 5), np.uint8),
        [[1, 2], [3, 4]],
    ],
)
def test_a_measure_rejects_anything_but_a_non_empty_2d_array(metric, bad):
    with pytest.raises(BadImageError, match="2-D|non-empty"):
        MEASURES[metric](bad)


@pytest.mark.parametrize(
    "metric, floor_per_variance",
    [("tenengrad", 24.0), ("laplacian", 20.0), ("brenner", 2.0), ("vollath_f4", 0.0)],
)
def test_white_noise_gives_the_documented_noise_floor(metric, floor_per_variance):
    sigma = 10.0
    noise = np.random.default_rng(11).normal(100, sigma, (400, 400)).astype(np.float32)
    tolerance = 0.03 * 24 * sigma**2  # 3% of the largest floor
    assert MEASURES[metric](noise) == pytest.approx(floor_per_variance * sigma**2, abs=tolerance)
