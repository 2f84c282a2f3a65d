"""PeakVerdict: the evidence behind a peak, on hand-made samples. Written for the mutation
pass of verdict.py; the search tests (test_search.py) drive the same code through whole
runs. The frames are scripted: a sample taken at Z scores ``curve(Z)``."""

import dataclasses
import math
import warnings

import numpy as np
import pytest

from octoprint_autofocus.focus.checks import RELOOK_DROP
from octoprint_autofocus.focus.noise import t_quantile
from octoprint_autofocus.focus.options import parse_options
from octoprint_autofocus.focus.run_state import AtEdge, SearchFailed
from octoprint_autofocus.focus.sampling import Sample
from octoprint_autofocus.focus.verdict import DARK_SHARE, RESCAN_POINTS, STALE_AFTER, PeakVerdict
from tests.fakes import FakeStage


class Scripted(PeakVerdict):
    """A PeakVerdict whose measurements move the stage and score ``curve(z)``."""

    def __init__(self, curve, samples=(), window=(1.0, 5.0), limits=(0.0, 6.0), start=3.0, **options):
        options.setdefault("sleep", lambda s: None)
        options.setdefault("coarse_points", 9)  # the scripted cases are drawn on a 0.5 mm grid
        super().__init__(FakeStage(limits=limits, start=start), None, window, limits, None,
                         "tenengrad", parse_options(options))
        self.curve = curve
        self.samples.extend(Sample(z, (s,), 1.0, phase) for z, s, phase in samples)
        self.looks.extend(self.samples)

    def _measure(self, z, phase):
        self.motion.arrive(z)
        sample = Sample(self.motion.position, (self.curve(z),), 1.0, phase)
        self.samples.append(sample)
        self.looks.append(sample)
        return sample


def coarse(zs, scores):
    return [(z, s, "coarse") for z, s in zip(zs, scores)]


# ~~ weak ends


def test_a_blurred_bump_whose_ends_lie_in_the_tails_and_fall_outwards_passes():
    run = Scripted(None, coarse([1.0, 2.0, 3.0, 4.0, 5.0], [0.2, 0.5, 1.0, 0.6, 0.3]))
    run._check_weak_ends()  # the upper end (0.3) is below the tail line 0.2 + 0.25 * 0.8
    rising = Scripted(None, coarse([1.0, 2.0, 3.0, 4.0, 5.0], [0.2, 0.5, 1.0, 0.6, 0.45]))
    with pytest.raises(AtEdge) as raised:
        rising._check_weak_ends()  # 0.45: not in the tails yet
    assert raised.value.below is False


# ~~ pinning


@pytest.mark.parametrize("approach", ["above", "below"])
def test_pinning_leaves_the_stage_at_the_peak_after_taking_a_flank(approach):
    curve = lambda z: 10.0 / (1.0 + ((z - 3.0) / 0.3) ** 2)  # noqa: E731
    zs = [1.0, 2.0, 3.0, 4.0, 5.0]
    run = Scripted(curve, coarse(zs, [curve(z) for z in zs]), tolerance=0.1, approach=approach)
    taken = len(run.samples)
    assert run._pinned(3.0)
    assert len(run.samples) > taken  # flanks were taken 0.15 from the peak
    assert run.motion.position == 3.0


def test_taking_flanks_says_whether_it_took_any():
    curve = lambda z: 10.0 / (1.0 + ((z - 3.0) / 0.3) ** 2)  # noqa: E731
    zs = [1.0, 2.0, 2.85, 3.0, 3.15, 4.0, 5.0]  # lower points 1.5 tolerances either side
    run = Scripted(curve, coarse(zs, [curve(z) for z in zs]), tolerance=0.1)
    assert run._take_flanks(3.0) is False and len(run.samples) == len(zs)
    bare = Scripted(curve, coarse(zs[:2] + zs[3:4] + zs[5:], [curve(z) for z in zs[:2] + zs[3:4] + zs[5:]]),
                    tolerance=0.1)
    assert bare._take_flanks(3.0) is True


def test_a_peak_on_a_bound_has_no_reach_on_that_side():
    run = Scripted(None, coarse([4.0, 5.0, 6.0], [1.0, 2.0, 3.0]), limits=(0.0, 6.0), window=(1.0, 5.0),
                   tolerance=0.1)
    assert run.bounds[1] == 6.0
    below, above = run._pin_reaches(6.0)
    assert above is None and below == pytest.approx((0.1, 0.25))


# ~~ settling on the sharper sample


def lopsided(z):
    """A peak at Z3.1 that falls five times faster above it than below."""
    width = 0.5 if z < 3.1 else 0.1
    return 1.0 + 10.0 / (1.0 + ((z - 3.1) / width) ** 2)


def settling(at_z, sharper, peak=2.9, beside=3.1, **options):
    """A run whose fit settled at ``peak`` (frames ``at_z``) next to a sample at ``beside``
    (frames ``sharper``)."""
    frames = {peak: iter(at_z), beside: iter(sharper)}
    curve = lambda z: next(frames[z]) if z in frames else lopsided(z)  # noqa: E731
    zs = [1.0, 2.0, 2.5, 4.0, 5.0]
    samples = coarse(zs, [lopsided(z) for z in zs]) + [(beside, next(frames[beside]), "fine"),
                                                        (peak, next(frames[peak]), "verify")]
    options.setdefault("tolerance", 0.1)
    return Scripted(curve, samples, **options)


def test_a_sample_on_the_steep_side_scoring_clearly_higher_is_where_the_run_settles():
    run = settling(iter(lambda: lopsided(2.9), None), iter(lambda: lopsided(3.1), None))
    assert run._settled(2.9) == 3.1
    assert run.motion.position == 3.1 and run.verify_score == pytest.approx(11.0)
    assert any(s.z > 3.1 for s in run.samples[7:])  # pinned: a flank taken above it


def test_a_sharper_sample_that_cannot_be_pinned_asks_for_more_refinement():
    run = settling(iter(lambda: lopsided(2.9), None), iter(lambda: lopsided(3.1), None))
    run.curve = lambda z: 12.0 if z > 3.1 else lopsided(z)  # the flank above it scores higher
    assert run._settled(2.9) is None


@pytest.mark.parametrize("excess, settles_at, repeats", [(0.5, 3.1, True), (0.4999, 2.9, False)])
def test_a_sample_higher_by_less_than_its_share_of_the_height_is_within_the_top(excess, settles_at,
                                                                                repeats):
    frames = {2.9: 11.0, 3.1: 11.0 + excess}  # the frame at Z2.9 stands 10 over the floor 1.0
    samples = coarse([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 4.0, 2.0, 1.5])
    samples += [(3.1, frames[3.1], "fine"), (2.9, 11.0, "verify")]
    run = Scripted(lambda z: frames.get(z, 0.5), samples, tolerance=0.1)
    assert run._settled(2.9) == settles_at
    assert (len(run.samples) > 7) is repeats


def test_a_higher_sample_within_the_noise_leaves_the_run_at_its_peak():
    run = settling([9.0, 10.4, 9.1, 10.5], [10.4, 9.2, 10.3, 9.0])  # noisy frames at both Zs
    run.verify_score = 9.0
    assert run._settled(2.9) == 2.9
    assert run.verify_score == 9.0  # the frames repeated at Z3.1 are not the peak's
    assert run.motion.position == 2.9
    assert {s.z for s in run.samples[7:]} == {2.9, 3.1}  # the repeats asked at both


@pytest.mark.parametrize("peak, beside", [(2.9, 3.1), (3.1, 2.9)])
def test_a_sharper_sample_whose_repeat_falls_back_costs_one_frame(peak, beside):
    run = settling([10.0] * 9, [10.6, 10.0, 10.0], peak, beside)  # 0.6 over 10: 5% of 9 is less
    assert run._settled(peak) == peak
    assert [s.z for s in run.samples[7:]] == [beside] and run.motion.position == peak


def test_settling_on_a_sharper_sample_makes_its_last_frame_the_verify_score():
    later = iter([11.05 + 0.02 * i for i in range(9)])
    samples = coarse([1.0, 2.0, 2.5, 4.0, 5.0], [1.0, 2.0, 4.0, 2.0, 1.5])
    samples += [(3.1, 10.9, "fine"), (3.1, 11.1, "fine"), (3.1, 11.0, "fine"), (2.9, 9.0, "verify")]
    run = Scripted(lambda z: 9.0 if z == 2.9 else next(later) if z == 3.1 else 0.5, samples,
                   tolerance=0.1)
    assert run._settled(2.9) == 3.1
    assert run.verify_score == run._scores_at(3.1)[-1]


