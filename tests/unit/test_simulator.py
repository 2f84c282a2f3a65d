"""The simulated microscope: determinism, optics, stage, camera, clock and scenes."""

import cv2
import numpy as np
import pytest

from octoprint_autofocus.focus.errors import CameraError, CameraStalled, MoveRefused, StageError
from octoprint_autofocus.simulator import SCENES, make_rig, render

SIZE = (160, 120)
DOF = 0.05
TEXTURED = ("pcb", "texture", "text", "grid", "fibers", "cells")


def laplacian_variance(image: np.ndarray) -> float:
    return float(cv2.Laplacian(image.astype(np.float32), cv2.CV_32F).var())


def gradient_energy(image: np.ndarray) -> float:
    image = image.astype(np.float32)
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1)
    return float((gx * gx + gy * gy).mean())


def clean(scene: str, defocus: float, **options) -> np.ndarray:
    """A noise-free frame of ``scene`` at ``defocus`` mm."""
    image = SCENES[scene](3, (320, 240))
    return render(image, defocus, DOF, np.random.default_rng(0), noise=0.0, **options)


# ~ determinism


def test_the_same_arguments_give_identical_frames():
    frames = [make_rig(scene="texture", seed=7, size=SIZE, flicker=0.05).camera.frame() for _ in range(2)]
    assert np.array_equal(frames[0], frames[1])


def test_another_seed_gives_another_scene_and_noise():
    a = make_rig(scene="texture", seed=7, size=SIZE).camera.frame()
    b = make_rig(scene="texture", seed=8, size=SIZE).camera.frame()
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("name", sorted(SCENES))
def test_every_scene_is_a_seeded_gray_image_of_the_asked_size(name):
    image = SCENES[name](5, (200, 90))
    assert image.shape == (90, 200) and image.dtype == np.uint8
    assert np.array_equal(image, SCENES[name](5, (200, 90)))


def test_an_unknown_scene_is_rejected_with_the_valid_names():
    with pytest.raises(ValueError, match="pcb"):
        make_rig(scene="moon")


# ~ optics


@pytest.mark.parametrize("scene", TEXTURED)
@pytest.mark.parametrize("sign", (1, -1))
def test_blur_grows_with_defocus_on_either_side(scene, sign):
    scores = [laplacian_variance(clean(scene, sign * dz)) for dz in (0.0, 0.02, 0.04, 0.08, 0.2, 1.0, 4.0)]
    assert all(a > b for a, b in zip(scores, scores[1:])), scores


@pytest.mark.parametrize("scene", ("pcb", "texture", "text"))
def test_half_a_depth_of_field_is_nearly_as_sharp_as_focus_and_three_are_not(scene):
    focused = gradient_energy(clean(scene, 0.0))
    assert gradient_energy(clean(scene, DOF / 2)) > 0.5 * focused
    assert gradient_energy(clean(scene, 3 * DOF)) < 0.15 * focused


def test_asymmetric_optics_blur_more_above_focus_than_below():
    above = laplacian_variance(clean("pcb", 2 * DOF, asymmetry=0.2))
    below = laplacian_variance(clean("pcb", -2 * DOF, asymmetry=0.2))
    assert above < below


def test_blur_keeps_the_mean_brightness_even_far_from_focus():
    scene = SCENES["cells"](3, (320, 240))
    for defocus in (0.1, 1.0, 5.0):
        assert abs(float(clean("cells", defocus).mean()) - float(scene.mean())) < 2.0


# ~ sensor


def test_flat_scene_without_noise_has_no_variance_and_noise_adds_it():
    rig_quiet = make_rig(scene="flat", size=SIZE, noise=0.0)
    rig_noisy = make_rig(scene="flat", size=SIZE, noise=0.02)
    assert float(rig_quiet.camera.frame().std()) == 0.0
    assert 0.01 * 255 < float(rig_noisy.camera.frame().std()) < 0.03 * 255


def test_shot_noise_is_stronger_on_bright_areas():
    image = np.zeros((100, 100), np.uint8)
    image[:, 50:] = 220
    frame = render(image, 0.0, DOF, np.random.default_rng(1), noise=0.0, shot_noise=0.03)
    assert frame[:, 60:].std() > 3 * frame[:, :40].std()


