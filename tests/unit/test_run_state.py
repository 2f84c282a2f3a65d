"""RunState: the views the phases share (interior, fit inside, trust, tolerance) and the
result of a failed run. Written for the mutation pass of run_state.py; the search tests
(test_search.py) drive the same code through whole runs."""

import math

import numpy as np
import pytest

from octoprint_autofocus.focus.fit import PeakFit
from octoprint_autofocus.focus.options import parse_options
from octoprint_autofocus.focus.run_state import RunState, SearchFailed
from octoprint_autofocus.focus.sampling import Sample
from tests.fakes import DarkeningCamera, FakeStage


def state(samples=(), stage=None, window=(1.0, 9.0), **options):
    """A RunState over ``window`` (the limits 0..10) holding ``samples`` [(z, score)]."""
    options.setdefault("sleep", lambda s: None)
    run = RunState(stage or FakeStage(limits=(0.0, 10.0), start=5.0), None, window, (0.0, 10.0),
                   None, "tenengrad", parse_options(options))
    run.samples.extend(Sample(z, (s,), 1.0, "coarse") for z, s in samples)
    return run


def a_fit(z_peak, strong=3, r2=0.99):
    return PeakFit(model="lorentzian", z_peak=z_peak, height=10.0, fwhm=1.0, r2=r2, z_lo=z_peak - 1.0,
                   z_hi=z_peak + 1.0, points=5, strong=strong, floor=0.0, params=(1.0, 0.0, 0.1),
                   centre=z_peak)


def test_a_z_is_interior_only_strictly_between_the_lowest_and_highest_sample():
    run = state([(2.0, 1.0), (4.0, 3.0), (6.0, 2.0)])
    assert run._interior(3.0) and run._interior(5.5)
    assert not any(run._interior(z) for z in (1.0, 2.0, 6.0, 7.0))


def test_a_fit_peaking_on_either_end_of_the_range_is_inside_it():
    run = state()
    for z, inside in ((1.0, True), (9.0, True), (5.0, True), (0.99, False), (9.01, False)):
        run.fit = a_fit(z)
        assert run._fit_inside() is inside, z


def test_a_fit_is_trusted_with_three_or_more_points_near_its_top():
    run = state()
    for strong, trusted in ((2, False), (3, True), (4, True), (7, True)):
        run.fit = a_fit(5.0, strong=strong)
        assert run._fit_trusted() is trusted, strong


def test_a_fit_is_trusted_from_an_r2_of_0_8_up():
    run = state()
    for r2, trusted in ((0.79, False), (0.8, True), (0.95, True)):
        run.fit = a_fit(5.0, r2=r2)
        assert run._fit_trusted() is trusted, r2


def test_the_derived_tolerance_is_the_half_width_of_the_band_above_80_percent_over_the_floor():
    top, centre, hwhm = 10.0, 4.3, 0.4
    zs = [1.0 + 0.25 * i for i in range(29)]  # 1..8: the tails are seen
    run = state([(z, top / (1.0 + ((z - centre) / hwhm) ** 2)) for z in zs])
    run.fit = run._fit()
    assert run._fit_trusted() and run.fit.height == pytest.approx(top)
    floor = min(s.score for s in run.samples)
    level = floor + 0.8 * (top - floor)
    half_band = hwhm * math.sqrt(top / level - 1.0)  # where the curve crosses the level
    assert run._tolerance() == pytest.approx(half_band, rel=1e-6)


def test_a_failed_run_reports_the_fitted_peak_only_for_a_poor_fit_or_a_failed_check():
    samples = [(2.0, 1.0), (4.0, 5.0), (6.0, 2.0)]  # the best sample is at 4.0
    for reason, fitted in (("poor_fit", True), ("verify_failed", True), ("no_peak", False),
                           ("low_texture", False)):
        run = state(samples)
        run.fit = a_fit(4.4)
        assert run._failed(reason, "", restore=False).z == (4.4 if fitted else 4.0), reason
    run = state(samples)  # no fit: the best sample, whatever the reason
    assert run._failed("poor_fit", "", restore=False).z == 4.0


def test_a_failure_to_restore_the_start_z_leaves_the_first_failure_as_the_story():
    class NoReturn(FakeStage):
        def move_to(self, z):
            self.commanded.append(z)
            raise RuntimeError("driver gone")

    stage = NoReturn(limits=(0.0, 10.0), start=5.0)
    result = state([(2.0, 1.0)], stage=stage)._failed("no_peak", "nothing stood out", restore=True)
    assert stage.commanded  # it tried to go back
    assert (result.ok, result.reason, result.detail) == (False, "no_peak", "nothing stood out")