def test_a_high_frame_at_the_peak_itself_is_no_sharper_sample():
    samples = coarse([1.0, 2.0, 2.5, 4.0, 5.0], [1.0, 2.0, 4.0, 2.0, 1.5])
    samples += [(2.9, 11.5, "fine"), (3.1, 11.0, "fine"), (2.9, 9.0, "verify")]  # 10.25 at Z2.9
    run = Scripted(lambda z: {2.9: 10.25, 3.1: 11.0}.get(z, 0.5), samples, tolerance=0.1)
    run._sharper_near(2.9)
    assert any(s.z == 3.1 for s in run.samples[8:])  # Z3.1 leads 10.25 by 0.75: asked again


def test_frames_from_the_first_sample_on_count_for_the_lead():
    samples = [(2.9, 12.5, "coarse")] + coarse([1.0, 2.0, 2.5, 4.0, 5.0], [1.0, 2.0, 4.0, 2.0, 1.5])
    samples += [(3.1, 11.0, "fine"), (2.9, 9.0, "verify")]  # 10.75 at Z2.9: 11.0 leads too little
    run = Scripted(lambda z: 11.0, samples, tolerance=0.1)
    assert run._sharper_near(2.9) is None and len(run.samples) == 8


@pytest.mark.parametrize("tolerance, found", [(0.1, 3.0), (0.0999, None)])
def test_a_sample_exactly_at_the_pin_reach_can_be_sharper(tolerance, found):
    samples = coarse([1.0, 2.0, 2.5, 4.0, 5.0], [1.0, 2.0, 4.0, 2.0, 1.5])
    samples += [(3.0, 11.0, "fine"), (2.75, 9.0, "verify")]  # 0.25 apart: 2.5 tolerances of 0.1
    run = Scripted(lambda z: {2.75: 9.0, 3.0: 11.0}.get(z, 0.5), samples, tolerance=tolerance)
    assert run._sharper_near(2.75) == found


@pytest.mark.parametrize("floor, settles_at", [(7.0, 2.9), (5.0, 3.1)])
def test_a_blurred_best_stays_at_its_peak_without_spending_frames(floor, settles_at):
    frames = {2.9: 10.0, 3.1: 11.0}
    samples = coarse([1.0, 2.0, 2.5, 4.0, 5.0], [floor, 8.0, 9.0, 8.0, 8.0])
    samples += [(3.1, 11.0, "fine"), (2.9, 10.0, "verify")]
    run = Scripted(lambda z: frames.get(z, 6.0), samples, tolerance=0.1)
    assert run._weak() is (floor == 7.0)  # 11 over 7 varies by 36%, over 5 by 55%
    assert run._settled(2.9) == settles_at
    assert (len(run.samples) == 7) is run._weak()


def test_only_samples_within_the_pin_reach_can_be_sharper():
    run = settling(iter(lambda: lopsided(2.9), None), iter(lambda: lopsided(3.1), None), tolerance=0.07)
    assert run._sharper_near(2.9) is None and len(run.samples) == 7  # 0.2 away, reach 0.175


# ~~ the peak and the others


def test_the_noise_reference_is_the_first_set_of_three_coarse_points_off_the_peak():
    samples = coarse([1.0, 2.0, 3.2, 4.0, 5.0], [1.0, 2.0, 7.0, 2.5, 1.5]) + [
        (2.9, 8.0, "fine"), (3.0, 9.0, "fine"), (3.1, 8.5, "fine"), (3.3, 6.0, "fine")]
    run = Scripted(None, samples, tolerance=0.1)  # off the peak: beyond 0.25 of Z3.0
    at_z, others, _ = run._peak_and_others(3.0)
    assert at_z == [9.0]
    assert sorted(others.tolist()) == [1.0, 1.5, 2.0, 2.5]  # coarse and off the peak


def test_without_three_coarse_points_off_the_peak_all_points_off_it_serve():
    samples = coarse([1.0, 5.0], [1.0, 1.5]) + [
        (2.0, 3.0, "fine"), (3.0, 9.0, "fine"), (3.1, 8.5, "fine"), (4.5, 2.0, "fine")]
    run = Scripted(None, samples, tolerance=0.1)
    _, others, _ = run._peak_and_others(3.0)
    assert sorted(others.tolist()) == [1.0, 1.5, 2.0, 3.0]


def test_near_the_peak_points_on_both_sides_of_it_count_as_apart():
    samples = [(2.9, 8.0, "fine"), (3.0, 9.0, "fine"), (3.1, 8.5, "fine"), (3.2, 7.0, "fine")]
    run = Scripted(None, samples, tolerance=1.0)  # nothing off the peak: the points apart from it
    _, others, _ = run._peak_and_others(3.0)
    assert sorted(others.tolist()) == [7.0, 8.0, 8.5]


# ~~ the bracket check's repeated frames


@pytest.mark.parametrize("scores, low_z", [
    ([8.8, 8.85, 9.0, 8.0, 8.5], 1.0),  # below Z3, 8.8 is lower only by the t-test of repeats
    ([8.5, 8.0, 9.0, 8.85, 8.8], 5.0),  # the same above
])
def test_frames_repeated_at_the_peak_are_its_verify_score_and_the_stage_ends_there(scores, low_z):
    peak_frames = iter([9.02, 8.98, 9.01, 8.99, 9.0, 9.02])
    run = Scripted(lambda z: next(peak_frames) if z == 3.0 else 8.8,
                   coarse([1.0, 2.0, 3.0, 4.0, 5.0], scores), tolerance=0.1)
    run.motion.arrive(3.0)
    run._check_bracketed(3.0)
    repeated = run.samples[5:]
    assert {s.z for s in repeated} == {low_z, 3.0}
    assert run.verify_score == [s.score for s in repeated if s.z == 3.0][-1]
    assert run.motion.position == 3.0  # back at the peak after frames at the lower sample


# ~~ exploring the window


def test_exploring_skips_grid_points_already_sampled_within_half_a_spacing():
    zs = [1.0 + 0.5 * i + 1e-6 for i in range(9)]  # every grid point, a hair off
    run = Scripted(lambda z: 1.0, coarse(zs, [1.0 + 0.1 * i for i in range(9)]))
    assert run._explore() is False and len(run.samples) == 9


def test_a_clear_peak_needs_no_repeated_frames_for_the_noise_test():
    curve = lambda z: 0.1 + 10.0 / (1.0 + ((z - 3.0) / 0.3) ** 2)  # noqa: E731
    zs = [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]
    run = Scripted(curve, coarse(zs, [curve(z) for z in zs]))
    run._check_noise(3.0)
    assert len(run.samples) == len(zs)
    run.guessed = True  # a poor fit's best sample: always tested with repeated frames
    run._check_noise(3.0)
    assert [s.phase for s in run.samples[len(zs):]] == ["verify"]


# ~~ gates at their thresholds


def test_texture_of_exactly_the_minimum_anywhere_is_enough():
    run = Scripted(None, coarse([1.0, 2.0], [1.0, 2.0]))
    run.samples[0] = Sample(1.0, (1.0,), 0.0, "coarse")
    run.samples[1] = Sample(2.0, (2.0,), 0.01, "coarse")  # MIN_TEXTURE at the best sample
    assert run._texture_failure() is None
    run.samples[1] = Sample(2.0, (2.0,), 0.0099, "coarse")
    failure = run._texture_failure()
    assert failure.reason == "low_texture" and str(failure).startswith("relative contrast 0.0099 at most")
    run.samples[0] = Sample(1.0, (1.0,), 0.01, "coarse")  # a sample below the best shows detail
    assert run._texture_failure() is None


@pytest.mark.parametrize("per_sample, dark_frames, dark_streak, dark", [
    (1, 1, 0, False), (1, 2, 0, True), (1, 1, 1, True),  # half the frames, or the last one
    (2, 3, 1, False), (2, 4, 0, True), (2, 2, 2, True),  # the last sample: both of its frames
    (1, 3, 0, True), (2, 3, 3, True),  # more than half; the last sample and a frame before it
])
def test_a_camera_is_dark_from_half_the_frames_scored_or_the_last_sample(per_sample, dark_frames,
                                                                         dark_streak, dark):
    assert DARK_SHARE == 0.5
    run = Scripted(None, coarse([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 2.0]), frames_per_position=per_sample)
    run.dark_frames, run.dark_streak, run.retakes = dark_frames, dark_streak, 2 * dark_frames
    failure = run._dark_failure()
    assert (failure is not None) is dark
    if dark:
        assert failure.reason == "camera_dark"
        assert str(failure).startswith(f"{dark_frames} of the {4 * per_sample} frames scored were dark")


def test_a_run_without_samples_is_no_dark_camera():
    run = Scripted(None)
    run.dark_streak = 1
    assert run._dark_failure() is None


def test_a_best_exactly_twice_the_lowest_is_not_weak_and_a_tenth_is_not_faint():
    assert not Scripted(None, coarse([1.0, 2.0], [1.0, 2.0]))._weak()
    assert Scripted(None, coarse([1.0, 2.0], [1.01, 2.0]))._weak()
    assert not Scripted(None, coarse([1.0, 2.0], [9.0, 10.0]))._faint()
    assert Scripted(None, coarse([1.0, 2.0], [9.01, 10.0]))._faint()