def test_flicker_changes_brightness_from_frame_to_frame():
    def mean_spread(flicker: float) -> float:
        camera = make_rig(scene="flat", size=SIZE, flicker=flicker).camera
        return float(np.std([camera.frame().mean() for _ in range(8)]))

    assert mean_spread(0.05) > 5 * mean_spread(0.0)


def test_jpeg_mode_returns_decodable_bytes_of_the_frame_size():
    data = make_rig(size=SIZE, jpeg_quality=80).camera.frame()
    assert isinstance(data, bytes)
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED).shape == (120, 160)


def test_colour_mode_returns_bgr_frames():
    frame = make_rig(size=SIZE, colour=True).camera.frame()
    assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8


# ~ stage


def test_approach_from_below_lands_lower_by_the_backlash():
    rig = make_rig(size=SIZE, backlash=0.02, start_z=5.0)
    rig.stage.move_to(3.0)
    rig.stage.move_to(4.0)
    from_below = rig.stage.actual_z
    rig.stage.move_to(5.0)
    rig.stage.move_to(4.0)
    assert rig.stage.position() == 4.0
    assert rig.stage.actual_z - from_below == pytest.approx(0.02)


def test_a_reversal_inside_the_backlash_does_not_move_the_optics():
    rig = make_rig(size=SIZE, backlash=0.05, start_z=5.0)
    rig.stage.move_to(4.0)
    rig.stage.move_to(4.03)
    assert rig.stage.actual_z == pytest.approx(4.0)


@pytest.mark.parametrize("target", (-0.1, 10.5))
def test_a_move_outside_the_limits_is_refused_recorded_and_not_clipped(target):
    rig = make_rig(size=SIZE, z_limits=(0.0, 10.0), start_z=5.0)
    with pytest.raises(MoveRefused):
        rig.stage.move_to(target)
    assert rig.stage.violations == [target]
    assert rig.stage.position() == 5.0 and rig.stage.actual_z == 5.0
    assert rig.stage.moves == 0 and rig.clock.now() == 0.0


def test_the_stage_counts_moves_commands_and_travel():
    rig = make_rig(size=SIZE, start_z=5.0)
    for z in (4.0, 4.5, 6.0):
        rig.stage.move_to(z)
    assert rig.stage.commanded == [4.0, 4.5, 6.0]
    assert rig.stage.moves == 3
    assert rig.stage.travel == pytest.approx(3.0)


def test_a_move_advances_the_clock_by_overhead_distance_over_speed_and_settle():
    rig = make_rig(size=SIZE, start_z=5.0, speed=4.0, move_overhead=0.1, settle=0.2)
    rig.stage.move_to(3.0)
    assert rig.clock.now() == pytest.approx(0.1 + 2.0 / 4.0 + 0.2)


def test_a_failing_stage_raises_after_its_good_moves_and_stays_put():
    rig = make_rig(size=SIZE, start_z=5.0, stage_fail_after=2)
    rig.stage.move_to(4.0)
    rig.stage.move_to(4.5)
    for _ in range(2):
        with pytest.raises(StageError):
            rig.stage.move_to(6.0)
    assert rig.stage.position() == 4.5


# ~ camera and clock


def test_a_frame_waits_for_the_next_frame_start_then_the_latency():
    rig = make_rig(size=SIZE, fps=10.0, latency=0.03)
    rig.clock.sleep(0.01)
    rig.camera.frame()
    assert rig.clock.now() == pytest.approx(0.1 + 0.03)
    rig.camera.frame()
    assert rig.clock.now() == pytest.approx(0.2 + 0.03)
    assert rig.camera.frames == 2


def test_the_camera_sees_the_optics_where_the_stage_really_is():
    rig = make_rig(size=SIZE, noise=0.0, focal_z=4.0, start_z=5.0, backlash=0.2)
    far = laplacian_variance(rig.camera.frame())
    rig.stage.move_to(4.0)
    focused = laplacian_variance(rig.camera.frame())
    rig.stage.move_to(3.0)
    rig.stage.move_to(4.0)
    lagging = laplacian_variance(rig.camera.frame())
    assert rig.optical_error() == pytest.approx(0.2)
    assert focused > lagging > far


