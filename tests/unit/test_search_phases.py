"""The search's phases one by one on scripted frames (a sample at Z scores ``curve(Z)``):
the coarse sweep's early stop, extension past a rising end, refinement rounds and the
safety net for numbers no model foresaw. Written for the mutation pass of search.py; the
whole runs are in test_search.py."""

import dataclasses
import math

import numpy as np
import pytest

from octoprint_autofocus.focus import autofocus
from octoprint_autofocus.focus import search as search_module
from octoprint_autofocus.focus.options import parse_options
from octoprint_autofocus.focus.run_state import AtEdge, SearchFailed
from octoprint_autofocus.focus.sampling import Sample
from octoprint_autofocus.focus.search import _Run
from octoprint_autofocus.focus.verdict import RESCAN_POINTS
from octoprint_autofocus.simulator import make_rig
from tests.fakes import BlurringCamera, FakeStage


class Scripted(_Run):
    """A run whose measurements move the stage and score ``curve(z)`` (one level, texture
    ``texture``)."""

    def __init__(self, curve, window=(1.0, 5.0), limits=(0.0, 6.0), start=1.0, texture=1.0, **options):
        options.setdefault("sleep", lambda s: None)
        options.setdefault("coarse_points", 9)  # the scripted cases are drawn on a 0.5 mm grid
        super().__init__(FakeStage(limits=limits, start=start), None, window, limits, None,
                         "tenengrad", parse_options(options))
        self.curve, self.texture = curve, texture

    def _measure(self, z, phase):
        self.motion.arrive(z)
        sample = Sample(self.motion.position, (self.curve(z),), self.texture, phase)
        self.samples.append(sample)
        return sample


def sharp(centre, width=0.3, floor=0.1):
    return lambda z: floor + 10.0 / (1.0 + ((z - centre) / width) ** 2)


# ~~ the coarse sweep


def test_the_sweep_stops_early_only_once_the_curve_fell_below_half_its_best():
    run = Scripted(sharp(2.0))  # from Z1 upwards; the grid is 1, 1.5 .. 5
    run._coarse()
    zs = [s.z for s in run.samples]
    assert zs == [1.0, 1.5, 2.0, 2.5]  # 2.5 scores 2.9 of the best 10.1: behind the peak
    scores = {1.0: 1.0, 1.5: 2.0, 2.0: 10.0, 2.5: 7.0, 3.0: 2.0}  # 2.5 is still above half
    slow = Scripted(lambda z: scores.get(z, 1.0))
    slow._coarse()
    assert [s.z for s in slow.samples] == [1.0, 1.5, 2.0, 2.5, 3.0]


@pytest.mark.parametrize("texture, stops", [(0.01, True), (0.005, False)])
def test_a_best_sample_with_too_little_texture_never_stops_the_sweep(texture, stops):
    run = Scripted(sharp(2.0), texture=texture)  # MIN_TEXTURE is 0.01
    run._coarse()
    assert (len(run.samples) < 9) is stops


def test_a_narrow_peak_passed_at_full_resolution_is_judged_by_its_height_over_the_lowest():
    run = Scripted(None)
    for z, score in ((1.0, 2.0), (1.5, 10.0), (2.0, 5.5)):  # half of 2..10 is 6
        run.samples.append(Sample(z, (score,), 1.0, "coarse"))
    assert run._fell_at_full_resolution()
    run.samples[-1] = Sample(2.0, (6.0,), 1.0, "coarse")  # exactly half: not below it
    assert not run._fell_at_full_resolution()


def test_a_steady_steep_rise_skips_the_grid_points_before_the_peak_it_predicts():
    run = Scripted(sharp(8.0, width=1.0, floor=0.0), window=(1.0, 9.0), limits=(0.0, 10.0))
    run._coarse()  # a Lorentzian tail: 1 / score is exactly a parabola, its vertex Z8
    assert [s.z for s in run.samples] == [1.0, 2.0, 3.0, 7.0, 8.0, 9.0]  # 7 is half a step short


def test_a_peak_predicted_past_the_window_skips_to_its_last_grid_point():
    run = Scripted(sharp(14.0, width=1.0, floor=0.0), window=(1.0, 9.0), limits=(0.0, 10.0))
    run._coarse()
    assert [s.z for s in run.samples] == [1.0, 2.0, 3.0, 9.0]


@pytest.mark.parametrize("second, third, skips", [
    (1.16, 1.16 * 1.16, True),
    (1.15, 1.15 * 1.16, False),  # the first step rose by exactly SKIP_RISE
    (1.16, 1.16 * 1.15, False),  # the second did
    (1.16, 1.16 * 1.149, False),  # the second a little less
    (1.149, 1.0 / 0.756, False),  # the first a little less (the second 15.1%; a peak 8 steps on)
])
def test_only_a_rise_beyond_the_noise_at_both_steps_skips(second, third, skips):
    tail = sharp(8.0, width=1.0, floor=0.0)
    scores = {1.0: 1.0, 2.0: second, 3.0: third}  # the rest on a tail peaking at Z8
    run = Scripted(lambda z: scores.get(z, tail(z)), window=(1.0, 9.0), limits=(0.0, 10.0))
    run._coarse()
    assert (4.0 not in [s.z for s in run.samples]) is skips


def test_the_skip_counts_in_grid_steps_of_any_size():
    run = Scripted(sharp(4.5, width=0.5, floor=0.0), window=(1.0, 5.0), limits=(0.0, 6.0))
    run._coarse()  # steps of 0.5: from Z2 the peak lies 5 steps ahead, Z4 is half a step short
    assert [s.z for s in run.samples][:4] == [1.0, 1.5, 2.0, 4.0]


def test_a_rise_that_starts_late_skips_from_there_and_never_past_the_last_point():
    tail = sharp(14.0, width=1.0, floor=0.0)
    run = Scripted(lambda z: tail(max(z, 6.0)), window=(1.0, 9.0), limits=(0.0, 10.0))
    run._coarse()  # flat up to Z6: the first steady rise is Z6, Z7, Z8, and Z9 is the last point
    assert [s.z for s in run.samples] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    late = Scripted(lambda z: tail(max(z, 3.0)) if z < 9.0 else 0.0, window=(1.0, 12.0), limits=(0.0, 13.0),
                    coarse_points=12)
    late._coarse()  # the rise Z3, Z4, Z5 predicts Z14: on to the last point, Z12
    assert [s.z for s in late.samples] == [1.0, 2.0, 3.0, 4.0, 5.0, 12.0]


class TwoLevels(Scripted):
    """Full resolution ``curve(z)``, the coarsest level ``coarse(z)``."""

    def __init__(self, curve, coarse, **kwargs):
        super().__init__(curve, **kwargs)
        self.coarse = coarse

    def _measure(self, z, phase):
        sample = super()._measure(z, phase)
        self.samples[-1] = Sample(sample.z, (sample.score, self.coarse(z)), sample.texture, phase)
        return self.samples[-1]