def test_frames_repeated_at_one_z_count_as_their_mean_for_the_weak_test():
    run = Scripted(None, coarse([1.0, 2.0, 2.0], [1.0, 1.4, 2.4]))
    assert run._weak()  # 1.9 over 1.0; one bright frame (2.4) would make it sharp
    assert not Scripted(None, coarse([1.0, 2.0, 2.0], [1.0, 1.5, 2.5]))._weak()  # 2.0: exactly twice


def test_the_half_resolution_must_vary_too():
    run = Scripted(None)
    run.samples.extend([Sample(1.0, (1.0, 5.0), 1.0, "coarse"), Sample(2.0, (10.0, 5.2), 1.0, "coarse")])
    assert run._fine_contrasts() == pytest.approx([0.9, 0.2 / 5.2])
    assert run._faint()  # the full resolution varies, the half hardly: pixel noise


def test_the_full_resolution_varies_above_the_sensor_noise_floor():
    # a noisy camera: the full-resolution scores are mostly sensor noise (a floor of 900)
    samples = [(1.0, (920.0, 5.0)), (2.0, (1015.0, 9.0)), (3.0, (930.0, 5.2))]
    run = Scripted(None)
    run.samples.extend(Sample(z, levels, 1.0, "coarse") for z, levels in samples)
    assert run._faint()  # 95 over 1015: 9.4%
    run.scorer.noise_floor = lambda: 900.0
    assert run._fine_contrasts() == pytest.approx([95.0 / 115.0, 4.0 / 9.0])
    assert not run._faint()
    run.scorer.noise_floor = lambda: 950.0  # never above the lowest score
    assert run._fine_contrasts()[0] == pytest.approx(1.0)


def test_noise_repeats_stop_after_three_frames_that_do_not_stand_out():
    flat = lambda z: 5.0  # noqa: E731
    zs = [1.0, 2.0, 3.0, 4.0, 5.0]
    run = Scripted(flat, coarse(zs, [5.0, 5.1, 5.0, 4.9, 5.0]))
    run.guessed = True
    with pytest.raises(SearchFailed) as failed:
        run._check_noise(3.0)
    assert failed.value.reason == "no_peak"
    assert [s.phase for s in run.samples[5:]] == ["verify"] * 3 and run.verify_score == 5.0


# ~~ the bracket check


def test_a_side_without_any_lower_sample_is_an_edge_to_extend_past():
    run = Scripted(lambda z: 9.0, coarse([1.0, 2.0, 3.0], [1.0, 5.0, 9.0]), window=(1.0, 3.0))
    with pytest.raises(AtEdge) as at_edge:
        run._check_bracketed(3.0)  # nothing above Z3 (its own frame is no lower sample)
    assert at_edge.value.below is False and len(run.samples) == 3  # at once


def test_a_side_whose_lower_sample_never_proves_lower_fails_after_the_repeats():
    at_peak, at_low = iter([8.2, 9.8, 8.1, 9.9]), iter([9.5, 8.0, 9.4, 8.3])  # noisy frames
    zs = [1.0, 2.0, 3.0, 4.0, 5.0]  # below Z3 the lowest is 8.9 at Z2, within the noise
    run = Scripted(lambda z: next(at_peak) if z == 3.0 else next(at_low),
                   coarse(zs, [8.95, 8.9, 9.0, 1.0, 1.0]), window=(0.0, 6.0))
    run.motion.arrive(3.0)
    with pytest.raises(SearchFailed) as failed:
        run._check_bracketed(3.0)
    assert failed.value.reason == "no_peak"  # the window's end Z0 was never sampled
    repeats = [s.z for s in run.samples[5:]]
    assert repeats == [3.0, 2.0, 3.0, 2.0, 3.0, 2.0]  # up to NOISE_REPEATS more at each


# ~~ flanks


@pytest.mark.parametrize("approach, first", [("above", -1), ("below", 1)])
def test_flanks_are_taken_on_the_side_approached_last_first(approach, first):
    curve = lambda z: 10.0 / (1.0 + ((z - 3.0) / 0.3) ** 2)  # noqa: E731
    zs = [1.0, 2.0, 3.0, 4.0, 5.0]
    run = Scripted(curve, coarse(zs, [curve(z) for z in zs]), tolerance=0.1, approach=approach)
    run._take_flanks(3.0)
    flanks = [s.z for s in run.samples[5:]]
    assert flanks == pytest.approx([3.0 + first * 0.15, 3.0 - first * 0.15])


def test_a_flank_near_a_bound_is_taken_on_the_bound():
    curve = lambda z: 10.0 / (1.0 + ((z - 5.9) / 0.3) ** 2)  # noqa: E731
    zs = [4.0, 5.0, 5.9]
    run = Scripted(curve, coarse(zs, [curve(z) for z in zs]), tolerance=0.1, window=(1.0, 5.0))
    assert run.bounds[1] == 6.0
    run._take_flanks(5.9)
    assert max(s.z for s in run.samples) == 6.0  # 0.15 above would leave the bounds


def test_exploring_finely_takes_the_midpoints_and_counts_a_point_half_a_spacing_away_as_sampled():
    zs = [1.0 + 0.5 * i for i in range(9)]
    run = Scripted(lambda z: 1.0, coarse(zs, [1.0] * 9))
    assert run._explore(RESCAN_POINTS) is True
    assert sorted(s.z for s in run.samples[9:]) == pytest.approx([1.25 + 0.5 * i for i in range(8)])
    half = Scripted(lambda z: 1.0, coarse([1.0, 3.0, 5.0], [1.0] * 3))  # 2.0 and 4.0 are missing
    half.samples.append(Sample(2.25, (1.0,), 1.0, "fine"))  # exactly half a spacing from 2.0
    half.samples.append(Sample(4.27, (1.0,), 1.0, "fine"))  # 0.27 from 4.0: more than half a spacing
    half._explore()
    assert sorted(s.z for s in half.samples[5:]) == [1.5, 3.5, 4.0]  # 2.25 covers 2.0 and 2.5


def test_exploring_takes_the_coarse_steps_a_growing_extension_jumped_over():
    zs = [1.0 + 0.5 * i for i in range(9)] + [0.5, 5.5, -0.5, 6.5]  # steps of 0.5, then 1 mm
    run = Scripted(lambda z: 1.0, coarse(zs, [1.0] * len(zs)), limits=(-3.0, 9.0))
    run.z_min, run.z_max = -0.5, 6.5
    assert run._extension_grid() == pytest.approx([0.5, 0.0, -0.5, 5.5, 6.0, 6.5])
    assert run._explore() is True
    assert sorted(s.z for s in run.samples[len(zs):]) == pytest.approx([0.0, 6.0])
    run.z_min = -0.7  # not a whole step past the last one: nothing beyond -0.5
    assert run._extension_grid()[:3] == pytest.approx([0.5, 0.0, -0.5])
    assert run._explore() is False


def test_exploring_goes_from_the_end_of_the_searched_range_nearer_the_stage():
    zs = [1.0, 5.0, 0.0, 6.0]
    run = Scripted(lambda z: 1.0, coarse(zs, [1.0] * 4), limits=(-3.0, 9.0), start=6.0)
    run.z_min, run.z_max = 0.0, 6.0  # the stage is at Z6, the upper end
    run._explore()
    new = [s.z for s in run.samples[4:]]
    assert new == sorted(new, reverse=True) and new[0] == pytest.approx(5.5) and new[-1] == pytest.approx(0.5)


@pytest.mark.parametrize("start, descending", [(4.0, False), (5.5, False), (5.6, True)])
def test_exploring_an_extended_range_starts_at_its_end_nearer_the_stage(start, descending):
    zs = [3.0, 7.0, 2.0, 9.0]  # window 3..7 (steps of 0.5), searched 2..9
    run = Scripted(lambda z: 1.0, coarse(zs, [1.0] * 4), window=(3.0, 7.0), limits=(0.0, 10.0), start=start)
    run.z_min, run.z_max = 2.0, 9.0  # from Z5.5 both ends lie 3.5 away: upwards
    assert run._extension_grid() == pytest.approx([2.5, 2.0, 7.5, 8.0, 8.5, 9.0])
    run._explore()
    new = [s.z for s in run.samples[4:]]
    assert new == sorted(new, reverse=descending) and len(new) == 11  # 7 grid points, 2.5, 7.5 .. 8.5


def test_a_peak_on_the_bound_approached_first_still_gets_its_other_flank():
    curve = lambda z: 10.0 / (1.0 + (z / 0.3) ** 2)  # noqa: E731
    zs = [0.0, 1.0, 2.0]
    run = Scripted(curve, coarse(zs, [curve(z) for z in zs]), tolerance=0.1, window=(1.0, 5.0))
    assert run.bounds[0] == 0.0  # nothing below Z0: that side (taken first) has no reach
    assert run._take_flanks(0.0)
    assert [s.z for s in run.samples[3:]] == pytest.approx([0.15])