@pytest.mark.parametrize("start", [0.0, 10.0])  # exactly on a limit the run may move to
def test_a_failed_run_goes_back_to_a_start_on_the_edge_of_where_it_may_move(start):
    stage = FakeStage(limits=(0.0, 10.0), start=start)
    run = state([(2.0, 1.0)], stage=stage)
    assert run.bounds == (0.0, 10.0)
    run.motion.arrive(5.0)
    run._failed("no_peak", "", restore=True)
    assert stage.commanded[-1] == start


def test_only_a_peak_at_edge_result_names_the_edge_it_stopped_at():
    run = state([(2.0, 1.0), (9.0, 5.0)])
    run.stopped_below = False
    assert run._result(False, 9.0, "peak_at_edge", "").edge_z == 9.0
    for reason in ("no_peak", "poor_fit", "low_texture"):
        result = run._result(False, 9.0, reason, "")
        assert (result.edge_z, result.edge_kind) == (None, None), reason
    run.stopped_below = None  # a peak_at_edge that did not stop at an end of the range
    result = run._result(False, 9.0, "peak_at_edge", "")
    assert (result.edge_z, result.edge_kind) == (None, None)


def test_without_a_width_the_tolerance_is_an_eighth_of_the_span_searched():
    run = state([(2.0, 1.0), (5.0, 1.02), (8.0, 1.05)], window=(1.0, 9.0))  # still rising: no width
    assert run._tolerance() == pytest.approx((9.0 - 1.0) / 8.0)


def test_a_window_that_never_saw_the_tails_measures_the_band_over_the_noise_floor():
    top, centre, hwhm = 10.0, 4.3, 0.4
    zs = [3.9 + 0.1 * i for i in range(9)]  # 3.9 .. 4.7: never below half the top
    run = state([(z, top / (1.0 + ((z - centre) / hwhm) ** 2)) for z in zs])
    run.fit = run._fit()
    assert run._fit_trusted() and run.scorer.noise_floor() == 0.0  # no frame scored: floor 0
    half_band = hwhm * math.sqrt(top / (0.8 * top) - 1.0)  # the band above 80% of the top over 0
    assert run._tolerance() == pytest.approx(half_band, rel=1e-6)


def test_an_edge_short_of_the_hard_limit_is_where_the_budget_ran_out():
    run = state([(2.0, 1.0), (9.0, 5.0)], window=(1.0, 9.0))  # limits 0..10
    run.stopped_below = False
    assert run._result(False, 9.0, "peak_at_edge", "").edge_kind == "budget"
    run.z_max = 10.0
    assert run._result(False, 10.0, "peak_at_edge", "").edge_kind == "limit"


def test_the_result_reports_the_time_since_the_run_began():
    times = iter([100.0, 103.5])
    run = state([(2.0, 1.0)], clock=lambda: next(times))
    assert run._result(False, 2.0, "no_peak", "").elapsed == pytest.approx(3.5)


def test_a_cameras_own_exception_ends_the_run_as_a_camera_error():
    from octoprint_autofocus.focus import autofocus

    class Unplugged:
        def frame(self):
            raise OSError("device disconnected")

    stage = FakeStage(limits=(0.0, 10.0), start=5.0)
    result = autofocus(stage, Unplugged(), 1.0, 9.0, sleep=lambda s: None)
    assert (result.ok, result.reason) == (False, "camera_error")
    assert "device disconnected" in result.detail and stage.commanded[-1] == 5.0  # restored


def test_a_fit_gone_wide_cannot_loosen_the_tolerance_past_the_half_height_bracket():
    zs = [1.0 + 0.25 * i for i in range(29)]
    run = state([(z, 10.0 / (1.0 + ((z - 4.3) / 0.1) ** 2)) for z in zs])  # narrow, tails seen
    run.fit = PeakFit(model="lorentzian", z_peak=4.3, height=10.0, fwhm=8.0, r2=0.99, z_lo=3.0, z_hi=5.5,
                      points=11, strong=5, floor=0.0, params=(0.00625, 0.0, 0.1), centre=4.3)  # wide
    assert run._fit_trusted()
    assert run._tolerance() == pytest.approx((4.5 - 4.0) / 4.0)  # the points either side below half