def test_the_skip_follows_the_coarsest_level_not_the_full_resolution():
    narrow, broad = sharp(8.0, width=0.2, floor=1.0), sharp(8.0, width=1.0, floor=0.0)
    run = TwoLevels(narrow, broad, window=(1.0, 9.0), limits=(0.0, 10.0))
    run._coarse()  # the full resolution is flat this far out; the coarsest level rises steadily
    assert [s.z for s in run.samples][:4] == [1.0, 2.0, 3.0, 7.0]
    flat = TwoLevels(broad, lambda z: 1.0, window=(1.0, 9.0), limits=(0.0, 10.0))
    flat._coarse()
    assert [s.z for s in flat.samples][:4] == [1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("peak, fourth", [(5.6, 5.0), (5.4, 4.0)])
def test_a_peak_predicted_two_and_a_half_steps_ahead_or_more_is_far_enough_to_skip(peak, fourth):
    run = Scripted(sharp(peak, width=0.5, floor=0.0), window=(1.0, 9.0), limits=(0.0, 10.0))
    run._coarse()  # from Z3, the third sample: 2.6 and 2.4 steps ahead
    assert [s.z for s in run.samples][:4] == [1.0, 2.0, 3.0, fourth]


def test_a_sweep_from_the_upper_end_skips_downwards():
    run = Scripted(sharp(2.0, width=1.0, floor=0.0), window=(1.0, 9.0), limits=(0.0, 10.0), start=9.0)
    run._coarse()
    assert [s.z for s in run.samples] == [9.0, 8.0, 7.0, 3.0, 2.0, 1.0]


def test_a_tail_rising_faster_than_a_focus_curve_predicts_no_peak():
    zs = [1.0, 1.5, 2.0]
    assert search_module.peak_predicted(zs, [1.0, 2.0, 10.0]) is None  # 1 / score reaches 0 first
    assert search_module.peak_predicted(zs, [1.0, 1.1, 1.5]) is None  # 1 / score bends down
    tail = sharp(4.0, width=0.5, floor=0.0)
    assert search_module.peak_predicted(zs, [tail(z) for z in zs]) == pytest.approx(4.0)
    assert search_module.peak_predicted([0.0, 1.0, 2.0], [1 / 9, 1 / 4, 1.0]) is None  # 0 at Z3


# ~~ extension


def test_a_rising_end_that_would_reach_the_best_within_the_reach_is_extended():
    # the best (a dust bump) at 2.0; the upper end still climbs 0.2 over the last 0.5 mm: kept up
    # for four coarse steps (2 mm) it would gain 0.8, reaching the best
    scores = {1.0: 0.1, 1.5: 0.2, 2.0: 1.0, 2.5: 0.3, 3.0: 0.21, 3.5: 0.22, 4.0: 0.19, 4.5: 0.2, 5.0: 0.4}
    run = Scripted(lambda z: scores.get(z, 0.1))
    for z, s in scores.items():
        run.samples.append(Sample(z, (s,), 1.0, "coarse"))
    run._follow_rising_end()
    assert run.z_max > 5.0 and run.z_min == 1.0


def layered(zs, full, coarsest, **options):
    """A run holding samples of two levels: full resolution and the coarsest."""
    run = Scripted(None, **options)
    run.samples.extend(Sample(z, (f, c), 1.0, "coarse") for z, f, c in zip(zs, full, coarsest))
    return run


PEAK_FULL = [1.0, 2.0, 9.0, 2.0, 1.0]  # a sharp peak at Z3 over Z1..Z5


@pytest.mark.parametrize("coarsest, expected", [
    ([3.0, 3.5, 4.0, 4.2, 4.0 * 1.16], False),  # tops at the upper end, past SKIP_RISE
    ([4.0 * 1.16, 4.2, 4.0, 3.5, 3.0], True),  # at the lower end
    ([3.0, 3.5, 4.0, 4.2, 4.0 * search_module.SKIP_RISE], None),  # exactly SKIP_RISE: no more
    ([3.0, 3.5, 4.0, 4.1, 4.2], None),  # tops at an end, but only 5% above the peak
    ([3.0, 3.5, 4.0, 5.0, 4.5], None),  # tops inside the range
])
def test_a_coarsest_level_topping_at_an_end_well_above_the_peak_names_that_end(coarsest, expected):
    run = layered([1.0, 2.0, 3.0, 4.0, 5.0], PEAK_FULL, coarsest)
    assert run._coarsest_tops_past(3.0) is expected


class Layered(Scripted):
    """A sample with two layers: a faint one at Z4.6 inside the window [1, 5] and a richer one
    at Z6.5 past it, which the coarsest level sees from far away."""

    def _measure(self, z, phase):
        self.motion.arrive(z)
        full = sharp(4.6, width=0.1)(z) + sharp(6.5, width=0.1)(z) * 5.0
        coarsest = 1.0 + 5.0 / (1.0 + ((z - 6.5) / 1.5) ** 2) + 2.0 / (1.0 + ((z - 4.6) / 1.5) ** 2)
        sample = Sample(self.motion.position, (full, coarsest), 1.0, phase)
        self.samples.append(sample)
        return sample


def test_a_sharp_peak_short_of_an_end_the_coarsest_level_still_rises_into_is_looked_past():
    run = Layered(None, window=(1.0, 5.0), limits=(0.0, 9.0), start=1.0)
    assert abs(run._search() - 6.5) < 0.1


# ~~ refinement rounds


def refine_rounds(monkeypatch, fallback, pinned):
    """Refine a coarse-swept run whose rounds find nothing (each returns None), with
    ``fallback(run, last_round)`` and ``pinned(z)`` in place; the sample counts at each
    round's start and the failure it ends with."""
    run = Scripted(sharp(3.0))
    run._coarse()
    rounds = []

    def refine_round():
        rounds.append(len(run.samples))
        return None

    monkeypatch.setattr(run, "_refine_round", refine_round)
    monkeypatch.setattr(run, "_fallback", lambda last_round: fallback(run, last_round))
    monkeypatch.setattr(run, "_pinned", pinned)
    with pytest.raises(SearchFailed) as failed:
        run._refine()
    return rounds, failed.value


def test_a_second_refinement_round_follows_a_first_that_took_new_samples(monkeypatch):
    last_rounds = []

    def fallback(run, last_round):
        last_rounds.append(last_round)
        return run._measure(3.0, "verify").z

    rounds, failure = refine_rounds(monkeypatch, fallback, lambda z: False)
    assert failure.reason == "poor_fit"
    assert len(rounds) == search_module.REFINE_ROUNDS == 2 and rounds[1] > rounds[0]
    assert last_rounds == [False, True]


# ~~ numbers no model foresaw


@pytest.mark.parametrize("error", [ZeroDivisionError, IndexError, ValueError, np.linalg.LinAlgError])
def test_an_unforeseen_numerical_failure_is_a_poor_fit_and_the_stage_goes_back(monkeypatch, error):
    def broken(*args, **kwargs):
        raise error("numbers")

    monkeypatch.setattr(search_module.checks, "levels_contrast", broken)
    stage = FakeStage(limits=(0.0, 6.0), start=2.0)
    result = autofocus(stage, BlurringCamera(stage, 3.0, seed=3), 1.0, 5.0, sleep=lambda s: None)
    assert (result.ok, result.reason) == (False, "poor_fit")
    assert "internal numerical failure" in result.detail
    assert stage.commanded[-1] == 2.0  # restored to the start


def test_a_frame_at_the_peak_far_above_the_fit_shows_the_fit_too_low():
    from octoprint_autofocus.focus.fit import PeakFit
    run = Scripted(None)
    run.fit = PeakFit(model="lorentzian", z_peak=3.0, height=10.0, fwhm=1.0, r2=0.99, z_lo=2.0, z_hi=4.0,
                      points=5, strong=3, floor=0.0, params=(1.0, 0.0, 0.1), centre=3.0)
    for score, too_low in ((14.0, True), (13.4, True), (1.33 * 10.0, False), (10.0, False)):
        run.verify_score = score  # too low once the frame stands over 1.33 x the fit's height
        assert run._fit_too_low() is too_low, score
    run.fit = dataclasses.replace(run.fit, floor=1.0)  # heights count over the fit's floor
    for score, too_low in ((13.0, True), (12.9, False)):  # 1 + 1.33 x 9 = 12.97
        run.verify_score = score
        assert run._fit_too_low() is too_low, score
    run.verify_score = None
    assert not run._fit_too_low()


# ~~ extension steps


def test_extension_steps_start_at_one_coarse_step_double_and_stop_at_the_bounds():
    run = Scripted(lambda z: 1.0)  # window 1..5 (step 0.5), limits 0..6, one window width more
    assert run.bounds == (0.0, 6.0)
    ups = []
    while run._extend(below=False):
        ups.append(run.z_max)
    assert ups == [5.5, 6.0]  # 0.5, then 1.0 cut at the bound
    downs = []
    while run._extend(below=True):
        downs.append(run.z_min)
    assert downs == [0.5, 0.0]
    wide = Scripted(lambda z: 1.0, limits=(-20.0, 30.0), max_extension=10.0)  # room to grow
    ups = []
    while wide._extend(below=False):
        ups.append(wide.z_max)
    assert ups == [5.5, 6.5, 8.5, 10.5, 12.5, 14.5, 15.0]  # 0.5, 1, 2, then at most 4 coarse steps
    assert [s.z for s in wide.samples] == ups and all(s.phase == "coarse" for s in wide.samples)


# ~~ gates


def test_scores_varying_by_exactly_a_tenth_have_contrast_enough():
    run = Scripted(None)
    run.samples[:] = [Sample(1.0, (9.0,), 1.0, "coarse"), Sample(2.0, (10.0,), 1.0, "coarse")]
    run._check_contrast()  # (10 - 9) / 10 = MIN_CONTRAST: not below it
    run.samples[0] = Sample(1.0, (9.01,), 1.0, "coarse")
    with pytest.raises(SearchFailed) as failed:
        run._check_contrast()
    assert failed.value.reason == "no_peak"


def test_a_rescan_finds_more_only_with_a_sample_above_every_earlier_one():
    flat = Scripted(lambda z: 2.0)
    flat.samples.append(Sample(1.0, (2.0,), 1.0, "coarse"))  # the midpoints score the same
    assert flat._rescan_found_more() is False and len(flat.samples) > 1
    higher = Scripted(lambda z: 3.0 if z == 1.25 else 1.0)
    higher.samples.append(Sample(1.0, (2.0,), 1.0, "coarse"))
    assert higher._rescan_found_more() is True
    lower = Scripted(lambda z: 1.0)  # every midpoint lower: nothing more
    lower.samples.append(Sample(1.0, (2.0,), 1.0, "coarse"))
    assert lower._rescan_found_more() is False


def test_a_narrow_peak_between_a_short_grids_points_is_found_by_a_rescan_before_refusing_at_an_end():
    def curve(z):
        return sharp(2.25, width=0.02)(z) + 1.0 - 0.1 * z  # the blur brighter towards the hard Z1

    run = Scripted(curve, limits=(1.0, 5.0), start=5.0, coarse_points=5)  # grid 1, 2, 3, 4, 5
    result = run.execute()
    assert result.ok and result.z == pytest.approx(2.25, abs=0.01)
    assert 2.25 in [s.z for s in run.samples if s.phase == "coarse"]  # 17 points, not the 9 of 5 halved


def test_a_rescan_samples_the_halved_grid_when_that_is_finer_than_its_own():
    zs = [float(z) for z in np.linspace(1.0, 5.0, 17)]
    run = Scripted(lambda z: 1.0, coarse_points=17)
    for z in zs:
        run._measure(z, "coarse")
    assert run._rescan_found_more() is False  # a level curve: nothing new tops it
    assert sorted(s.z for s in run.samples[17:]) == pytest.approx([1.125 + 0.25 * i for i in range(16)])


@pytest.mark.parametrize("featureless, new", [((), RESCAN_POINTS - 5), ((True,), 4)])
def test_a_featureless_look_is_rescanned_at_the_grids_midpoints_only(featureless, new):
    run = Scripted(lambda z: 1.0, coarse_points=5, limits=(1.0, 5.0))  # grid 1, 2, 3, 4, 5
    for z in (1.0, 2.0, 3.0, 4.0, 5.0):
        run._measure(z, "coarse")
    run._rescan_found_more(*featureless)  # other failures (the default): 17 points
    assert len(run.samples) == 5 + new
    if featureless:
        assert sorted(s.z for s in run.samples[5:]) == [1.5, 2.5, 3.5, 4.5]


def test_a_rescan_counts_a_sample_that_tops_the_combined_curve_with_a_lower_full_resolution():
    def coarse(z):
        return 3.0 if z == 1.25 else 1.0

    glimpse = TwoLevels(lambda z: 1.5, coarse)  # full resolution below the earlier 2.0 everywhere
    glimpse.samples.append(Sample(1.0, (2.0, 1.0), 1.0, "coarse"))
    assert glimpse._rescan_found_more() is True  # at Z1.25 the combined score is (0.75 + 1) / 2
    level = TwoLevels(lambda z: 1.0, lambda z: 2.0)  # (0.5 + 1) / 2 = 0.75 everywhere: no higher
    level.samples.append(Sample(1.0, (2.0, 1.0), 1.0, "coarse"))
    assert level._rescan_found_more() is False
    seen = TwoLevels(lambda z: 1.5, coarse)
    for z in np.linspace(1.0, 5.0, 17):  # every grid point and midpoint already sampled
        seen._measure(float(z), "coarse")
    assert seen._rescan_found_more() is False and len(seen.samples) == 17


def fitted(z_peak, r2=0.99, z_lo=2.0, z_hi=4.0):
    from octoprint_autofocus.focus.fit import PeakFit
    return PeakFit(model="lorentzian", z_peak=z_peak, height=10.0, fwhm=1.0, r2=r2, z_lo=z_lo, z_hi=z_hi,
                   points=5, strong=3, floor=0.0, params=(1.0, 0.0, 0.1), centre=z_peak)


def with_samples(zs, scores, **options):
    run = Scripted(None, **options)
    run.samples.extend(Sample(z, (s,), 1.0, "coarse") for z, s in zip(zs, scores))
    return run


def test_the_fitted_peak_is_taken_up_to_a_tolerance_past_the_samples_fitted_and_on_the_range_ends():
    run = with_samples([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 5.0, 9.0, 5.0, 1.0], tolerance=0.1)
    for z_peak, z_lo, z_hi in ((1.0, 1.0, 3.0), (5.0, 3.0, 5.0), (1.9, 2.0, 4.0), (4.1, 2.0, 4.0)):
        run.fit = fitted(z_peak, z_lo=z_lo, z_hi=z_hi)
        assert run._peak_z() == z_peak
    for z_peak in (1.85, 4.15):  # more than a tolerance past the samples fitted
        run.fit = fitted(z_peak)
        with pytest.raises(SearchFailed) as failed:
            run._peak_z()
        assert failed.value.reason == "poor_fit"


def test_a_fit_with_an_r2_of_exactly_the_minimum_is_good_enough():
    run = with_samples([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 5.0, 9.0, 5.0, 1.0], tolerance=0.1)
    run.fit = fitted(3.0, r2=0.8)
    assert run._peak_z() == 3.0
    run.fit = fitted(3.0, r2=0.79)
    with pytest.raises(SearchFailed):
        run._peak_z()


@pytest.mark.parametrize("z_peak, below", [(0.5, True), (5.5, False)])
def test_a_fit_outside_the_range_with_the_best_sample_on_its_end_is_at_that_edge(z_peak, below):
    scores = [9.0, 5.0, 3.0, 2.0, 1.0] if below else [1.0, 2.0, 3.0, 5.0, 9.0]
    run = with_samples([1.0, 2.0, 3.0, 4.0, 5.0], scores, tolerance=0.1)
    run.fit = fitted(z_peak)
    with pytest.raises(AtEdge) as at_edge:
        run._peak_z()
    assert at_edge.value.below is below
    run.fit = None  # no fit at all: the end holding the best sample
    with pytest.raises(AtEdge) as at_edge:
        run._peak_z()
    assert at_edge.value.below is below


# ~~ the fallback


PEAK = ([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 5.0, 9.0, 5.0, 1.0])


def test_without_a_fit_a_clearly_interior_best_sample_is_verified_as_a_guess():
    run = with_samples(*PEAK, tolerance=0.1)
    run.curve = lambda z: 9.0
    assert run._fallback() == 3.0 and run.guessed
    assert [(s.z, s.phase) for s in run.samples[5:]] == [(3.0, "verify")]


def test_a_best_sample_on_an_end_is_no_guess():
    run = with_samples([1.0, 2.0, 3.0], [1.0, 5.0, 9.0], tolerance=0.1)
    run.curve = lambda z: 9.0
    with pytest.raises(AtEdge):
        run._fallback()
    assert not run.guessed and len(run.samples) == 3


def test_the_fallback_tries_the_fitted_peak_then_the_best_sample():
    run = with_samples(*PEAK, tolerance=0.1)
    run.fit = fitted(3.2)
    run.curve = lambda z: 2.0 if z == 3.2 else 9.0  # the fitted Z does not verify
    assert run._fallback() == 3.0 and not run.guessed
    assert [s.z for s in run.samples[5:]] == [3.2, 3.0] and run.verify_score == 9.0


def test_a_fallback_that_verifies_nothing_fails_as_verify_failed_on_a_clear_curve():
    zs = [1.0 + 0.5 * i for i in range(9)]
    run = with_samples(zs, [sharp(3.0)(z) for z in zs], tolerance=0.1)
    run.fit = fitted(3.2)
    run.curve = lambda z: 1.5
    with pytest.raises(SearchFailed) as failed:
        run._fallback()
    assert failed.value.reason == "verify_failed" and run.verify_score == 1.5


def test_a_fallback_on_a_curve_within_its_noise_whose_best_does_not_stand_out_is_no_peak():
    run = with_samples([1.0, 2.0, 3.0, 4.0, 5.0], [5.0, 5.2, 5.5, 5.1, 5.0], tolerance=0.1)
    run.fit = fitted(3.2)
    run.curve = lambda z: 5.2  # not verified (5.3 needed), above the median other point 5.05
    assert not run._clearly_above_noise()
    with pytest.raises(SearchFailed) as failed:
        run._fallback()
    assert failed.value.reason == "no_peak" and "does not stand out" in str(failed.value)


def test_a_last_chance_frame_far_above_the_best_sample_is_refined_around_not_taken():
    run = with_samples(*PEAK, tolerance=0.1)
    run.fit = fitted(3.2)
    run.curve = lambda z: 1.0 + 1.34 * (9.0 - 1.0)  # above the best 1.33 times over the lowest
    assert run._fallback() is None
    assert [(s.z, s.phase) for s in run.samples[5:]] == [(3.2, "verify")]  # no second try
    run.curve = lambda z: 1.0 + 1.33 * (9.0 - 1.0)
    assert run._fallback() == 3.2


@pytest.mark.parametrize("z_peak, frame, taken", [
    (1.95, 8.9, False),  # extrapolated past the samples fitted, scoring below the best: refine
    (1.95, 9.0, True),   # ... scoring as high as the best: the extrapolation holds
    (1.95, 9.5, True),   # ... or higher (not a new top)
    (2.0, 8.9, True),    # on the fitted samples' end: no extrapolation
    (4.0, 8.9, True),
    (4.05, 8.9, False),
])
def test_a_fitted_peak_past_the_samples_fitted_must_score_as_high_as_the_best_sample(z_peak, frame, taken):
    run = with_samples(*PEAK, tolerance=0.1)
    run.fit = fitted(z_peak)
    run.curve = lambda z: frame
    assert run._fallback(last_round=False) == (z_peak if taken else None)
    assert [(s.z, s.phase) for s in run.samples[5:]] == [(z_peak, "verify")]
    assert run._fallback() == z_peak  # by default as in the last round: no round left to refine in


@pytest.mark.parametrize("z_peak, z_lo, z_hi", [(4.05, 3.5, 4.0), (1.95, 2.0, 2.9)])
def test_only_the_fitted_peak_needs_the_height_of_the_best_sample_not_the_best_sample_itself(z_peak, z_lo, z_hi):
    run = with_samples(*PEAK, tolerance=0.1)
    run.fit = fitted(z_peak, z_lo=z_lo, z_hi=z_hi)  # the best sample, 3.0, lies outside the fit too
    run.curve = lambda z: 1.0 if z == z_peak else 8.9  # the fitted Z does not verify; 3.0 does
    assert run._fallback(last_round=False) == 3.0
    assert [s.z for s in run.samples[5:]] == [z_peak, 3.0]


def test_a_new_top_found_by_the_fallback_starts_another_round(monkeypatch):
    rounds, failure = refine_rounds(monkeypatch, lambda run, last_round: None,
                                    lambda z: pytest.fail("a new top is not pinned"))
    assert failure.reason == "poor_fit" and len(rounds) == search_module.REFINE_ROUNDS


def test_a_verification_of_exactly_the_ratio_passes():
    run = with_samples(*PEAK, tolerance=0.1)
    run.fit = fitted(3.2)
    run.curve = lambda z: 1.0 + 0.6 * (9.0 - 1.0)  # VERIFY_RATIO of the best over the lowest
    assert run._fallback() == 3.2


# ~~ a refinement round


@pytest.mark.parametrize("centre, width", [(3.0, 0.3), (3.13, 0.3), (3.37, 0.5)])
def test_a_round_that_takes_flanks_goes_on_to_confirm_the_peak_in_the_same_round(centre, width):
    run = Scripted(sharp(centre, width=width), tolerance=0.05)
    run._coarse()
    run._follow_rising_end()
    z = run._refine_round()
    assert z == pytest.approx(centre, abs=0.01)
    fine = [s for s in run.samples if s.phase != "coarse"]
    flanks = [s.z for s in fine if abs(s.z - z) >= 0.05]  # at least a tolerance away
    assert flanks and min(flanks) < z < max(flanks)  # a lower point taken on each side
    at_peak = [s for s in fine if s.z == z]  # a frame there: the last, or a refinement sample
    assert at_peak and (fine[-1] is at_peak[-1] or at_peak[-1].phase == "fine")
    assert run.verify_score == at_peak[-1].score and run.motion.position == z


@pytest.mark.parametrize("phase, offset, held, fresh", [
    ("fine", 0.0149, False, False),  # within SNAP_REACH (0.15) tolerances: it stands for a frame
    ("fine", 0.0151, False, True),  # just beyond
    ("fine", 0.0, True, True),  # backlash may have held the carriage short of that Z
    ("coarse", 0.0, False, True),  # a sweep's frame was no prediction tested at the top
    ("verify", 0.0, False, True),  # nor was a frame at an earlier fitted peak
])
def test_a_refinement_sample_near_the_fitted_peak_stands_for_a_frame_there(phase, offset, held, fresh):
    run = Scripted(sharp(3.0), tolerance=0.1)
    run.samples.extend(Sample(z, (run.curve(z),), 1.0, "coarse") for z in (2.0, 2.5, 3.5, 4.0))
    run.samples.append(Sample(3.0 + offset, (run.curve(3.0 + offset),), 1.0, phase))
    run.samples.append(Sample(3.0 + 0.03, (run.curve(3.03),), 1.0, "fine"))  # further away
    if held:
        run.held_zs.append(3.0 + offset)
    sample = run._frame_at_peak(3.0)
    if fresh:
        assert (sample.z, sample.phase, len(run.samples)) == (3.0, "verify", 7)
    else:
        assert sample is run.samples[4] and len(run.samples) == 6


def test_of_refinement_samples_near_the_fitted_peak_the_nearest_stands_for_the_frame_there():
    run = Scripted(sharp(3.0), tolerance=0.1)  # the reach: 0.015 either side of Z3
    for z in (2.99, 3.004, 2.996, 3.012):
        run.samples.append(Sample(z, (run.curve(z),), 1.0, "fine"))
    assert run._frame_at_peak(3.005) is run.samples[1] and len(run.samples) == 4
    assert run._frame_at_peak(2.992) is run.samples[0]  # below the peak as well as above it


def test_the_sweep_stops_once_the_full_resolution_fell_below_half_its_height_over_the_lowest():
    scores = {1.0: 4.0, 1.5: 10.0, 2.0: 6.5}  # 6.5 is above half the best, below half of 4..10
    run = Scripted(lambda z: scores.get(z, 4.0))
    run._coarse()
    assert [s.z for s in run.samples] == [1.0, 1.5, 2.0]


def test_a_weak_peak_makes_the_run_look_at_the_rest_of_the_window_first(monkeypatch):
    run = Scripted(lambda z: 3.0 if z == 4.0 else 1.0)  # the sharp peak lies where it did not look
    run.samples.extend(Sample(z, (s,), 1.0, "coarse") for z, s in ((1.0, 1.0), (1.5, 1.4), (2.0, 1.2)))
    judged = []

    def best(explored):  # the peak: the best sample so far
        judged.append(explored)
        return max(run.samples, key=lambda s: s.score).z

    monkeypatch.setattr(run, "_checked_peak", best)
    monkeypatch.setattr(run, "_check_weak_ends", lambda walls: None)
    assert run._weak()  # a blurred bump at 1.5
    assert run._judged_peak(explored=False) == 4.0
    assert sorted(s.z for s in run.samples[3:]) == [2.5, 3.0, 3.5, 4.0, 4.5, 5.0]
    assert judged == [False, True]  # judged again only after the rest of the window was seen


def test_a_curve_rising_into_a_bound_is_judged_again_once_the_rest_of_the_window_was_seen(monkeypatch):
    run = Scripted(lambda z: 3.0 if z == 4.0 else 1.0, limits=(1.0, 5.0))  # nowhere to extend
    run.samples.extend(Sample(z, (s,), 1.0, "coarse") for z, s in ((1.0, 2.0), (1.5, 1.4)))
    judged = []

    def checked_peak(explored):
        judged.append(explored)
        if len(judged) == 1:
            raise AtEdge(True, "the sharpness still rises into Z1")
        return max(run.samples, key=lambda s: s.score).z

    monkeypatch.setattr(run, "_checked_peak", checked_peak)
    assert run._judged_peak(explored=False) == 4.0
    assert judged == [False, True]
    assert sorted(s.z for s in run.samples[2:]) == [2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]


def test_a_curve_still_rising_into_a_bound_once_the_window_was_seen_is_at_the_edge(monkeypatch):
    run = Scripted(lambda z: 1.0, limits=(1.0, 5.0))
    run.samples.extend(Sample(z, (s,), 1.0, "coarse") for z, s in ((1.0, 2.0), (1.5, 1.4)))

    def checked_peak(explored):
        raise AtEdge(True, "the sharpness still rises into Z1")

    monkeypatch.setattr(run, "_checked_peak", checked_peak)
    with pytest.raises(AtEdge):
        run._judged_peak(explored=False)
    assert run.stopped_below is True and len(run.samples) == 9  # the window seen once, then refused


class FirstVerifyLow(Scripted):
    """The first frame taken at a fitted peak scores ``share`` of what the curve says (a
    vibration, a flicker); later ones are true."""

    share = 0.85

    def _measure(self, z, phase):
        sample = super()._measure(z, phase)
        if phase == "verify" and not any(s.phase == "verify" for s in self.samples[:-1]):
            sample = Sample(sample.z, (self.share * sample.score,), sample.texture, phase)
            self.samples[-1] = sample
        return sample


@pytest.mark.parametrize("centre, width", [(3.0, 0.3), (3.13, 0.3), (2.9, 0.3), (3.0, 0.6), (3.37, 0.5)])
def test_a_frame_at_the_peak_well_below_the_best_sample_is_refined_past_not_confirmed(centre, width,
                                                                                      monkeypatch):
    monkeypatch.setattr(search_module, "SNAP_REACH", 0.0)  # a frame is taken at every fitted peak
    run = FirstVerifyLow(sharp(centre, width=width), tolerance=0.05)
    run._coarse()
    run._follow_rising_end()
    z = run._refine_round()
    phases = [s.phase for s in run.samples if s.phase != "coarse"]
    first = phases.index("verify")
    assert phases[first + 1] == "fine"  # refined again before another frame at the peak
    assert z is None or z == pytest.approx(centre, abs=0.05)  # within the tolerance asked for


def test_the_frame_at_the_peak_is_judged_against_the_best_sample_even_when_that_was_the_last(monkeypatch):
    monkeypatch.setattr(search_module, "SNAP_REACH", 0.0)  # a frame is taken at the fitted peak
    curve = sharp(3.1, width=0.2)
    run = FirstVerifyLow(curve, tolerance=0.05)
    for z in [1.0 + 0.5 * i for i in range(9)]:
        run.samples.append(Sample(z, (curve(z),), 1.0, "coarse"))
    for z in (3.2, 3.1):  # flanks 0.1 either side of the peak already; the best sample last
        run.samples.append(Sample(z, (curve(z),), 1.0, "fine"))
    run._refine_round()
    phases = [s.phase for s in run.samples[11:]]
    assert phases[0] == "verify" and phases[1] == "fine"  # 0.85 of the best: refined past


class Levels(Scripted):
    """Scripted frames with three pyramid levels: ``curve(z)`` gives (full, half, coarse)."""

    def _measure(self, z, phase):
        self.motion.arrive(z)
        sample = Sample(self.motion.position, tuple(self.curve(z)), 1.0, phase)
        self.samples.append(sample)
        return sample


def test_a_sweep_whose_first_sample_is_best_stops_only_once_the_combined_curve_fell_to_a_quarter():
    levels = {1.0: (5.0, 10.0, 10.0), 1.5: (10.0, 0.1, 0.1)}  # combined 0.83, then 0.37 (0.44 of it)
    run = Levels(lambda z: levels.get(z, (10.0, 0.1, 0.1)))
    run._coarse()
    assert len(run.samples) > 2  # the full resolution still rises: not behind the peak yet


def test_a_sweep_whose_first_sample_is_best_stops_once_the_combined_curve_fell_to_a_quarter():
    levels = {1.0: (1.0, 10.0, 10.0, 10.0), 1.5: (10.0, 1.0, 1.0, 1.0)}  # combined 0.775, then 0.325
    run = Levels(lambda z: levels.get(z, (6.0, 0.1, 0.1, 0.1)), limits=(1.0, 5.0))
    run._coarse()  # Z2: combined 0.1575, below a quarter of 0.775; the full resolution 6 of 1..10
    assert [s.z for s in run.samples] == [1.0, 1.5, 2.0]


def test_the_sweep_goes_on_while_the_combined_curve_still_rises_at_its_last_sample():
    levels = {1.0: (10.0, 1.0, 1.0), 1.5: (4.0, 10.0, 10.0)}  # the full resolution fell, the rest rose
    run = Levels(lambda z: levels.get(z, (4.0, 10.0, 10.0)))
    run._coarse()
    assert len(run.samples) > 2


def test_a_coarse_sweep_flat_into_an_edge_is_no_edge_until_refined_there():
    zs = [1.0 + 0.5 * i for i in range(9)]
    scores = [1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 9.8, 10.0]
    run = with_samples(zs, scores)
    run._check_edge()  # coarse samples only: the curve may still peak between them
    run.samples.append(Sample(4.75, (9.9,), 1.0, "fine"))
    with pytest.raises(AtEdge) as at_edge:
        run._check_edge()
    assert at_edge.value.below is False


def test_a_proposal_from_coarse_samples_keeps_half_the_tolerance_from_them():
    run = Scripted(sharp(3.1, width=0.4), tolerance=0.5)  # three coarse points near the top: trusted
    run._coarse()
    assert all(s.phase == "coarse" for s in run.samples)
    run._refine_round()
    first_fine = next(s.z for s in run.samples if s.phase == "fine")
    nearest = min(abs(first_fine - s.z) for s in run.samples if s.phase == "coarse")
    assert nearest == pytest.approx(0.5 * 0.5, rel=2e-3)  # not the bracket's eighth (0.125)


def test_coarse_points_alone_whose_tolerance_leaves_no_room_are_refined_within_their_bracket():
    run = Scripted(sharp(3.1, width=0.4), tolerance=5.0)  # a trusted fit; half the tolerance covers the window
    run._coarse()
    assert all(s.phase == "coarse" for s in run.samples)
    run._refine_round()
    assert any(s.phase == "fine" for s in run.samples)


def test_a_curve_rising_out_of_the_window_is_followed_until_it_falls():
    run = Scripted(sharp(6.5), limits=(0.0, 12.0), max_extension=6.0)
    run._coarse()
    assert [s.z for s in run.samples][-1] == 5.0  # still rising at the window's end
    run._follow_rising_end()
    assert run.z_min == 1.0 and 6.5 < run.z_max <= 11.0
    above = sorted((s.z, s.score) for s in run.samples if s.z > 5.0)
    assert above[-1][1] < 0.5 * max(s.score for s in run.samples)  # it fell behind the peak


def test_an_end_the_sweep_never_reached_is_not_extended():
    run = Scripted(sharp(1.5))  # from Z1 up: stops early once past the peak
    run._coarse()
    taken = len(run.samples)
    assert run.samples[-1].z < 5.0
    run._follow_rising_end()
    assert len(run.samples) == taken and (run.z_min, run.z_max) == (1.0, 5.0)


def test_a_rising_end_that_would_not_reach_the_best_within_four_coarse_steps_is_not_extended():
    # as above, but the end climbs only 0.1 over the last 0.5 mm: 0.4 more in 2 mm, short of 1.0
    scores = {1.0: 0.1, 1.5: 0.2, 2.0: 1.0, 2.5: 0.3, 3.0: 0.21, 3.5: 0.22, 4.0: 0.19, 4.5: 0.4, 5.0: 0.5}
    run = with_samples(list(scores), list(scores.values()))
    run._follow_rising_end()
    assert (run.z_min, run.z_max, len(run.samples)) == (1.0, 5.0, 9)


def test_frames_repeated_at_the_end_z_give_no_slope_to_extend_by():
    zs = [1.0 + 0.5 * i for i in range(9)]
    curve = sharp(3.0)
    run = with_samples(zs, [curve(z) for z in zs])
    run.samples.append(Sample(5.0, (1.5 * curve(5.0),), 1.0, "verify"))  # the same Z, scored higher
    run._follow_rising_end()
    assert (run.z_min, run.z_max, len(run.samples)) == (1.0, 5.0, 10)


def faint_run(monkeypatch):
    """A run whose refined peak (3.0) is sharp at full resolution but faint at half resolution."""
    run = Levels(None)
    run.samples.extend(Sample(z, levels, 1.0, "coarse") for z, levels in (
        (2.0, (1.0, 5.0, 5.0)), (3.0, (10.0, 5.1, 5.2)), (4.0, (1.0, 5.05, 5.0))))
    monkeypatch.setattr(run, "_refine", lambda: 3.0)
    return run


def test_a_faint_peak_asks_for_the_window_to_be_seen_first_and_fails_once_it_was(monkeypatch):
    from octoprint_autofocus.focus.run_state import ExploreFirst
    run = faint_run(monkeypatch)
    assert run._faint() and not run._weak()
    with pytest.raises(ExploreFirst):
        run._checked_peak(explored=False)
    with pytest.raises(SearchFailed) as failed:
        run._checked_peak(explored=True)
    assert failed.value.reason == "no_peak"


def test_the_first_judgement_comes_before_the_whole_window_was_seen(monkeypatch):
    run = Scripted(sharp(3.0))
    judged = []
    monkeypatch.setattr(run, "_judged_peak", lambda explored: judged.append(explored) or 3.0)
    assert run._search() == 3.0 and judged == [False]


def test_only_a_sample_on_the_end_itself_makes_the_end_rise():
    scores = {1.0: 0.1, 1.5: 0.2, 2.0: 1.0, 2.5: 0.3, 3.0: 0.21, 3.5: 0.22, 4.0: 0.19, 4.5: 0.3, 4.9: 0.9}
    run = with_samples(list(scores), list(scores.values()))  # steep towards Z5, never sampled there
    run._follow_rising_end()
    assert (run.z_min, run.z_max, len(run.samples)) == (1.0, 5.0, 9)


def test_a_cancel_raised_by_the_sample_callback_leaves_the_stage_where_it_is():
    from octoprint_autofocus.focus.errors import Cancelled
    stage = FakeStage(limits=(0.0, 6.0), start=2.0)
    seen = []

    def on_sample(z, score, phase):
        seen.append(z)
        if len(seen) == 3:
            seen.append(len(stage.commanded))
            raise Cancelled("stop now")  # e.g. a caller's own cancel, no event set

    result = autofocus(stage, BlurringCamera(stage, 3.0, seed=3), 1.0, 5.0, sleep=lambda s: None,
                       on_sample=on_sample)
    assert result.reason == "cancelled"
    assert len(stage.commanded) == seen[3]  # no move back to the start


def test_nothing_at_all_happens_after_a_cancel_not_even_a_settle_pause():
    import threading
    cancel = threading.Event()
    stage = FakeStage(limits=(0.0, 6.0), start=5.0)
    camera = BlurringCamera(stage, 3.0, seed=3)
    pauses = []

    def on_sample(z, score, phase):
        cancel.set()
        pauses.append("cancel")

    result = autofocus(stage, camera, 1.0, 5.0, cancel=cancel, on_sample=on_sample, sleep=pauses.append)
    assert result.reason == "cancelled" and stage.position() == 5.0  # at the start, arrived from above
    assert pauses[-1] == "cancel"


def test_a_sweep_whose_first_sample_is_best_stops_once_the_combined_curve_fell_below_a_quarter():
    levels = {1.0: (5.0, 10.0, 10.0, 10.0, 10.0), 1.5: (10.0, 1.0, 1.0, 1.0, 1.0),  # combined 0.9, 0.28
              2.0: (7.5, 0.1, 0.1, 0.1, 0.1)}  # 0.16: below a quarter of 0.9; full resolution not halved
    run = Levels(lambda z: levels.get(z, (7.5, 0.1, 0.1, 0.1, 0.1)))
    run._coarse()
    assert [s.z for s in run.samples] == [1.0, 1.5, 2.0]


def test_a_round_takes_at_most_twelve_refinement_samples(monkeypatch):
    run = Scripted(sharp(3.0), tolerance=0.001)
    run._coarse()
    monkeypatch.setattr(run, "_converged", lambda: False)  # a fit that never settles
    proposals = iter(2.6 + 0.05 * i for i in range(20))  # and always somewhere new to look
    monkeypatch.setattr(search_module, "propose", lambda *args, **kwargs: next(proposals))
    taken = len(run.samples)
    assert run._refine_round() is None
    assert [s.phase for s in run.samples[taken:]] == ["fine"] * 12


def test_a_faint_first_peak_looks_at_the_rest_of_the_window_and_judges_again(monkeypatch):
    from octoprint_autofocus.focus.run_state import ExploreFirst
    run = Scripted(sharp(4.0))
    run.samples.extend(Sample(z, (sharp(4.0)(z),), 1.0, "coarse") for z in (1.0, 1.5, 2.0))
    answers = iter([ExploreFirst(), 4.0])

    def checked_peak(explored):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(run, "_checked_peak", checked_peak)
    assert run._judged_peak(explored=False) == 4.0
    assert sorted(s.z for s in run.samples[3:]) == [2.5, 3.0, 3.5, 4.0, 4.5, 5.0]


def test_a_rescan_clears_a_guessed_peak_before_judging_again(monkeypatch):
    run = Scripted(sharp(3.0))
    seen = []

    def judged_peak(explored):
        seen.append((explored, run.guessed))
        if len(seen) == 1:
            run.guessed = True  # the first judgement fell back on a guess and failed
            raise SearchFailed("verify_failed", "guess not verified")
        return 3.0

    monkeypatch.setattr(run, "_judged_peak", judged_peak)
    monkeypatch.setattr(run, "_rescan_found_more", lambda featureless: True)
    assert run._search() == 3.0
    assert seen == [(False, False), (True, False)]


@pytest.mark.parametrize("failure", [SearchFailed("camera_error", "x"), SearchFailed("stage_error", "x")])
def test_only_a_failure_to_find_a_peak_makes_the_run_rescan(monkeypatch, failure):
    run = Scripted(sharp(3.0))
    rescans = []

    def judged_peak(explored):
        raise failure

    monkeypatch.setattr(run, "_judged_peak", judged_peak)
    monkeypatch.setattr(run, "_rescan_found_more", lambda featureless: rescans.append(1) or True)
    with pytest.raises(SearchFailed) as failed:
        run._search()
    assert failed.value is failure and rescans == []


def test_a_sweep_stops_once_the_combined_curve_fell_below_half_a_best_that_was_not_first():
    levels = {1.0: (2.0, 1.0, 1.0, 1.0, 1.0), 1.5: (5.0, 10.0, 10.0, 10.0, 10.0)}  # combined 0.12, 0.9
    stops = Levels(lambda z: levels.get(z, (10.0, 1.0, 1.0, 1.0, 1.0)))  # then 0.28: below 0.45
    stops._coarse()
    assert len(stops.samples) == 3  # full resolution still rising: only the combined fall stops it
    goes_on = Levels(lambda z: levels.get(z, (10.0, 3.75, 3.75, 3.75, 3.75)))  # then 0.5: above 0.45
    goes_on._coarse()
    assert len(goes_on.samples) > 3


def test_a_poor_fit_whose_best_sample_is_not_clearly_interior_is_no_guess():
    run = with_samples([1.0, 2.0, 3.0, 4.0, 5.0], [9.5, 9.6, 10.0, 2.0, 1.0], tolerance=0.1)
    run.curve = lambda z: 10.0
    with pytest.raises(SearchFailed) as failed:
        run._fallback()  # no fit: poor_fit; below Z3 nothing clearly lower
    assert failed.value.reason == "poor_fit" and not run.guessed and len(run.samples) == 5


def test_a_sweep_stops_only_below_half_the_best_combined_score_not_on_it():
    levels = {1.0: (2.0, 1.0, 1.0, 1.0, 1.0), 1.5: (5.0, 10.0, 10.0, 10.0, 10.0)}  # combined 0.12, 0.9
    run = Levels(lambda z: levels.get(z, (10.0, 3.125, 3.125, 3.125, 3.125)))  # then exactly 0.45
    run._coarse()
    assert len(run.samples) > 3


def test_only_a_sample_on_the_lower_end_itself_makes_that_end_rise():
    scores = {1.1: 0.9, 1.5: 0.3, 2.0: 0.2, 2.5: 0.21, 3.0: 0.22, 3.5: 0.19, 4.0: 1.0, 4.5: 0.2, 5.0: 0.1}
    run = with_samples(list(scores), list(scores.values()))  # steep towards Z1, never sampled there
    run._follow_rising_end()
    assert (run.z_min, run.z_max, len(run.samples)) == (1.0, 5.0, 9)


def test_a_refinement_without_room_ends_the_round_once_it_has_fine_samples(monkeypatch):
    curve = sharp(3.0, width=0.6)
    zs = [1.0 + 0.5 * i for i in range(9)] + [3.25]
    run = with_samples(zs, [curve(z) for z in zs], tolerance=10.0)  # no room half a tolerance away
    run.samples[-1] = Sample(3.25, (curve(3.25),), 1.0, "fine")
    monkeypatch.setattr(run, "_converged", lambda: False)
    run.fit = run._fit()
    assert run._fit_trusted()
    assert run._refine_round() is None and len(run.samples) == 10


# ~~ turning back: the coarsest level falls steeply from the start

FALLING = {1.0: 10.0, 1.5: 8.0, 2.0: 6.5}
"""The first three coarse samples from Z1 up: falls of 25% and 23%, a weak full resolution
(contrast 35% over the rest at 6.0), so the early stop does not end the sweep."""


def test_a_steady_steep_fall_from_a_passable_start_stops_the_sweep_after_three_samples():
    run = Scripted(lambda z: FALLING.get(z, 6.0), limits=(0.0, 6.0))
    run._coarse()
    assert [s.z for s in run.samples] == [1.0, 1.5, 2.0]


def test_a_fall_from_a_start_at_a_hard_bound_sweeps_the_whole_window():
    run = Scripted(lambda z: FALLING.get(z, 6.0), limits=(1.0, 6.0))  # nothing below Z1
    run._coarse()
    assert len(run.samples) == 9
    above = Scripted(lambda z: FALLING.get(6.0 - z, 6.0), limits=(0.0, 5.0), start=5.0)
    above._coarse()  # the same from Z5 down, Z5 being the upper limit
    assert len(above.samples) == 9
    passable = Scripted(lambda z: FALLING.get(6.0 - z, 6.0), limits=(0.0, 6.0), start=5.0)
    passable._coarse()
    assert [s.z for s in passable.samples] == [5.0, 4.5, 4.0]


@pytest.mark.parametrize("second, third, turns", [
    (8.6, 7.4, True),
    (8.7, 7.4, False),  # the first step fell by 1 / 0.870: less than SKIP_RISE
    (8.6, 7.48, False),  # the second by 8.6 / 7.48 = 1.1497
    (search_module.SKIP_RISE * 7.0, 7.0, False),  # the second by exactly SKIP_RISE
])
def test_only_a_fall_beyond_the_noise_at_both_steps_turns_back(second, third, turns):
    scores = {1.0: 10.0, 1.5: second, 2.0: third}
    run = Scripted(lambda z: scores.get(z, 6.0), limits=(0.0, 6.0))
    run._coarse()
    assert (len(run.samples) == 3) is turns


def test_the_turn_back_follows_the_coarsest_level():
    flat_full = TwoLevels(lambda z: 1.0, lambda z: FALLING.get(z, 6.0), limits=(0.0, 6.0))
    flat_full._coarse()  # the full resolution shows nothing yet: the coarsest level turns back
    assert len(flat_full.samples) == 3
    flat_coarse = TwoLevels(lambda z: FALLING.get(z, 6.0), lambda z: 1.0, limits=(0.0, 6.0))
    flat_coarse._coarse()
    assert len(flat_coarse.samples) == 9


def test_a_focus_behind_the_start_of_a_window_is_found_without_sweeping_the_window():
    rig = make_rig(focal_z=3.6, dof=0.05, start_z=4.0, z_limits=(0.0, 10.0), seed=3)
    result = autofocus(rig.stage, rig.camera, 4.0, 6.0, limits=(0.0, 10.0), sleep=rig.clock.sleep,
                       clock=rig.clock.now)
    assert result.ok and rig.optical_error() <= rig.dof / 2
    assert max(z for z, _ in result.samples) <= 5.0  # turned back after three points: Z6 never seen


def test_without_a_fit_a_best_sample_below_the_searched_range_is_at_the_lower_edge():
    run = with_samples([0.8, 1.0, 1.5, 2.0, 2.5], [10.0, 9.0, 5.0, 3.0, 2.0])  # 0.8: a flank below Z1
    run.fit = None
    with pytest.raises(AtEdge) as at_edge:
        run._peak_z()
    assert at_edge.value.below is True


def blank_until(centre):
    """Flat 1.0 (nothing to see) but for a narrow bump of 10 at ``centre``."""
    return lambda z: 1.0 + 10.0 * math.exp(-(((z - centre) / 0.3) ** 2))


def test_a_blank_window_is_looked_past_on_both_sides_in_turn_the_nearer_first():
    run = Scripted(blank_until(8.0), limits=(0.0, 12.0))  # window 1..5, budget 4 mm a side
    run._coarse()  # from Z1 up: the stage ends at Z5, the upper end
    taken = len(run.samples)
    run._look_past_blank_window()
    # steps of 0.5, then 1, then 2 mm on each side; the lower side stops at the limit Z0;
    # 8.5 scores 1.62: no longer faint
    assert [s.z for s in run.samples[taken:]] == pytest.approx([5.5, 0.5, 6.5, 0.0, 8.5])
    assert (run.z_min, run.z_max) == pytest.approx((0.0, 8.5))


@pytest.mark.parametrize("scale", [1.0, 10.0])
@pytest.mark.parametrize("first_step", [0.88, 1.149, search_module.SKIP_RISE])
def test_a_step_that_only_widens_the_noise_past_the_faint_bound_shows_nothing(first_step, scale):
    bump = blank_until(8.0)
    run = Scripted(lambda z: scale * (first_step if z == 5.5 else bump(z)), limits=(0.0, 12.0))
    run._coarse()
    taken = len(run.samples)
    run._look_past_blank_window()  # 5.5 leaves the scores no longer faint, not above 1.15 x the window
    assert [s.z for s in run.samples[taken:]] == pytest.approx([5.5, 0.5, 6.5, 0.0, 8.5])


@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_a_step_scoring_well_above_the_blank_window_ends_the_look(scale):
    bump = blank_until(8.0)
    run = Scripted(lambda z: scale * (1.151 if z == 5.5 else bump(z)), limits=(0.0, 12.0))
    run._coarse()
    taken = len(run.samples)
    run._look_past_blank_window()
    assert [s.z for s in run.samples[taken:]] == pytest.approx([5.5])


def test_past_a_blank_window_a_steep_rise_of_the_coarsest_level_is_followed_the_same_way():
    def coarse(z):
        return 1.0 + 2.0 * max(1.0 - z, 0.0)  # rises below the window; the fine levels show nothing

    run = TwoLevels(lambda z: 1.0, coarse, limits=(-3.0, 9.0))  # window 1..5
    for z in (1.0, 3.0, 5.0):
        run._measure(z, "coarse")
    run._look_past_blank_window()  # the stage is at Z5: above first, then below, and on below
    assert [s.z for s in run.samples[3:]] == pytest.approx([5.5, 0.5, -0.5, -2.5, -3.0, 6.5, 8.5, 9.0])


ALTERNATING = [5.5, 0.5, 6.5, -0.5, 8.5, -2.5, 9.0, -3.0]
"""The steps past the window 1..5 (limits -3..9), the stage at Z5, when nothing shows a direction."""


@pytest.mark.parametrize("coarse", [
    lambda z: 10.0,  # flat
    lambda z: 2.0 * search_module.SKIP_RISE if z < 1.0 else 2.0,  # a rise of exactly SKIP_RISE below
])
def test_past_a_blank_window_without_a_steep_rise_the_steps_alternate(coarse):
    run = TwoLevels(lambda z: 1.0, coarse, limits=(-3.0, 9.0))
    for z in (1.0, 3.0, 5.0):
        run._measure(z, "coarse")
    run._look_past_blank_window()
    assert [s.z for s in run.samples[3:]] == pytest.approx(ALTERNATING)


def test_a_steep_rise_is_measured_from_the_end_stepped_past():
    # the window's top scores 3 on the coarsest level, its bottom 1; below it rises to 2, 4 ..
    def coarse(z):
        return 3.0 if z >= 5.0 else 1.0 + 2.0 * max(1.0 - z, 0.0)

    run = TwoLevels(lambda z: 5.0 + 0.01 * z, coarse, limits=(-3.0, 9.0))  # faint, no plateau
    for z in (1.0, 3.0, 5.0):
        run._measure(z, "coarse")
    run._look_past_blank_window()  # 5.5 ties the top (3): no rise; 0.5 doubles the bottom's 1
    assert [s.z for s in run.samples[3:]] == pytest.approx([5.5, 0.5, -0.5, -2.5, -3.0, 6.5, 8.5, 9.0])


def test_a_blank_window_started_from_below_is_looked_past_below_first():
    run = Scripted(blank_until(8.0), limits=(0.0, 12.0), start=5.0)  # the sweep goes down
    run._coarse()
    taken = len(run.samples)
    run._look_past_blank_window()
    assert [s.z for s in run.samples[taken:]][:2] == pytest.approx([0.5, 5.5])


def test_a_blank_window_with_nowhere_to_go_takes_nothing_more():
    run = Scripted(blank_until(8.0), limits=(1.0, 5.0))
    run._coarse()
    taken = len(run.samples)
    run._look_past_blank_window()
    assert len(run.samples) == taken and (run.z_min, run.z_max) == (1.0, 5.0)


def test_a_blank_window_stops_looking_once_both_sides_are_spent():
    run = Scripted(lambda z: 1.0, limits=(0.0, 6.0), max_extension=1.0)
    run._coarse()
    taken = len(run.samples)
    run._look_past_blank_window()
    assert sorted(s.z for s in run.samples[taken:]) == pytest.approx([0.0, 0.5, 5.5, 6.0])
    assert run._faint()


def test_a_window_that_shows_something_is_not_looked_past():
    run = Scripted(sharp(3.0), limits=(0.0, 12.0))
    run._coarse()
    taken = len(run.samples)
    run._look_past_blank_window()
    assert len(run.samples) == taken


def test_a_peak_the_half_resolution_does_not_see_is_refused_after_the_noise_check(monkeypatch):
    # full resolution: a clear peak at Z3 (frames there drifted up); half resolution: it
    # peaks at Z2 and is low at Z3 (5.5 of 5..10, the bar is 8.5)
    # new frames: full 30, half 5.5 at the peak, low elsewhere
    run = Levels(lambda z: (30.0, 5.5, 5.0) if z == 3.0 else (1.0, 5.0, 5.0))
    run.samples.extend(Sample(z, levels, 1.0, "coarse") for z, levels in (
        (1.0, (1.0, 5.0, 5.0)), (2.0, (2.0, 10.0, 6.0)), (3.0, (20.0, 5.5, 5.0)),
        (4.0, (1.0, 5.0, 5.0)), (5.0, (1.0, 5.0, 5.0))))
    monkeypatch.setattr(run, "_refine", lambda: 3.0)
    with pytest.raises(SearchFailed) as failed:
        run._checked_peak(explored=True)
    assert failed.value.reason == "no_peak" and "half-resolution" in str(failed.value)
    monkeypatch.setattr(run, "_check_half_resolution", lambda z: None)
    assert run._checked_peak(explored=True) == 3.0  # every other check passes it


def test_a_narrow_blank_window_swept_upwards_is_looked_past_above_first():
    run = Scripted(blank_until(3.0), window=(1.0, 1.8), limits=(0.0, 4.0))
    run._coarse()  # from Z1 up to Z1.8, where the stage stays
    taken = len(run.samples)
    run._look_past_blank_window()
    assert [s.z for s in run.samples[taken:]][:2] == pytest.approx([1.9, 0.9])


def test_a_narrow_blank_window_swept_downwards_is_looked_past_below_first():
    run = Scripted(blank_until(3.0), window=(1.0, 1.8), limits=(0.0, 4.0), start=1.8)
    run._coarse()  # from Z1.8 down to Z1, where the stage stays
    taken = len(run.samples)
    run._look_past_blank_window()
    assert [s.z for s in run.samples[taken:]][:2] == pytest.approx([0.9, 1.9])


@pytest.mark.parametrize("reason, faint, reported", [
    ("poor_fit", True, "no_peak"), ("verify_failed", True, "no_peak"),
    ("poor_fit", False, "poor_fit"), ("verify_failed", False, "verify_failed"),
    ("peak_at_edge", True, "peak_at_edge"), ("no_peak", False, "no_peak")])
def test_scores_that_never_varied_explain_a_failed_fit_as_no_peak(monkeypatch, reason, faint, reported):
    curve = (lambda z: 1.0 + 0.01 * z) if faint else sharp(3.0)
    run = Scripted(curve)

    def fail():
        run._coarse()
        raise SearchFailed(reason, "as scripted")

    monkeypatch.setattr(run, "_search", fail)
    result = run.execute()
    assert not result.ok and result.reason == reported
    assert ("vary by" in result.detail) == (reported != reason)


def test_a_featureless_roi_explains_any_failure_first(monkeypatch):
    run = Scripted(lambda z: 1.0, texture=0.001)

    def fail():
        run._coarse()
        raise SearchFailed("poor_fit", "as scripted")

    monkeypatch.setattr(run, "_search", fail)
    assert run.execute().reason == "low_texture"


# ~~ a held end


def test_a_held_top_is_probed_halfway_inside_at_most_twice_a_run():
    scores = {1.0: 1.0, 3.0: 2.0, 4.8: 10.0, 5.0: 10.05}
    run = Scripted(lambda z: scores.get(z, 5.0), limits=(1.0, 5.0))
    for z in scores:
        run._measure(z, "coarse")
    run.held_zs = [4.8, 5.0]  # reached with the overscan cut by the top: one image, Z <= 4.8
    assert run._probe_inside_held_end(below=True) is False  # the bottom is no held end
    assert run._probe_inside_held_end(below=False) is True
    assert run.samples[-1].z == pytest.approx(3.9)  # halfway from 3.0 to the held end's 4.8
    assert run._probe_inside_held_end(below=False) is True
    assert run.samples[-1].z == pytest.approx(4.35)
    assert run._probe_inside_held_end(below=False) is False and len(run.samples) == 6


def test_approached_from_below_the_held_end_is_the_bottom_and_an_exact_end_is_not_probed():
    scores = {1.0: 10.05, 1.2: 10.0, 3.0: 2.0, 5.0: 1.0}
    run = Scripted(lambda z: scores.get(z, 5.0), limits=(1.0, 5.0), approach="below")
    for z in scores:
        run._measure(z, "coarse")
    run.held_zs = [1.0, 1.2]
    assert run._probe_inside_held_end(below=False) is False
    assert run._probe_inside_held_end(below=True) is True
    assert run.samples[-1].z == pytest.approx(2.1)
    exact = Scripted(lambda z: scores.get(z, 5.0), limits=(1.0, 5.0), approach="below")
    for z in scores:
        exact._measure(z, "coarse")
    exact.held_zs = [1.2]  # the end point itself was reached exactly
    assert exact._probe_inside_held_end(below=True) is False


def scripted_held(scores, held, **options):
    """A run that sampled ``scores`` {z: score} (identical scores make a plateau) with the
    Zs ``held`` reached with the overscan cut by the limit."""
    run = Scripted(lambda z: scores.get(z, 5.0), limits=(1.0, 5.0), **options)
    for z in scores:
        run._measure(z, "coarse")
    run.held_zs = list(held)
    return run


def test_only_the_approach_side_end_is_probed_even_when_the_other_end_is_held():
    above = scripted_held({1.0: 10.0, 1.2: 10.1, 3.0: 2.0, 5.0: 1.0}, [1.0, 1.2])
    assert above._probe_inside_held_end(below=True) is False and len(above.samples) == 4
    below = scripted_held({1.0: 1.0, 3.0: 2.0, 4.8: 10.0, 5.0: 10.1}, [4.8, 5.0], approach="below")
    assert below._probe_inside_held_end(below=False) is False and len(below.samples) == 4


def test_a_held_end_with_one_neighbour_is_probed_and_one_held_point_alone_is_not():
    pair = scripted_held({3.0: 2.0, 5.0: 10.0}, [5.0])
    assert pair._probe_inside_held_end(below=False) is True
    assert pair.samples[-1].z == pytest.approx(4.0)
    alone = scripted_held({5.0: 10.0}, [5.0])
    assert alone._probe_inside_held_end(below=False) is False and len(alone.samples) == 1


@pytest.mark.parametrize("held", [4.8, 4.9, 5.0])
def test_a_held_z_anywhere_in_the_end_plateau_makes_it_a_held_end(held):
    run = scripted_held({1.0: 1.0, 3.0: 2.0, 3.2: 2.0, 4.8: 10.0, 4.9: 10.0, 5.0: 10.0}, [held])
    assert run._probe_inside_held_end(below=False) is True
    assert run.samples[-1].z == pytest.approx(4.0)  # from the inner plateau's top 3.2 to 4.8


def test_from_below_the_probe_starts_at_the_bottom_of_the_inner_plateau():
    run = scripted_held({1.0: 10.0, 1.2: 10.0, 3.0: 2.0, 3.2: 2.0, 5.0: 1.0}, [1.0], approach="below")
    assert run._probe_inside_held_end(below=True) is True
    assert run.samples[-1].z == pytest.approx(2.1)  # from the held plateau's top 1.2 to 3.0


# ~~ slack: backlash larger than the overscan


def slipping_run(monkeypatch, slipped=(3.0, 10.0, 8.0), **options):
    """A run with three coarse samples and a refinement after them, whose looks disagree
    (``_slipped`` returns ``slipped``)."""
    run = Scripted(None, **options)
    looks = [(1.0, 1.0, "coarse"), (3.0, 10.0, "coarse"), (5.0, 1.0, "coarse"), (3.2, 9.0, "fine"),
             (3.0, 8.0, "verify")]
    run.samples.extend(Sample(z, (s,), 1.0, phase) for z, s, phase in looks)
    run.looks.extend(run.samples)
    run.fit, run.verify_score, run.guessed = object(), 8.0, True
    monkeypatch.setattr(run, "_slipped", lambda: slipped)
    return run


def test_a_slip_grows_the_overscan_and_sets_the_refinement_aside(monkeypatch):
    run = slipping_run(monkeypatch)
    assert run._took_up_slack()
    assert run.motion.overscan == pytest.approx(0.2 * search_module.SLACK_GROWTH)
    assert [s.z for s in run.samples] == [1.0, 3.0, 5.0]  # the coarse samples stay
    assert len(run.looks) == 5  # the record keeps every look
    assert (run.fit, run.verify_score, run.guessed) == (None, None, False)
    assert run.slack_rounds == 1


def test_the_overscan_grows_at_most_slack_rounds_times_and_never_past_the_limits(monkeypatch):
    run = slipping_run(monkeypatch, window=(10.2, 10.8), limits=(10.0, 11.0), overscan=0.25)
    assert run._took_up_slack() and run.motion.overscan == pytest.approx(0.75)
    assert run._took_up_slack() and run.motion.overscan == pytest.approx(1.0)  # the limits' span
    assert not run._took_up_slack() and run.motion.overscan == pytest.approx(1.0)
    assert run.slack_rounds == search_module.SLACK_ROUNDS == 2


@pytest.mark.parametrize("slipped, overscan", [(None, 0.2), ((3.0, 10.0, 8.0), 0.0)],
                         ids=["looks agree", "overscan turned off"])
def test_no_slip_or_no_overscan_changes_nothing(monkeypatch, slipped, overscan):
    run = slipping_run(monkeypatch, slipped=slipped, overscan=overscan)
    assert not run._took_up_slack()
    assert run.motion.overscan == overscan and len(run.samples) == 5 and run.guessed


def judged_after_slack(monkeypatch, first):
    """``_judged_peak`` whose first check ends with ``first`` (a Z, or an exception to raise)
    and whose first look for slack finds it; the checks after that give Z3."""
    run = Scripted(None, limits=(1.0, 5.0))  # the window is the wall: nothing to extend into
    run.samples.extend(Sample(z, (s,), 1.0, "coarse") for z, s in ((1.0, 1.0), (3.0, 10.0), (5.0, 1.0)))
    judged, slack = [], []

    def checked_peak(explored):
        judged.append(explored)
        if len(judged) == 1 and isinstance(first, Exception):
            raise first
        return first if len(judged) == 1 else 3.0

    monkeypatch.setattr(run, "_checked_peak", checked_peak)
    monkeypatch.setattr(run, "_took_up_slack", lambda: slack.append(1) or len(slack) == 1)
    return run, judged


@pytest.mark.parametrize("first", [2.5, AtEdge(True, "rises into Z1"), SearchFailed("poor_fit", "no fit"),
                                   SearchFailed("verify_failed", "low"), SearchFailed("peak_at_edge", "edge")],
                         ids=["a peak", "at an edge", "poor_fit", "verify_failed", "peak_at_edge"])
def test_a_peak_or_a_refusal_slack_explains_is_judged_again_after_taking_it_up(monkeypatch, first):
    run, judged = judged_after_slack(monkeypatch, first)
    assert run._judged_peak(explored=False) == 3.0
    assert len(judged) == 2


@pytest.mark.parametrize("reason", ["no_peak", "low_texture", "camera_dark"])
def test_a_refusal_slack_does_not_explain_stands(monkeypatch, reason):
    run, judged = judged_after_slack(monkeypatch, SearchFailed(reason, "as it is"))
    with pytest.raises(SearchFailed) as failed:
        run._judged_peak(explored=False)
    assert failed.value.reason == reason and len(judged) == 1


def star_field(z):
    """A blur that keeps a high score everywhere (blurred points), its focus at Z4.8 near the wall Z5."""
    return 5.5 + 2.3 / (1.0 + ((z - 4.8) / 0.4) ** 2)


@pytest.mark.parametrize("texture, ok", [(0.1, True), (0.05, False)])
def test_a_weak_best_with_a_textured_image_is_judged_at_a_wall_as_a_sharp_peak_is(texture, ok):
    run = Scripted(star_field, limits=(1.0, 5.0), texture=texture)  # the window is the wall
    result = run.execute()
    assert run._weak()  # 5.5 to 7.8: its whole curve within 30% of the best
    assert result.ok is ok
    if ok:
        assert result.z == pytest.approx(4.8, abs=0.1)
    else:  # a blurred bump whose curve has not died away into the wall: it may lie past it
        assert result.reason == "peak_at_edge"