def test_flanks_are_measured_from_the_ends_of_a_plateau_holding_the_peak():
    zs = [1.0, 2.0, 2.9, 3.0, 3.1, 4.0, 5.0]  # one replayed slice seen from 2.9 to 3.1
    run = Scripted(lambda z: 2.0, coarse(zs, [1.0, 2.0, 9.0, 9.0, 9.0, 2.0, 1.0]), tolerance=0.1)
    run._take_flanks(3.0)
    assert sorted(s.z for s in run.samples[7:]) == pytest.approx([2.75, 3.25])


@pytest.mark.parametrize("z, window, others, below", [
    (3.0, (2.9, 5.0), [(4.0, 2.0), (5.0, 1.0)], True),  # below Z3 only the slice seen 2.9 to 3.1
    (3.0, (1.0, 3.1), [(1.0, 1.0), (2.0, 2.0)], False),  # above it only the slice
    (2.9, (1.0, 3.1), [(1.0, 1.0), (2.0, 2.0)], False),  # the peak on the slice's lower end
    (3.1, (2.9, 5.0), [(4.0, 2.0), (5.0, 1.0)], True),  # on its upper end
])
def test_a_plateau_holding_the_peak_is_no_lower_sample_on_its_side(z, window, others, below):
    samples = coarse([2.9, 3.0, 3.1], [9.0, 9.0, 9.0]) + coarse(*zip(*others))
    run = Scripted(lambda z: 9.0, samples, window=window, tolerance=0.1)
    with pytest.raises(AtEdge) as at_edge:
        run._check_bracketed(z)
    assert at_edge.value.below is below and len(run.samples) == 5  # at once: no frame repeated


@pytest.mark.parametrize("coarsest, below", [
    ([1.0, 1.5, 2.0, 2.5, 3.0], False),  # rising upwards
    ([3.0, 2.5, 2.0, 1.5, 1.0], True),
    ([3.0, 1.0, 2.0, 2.5, 2.0], True),  # the ends decide, not their inner neighbours
    ([2.0, 2.5, 2.0, 1.0, 3.0], False),
    ([2.0, 2.0, 2.0, 2.0, 2.0], True),  # a tie: the lower end, as before
])
def test_of_two_weak_ends_the_one_the_coarsest_level_stands_higher_at_is_the_edge_first(coarsest, below):
    """Both ends of a blurred bump short of their tails: the run steps past the end where the
    coarsest level (the blur's own view far from focus) stands higher; the lower end on a tie."""
    zs, full = [1.0, 2.0, 3.0, 4.0, 5.0], [0.8, 0.6, 1.0, 0.6, 0.8]  # both ends above the tails
    run = Scripted(None)
    run.samples.extend(Sample(z, (f, c), 1.0, "coarse") for z, f, c in zip(zs, full, coarsest))
    with pytest.raises(AtEdge) as at_edge:
        run._check_weak_ends()
    assert at_edge.value.below is below


def test_weak_ends_need_two_points():
    rising = Scripted(None, coarse([2.0, 3.0], [0.5, 1.0]))  # rising into the upper end
    with pytest.raises(AtEdge):
        rising._check_weak_ends()
    alone = Scripted(None, coarse([3.0], [1.0]))  # the same top alone: no end to judge
    assert alone._check_weak_ends() is None


def weak_ends_edge(scores, limits=(0.0, 6.0), later=(), **options):
    """Where _check_weak_ends stops a weak curve over 1..5 (coarse step 0.5) and the ``later``
    samples: "below", "above" or None (``limits`` (1, 5): the window is a wall)."""
    run = Scripted(None, coarse([1.0 + 0.5 * i for i in range(9)], scores) + list(later), limits=limits,
                   **options)
    try:
        run._check_weak_ends()
    except AtEdge as at_edge:
        return "below" if at_edge.below else "above"
    return None


def test_a_weak_end_rising_fast_enough_to_reach_the_best_within_four_coarse_steps_is_an_edge():
    # the upper end (0.3) lies below the tail line; a reach of 4 coarse steps is 2 mm
    assert weak_ends_edge([0.1, 0.3, 0.6, 1.0, 0.6, 0.3, 0.15, 0.15, 0.3]) is None  # 0.3 + 2 x 0.3
    assert weak_ends_edge([0.1, 0.3, 0.6, 1.0, 0.6, 0.3, 0.15, 0.1, 0.3]) == "above"  # 0.3 + 2 x 0.4
    assert weak_ends_edge([0.3, 0.1, 0.15, 0.3, 0.6, 1.0, 0.6, 0.3, 0.1]) == "below"  # the mirror image


def test_frames_repeated_at_an_end_z_give_a_weak_end_no_slope():
    zs, scores = [1.0 + 0.5 * i for i in range(9)], [0.1, 0.3, 0.6, 1.0, 0.6, 0.3, 0.15, 0.1, 0.2]
    run = Scripted(None, coarse(zs, scores))
    run.samples.append(Sample(5.0, (0.3,), 1.0, "verify"))  # a second, higher frame at Z5
    assert run._check_weak_ends() is None  # 0.3 lies below the tail line and no slope rises to it
    assert weak_ends_edge(scores[:-1] + [0.3]) == "above"  # 0.3 from 0.1 at Z4.5 does rise


@pytest.mark.parametrize("plateau", [(3.2, 3.4), (2.6, 2.8)])  # starting or ending inside the reach
def test_a_plateau_reaching_into_the_peaks_reach_is_not_off_the_peak(plateau):
    samples = coarse([1.0, 2.0, *plateau, 5.0], [1.0, 2.0, 6.0, 6.0, 1.5]) + [(3.0, 9.0, "fine")]
    run = Scripted(None, samples, tolerance=0.1)  # reach 0.25 either side of Z3: 2.75 to 3.25
    _, others, _ = run._peak_and_others(3.0)
    assert sorted(others.tolist()) == [1.0, 1.5, 2.0]


def test_a_weak_end_exactly_on_the_tail_line_has_died_away():
    tail = 0.2 + (1.0 - 0.75) * (1.0 - 0.2)  # the lowest plus a quarter of the height over it
    assert weak_ends_edge([0.2, 0.5, 0.8, 1.0, 0.9, 0.8, 0.7, 0.6, tail]) is None
    assert weak_ends_edge([0.2, 0.5, 0.8, 1.0, 0.9, 0.8, 0.7, 0.6, tail + 0.01]) == "above"


def test_exactly_three_coarse_points_off_the_peak_are_enough_and_its_reach_is_not_off_it():
    samples = coarse([1.0, 2.0, 2.75, 3.25, 5.0], [1.0, 2.0, 5.0, 6.0, 1.5]) + [(3.0, 9.0, "fine")]
    run = Scripted(None, samples, tolerance=0.1)  # Z2.75 and Z3.25: exactly the reach (2.5 tolerances)
    _, others, _ = run._peak_and_others(3.0)
    assert sorted(others.tolist()) == [1.0, 1.5, 2.0]


def test_a_side_sampled_to_the_range_end_that_never_proves_lower_is_an_edge():
    at_peak, at_low = iter([8.2, 9.8, 8.1, 9.9]), iter([9.5, 8.0, 9.4, 8.3])
    zs = [1.0, 2.0, 3.0, 4.0, 5.0]  # the range's end Z1 was sampled: the focus may lie past it
    run = Scripted(lambda z: next(at_peak) if z == 3.0 else next(at_low),
                   coarse(zs, [8.95, 8.9, 9.0, 1.0, 1.0]), window=(1.0, 5.0))
    run.motion.arrive(3.0)
    with pytest.raises(AtEdge) as at_edge:
        run._check_bracketed(3.0)
    assert at_edge.value.below is True


def test_only_the_unpinned_side_gets_a_flank():
    curve = lambda z: 10.0 / (1.0 + ((z - 3.0) / 0.3) ** 2)  # noqa: E731
    zs = [1.0, 2.0, 2.85, 3.0, 4.0, 5.0]  # pinned below (2.85: 1.5 tolerances), not above
    run = Scripted(curve, coarse(zs, [curve(z) for z in zs]), tolerance=0.1)
    assert run._take_flanks(3.0)
    assert [s.z for s in run.samples[6:]] == pytest.approx([3.15])


def test_a_peak_within_a_tolerance_of_the_bound_needs_its_flank_only_as_near_as_the_bound():
    run = Scripted(None, coarse([4.0, 5.0, 5.95], [1.0, 2.0, 3.0]), tolerance=0.1)  # bound 6.0
    below, above = run._pin_reaches(5.95)
    assert above == pytest.approx((0.05, 0.25)) and below == pytest.approx((0.1, 0.25))


def test_a_plateau_holding_the_peak_is_not_one_of_the_others():
    samples = coarse([1.0, 2.9, 3.0, 3.1, 5.0], [1.0, 9.0, 9.0, 9.0, 1.5]) + [(2.0, 2.0, "fine")]
    run = Scripted(None, samples, tolerance=1.0)  # nothing is off the peak: the points apart from it
    _, others, _ = run._peak_and_others(3.0)
    assert sorted(others.tolist()) == [1.0, 1.5, 2.0]


