"""Samples: one decode per frame, scores on a pyramid, brightness correction, averaging."""

import cv2
import numpy as np
import pytest

from octoprint_autofocus.focus import score
from octoprint_autofocus.focus.checks import MIN_TEXTURE
from octoprint_autofocus.focus.sampling import MAX_LEVELS, MIN_LEVEL_SIDE, FrameScorer, relative_texture
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


# ----------------------------------------------------------------------------- stuck pixels

def _stuck(frame, seed=9, count=40):
    """``frame`` with ``count`` pixels stuck at full scale (a sensor's hot pixels)."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    out.reshape(-1)[rng.choice(out.size, count, replace=False)] = 255
    return out


def test_hot_pixels_add_nothing_to_the_score():
    frames = [_textured(gain=0.5, blur=blur, seed=i) for i, blur in enumerate((6.0, 0.0, 2.0))]
    plain = FrameScorer("tenengrad", None, 1)
    hot = FrameScorer("tenengrad", None, 1)
    for frame in frames:
        clean = plain.sample(0.0, [frame], "coarse")
        stuck = hot.sample(0.0, [_stuck(frame)], "coarse")
        assert score(_stuck(frame)) > 1.05 * score(frame)
        assert stuck.levels == pytest.approx(clean.levels, rel=0.005)
    assert score(_stuck(frames[0])) > 2 * score(frames[0])


def test_a_dimming_lamp_does_not_make_hot_pixels_outscore_focus():
    # the lamp dims away from focus: the far frame is dark, blurred and first; the scene
    # is soft even in focus
    scorer = FrameScorer("tenengrad", None, 1)
    far = scorer.sample(0.0, [_stuck(_textured(gain=0.3, blur=8.0))], "coarse")
    focus = scorer.sample(1.0, [_stuck(_textured(gain=0.6, blur=1.5, seed=1))], "coarse")
    assert focus.score > 2 * far.score


def test_a_full_scale_speck_is_scored_unless_it_was_at_full_scale_in_every_frame():
    scorer = FrameScorer("tenengrad", None, 1)
    scorer.sample(0.0, [_stuck(_textured(gain=0.5, seed=1), seed=4)], "coarse")
    specks = np.random.default_rng(5).choice(SIZE[0] * SIZE[1], 40, replace=False)
    reference = _textured(gain=0.5, seed=2)
    reference.reshape(-1)[specks] = 255
    later = _stuck(reference, seed=4)  # the same hot pixels, and new bright specks
    without_hot = FrameScorer("tenengrad", None, 1)
    without_hot.sample(0.0, [_textured(gain=0.5, seed=1)], "coarse")
    assert scorer.sample(1.0, [later], "coarse").score == pytest.approx(
        without_hot.sample(1.0, [reference], "coarse").score, rel=0.005)
    assert score(reference) > 1.05 * score(_textured(gain=0.5, seed=2))


def test_after_a_frame_without_stuck_pixels_none_are_looked_for():
    scorer = FrameScorer("normalized_variance", None, 1)  # no brightness correction
    scorer.sample(0.0, [_textured(gain=0.5, seed=1)], "coarse")
    hot = _stuck(_textured(gain=0.5, seed=2))
    assert scorer.sample(1.0, [hot], "coarse").score == pytest.approx(score(hot, metric="normalized_variance"))
    fresh = FrameScorer("normalized_variance", None, 1).sample(1.0, [hot], "coarse").score
    assert fresh < 0.99 * score(hot, metric="normalized_variance")


@pytest.mark.parametrize("median, stuck", [(191, True), (192, False)])
def test_a_full_scale_pixel_is_stuck_only_where_it_stands_a_quarter_of_the_scale_out(median, stuck):
    frame = np.full((120, 160), median, np.uint8)
    frame[::2, ::2] = 0  # a fine pattern for the score
    frame[1::4, 1::4] = 255
    frame[60, 80] = 255
    scorer = FrameScorer("tenengrad", None, 1)
    assert (scorer.sample(0.0, [frame], "coarse").score < score(frame)) == stuck


def test_a_glare_patch_is_scored_as_it_is_but_for_its_corners_and_a_float_frame_whole():
    frame = _textured(gain=0.5, seed=1)
    frame[100:120, 100:140] = 255  # along its edges the median is full scale too
    corners = (np.array([100, 100, 119, 119]), np.array([100, 139, 100, 139]))
    expected = frame.copy()
    expected[corners] = cv2.medianBlur(frame, 3)[corners]
    assert FrameScorer("tenengrad", None, 1).sample(0.0, [frame], "coarse").score == pytest.approx(score(expected))
    assert score(expected) != pytest.approx(score(frame))
    floats = _stuck(_textured(gain=0.5, seed=2)).astype(np.float32)
    assert FrameScorer("tenengrad", None, 1).sample(0.0, [floats], "coarse").score == pytest.approx(score(floats))


# ----------------------------------------------------------------------------- texture

def test_a_sloping_light_on_a_blank_field_is_no_texture():
    x = np.linspace(0.0, 1.0, SIZE[0], dtype=np.float32)
    ramp = np.tile(100.0 + 60.0 * x, (SIZE[1], 1))
    noisy = np.clip(ramp + np.random.default_rng(1).normal(0.0, 2.0, ramp.shape), 0, 255).astype(np.uint8)
    sample = FrameScorer("tenengrad", None, 1).sample(0.0, [noisy], "coarse")
    assert float(noisy.std()) / float(noisy.mean()) > 10 * MIN_TEXTURE
    assert sample.texture < 0.5 * MIN_TEXTURE


def test_texture_about_the_plane_keeps_a_scene_textured_under_sloping_light():
    frame = _textured(gain=0.6, seed=1).astype(np.float32)
    x = np.linspace(0.0, 1.0, SIZE[0], dtype=np.float32)
    lit = np.clip(frame + 80.0 * x, 0, 255).astype(np.uint8)
    flat = FrameScorer("tenengrad", None, 1).sample(0.0, [frame.astype(np.uint8)], "coarse")
    sloped = FrameScorer("tenengrad", None, 1).sample(0.0, [lit], "coarse")
    assert sloped.texture > 10 * MIN_TEXTURE
    assert sloped.texture * float(lit.mean()) == pytest.approx(flat.texture * float(frame.mean()), rel=0.1)


@pytest.mark.parametrize("side", [32, 80])
def test_the_noise_of_a_dim_blank_field_is_no_texture(side):
    rng = np.random.default_rng(side)
    for grey, sd in ((20.0, 1.0), (40.0, 3.0), (69.0, 2.5)):
        blank = np.clip(np.round(grey + rng.normal(0.0, sd, (side, side))), 0, 255).astype(np.uint8)
        assert float(blank.std()) / float(blank.mean()) > 3 * MIN_TEXTURE
        assert relative_texture(blank, float(blank.mean())) < 0.5 * MIN_TEXTURE


def test_a_noisy_faint_scene_keeps_about_the_texture_it_has_without_noise():
    scene = cv2.GaussianBlur(SCENES["texture"](5, (80, 60)).astype(np.float32), (0, 0), 1.5)
    faint = 100.0 + 0.1 * (scene - scene.mean())  # a few percent of contrast
    clean = relative_texture(faint, float(faint.mean()))
    noisy = np.clip(np.round(faint + np.random.default_rng(2).normal(0.0, 1.0, faint.shape)), 0, 255)
    assert clean > 2 * MIN_TEXTURE
    assert float(noisy.std()) / float(noisy.mean()) > 1.1 * clean  # the noise's share
    assert relative_texture(noisy.astype(np.uint8), float(noisy.mean())) == pytest.approx(clean, rel=0.1)


def test_a_black_frame_has_no_texture_and_a_dim_float_frame_has_its_own():
    assert relative_texture(np.zeros((30, 40), np.uint8), 0.0) == 0.0
    pattern = (np.indices((30, 40)) // 5).sum(axis=0) % 2  # a checkerboard of 5 px squares
    dim = (0.2 + 0.4 * pattern).astype(np.float32)  # a float frame in [0, 1]
    assert relative_texture(dim, float(dim.mean())) == pytest.approx(0.2 / 0.4, rel=0.01)
    assert relative_texture(dim - 1.0, float(dim.mean()) - 1.0) == 0.0  # no mean to divide by


# ----------------------------------------------------------------------------- the pyramid and the noise

@pytest.mark.parametrize("side, levels", [(64, 2), (62, 1), (1024, 4)])
def test_a_level_is_halved_while_it_keeps_32_px_a_side_and_four_levels_at_most(side, levels):
    frame = _textured(size=(side, side))
    assert len(FrameScorer("tenengrad", None, 1).sample(0.0, [frame], "coarse").levels) == levels


def test_each_level_halves_the_one_before():
    frame = _textured(size=(322, 242))  # odd halves on the way down
    half = cv2.resize(frame, (161, 121), interpolation=cv2.INTER_AREA)
    quarter = cv2.resize(half, (80, 60), interpolation=cv2.INTER_AREA)
    sample = FrameScorer("tenengrad", None, 1).sample(0.0, [frame], "coarse")
    assert sample.levels[2] == pytest.approx(score(quarter))


def test_after_one_frame_the_noise_floor_is_its_score_and_without_a_noise_share_it_is_zero():
    frame = _textured(seed=1)
    scorer = FrameScorer("tenengrad", None, 1)
    assert scorer.noise_floor() == 0.0
    scorer.sample(0.0, [frame], "coarse")
    assert scorer.noise_floor() == pytest.approx(score(frame))
    flat = FrameScorer("normalized_variance", None, 1)
    flat.sample(0.0, [frame], "coarse")
    flat.sample(1.0, [_textured(gain=0.5, seed=2)], "coarse")
    assert flat.noise_floor() == 0.0


def test_pure_noise_keeps_its_score_at_another_brightness():
    rng = np.random.default_rng(4)
    dim, bright = (np.clip(rng.normal(mean, 4.0, (240, 320)), 0, 255).astype(np.uint8) for mean in (60.0, 120.0))
    scorer = FrameScorer("tenengrad", None, 1)
    scorer.sample(0.0, [dim], "coarse")
    assert scorer.sample(1.0, [bright], "coarse").score == pytest.approx(score(bright), rel=0.05)


def test_a_black_frame_after_a_lit_one_scores_zero():
    scorer = FrameScorer("tenengrad", None, 1)
    scorer.sample(0.0, [_textured(seed=1)], "coarse")
    assert scorer.sample(1.0, [np.zeros((240, 320), np.uint8)], "coarse").score == 0.0


def test_a_black_first_frame_leaves_the_scores_of_the_lit_frames_as_they_would_be_without_it():
    frames = [_textured(blur=6.0), _textured(seed=1), _textured(1.2, seed=2)]
    plain, after_black = FrameScorer("tenengrad", None, 1), FrameScorer("tenengrad", None, 1)
    assert after_black.sample(0.0, [np.zeros((240, 320), np.uint8)], "coarse").score == 0.0
    for z, frame in enumerate(frames):
        expected = plain.sample(float(z), [frame], "coarse")
        assert after_black.sample(float(z), [frame], "coarse").levels == pytest.approx(expected.levels)
    assert after_black.noise_floor() == pytest.approx(plain.noise_floor())


def _board(low, high, size=(64, 64)):
    """A float frame of 8 px squares at ``low`` and ``high``: its mean is exactly their mean."""
    squares = (np.indices(size[::-1]) // 8).sum(axis=0) % 2
    return np.where(squares == 1, high, low).astype(np.float32)


def test_a_frame_eight_times_darker_is_corrected_and_a_darker_one_is_scored_as_it_is():
    scorer = FrameScorer("tenengrad", None, 1)
    scorer.sample(0.0, [_board(0.0, 16.0)], "coarse")  # the reference: mean 8
    darker = _board(0.0, 2.0)  # mean 1: eight times darker, corrected by 8 squared
    assert scorer.sample(1.0, [darker], "coarse").score == pytest.approx(64 * score(darker), rel=1e-6)
    dropout = _board(0.0, 1.98)  # a little darker still: a dropped frame, no exposure change
    assert scorer.sample(2.0, [dropout], "coarse").score == pytest.approx(score(dropout), rel=1e-6)
    assert scorer.floors[0] == pytest.approx(score(darker), rel=1e-6)  # the dropout set no floor


def test_a_frame_more_than_eight_times_brighter_becomes_the_reference():
    scorer = FrameScorer("tenengrad", None, 1)
    scorer.sample(0.0, [_board(0.0, 2.0)], "coarse")  # mean 1
    brighter = _board(0.0, 16.0)  # mean 8: corrected down by 8 squared
    assert scorer.sample(1.0, [brighter], "coarse").score == pytest.approx(score(brighter) / 64, rel=1e-6)
    lamp_on = _board(0.0, 16.02)  # a little brighter still: the new reference, scored as it is
    assert scorer.sample(2.0, [lamp_on], "coarse").score == pytest.approx(score(lamp_on), rel=1e-6)
    assert scorer.floors[0] == pytest.approx(score(lamp_on), rel=1e-6)  # the estimates began again
    assert scorer.sample(3.0, [brighter], "coarse").score == pytest.approx(
        score(brighter) * (8.01 / 8.0) ** 2, rel=1e-6)


def test_a_frame_is_dark_when_black_before_any_reference_or_eight_times_darker_than_it():
    scorer = FrameScorer("tenengrad", None, 1)
    below_one = np.zeros((64, 64), np.uint8)
    below_one[:, :63] = 1  # an 8-bit mean just under one grey level
    assert scorer.dark(below_one) and not scorer.dark(np.ones((64, 64), np.uint8))
    assert not scorer.dark(np.zeros((64, 64), np.float32))  # a float frame has no black level
    scorer.sample(0.0, [_board(0.0, 16.0)], "coarse")  # the reference: mean 8
    assert not scorer.dark(_board(0.0, 2.0)) and scorer.dark(_board(0.0, 1.98))


def test_a_frame_is_black_below_one_grey_level_whatever_the_reference():
    scorer = FrameScorer("tenengrad", None, 1)
    below_one = np.zeros((64, 64), np.uint8)
    below_one[:, :63] = 1
    assert scorer.black(below_one) and not scorer.black(np.ones((64, 64), np.uint8))
    assert not scorer.black(np.zeros((64, 64), np.float32))
    scorer.sample(0.0, [below_one], "coarse")  # a camera that only sends black frames
    assert scorer.reference_mean == pytest.approx(63 / 64)
    assert scorer.black(below_one) and not scorer.dark(below_one)  # no use taking it again


def test_a_frame_looked_at_for_darkness_is_decoded_once(monkeypatch):
    from octoprint_autofocus.focus import sampling
    decoded = []
    monkeypatch.setattr(sampling, "gray_roi", lambda frame, roi, scale: decoded.append(frame) or frame[:, :])
    scorer = FrameScorer("tenengrad", None, 1)
    first, second = _textured(seed=1), _textured(seed=2)
    for frame in (first, second):
        assert not scorer.dark(frame)
        scorer.sample(0.0, [frame], "coarse")
    assert [id(f) for f in decoded] == [id(first), id(second)]


def test_white_noise_of_variance_one_scores_the_tenengrad_floor_of_24():
    from octoprint_autofocus.focus.sampling import unit_noise_energy
    assert unit_noise_energy("tenengrad") == pytest.approx(24.0, rel=0.02)  # 2 x 12, the Sobel's sum of squares
    assert 0.0 <= unit_noise_energy("vollath_f4") < 0.005  # its autocorrelations cancel on white noise


def test_the_noise_variance_needs_three_pixels_a_side():
    from octoprint_autofocus.focus.sampling import noise_variance
    noisy = np.random.default_rng(5).normal(100.0, 4.0, (3, 40)).astype(np.float32)
    assert noise_variance(noisy[:2]) == 0.0
    assert 8.0 < noise_variance(noisy) < 40.0  # one row of responses: roughly 4 squared


def test_a_sample_cannot_be_changed():
    import dataclasses
    sample = FrameScorer("tenengrad", None, 1).sample(0.0, [_textured()], "coarse")
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.z = 1.0