def test_a_stalled_camera_costs_its_timeout_and_raises_camera_stalled():
    rig = make_rig(size=SIZE, stall_after=1)
    rig.camera.frame()
    before = rig.clock.now()
    with pytest.raises(CameraStalled):
        rig.camera.frame()
    assert rig.clock.now() - before == pytest.approx(rig.camera.stall_timeout)


def test_a_failing_camera_raises_camera_error_after_its_good_frames():
    rig = make_rig(size=SIZE, camera_fail_after=2)
    rig.camera.frame()
    rig.camera.frame()
    with pytest.raises(CameraError) as caught:
        rig.camera.frame()
    assert not isinstance(caught.value, CameraStalled)
    assert rig.camera.frames == 2


# ~ scene characters


def scene_image(name: str) -> np.ndarray:
    return SCENES[name](2, (320, 240))


def test_the_flat_scene_has_no_variance():
    assert float(scene_image("flat").std()) == 0.0


def test_the_stars_are_a_few_bright_points_on_a_dark_background():
    image = scene_image("stars")
    assert np.mean(image < 30) > 0.97
    assert image.max() > 80


def test_the_sparse_scene_has_far_less_texture_than_the_others_but_some():
    sparse = gradient_energy(scene_image("sparse"))
    assert 0 < sparse < 0.1 * min(gradient_energy(scene_image(name)) for name in TEXTURED)


def test_cells_and_text_are_dark_marks_on_a_bright_background():
    for name in ("cells", "text"):
        image = scene_image(name)
        assert np.median(image) > 150 and image.min() < np.median(image) - 60


def test_the_grid_repeats_at_its_pitch():
    image = scene_image("grid").astype(np.float32)
    row = image.mean(axis=0) - image.mean()
    spectrum = np.abs(np.fft.rfft(row))
    assert spectrum[1:].max() > 10 * np.median(spectrum[1:])


def test_the_pcb_has_bright_copper_on_a_dark_substrate():
    image = scene_image("pcb")
    assert np.median(image) < 90 and np.percentile(image, 99) > 170


# ~ nuisances


def test_the_optics_glide_between_positions_during_a_move():
    rig = make_rig(size=SIZE, start_z=5.0, speed=2.0, move_overhead=0.1)
    rig.stage.move_to(4.0)
    assert rig.stage.actual_z_at(0.05) == 5.0
    assert 4.0 < rig.stage.actual_z_at(0.35) < 5.0
    assert rig.stage.actual_z_at(rig.clock.now()) == 4.0


def test_a_lagging_camera_shows_the_old_position_right_after_a_move():
    def sharpness_after_move(lag: float) -> float:
        rig = make_rig(size=SIZE, noise=0.0, focal_z=4.0, start_z=5.0, lag=lag)
        rig.stage.move_to(4.0)
        return laplacian_variance(rig.camera.frame())

    assert sharpness_after_move(0.0) > 10 * sharpness_after_move(0.5)


def test_a_head_mounted_light_dims_as_the_head_rises():
    image = SCENES["texture"](3, (160, 120))
    means = [
        float(render(image, dz, DOF, np.random.default_rng(0), noise=0.0, light_distance=20.0).mean())
        for dz in (-1.0, 0.0, 1.0)
    ]
    assert means[0] > means[1] > means[2]


def test_on_a_tilted_sample_the_left_and_right_halves_focus_at_different_z():
    image = SCENES["texture"](3, (320, 240))
    defocus = np.linspace(-0.1, 0.1, 21)
    frames = [render(image, dz, DOF, np.random.default_rng(0), noise=0.0, tilt=0.1) for dz in defocus]
    best_left = defocus[np.argmax([laplacian_variance(f[:, :80]) for f in frames])]
    best_right = defocus[np.argmax([laplacian_variance(f[:, 240:]) for f in frames])]
    assert best_left > 0.02 and best_right < -0.02


def test_hot_pixels_stay_bright_and_in_place_however_blurred():
    image = np.full((120, 160), 60, np.uint8)
    frames = [
        render(image, dz, DOF, np.random.default_rng(i), noise=0.0, hot_pixels=0.001)
        for i, dz in enumerate((0.0, 2.0))
    ]
    hot = [frame == 255 for frame in frames]
    assert 0 < hot[0].sum() < 0.01 * image.size
    assert np.array_equal(hot[0], hot[1])