@pytest.mark.parametrize("fine_z", [2.1, 1.9])  # the coarse sample at the slice's lower or upper end
def test_a_plateau_with_a_coarse_sample_at_either_end_counts_as_coarse(fine_z):
    samples = coarse([1.0, 2.0, 5.0], [1.0, 2.0, 1.5]) + [(fine_z, 2.0, "fine"), (3.0, 9.0, "fine"),
                                                        (4.0, 3.0, "fine")]
    run = Scripted(None, samples, tolerance=0.1)  # one slice seen at 2.0 (coarse) and at fine_z
    _, others, _ = run._peak_and_others(3.0)
    assert sorted(others.tolist()) == [1.0, 1.5, 2.0]


def test_a_lower_sample_beyond_the_free_noise_bound_passes_without_repeated_frames():
    zs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    scores = [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 60.0]  # straight in logs: a free noise bound of 0
    run = Scripted(None, coarse(zs, scores), window=(1.0, 7.0))
    run.motion.arrive(6.0)
    run._check_bracketed(6.0)  # 60 is far above the near-top cut, yet beyond the (zero) noise
    assert len(run.samples) == 7


def test_near_the_peak_the_coarse_points_apart_from_it_come_before_all_points_apart():
    samples = coarse([2.0, 4.0, 4.5], [2.0, 3.0, 2.5]) + [(3.0, 9.0, "fine"), (3.5, 5.0, "fine")]
    run = Scripted(None, samples, tolerance=1.0)  # nothing off the peak (2.5 mm reach)
    _, others, _ = run._peak_and_others(3.0)
    assert sorted(others.tolist()) == [2.0, 2.5, 3.0]


# ~~ the half resolution


class TwoLevels(Scripted):
    """Scripted samples with (full, half) scores."""

    def __init__(self, samples, **options):
        super().__init__(None, (), **options)
        self.samples.extend(Sample(z, levels, 1.0, phase) for z, levels, phase in samples)


def test_a_full_resolution_peak_the_half_resolution_does_not_see_is_no_peak():
    run = TwoLevels([(2.0, (1.0, 5.0), "coarse"), (3.0, (9.0, 5.5), "coarse"),
                     (4.0, (1.0, 10.0), "coarse"), (3.0, (10.0, 5.0), "verify")])
    with pytest.raises(SearchFailed) as failed:
        run._check_half_resolution(3.0)  # half at Z3: 5.25 of 5..10
    assert failed.value.reason == "no_peak" and "half-resolution" in str(failed.value)


def test_a_peak_the_half_resolution_sees_passes_judged_by_the_frames_at_its_z_only():
    run = TwoLevels([(2.0, (1.0, 5.0), "coarse"), (3.0, (9.0, 9.0), "coarse"),
                     (3.0, (10.0, 8.5), "verify"), (4.0, (1.0, 10.0), "coarse"),
                     (3.1, (9.5, 5.0), "fine")])
    run._check_half_resolution(3.0)  # mean 8.75 of 5..10: above the bar 8.5
    with pytest.raises(SearchFailed):
        run._check_half_resolution(3.1)


def test_the_half_resolution_is_judged_on_the_mean_at_each_z():
    # one bright frame at the peak's Z (a flicker) tops the half resolution's range; the
    # frames taken there since are one measurement with it, and no other Z scores higher
    samples = [(2.0, (1.0, 5.0), "coarse"), (3.0, (12.0, 12.0), "coarse"), (4.0, (1.0, 6.0), "coarse"),
               (3.2, (8.0, 8.0), "fine")] + [(3.0, (9.0, 9.0), "verify")] * 3
    TwoLevels(samples)._check_half_resolution(3.0)  # 9.75 at Z3 against 8 at Z3.2: its top
    with pytest.raises(SearchFailed):  # against 13 at Z3.2 it falls short of 0.7 of the way
        TwoLevels(samples[:3] + [(3.2, (11.0, 13.0), "fine")] + samples[4:])._check_half_resolution(3.0)


def test_a_run_scored_at_one_level_has_no_half_resolution_to_check():
    run = Scripted(None, coarse([2.0, 3.0, 4.0], [1.0, 9.0, 1.0]))
    run._check_half_resolution(3.0)
    assert len(run.samples) == 3


def test_only_the_full_and_the_half_resolution_can_make_a_run_faint():
    run = TwoLevels([(z, (s, s, 7.0), "coarse") for z, s in ((2.0, 1.0), (3.0, 9.0), (4.0, 1.0))])
    assert run._fine_contrasts() == pytest.approx([8.0 / 9.0, 8.0 / 9.0])
    assert not run._faint()  # the flat third level is not asked


