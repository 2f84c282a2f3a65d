"""Samples: one decode per frame, scores on a pyramid, brightness correction, averaging."""

import cv2
import numpy as np
import pytest

from octoprint_autofocus.focus import score
from octoprint_autofocus.focus.sampling import MAX_LEVELS, MIN_LEVEL_SIDE, FrameScorer
from octoprint_autofocus.simulator import SCENES

SIZE = (320, 240)


def _textured(gain=1.0, blur=0.0, seed=0, size=SIZE, scene="texture"):
    """A textured frame at ``gain`` brightness, optionally blurred, with light noise."""
    rng = np.random.default_rng(seed)
    image = SCENES[scene](5, size).astype(np.float32)
    if blur:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    noisy = image * gain + rng.normal(0.0, 2.0, image.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def test_flickering_brightness_barely_moves_the_corrected_score_of_a_sharp_frame():
    corrected = []
    for gain in (1.0, 1.2):
        scorer = FrameScorer("tenengrad", None, 1)
        scorer.sample(0.0, [_textured(blur=6.0)], "coarse")  # far from focus: the floor
        corrected.append(scorer.sample(1.0, [_textured(gain, seed=1)], "coarse").score)
    raw_ratio = score(_textured(1.2, seed=1)) / score(_textured(1.0, seed=1))
    assert raw_ratio > 1.3
    assert abs(corrected[1] / corrected[0] - 1.0) < 0.05


def test_metrics_that_do_not_scale_with_gain_are_left_alone():
    scorer = FrameScorer("normalized_variance", None, 1)
    scorer.sample(0.0, [_textured()], "coarse")
    brighter = _textured(1.2, seed=1)
    assert scorer.sample(1.0, [brighter], "coarse").score == pytest.approx(
        score(brighter, metric="normalized_variance"))


def test_every_level_of_the_pyramid_scores_a_sharp_frame_above_a_blurred_one():
    scorer = FrameScorer("tenengrad", None, 1)
    sharp = scorer.sample(0.0, [_textured()], "coarse")
    blurred = scorer.sample(1.0, [_textured(blur=4.0)], "coarse")
    assert len(sharp.levels) >= 3
    assert all(s > b for s, b in zip(sharp.levels, blurred.levels))
    assert sharp.texture > blurred.texture > 0


@pytest.mark.parametrize("size, levels", [((640, 480), MAX_LEVELS), ((320, 240), 3), ((100, 80), 2),
                                          ((60, 60), 1)])
def test_the_pyramid_stops_before_a_level_gets_smaller_than_the_minimum_side(size, levels):
    sample = FrameScorer("tenengrad", None, 1).sample(0.0, [_textured(size=size)], "coarse")
    assert len(sample.levels) == levels
    assert levels == 1 or min(size) // 2 ** (levels - 1) >= MIN_LEVEL_SIDE


def test_the_full_resolution_level_is_the_plain_score_of_the_roi():
    frame = _textured()
    roi = (40, 30, 160, 120)
    sample = FrameScorer("tenengrad", roi, 1).sample(2.0, [frame], "fine")
    assert sample.score == pytest.approx(score(frame, roi=roi))
    assert (sample.z, sample.phase) == (2.0, "fine")


def test_frames_at_one_position_are_averaged():
    frames = [_textured(seed=1), _textured(blur=1.0, seed=2)]
    scorer = FrameScorer("normalized_variance", None, 1)  # no brightness correction
    both = scorer.sample(0.0, frames, "coarse")
    singles = [FrameScorer("normalized_variance", None, 1).sample(0.0, [f], "coarse").score
               for f in frames]
    assert both.score == pytest.approx(np.mean(singles))


def test_a_featureless_frame_has_almost_no_texture():
    flat = np.full((240, 320), 128, np.uint8)
    sample = FrameScorer("tenengrad", None, 1).sample(0.0, [flat], "coarse")
    assert sample.texture == pytest.approx(0.0, abs=1e-9)
    assert sample.score == 0.0


def test_the_noise_variance_of_a_textured_frame_is_its_sensor_noise():
    from octoprint_autofocus.focus.sampling import noise_variance
    rng = np.random.default_rng(3)
    image = cv2.GaussianBlur(SCENES["texture"](5, SIZE).astype(np.float32), (0, 0), 1.5)
    noisy = np.clip(image + rng.normal(0.0, 4.0, image.shape), 0, 255).astype(np.uint8)
    assert noise_variance(noisy) == pytest.approx(16.0, rel=0.3)


def test_flicker_is_corrected_near_focus_even_when_no_frame_was_far_from_it():
    # low-contrast cells under a flickering lamp, every frame in focus (a narrow window)
    frames = [_textured(gain, seed=i, scene="cells") for i, gain in enumerate((0.8, 0.9, 0.7, 0.85))]
    scorer = FrameScorer("tenengrad", None, 1)
    scores = [scorer.sample(0.0, [f], "coarse").score for f in frames]
    raw = [score(f) for f in frames]
    assert np.std(raw) / np.mean(raw) > 0.1
    assert np.std(scores) / np.mean(scores) < 0.2 * np.std(raw) / np.mean(raw)