@pytest.mark.parametrize("floor, bounds", [(50.0, True), (70.0, False)])
def test_a_reduced_level_bounds_the_tolerance_once_it_fell_by_half(floor, bounds):
    zs = [1.0 + 0.5 * i for i in range(17)]
    full = [100.0 + 30.0 / (1.0 + ((z - 5.0) / 3.0) ** 2) for z in zs]  # faint and broad: no tails
    peak = {4.5: 60.0 + floor - 50.0, 5.0: 100.0, 5.5: 60.0 + floor - 50.0}  # (100 - floor) / 100
    run = state()
    run.samples.extend(Sample(z, (f, peak.get(z, floor)), 1.0, "coarse") for z, f in zip(zs, full))
    c2, c0 = 1.0 / 1170.0, 1.0 / 130.0  # a trusted Lorentzian over the full resolution, FWHM 6
    run.fit = PeakFit(model="lorentzian", z_peak=5.0, height=130.0, fwhm=6.0, r2=0.99, z_lo=1.0, z_hi=9.0,
                      points=17, strong=17, floor=0.0, params=(c2, 0.0, c0), centre=5.0)
    band_tolerance = 0.5 * run.fit.width_at(0.8 * 130.0)
    expected = (5.5 - 4.5) / 4.0 if bounds else band_tolerance
    assert run._tolerance() == pytest.approx(expected)


def test_a_reduced_level_that_saw_its_tails_bounds_the_tolerance_the_full_resolution_did_not():
    zs = [1.0 + 0.5 * i for i in range(17)]
    full = [100.0 + 30.0 / (1.0 + ((z - 5.0) / 3.0) ** 2) for z in zs]  # faint and broad: no tails
    reduced = [40.0 + 60.0 / (1.0 + ((z - 5.0) / 0.3) ** 2) for z in zs]  # narrow, fell by 60%
    run = state()
    run.samples.extend(Sample(z, (f, r), 1.0, "coarse") for z, f, r in zip(zs, full, reduced))
    c2, c0 = 1.0 / 1170.0, 1.0 / 130.0  # a trusted Lorentzian over the full resolution, FWHM 6
    run.fit = PeakFit(model="lorentzian", z_peak=5.0, height=130.0, fwhm=6.0, r2=0.99, z_lo=1.0, z_hi=9.0,
                      points=17, strong=17, floor=0.0, params=(c2, 0.0, c0), centre=5.0)
    assert run._fit_trusted()
    assert run._tolerance() == pytest.approx((5.5 - 4.5) / 4.0)  # the reduced level's bracket


def test_a_fall_to_exactly_a_quarter_of_the_best_counts_as_the_tails_seen():
    zs = [3.0, 3.5, 4.0, 4.3, 4.6, 5.1, 5.6]
    run = state(list(zip(zs, [2.5, 4.0, 7.0, 10.0, 7.0, 4.0, 2.5])))  # (10 - 2.5) / 10 = TAILS_CONTRAST
    c2, c0 = 0.625, 0.1  # a trusted Lorentzian fit 1 / (c2 u^2 + c0): height 10, half width 0.4
    run.fit = PeakFit(model="lorentzian", z_peak=4.3, height=10.0, fwhm=0.8, r2=0.99, z_lo=3.5, z_hi=5.1,
                      points=5, strong=5, floor=2.5, params=(c2, 0.0, c0), centre=4.3)
    level = 2.5 + 0.8 * (10.0 - 2.5)  # the tails seen: the band is measured over the fit's floor
    assert run._tolerance() == pytest.approx(math.sqrt((1.0 / level - c0) / c2))


class ResendingCamera:
    """Frames numbered by capture; after every move it sends its previous frame once more,
    as some camera drivers do (``stuck``: it sends the same frame always)."""

    def __init__(self, stage, stuck=False):
        self.stage, self.stuck, self.taken = stage, stuck, 0
        self.last, self.moves_seen = None, len(stage.commanded)

    def frame(self):
        if self.last is not None and (self.stuck or len(self.stage.commanded) != self.moves_seen):
            self.moves_seen = len(self.stage.commanded)
            return self.last
        self.taken += 1
        self.last = bytes([self.taken % 256]) * 16
        return self.last


def test_the_old_frame_sent_again_after_a_move_is_replaced_by_a_fresh_one():
    stage = FakeStage(limits=(0.0, 10.0), start=5.0)
    run = state(stage=stage)
    run.camera = ResendingCamera(stage)
    grabbed = []
    run.scorer.sample = lambda z, frames, phase: grabbed.extend(frames) or Sample(z, (1.0,), 1.0, phase)
    run.scorer.dark = run.scorer.black = lambda frame: False  # the frames are tokens, not images
    for z in (2.0, 3.0, 4.0):
        run._measure(z, "coarse")
    assert len(set(grabbed)) == 3  # each sample scored its own capture, none a resent one
    assert run.frames == 5  # the first frame, then a resent and a fresh one after each move