def test_a_second_look_no_higher_than_the_median_other_point_is_background():
    zs = [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
    run = Scripted(None, coarse(zs, [120.0, 112.0, 126.0, 124.0, 118.0, 136.0, 122.0]), tolerance=0.1)
    # the points other than the best one (Z3.5) have the median 121
    assert run._fell_to_background(3.5, 121.0) is True
    assert run._fell_to_background(3.5, 114.0) is True
    assert run._fell_to_background(3.5, 121.5) is False


def test_near_the_lower_bound_the_flank_below_is_needed_only_as_near_as_that_bound():
    run = Scripted(None, coarse([0.05, 1.0, 2.0], [3.0, 2.0, 1.0]), tolerance=0.1)  # bound 0.0
    below, above = run._pin_reaches(0.05)
    assert below == pytest.approx((0.05, 0.25)) and above == pytest.approx((0.1, 0.25))


def test_a_pinned_side_takes_no_flank_when_the_other_side_has_no_room():
    curve = lambda z: 10.0 / (1.0 + ((z - 3.0) / 0.3) ** 2)  # noqa: E731
    zs = [3.0, 3.15, 4.0, 5.0]
    run = Scripted(curve, coarse(zs, [curve(z) for z in zs]), window=(3.0, 5.0), limits=(3.0, 6.0),
                   tolerance=0.1)
    assert run._pin_reaches(3.0)[0] is None
    assert run._take_flanks(3.0) is False and len(run.samples) == len(zs)


WALL = (1.0, 5.0)


def test_a_weak_curve_falling_at_every_point_to_a_wall_has_died_away_there():
    falling = [0.2, 0.5, 0.8, 1.0, 0.9, 0.85, 0.8, 0.75, 0.7]  # never in the tails (0.4)
    assert weak_ends_edge(falling) == "above"  # the end may be passed: look beyond it
    assert weak_ends_edge(falling, limits=WALL) is None
    assert weak_ends_edge(falling[::-1]) == "below"  # the mirror image: look below the window
    assert weak_ends_edge(falling[::-1], limits=WALL) is None  # ... unless its end is a wall
    assert weak_ends_edge(falling[:-1] + [0.76], limits=WALL) == "above"  # the last step rises
    assert weak_ends_edge(falling[:-1] + [0.75], limits=WALL) == "above"  # a flat step is no fall


@pytest.mark.parametrize("mirror", [False, True])
def test_frames_repeated_at_a_wall_fall_to_it_as_their_mean(mirror):
    falling = [0.2, 0.5, 0.8, 1.0, 0.9, 0.85, 0.8, 0.75, 0.7]  # never in the tails (0.4)
    scores = falling[::-1] if mirror else falling
    wall, side = (1.0, "below") if mirror else (5.0, "above")
    # 0.7 and 0.72: 0.71 at the wall, under the 0.75 before it; 0.7 and 0.82: 0.76, a rise
    assert weak_ends_edge(scores, WALL, [(wall, 0.72, "verify")]) is None
    assert weak_ends_edge(scores, WALL, [(wall, 0.82, "verify")]) == side


def test_a_fall_to_a_wall_needs_its_share_and_two_steps():
    exactly = 1.0 - 0.15  # WALL_FALL below the best
    assert weak_ends_edge([0.2, 0.5, 0.8, 0.9, 0.95, 1.0, 0.9, 0.88, exactly], limits=WALL) is None
    assert weak_ends_edge([0.2, 0.5, 0.8, 0.9, 0.95, 1.0, 0.9, 0.88, 0.86], limits=WALL) == "above"
    assert weak_ends_edge([0.2, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0, 0.5], limits=WALL) == "above"


NOISY = [0.2, 0.5, 0.8, 1.0, 0.99, 0.98, 0.96, 0.93, 0.9]
"""A weak peak at Z2.5 whose upper side falls, steeper and steeper, to only 0.9 of it at Z5."""


@pytest.mark.parametrize("floor, width, last, edge", [
    (0.0, 2.5, 0.9, "above"),   # 10% of the best: not fallen
    (0.8, 2.5, 0.9, None),      # half the height over a noise floor of 0.8: fallen, 2.5 mm from the best
    (0.8, 2.0, 0.9, None),      # the wall further than the fitted peak's width
    (0.8, 2.51, 0.9, "above"),  # the wall within the fitted peak's width of the best
    (0.3, 2.5, 0.9, "above"),   # 0.9 lies above 0.3 + 0.85 x 0.7
    (0.8, 2.5, 0.94, "above"),  # the last step into the wall rises
])
def test_a_fall_to_a_wall_over_the_noise_floor_counts_a_peak_width_from_the_best(monkeypatch, floor,
                                                                                 width, last, edge):
    run = Scripted(None, coarse([1.0 + 0.5 * i for i in range(9)], NOISY[:-1] + [last]), limits=WALL)
    monkeypatch.setattr(run.scorer, "noise_floor", lambda: floor)
    run.fit = dataclasses.replace(run._fit(), fwhm=width)
    if edge is None:
        run._check_weak_ends()
    else:
        with pytest.raises(AtEdge) as at_edge:
            run._check_weak_ends()
        assert at_edge.value.below is False


def test_without_a_fit_a_fall_over_the_noise_floor_does_not_count(monkeypatch):
    run = Scripted(None, coarse([1.0 + 0.5 * i for i in range(9)], NOISY), limits=WALL)
    monkeypatch.setattr(run.scorer, "noise_floor", lambda: 0.8)
    with pytest.raises(AtEdge):
        run._check_weak_ends()


SHELF = [0.125, 0.25, 0.5, 1.0, 0.9, 0.91, 0.9, 0.91, 0.9]
"""A weak peak at Z2.5 whose upper side holds level at 0.9, far above the tails, up to Z5."""


@pytest.mark.parametrize("mirror", [False, True])
def test_a_weak_curve_holding_level_into_a_wall_over_two_tolerances_has_died_away_there(mirror):
    scores, side = (SHELF[::-1], "below") if mirror else (SHELF, "above")
    assert weak_ends_edge(scores, WALL, tolerance=0.5) is None  # level over Z4..5 (or Z1..2)
    assert weak_ends_edge(scores, WALL, tolerance=0.51) == side  # over fewer, a top is level too
    assert weak_ends_edge(scores, tolerance=0.5) == side  # an end the run may pass: look beyond


@pytest.mark.parametrize("mirror", [False, True])
def test_a_level_tail_is_measured_on_the_zs_of_its_own_end(mirror):
    later = [(4.75 if mirror else 1.25, 0.18, "fine")]  # in the other tail: uneven Zs there
    assert weak_ends_edge(SHELF[::-1] if mirror else SHELF, WALL, later, tolerance=0.5) is None


@pytest.mark.parametrize("mirror", [False, True])
def test_a_level_tail_reaches_the_wall_itself(mirror):
    dropped = SHELF[:-1] + [0.8]  # level to Z4.5, then 0.8 at the wall: neither level nor a fall
    scores, side = (dropped[::-1], "below") if mirror else (dropped, "above")
    assert weak_ends_edge(scores, WALL, tolerance=0.5) == side


# ~~ a drift in time


DRIFTED = coarse([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 3.0, 5.0, 3.0, 2.5]) + [
    (3.0, 6.0, "fine"), (3.0, 7.0, "fine"), (3.0, 8.0, "verify"), (3.0, 9.0, "verify")]
"""A peak at Z3 whose frames climbed from 5 to 9 after the coarse sweep (a lamp warming up)."""


def test_frames_drifting_at_the_peak_make_the_bracket_check_ask_the_lower_samples_again():
    run = Scripted(lambda z: 9.5, DRIFTED, tolerance=0.5)  # now everything scores as high
    run.motion.arrive(3.0)
    with pytest.raises(AtEdge) as at_edge:
        run._check_bracketed(3.0)
    assert at_edge.value.below is True  # the window's end Z1 is no lower now
    assert "drifted in time" in str(at_edge.value)
    fresh = [s.z for s in run.samples[len(DRIFTED):]]
    assert fresh[0] == 1.0 and set(fresh) == {1.0, 3.0}  # then repeats as the noise test wants


def test_lower_samples_still_lower_when_asked_again_pass_and_the_stage_ends_at_the_peak():
    run = Scripted(lambda z: 9.0 if z == 3.0 else 2.0, DRIFTED, tolerance=0.5)
    run.motion.arrive(3.0)
    run._check_bracketed(3.0)
    assert [s.z for s in run.samples[len(DRIFTED):]] == [1.0, 5.0]  # one fresh frame each side
    assert run.motion.position == 3.0


def test_steady_frames_at_the_peak_need_no_fresh_lower_samples():
    samples = DRIFTED[:5] + [(3.0, s, "fine") for s in (5.1, 4.9, 5.0, 5.05)]
    run = Scripted(None, samples, tolerance=0.5)
    run.motion.arrive(3.0)
    run._check_bracketed(3.0)
    assert len(run.samples) == len(samples)


UNSEEN = coarse([1.0, 2.0, 3.0, 4.0, 5.0], [10.0, 10.5, 10.0, 10.9, 10.2]) + [
    (3.5, 12.0, "fine"), (3.5, 13.0, "verify")]
"""A sweep varying by 8% (no peak seen), then two frames at Z3.5 climbing higher."""


def warming(start):
    """A curve that scores one more with every frame it returns, from ``start`` (a lamp
    warming up), at every Z."""
    frames = iter(range(1000))
    return lambda z: start + next(frames)


def test_a_peak_the_sweep_did_not_see_takes_frames_enough_for_the_drift_test():
    run = Scripted(warming(14.0), UNSEEN, tolerance=0.5)
    run.motion.arrive(3.5)
    with pytest.raises(AtEdge) as at_edge:  # 12, 13, 14, 15 at Z3.5: the lamp, not the Z
        run._check_bracketed(3.5)
    assert "drifted in time" in str(at_edge.value)
    assert [s.z for s in run.samples[len(UNSEEN):len(UNSEEN) + 2]] == [3.5, 3.5]


def test_a_peak_the_sweep_did_not_see_with_frames_enough_at_it_takes_no_more():
    samples = UNSEEN + [(3.5, 13.0, "verify")] * 3  # five frames at Z3.5
    run = Scripted(warming(14.0), samples, tolerance=0.5)
    run._drift_start(3.5)
    assert len(run.samples) == len(samples)


def test_a_frame_a_quarter_tolerance_from_an_unseen_peak_counts_towards_the_drift_test():
    samples = UNSEEN + [(3.625, 13.0, "fine")]  # exactly DRIFT_REACH x 0.5 from Z3.5
    run = Scripted(warming(14.0), samples, tolerance=0.5)
    run._drift_start(3.5)
    assert len(run.samples) == len(samples) + 1  # three frames near it: one more makes four


def test_a_sweep_varying_by_exactly_a_tenth_saw_the_peak():
    samples = coarse([1.0, 2.0, 3.0, 4.0, 5.0], [9.0, 9.5, 9.2, 10.0, 9.4]) + UNSEEN[5:]
    run = Scripted(warming(14.0), samples, tolerance=0.5)
    run._drift_start(3.5)  # (10 - 9) / 10 = MIN_CONTRAST: not below it
    assert len(run.samples) == len(samples)


@pytest.mark.parametrize("end_score", [11.0, 11.2])  # the sweep varies by 9.1% and 10.7%
def test_a_peak_the_sweep_saw_takes_no_frames_for_the_drift_test(end_score):
    samples = UNSEEN[:4] + [(5.0, end_score, "coarse")] + UNSEEN[5:]
    run = Scripted(warming(14.0), samples, tolerance=0.5)
    run._drift_start(3.5)
    assert len(run.samples) == len(samples) + (2 if end_score == 11.0 else 0)


def step_at_the_peak(far_z):
    """Coarse Z1, 2, 4, 5; two frames at ``far_z`` scoring 5, then two at Z3 scoring 9."""
    return coarse([1.0, 2.0, 4.0, 5.0], [2.0, 3.0, 3.0, 2.5]) + [
        (far_z, 5.0, "fine"), (far_z, 5.0, "fine"), (3.0, 9.0, "fine"), (3.0, 9.0, "verify")]


@pytest.mark.parametrize("far_z, fresh", [(3.125, [1.0, 5.0]), (3.3, [])])
def test_frames_within_a_quarter_tolerance_count_as_at_the_peak_for_the_drift_test(far_z, fresh):
    # tolerance 0.5: Z3.125 lies exactly a quarter tolerance away, Z3.3 beyond it
    samples = step_at_the_peak(far_z)
    run = Scripted(lambda z: 9.0 if z == 3.0 else 2.0, samples, tolerance=0.5)
    run.motion.arrive(3.0)
    run._check_bracketed(3.0)
    assert [s.z for s in run.samples[len(samples):]] == fresh


def test_the_fresh_frames_are_those_since_the_later_half_of_the_frames_at_the_peak_began():
    samples = coarse([1.0, 2.0, 4.0, 5.0], [2.0, 3.0, 3.0, 2.5]) + [
        (3.0, 5.0, "fine"), (3.0, 5.0, "fine"), (3.0, 5.0, "fine"), (3.0, 9.0, "fine"),
        (1.0, 2.0, "verify"), (3.0, 9.0, "verify"), (3.0, 9.0, "verify")]
    run = Scripted(lambda z: 9.0 if z == 3.0 else 2.0, samples, tolerance=0.5)
    run.motion.arrive(3.0)
    run._check_bracketed(3.0)
    # the later half began with the fourth frame at Z3: the frame at Z1 after it is fresh
    assert [s.z for s in run.samples[len(samples):]] == [5.0]


def by_the_bound(top=4.7, looks=12, mirror=False):
    """A grid 1..5 (a coarse step of 0.5) scoring 1, its bound Z5 last and scoring 2, then
    ``looks`` frames of 10 at a peak at ``top``, the last a verification: Z5's frame came
    ``looks`` frames before it (12: ``STALE_AFTER``). Mirrored about 3: the bound Z1."""
    grid = [(z, 2.0 if z == 5.0 else 1.0 + 0.001 * (i % 2), "coarse")
            for i, z in enumerate(np.arange(1.0, 5.25, 0.5)) if z != top]
    samples = grid + [(top, 10.0, "fine")] * (looks - 1) + [(top, 10.0, "verify")]
    return [(6.0 - z, s, phase) for z, s, phase in samples] if mirror else samples


@pytest.mark.parametrize("mirror", [False, True])
def test_a_stale_bound_within_a_coarse_step_of_the_peak_is_asked_again_after_the_last_look(mirror):
    samples = by_the_bound(4.75, mirror=mirror)
    top, bound = (1.25, 1.0) if mirror else (4.75, 5.0)
    run = Scripted(lambda z: 10.0, samples, limits=(1.0, 5.0))  # now the bound scores as high
    run.motion.arrive(top)
    with pytest.raises(AtEdge) as at_edge:
        run._check_bracketed(top)
    assert at_edge.value.below is mirror
    assert "since the last look at the peak" in str(at_edge.value)
    assert run.samples[len(samples)].z == bound  # the bound first, then repeats at both
    assert STALE_AFTER == 12  # the frames by_the_bound puts between the bound and the last look


@pytest.mark.parametrize("top", [4.7, 4.5])  # 4.5: exactly one coarse step from the bound
def test_a_stale_bound_still_lower_after_the_last_look_passes_with_one_fresh_frame(top):
    samples = by_the_bound(top)
    run = Scripted(lambda z: 10.0 if z == top else 2.0, samples, limits=(1.0, 5.0))
    run.motion.arrive(top)
    run._check_bracketed(top)
    assert [s.z for s in run.samples[len(samples):]] == [5.0]
    assert run.motion.position == top


@pytest.mark.parametrize("top, limits, looks, mirror", [
    (4.3, (1.0, 5.0), 12, False),  # the bound lies 0.7 from the peak, past one coarse step
    (4.7, (0.0, 6.0), 12, False),  # the run may look past Z5: no bound
    (1.25, (0.0, 6.0), 12, True),  # ... nor past Z1
    (4.7, (1.0, 5.0), 11, False),  # the bound's frame is not stale yet
])
def test_a_bound_too_far_no_bound_or_a_fresh_one_is_not_asked_again(top, limits, looks, mirror):
    samples = by_the_bound(6.0 - top if mirror else top, looks, mirror)
    run = Scripted(lambda z: 10.0, samples, limits=limits)
    run.motion.arrive(top)
    run._check_bracketed(top)
    assert len(run.samples) == len(samples)


def test_a_bound_seen_again_lately_is_not_stale():
    samples = by_the_bound()
    samples.insert(-1, (5.0, 2.0, "fine"))  # a second frame at Z5, just before the last look
    run = Scripted(lambda z: 10.0, samples, limits=(1.0, 5.0))
    run.motion.arrive(4.7)
    run._check_bracketed(4.7)
    assert len(run.samples) == len(samples)


@pytest.mark.parametrize("later", [(4.0, 5.0), (4.8, 9.0)])  # below the peak, above it
def test_the_last_look_is_the_last_frame_at_the_peak_not_the_last_frame(later):
    samples = by_the_bound(looks=11) + [(*later, "fine")]  # Z5 11 frames before the last look
    run = Scripted(lambda z: 10.0, samples, limits=(1.0, 5.0))
    run.motion.arrive(4.7)
    run._check_bracketed(4.7)
    assert len(run.samples) == len(samples)


# ~~ a curve turning up again into a bound


def near_bound(top=4.7, dip=4.85, end=7.5, mirror=False, wobble=0.001):
    """A grid 1..5 (a coarse step of 0.5) scoring 1 to 1 + ``wobble``, a peak of 10 at ``top``, a dip
    of 6 and the bound's score ``end`` (mirrored about 3: the lower bound), the bound's frame
    the run's first."""
    grid = [z for z in np.arange(1.0, 4.75, 0.5) if z not in (top, dip)]
    points = [(5.0, end, "coarse")] + [(z, 1.0 + wobble * (i % 2), "coarse") for i, z in enumerate(grid)]
    points += [(top, 10.0, "fine"), (dip, 6.0, "fine")]
    if mirror:
        points = [(6.0 - z, s, phase) for z, s, phase in points]
    return points


@pytest.mark.parametrize("mirror", [False, True])
def test_a_curve_climbing_again_into_a_bound_next_to_the_peak_fails_there(mirror):
    samples = near_bound(mirror=mirror)
    scores = {z: s for z, s, _ in samples}
    run = Scripted(scores.get, samples, limits=(1.0, 5.0))
    with pytest.raises(AtEdge) as raised:
        run._check_turn_up(6.0 - 4.7 if mirror else 4.7)
    assert len(run.samples) == len(samples) + 1  # a repeat at the bound shows it: the dip's one
    assert run.samples[-1].z == (1.0 if mirror else 5.0)  # frame, picked for being low, cannot
    assert raised.value.below is mirror
    assert "rises again towards Z" + ("1.0000" if mirror else "5.0000") in str(raised.value)


@pytest.mark.parametrize("mirror", [False, True])
@pytest.mark.parametrize("case", [
    dict(end=6.85),  # climbs 0.85, under a tenth of the peak's 9 over the floor
    dict(top=4.3, dip=4.6),  # the bound lies 0.7 from the peak, past one coarse step
    dict(limits=(0.0, 6.0)),  # the end is no bound: the run may look past it
])
def test_a_climb_too_small_too_far_or_at_an_end_that_is_no_bound_passes(case, mirror):
    case = dict(case)
    limits = case.pop("limits", (1.0, 5.0))
    samples = near_bound(mirror=mirror, **case)
    scores = {z: s for z, s, _ in samples}
    run = Scripted(scores.get, samples, limits=limits)
    top = case.get("top", 4.7)
    run._check_turn_up(6.0 - top if mirror else top)
    assert len(run.samples) == len(samples)  # nothing to ask again


def test_a_bound_exactly_one_coarse_step_away_counts_and_a_climb_of_exactly_a_tenth_does_not():
    samples = near_bound(top=4.5, dip=4.75)  # 5.0 - 4.5 is the coarse step, 0.5
    run = Scripted({z: s for z, s, _ in samples}.get, samples, limits=(1.0, 5.0))
    with pytest.raises(AtEdge):
        run._check_turn_up(4.5)
    tenth = [(z, 11.0 if z == 4.7 else s, phase) for z, s, phase in near_bound(end=7.0)]
    run = Scripted({z: s for z, s, _ in tenth}.get, tenth, limits=(1.0, 5.0))
    run._check_turn_up(4.7)  # 7 - 6 is a tenth of the peak's 11 - 1 over the floor, no more
    over = near_bound(end=6.95)  # 0.95 over the dip: more than a tenth of the 9 over the floor
    run = Scripted({z: s for z, s, _ in over}.get, over, limits=(1.0, 5.0))
    with pytest.raises(AtEdge):  # (a tenth of the 10 over the free noise bound would pass it)
        run._check_turn_up(4.7)


@pytest.mark.parametrize("mirror", [False, True])
def test_a_bound_never_sampled_is_skipped_without_a_mean_of_nothing(mirror):
    samples = [p for p in near_bound(mirror=mirror) if p[0] not in (1.0, 5.0)]
    run = Scripted({z: s for z, s, _ in samples}.get, samples, limits=(1.0, 5.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run._check_turn_up(6.0 - 4.7 if mirror else 4.7)
    assert len(run.samples) == len(samples)


@pytest.mark.parametrize("mirror", [False, True])
def test_frames_the_turn_up_check_takes_at_the_bound_are_no_verification_of_the_peak(mirror):
    samples = near_bound(end=7.0, mirror=mirror, wobble=0.3)  # a noisy grid: no free bound
    bound, dip, top = (1.0, 6.0 - 4.85, 6.0 - 4.7) if mirror else (5.0, 4.85, 4.7)
    repeats = {bound: iter([5.0, 6.9, 5.2, 6.8]), dip: iter([6.4, 5.6, 6.3, 5.7])}
    run = Scripted(lambda z: next(repeats[z]), samples, limits=(1.0, 5.0))
    run.verify_score = 9.9
    run._check_turn_up(top)  # noisy repeats cannot show the dip lower than the bound
    assert len(run.samples) > len(samples)
    assert run.verify_score == 9.9
    assert run.motion.position == top


@pytest.mark.parametrize("end", [0.8, 0.6])
def test_a_weak_end_whose_full_resolution_has_not_fallen_into_its_tails_is_an_edge(end):
    # the coarser level falls into its tails at Z1 (the combined curve: 0.45 below its tail
    # line 0.475); the full resolution, near a focus below, scores 0.8 there (its tail line
    # 0.625) or 0.6 (in its tails)
    full = [end, 0.6, 0.55, 0.7, 1.0, 0.7, 0.55, 0.5, 0.5]
    half = [0.1, 0.3, 0.6, 0.9, 1.0, 0.9, 0.6, 0.3, 0.1]
    zs = [1.0 + 0.5 * i for i in range(9)]
    run = TwoLevels([(z, (f, h), "coarse") for z, f, h in zip(zs, full, half)])
    if end == 0.8:
        with pytest.raises(AtEdge) as at_edge:
            run._check_weak_ends()
        assert at_edge.value.below is True
    else:
        run._check_weak_ends()


def test_a_weak_end_whose_combined_curve_has_not_fallen_into_its_tails_is_an_edge_alone():
    # the full resolution is at its lowest at Z1; the combined curve scores 0.55 there, above
    # its tail line 0.3 + 0.25 x 0.7 = 0.475, and level with Z1.5 (no rise to follow)
    full = [0.5, 0.6, 0.55, 0.7, 1.0, 0.7, 0.55, 0.5, 0.5]
    half = [0.6, 0.5, 0.6, 0.9, 1.0, 0.9, 0.6, 0.3, 0.1]
    zs = [1.0 + 0.5 * i for i in range(9)]
    run = TwoLevels([(z, (f, h), "coarse") for z, f, h in zip(zs, full, half)])
    with pytest.raises(AtEdge) as at_edge:
        run._check_weak_ends()
    assert at_edge.value.below is True


# ~~ a later look at one Z (the stage did not come back)

PEAK = ([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 4.0, 10.0, 4.0, 1.0])


def relooked(looks, held=(), curve=PEAK):
    run = Scripted(None, coarse(*curve) + [(z, s, "verify") for z, s in looks])
    run.held_zs.extend(held)
    return run._slipped()


def test_a_later_look_far_below_an_earlier_one_near_the_top_is_a_slip():
    assert relooked([(3.0, 8.4)]) == (3.0, 10.0, 8.4)


@pytest.mark.parametrize("looks, held, curve", [
    ([(3.0, 8.5)], (), PEAK),                           # 0.85 of the first look
    ([(3.0, 8.4)], (3.0,), PEAK),                       # a Z backlash may have held short
    ([(3.0, 8.4)], (), (PEAK[0], [10.0, 10.2, 10.5, 10.1, 10.0])),  # a peak within its noise
    ([(2.0, 3.0), (2.0, 5.3), (3.0, 8.4)], (), PEAK),   # frames at another Z scatter as much
    ([(2.0, 0.3), (2.0, 0.53), (3.0, 0.84)], (), (PEAK[0], [0.1, 0.4, 1.0, 0.4, 0.1])),  # scores below 1
], ids=["0.85 of the first look", "a held Z", "no clear peak", "scattered repeats", "scattered below 1"])
def test_a_later_look_within_the_drop_the_noise_or_at_a_held_z_is_no_slip(looks, held, curve):
    assert relooked(looks, held, curve) is None


def test_repeats_at_another_z_that_agree_leave_the_drop_standing_out():
    steady = [(2.0, s) for s in (4.02, 3.98, 4.01, 3.99, 4.0)]
    assert relooked(steady + [(3.0, 8.4)]) == (3.0, 10.0, 8.4)


def steady_repeats(spread):
    """Two frames each at Z2 and Z4 (beside the coarse looks there, all scoring 4.0 in the
    mean), ``spread`` apart in log score: pooled, an SD of ``spread`` with 4 degrees of freedom."""
    return [(z, 4.0 * math.exp(sign * spread)) for z in (2.0, 4.0) for sign in (1, -1)]


@pytest.mark.parametrize("beyond, slip", [(0.005, True), (-0.005, False)])
def test_a_drop_must_stand_out_of_the_repeats_by_the_t_test(beyond, slip):
    spread = 0.03
    threshold = t_quantile(4) * math.sqrt(2.0) * spread  # a difference of two single frames
    later = 10.0 * math.exp(-threshold - beyond)
    assert later < RELOOK_DROP * 10.0  # both fall below 0.85 of the first look
    assert (relooked(steady_repeats(spread) + [(3.0, later)]) is not None) is slip


@pytest.mark.parametrize("later", [0.0, -1.0])
def test_a_later_look_scoring_nothing_or_below_is_a_slip_whatever_the_repeats(later):
    zs = [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5]
    curve = (zs, [1.0, 2.0, 4.0, 10.0, 9.0, 4.0, 2.0, 1.0])
    assert relooked(steady_repeats(0.03) + [(3.0, later)], curve=curve) == (3.0, 9.0, later)


@pytest.mark.parametrize("dip", [5.32, 1.5])  # 1.5: far below even the near-top cut over 0
def test_one_low_frame_in_a_flat_blur_is_no_dip_for_the_curve_to_turn_up_from(dip):
    # a star field: a sharp peak of 9 over a blur of 5.5 whose frames scatter by a few percent;
    # the dip's frame (the run's first and lowest) and the bound's are the first of that scatter
    samples = [(4.75, dip, "coarse")]
    samples += [(z, 5.5 + 0.05 * math.sin(7 * z), "coarse") for z in (1.0, 2.0, 3.0, 4.0)]
    samples += [(5.0, 5.71, "coarse"), (4.5, 9.0, "fine")]
    later = {4.75: iter([5.5, 5.6, 5.45]), 5.0: iter([5.5, 5.6, 5.45])}
    run = Scripted(lambda z: next(later[z]), samples, limits=(1.0, 5.0))
    run._check_turn_up(4.5)  # the climb from the dip is over a tenth of the peak over the floor
    assert sorted(s.z for s in run.samples[len(samples):]) == [4.75] * 3 + [5.0] * 3
    assert run.motion.position == 4.5  # repeats show no dip: the stage is back at the peak


def test_a_textured_image_is_one_whose_frames_average_ten_times_the_minimum_texture():
    run = Scripted(None)
    run.samples.extend([Sample(2.0, (5.0,), 0.5, "coarse"), Sample(3.0, (9.0,), 0.05, "coarse"),
                        Sample(3.0, (9.0,), 0.15, "verify"), Sample(4.0, (2.0,), 0.0, "coarse")])
    assert run._textured_image(3.0)  # 0.1 on average: exactly TEXTURED_BEST
    run.samples[2] = Sample(3.0, (9.0,), 0.1499, "verify")
    assert not run._textured_image(3.0)
    assert run._textured_image(2.0)  # the frames at the Z asked about only


@pytest.mark.parametrize("mirror", [False, True])
@pytest.mark.parametrize("limits, fails", [((1.0, 5.0), False), ((0.0, 6.0), True)])
def test_a_textured_weak_best_is_judged_only_at_the_ends_the_run_may_pass(limits, fails, mirror):
    scores = [0.2, 0.5, 1.0, 0.4, 0.45]  # up again into Z5, not in the tails there
    samples = coarse([1.0, 2.0, 3.0, 4.0, 5.0], scores[::-1] if mirror else scores)
    walled = Scripted(None, samples, limits=limits)
    with pytest.raises(AtEdge):
        walled._check_weak_ends()  # a blurred bump fails at a wall too
    textured = Scripted(None, samples, limits=limits)
    if fails:
        with pytest.raises(AtEdge) as raised:
            textured._check_weak_ends(walls=False)
        assert raised.value.below is mirror
    else:
        textured._check_weak_ends(walls=False)
        assert len(textured.samples) == 5  # nothing taken, nothing refused


def test_a_wall_passed_over_first_leaves_the_other_end_judged():
    # the lower end, a wall, stands higher on the coarsest level and is looked at first
    samples = coarse([1.0, 2.0, 3.0, 4.0, 5.0], [0.9, 0.2, 1.0, 0.6, 0.7])
    run = Scripted(None, samples, limits=(1.0, 6.0))
    with pytest.raises(AtEdge) as raised:
        run._check_weak_ends(walls=False)
    assert raised.value.below is False  # Z5 may be passed and its 0.7 is above the tails