def test_a_source_that_repeats_an_unchanged_image_exactly_is_checked_only_once():
    stage = FakeStage(limits=(0.0, 10.0), start=5.0)
    run = state(stage=stage)
    run.camera = ResendingCamera(stage, stuck=True)
    run.scorer.sample = lambda z, frames, phase: Sample(z, (1.0,), 1.0, phase)
    run.scorer.dark = run.scorer.black = lambda frame: False  # the frames are tokens, not images
    for z in (2.0, 3.0, 4.0, 5.0):
        run._measure(z, "coarse")
    assert run.frames == 5  # one extra frame after the first move, none after the others


def test_frames_repeated_at_one_z_without_a_move_are_all_kept():
    stage = FakeStage(limits=(0.0, 10.0), start=5.0)
    run = state(stage=stage, frames_per_position=3)
    run.camera = ResendingCamera(stage, stuck=True)  # one identical frame, always
    run.scorer.sample = lambda z, frames, phase: Sample(z, (1.0,), 1.0, phase)
    run.scorer.dark = run.scorer.black = lambda frame: False  # the frames are tokens, not images
    run._measure(5.0, "coarse")
    run.motion.arrive(5.0)  # already there: no move
    run._measure(5.0, "verify")
    assert run.frames == 6 and run.frames_vary


def test_the_scores_at_a_z_are_every_frame_there_or_those_from_a_place_in_the_run_on():
    run = state([(3.0, 1.0), (4.0, 2.0), (3.0, 3.0), (3.0, 4.0)])
    assert run._scores_at(3.0) == [1.0, 3.0, 4.0]  # the run's first frame too
    assert run._scores_at(3.0, 3) == [4.0]


@pytest.mark.parametrize("dark, frames", [((), 3), ((0,), 4), ((1,), 4), ((0, 1), 5), ((1, 3), 5)])
def test_a_dark_frame_is_taken_again_and_never_scored(dark, frames):
    run = state()
    run.camera = DarkeningCamera(dark)
    scores = [run._measure(z, "coarse").score for z in (2.0, 3.0, 4.0)]
    assert run.frames == frames
    assert min(scores) > 0.1 * max(scores)  # no sample scored a black frame


def test_a_camera_that_stays_dark_has_its_dark_frame_scored_after_two_retakes():
    run = state()
    run.camera = DarkeningCamera(range(1, 100))
    run._measure(2.0, "coarse")
    assert run._measure(3.0, "coarse").score == 0.0
    assert run.frames == 1 + 1 + 2  # the lit first frame, then a dark one and its two retakes


def test_the_retakes_and_the_frames_still_dark_after_them_are_counted():
    run = state()
    run.camera = DarkeningCamera({1, 2, 3, 5, 7, 8, 9})
    counts = []
    for z in (2.0, 3.0, 4.0, 5.0, 6.0):
        run._measure(z, "coarse")
        counts.append((run.retakes, run.dark_frames, run.dark_streak))
    # lit; dark after two retakes; lit; lit at the first retake; dark after two retakes
    assert counts == [(0, 0, 0), (2, 1, 1), (2, 1, 0), (3, 1, 0), (5, 2, 1)]


def test_a_camera_that_only_sends_black_frames_is_retaken_once_then_counted_dark():
    run = state()
    run.camera = DarkeningCamera(range(10**6), dim=0.01)  # its own dark noise: mean 0.6 grey levels
    for z in (2.0, 3.0, 4.0):
        run._measure(z, "coarse")
    # the first frame and its two retakes; then the black reference: no use taking them again
    assert (run.frames, run.retakes, run.dark_frames, run.dark_streak) == (5, 2, 3, 3)


def test_frames_of_zeros_are_taken_again_every_time():
    run = state()
    run.camera = DarkeningCamera(range(10**6))  # an empty buffer, again and again
    for z in (2.0, 3.0, 4.0):
        run._measure(z, "coarse")
    assert (run.retakes, run.dark_frames, run.dark_streak) == (6, 3, 3)


@pytest.mark.parametrize("per_position, samples, streak", [(1, 7, 6), (3, 3, 6), (4, 3, 8)])
def test_six_frames_in_a_row_dark_end_the_run_as_camera_dark_with_their_sample_recorded(
        per_position, samples, streak):
    seen = []
    run = state(frames_per_position=per_position, on_sample=lambda z, score, phase: seen.append(z))
    run.camera = DarkeningCamera(range(per_position, 10**6))  # lit at the first Z, then dark
    zs = [1.0 + 0.5 * i for i in range(10)]
    with pytest.raises(SearchFailed) as failed:
        for z in zs:
            run._measure(z, "coarse")
    assert failed.value.reason == "camera_dark"
    # the lit sample, then as many as hold six dark frames (DARK_GIVE_UP), a sample's all
    assert [s.z for s in run.samples] == seen == zs[:samples]
    assert run.dark_streak == streak
