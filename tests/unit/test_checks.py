"""The search's checks, each on hand-made arrays."""

import math

import numpy as np
import pytest

from octoprint_autofocus.focus import checks
from octoprint_autofocus.focus.fit import PeakFit, fit_peak


def peak_fit(z_peak=2.0, height=10.0, floor=1.0, fwhm=0.4, r2=0.99, strong=3):
    """A PeakFit with the fields the checks read."""
    return PeakFit(model="lorentzian", z_peak=z_peak, height=height, fwhm=fwhm, r2=r2,
                   z_lo=z_peak - fwhm, z_hi=z_peak + fwhm, points=5, strong=strong, floor=floor,
                   params=(1.0, 0.0, 0.1), centre=z_peak)


def test_relative_contrast_is_zero_for_a_flat_curve_and_near_one_for_a_peak():
    assert checks.relative_contrast([5.0, 5.0, 5.0]) == 0.0
    assert checks.relative_contrast([1.0, 100.0, 2.0]) == pytest.approx(0.99)
    assert checks.relative_contrast([0.0, 0.0]) == 0.0


def test_levels_contrast_is_the_best_level():
    levels = np.array([[10.0, 1.0], [10.5, 4.0], [10.2, 2.0]])
    assert checks.levels_contrast(levels) == pytest.approx(0.75)


def test_a_peak_many_noise_bounds_high_is_clearly_above_noise():
    rng = np.random.default_rng(0)
    zs = np.linspace(0.0, 4.0, 15)
    curve = 10.0 / (1.0 + ((zs - 2.0) / 0.3) ** 2)
    assert checks.clearly_above_noise(zs, curve + rng.normal(0.0, 0.05, zs.size))
    assert not checks.clearly_above_noise(zs, rng.normal(5.0, 0.5, zs.size))


def test_noise_that_grows_with_the_score_is_judged_in_relative_terms():
    rng = np.random.default_rng(1)
    zs = np.linspace(0.0, 4.0, 15)
    flat = np.full(zs.size, 100.0) * (1.0 + rng.normal(0.0, 0.2, zs.size))  # 20% flicker
    assert not checks.clearly_above_noise(zs, flat)


def test_repeated_frames_above_the_median_stand_out_only_beyond_the_noise():
    others = [1.0, 1.1, 0.9, 1.05, 0.95]
    assert checks.stands_out([2.0, 2.1, 1.9], others, sigma=0.1, freedom=4)
    assert not checks.stands_out([1.2, 1.25, 1.15], others, sigma=0.3, freedom=4)


def test_peak_over_noise_without_other_points_is_no_evidence():
    height, error = checks.peak_over_noise([5.0], [], sigma=0.1, freedom=3)
    assert error == math.inf and not checks.stands_out([5.0], [], 0.1, 3)


def test_a_gap_beyond_the_relative_free_bound_or_below_the_near_top_cut_is_lower_at_once():
    # free_bound is a bound on log(peak / low)
    assert checks.clearly_lower([10.0], [8.0], free_bound=0.2, floor=0.0, sigma=0.0, freedom=0)
    assert not checks.clearly_lower([10.0], [8.0], free_bound=0.3, floor=0.0, sigma=0.0, freedom=0)
    assert checks.clearly_lower([10.0], [2.0], free_bound=50.0, floor=0.0, sigma=0.0, freedom=0)
    assert checks.clearly_lower([10.0], [0.0], free_bound=50.0, floor=5.0, sigma=0.0, freedom=0)
    assert not checks.clearly_lower([10.0], [9.0], free_bound=5.0, floor=0.0, sigma=0.0, freedom=0)


def test_a_small_gap_is_lower_only_with_repeat_frames_that_show_it():
    at_z, at_low = [10.0, 10.1, 9.9, 10.0], [9.5, 9.6, 9.4, 9.5]
    assert checks.clearly_lower(at_z, at_low, free_bound=5.0, floor=0.0, sigma=0.08, freedom=6)
    assert not checks.clearly_lower(at_z, at_low, free_bound=5.0, floor=0.0, sigma=0.5, freedom=6)
    assert not checks.clearly_lower(at_z, at_low, free_bound=5.0, floor=0.0, sigma=0.0, freedom=0)


def test_a_frame_at_the_fitted_peak_confirms_between_the_best_sample_and_the_fit_height():
    fit = peak_fit(height=10.0, floor=1.0)
    assert checks.confirms(9.5, best_other=9.8, fit=fit)
    assert not checks.confirms(8.0, best_other=9.8, fit=fit)   # below 0.9 of the best
    assert not checks.confirms(14.0, best_other=9.8, fit=fit)  # far above the fit: narrower


def test_a_last_chance_frame_needs_the_verify_ratio_above_the_floor():
    assert checks.verified(7.0, best=10.0, floor=0.0)
    assert not checks.verified(5.0, best=10.0, floor=0.0)


def test_clearly_interior_needs_clearly_lower_samples_on_both_sides():
    zs, scores = [1.0, 2.0, 3.0, 4.0], [1.0, 10.0, 9.5, 2.0]
    assert checks.clearly_interior(zs, scores, 2.0, 10.0)
    assert not checks.clearly_interior(zs[:3], scores[:3], 2.0, 10.0)  # 9.5 is just noise below


def test_levels_agree_when_the_combined_best_is_nearly_the_full_resolution_best():
    scores = [1.0, 10.0, 9.5, 2.0]
    assert checks.levels_agree(scores, [0.1, 0.9, 1.0, 0.2])
    assert not checks.levels_agree(scores, [1.0, 0.9, 0.5, 0.2])


def test_a_top_straddled_by_near_top_points_on_both_sides():
    zs = np.array([1.0, 1.8, 2.0, 2.2, 3.0])
    fit = peak_fit(z_peak=2.05, height=10.0, floor=1.0)
    assert checks.straddled(zs, np.array([1.0, 7.0, 10.0, 8.0, 1.0]), fit)
    assert not checks.straddled(zs, np.array([1.0, 2.0, 10.0, 8.0, 1.0]), fit)


def test_a_fit_is_converged_once_its_peak_is_pinned_between_close_samples():
    fit = peak_fit(z_peak=2.05, fwhm=0.4)
    assert checks.converged([1.0, 2.0, 2.1, 3.0], fit, tolerance=0.1)
    assert not checks.converged([1.0, 2.0, 2.5, 3.0], fit, tolerance=0.1)  # 0.5 apart
    assert not checks.converged([1.0, 2.0], fit, tolerance=0.1)  # nothing above the peak
    assert not checks.converged([1.0, 2.0, 2.1, 3.0], peak_fit(z_peak=2.05, r2=0.5), 0.1)
    assert not checks.converged([1.0, 2.0, 2.1, 3.0], peak_fit(z_peak=2.05, strong=2), 0.1)


def test_a_curve_flat_into_a_refined_edge_rises_into_it():
    zs = [1.0, 2.0, 3.0, 4.0, 5.0, 4.8]
    scores = [1.0, 2.0, 4.0, 7.0, 10.0, 9.8]
    cs = np.array(scores) / 10.0
    refined = [False] * 5 + [True]
    assert checks.rising_into_edge(zs, scores, cs, refined, (1.0, 5.0)) == 5.0
    assert checks.rising_into_edge(zs, scores, cs, [False] * 6, (1.0, 5.0)) is None


def test_a_peak_clearly_inside_the_edge_is_not_rising_into_it():
    zs = [1.0, 2.0, 3.0, 4.0, 5.0, 4.6]
    scores = [1.0, 2.0, 4.0, 7.0, 6.0, 10.0]
    cs = np.array(scores) / 10.0
    assert checks.rising_into_edge(zs, scores, cs, [False] * 5 + [True], (1.0, 5.0)) is None


def test_a_best_sample_away_from_the_range_edges_is_not_at_an_edge():
    zs, scores = [1.5, 2.0, 3.0], [1.0, 5.0, 10.0]
    assert checks.rising_into_edge(zs, scores, scores, [True] * 3, (1.0, 5.0)) is None


def test_the_checks_accept_a_real_fit():
    zs = np.linspace(1.0, 3.0, 21)
    scores = 1.0 + 9.0 / (1.0 + ((zs - 2.13) / 0.2) ** 2)
    fit = fit_peak(zs, scores, floor=1.0)
    assert checks.straddled(zs, scores, fit)
    assert checks.converged(zs, fit, tolerance=0.1)


def test_an_end_is_worth_extending_when_it_is_best_or_rises_enough_to_reach_the_best():
    assert checks.worth_extending(1.0, 0.0, 1.0)
    assert checks.worth_extending(0.7, 0.4, 1.0)
    assert not checks.worth_extending(0.7, 0.2, 1.0)
    assert not checks.worth_extending(0.7, -0.4, 1.0)


def points_of(zs, scores):
    from octoprint_autofocus.focus.curve import merge_plateaus
    return merge_plateaus(list(zs), [(s,) for s in scores])


def test_a_peak_is_pinned_by_a_lower_point_on_each_side_within_reach():
    pts = points_of([1.0, 1.8, 2.0, 2.2, 3.0], [1.0, 7.0, 10.0, 8.0, 1.0])
    assert checks.pinned(pts, 2.0, [(0.1, 0.5), (0.1, 0.5)])
    assert not checks.pinned(pts, 2.0, [(0.3, 0.5), (0.1, 0.5)])  # nothing 0.3-0.5 below
    assert checks.pinned(pts, 2.0, [None, (0.1, 0.5)])  # a bound below: judged elsewhere


def test_a_higher_neighbour_leaves_the_peak_unpinned():
    pts = points_of([1.0, 1.8, 2.0, 2.2, 3.0], [1.0, 11.0, 10.0, 8.0, 1.0])
    assert not checks.pinned(pts, 2.0, [(0.1, 0.5), (0.1, 0.5)])


def test_replayed_slices_count_as_one_point_each_and_their_far_ends_count_for_reach():
    zs = [1.0, 1.7, 1.8, 1.9, 1.95, 2.0, 2.05, 2.1, 2.15, 2.4, 3.0]
    scores = [1.0, 6.0, 6.0, 6.0, 9.0, 9.0, 9.0, 9.0, 7.0, 7.0, 1.0]  # three slices seen
    assert checks.pinned(points_of(zs, scores), 2.02, [(0.2, 0.6), (0.2, 0.6)])
    assert not checks.pinned(points_of(zs[3:], scores[3:]), 2.02, [(0.2, 0.6), (0.2, 0.6)])


def test_the_half_height_bracket_bounds_the_width_and_is_open_without_a_fall():
    zs = np.linspace(0.0, 4.0, 9)
    scores = 1.0 + 9.0 / (1.0 + ((zs - 2.0) / 0.5) ** 2)  # FWHM 1.0
    assert 1.0 <= checks.half_height_bracket(zs, scores) <= 2.0
    assert checks.half_height_bracket(zs, zs + 1.0) == math.inf


# ~~ each check at its threshold (tests written for the mutation pass)


def test_a_gap_of_exactly_the_free_bound_or_exactly_the_near_top_cut_is_lower():
    assert checks.clearly_lower([10.0], [8.0], free_bound=math.log(10.0 / 8.0), floor=0.0, sigma=0.0,
                                freedom=0)
    assert checks.clearly_lower([10.0], [3.0], free_bound=5.0, floor=0.0, sigma=0.0, freedom=0)  # 7 = 0.7 x 10
    assert not checks.clearly_lower([10.0], [3.5], free_bound=5.0, floor=0.0, sigma=0.0, freedom=0)


def test_a_confirming_frame_may_reach_exactly_either_bound():
    fit = peak_fit(height=10.0, floor=0.0)
    assert checks.confirms(0.9 * 8.0, best_other=8.0, fit=fit)
    assert checks.confirms(1.33 * 10.0, best_other=8.0, fit=fit)
    assert not checks.confirms(1.33 * 10.0 + 0.01, best_other=8.0, fit=fit)


def test_a_last_chance_frame_of_exactly_the_ratio_is_verified():
    assert checks.verified(0.6 * 10.0, best=10.0, floor=0.0)
    assert checks.verified(2.0 + 0.6 * 8.0, best=10.0, floor=2.0)
    assert not checks.verified(6.5, best=10.0, floor=2.0)


def test_a_side_sample_exactly_at_the_flat_line_or_at_the_peak_z_is_not_clearly_lower():
    low = 1.0 + 0.9 * (10.0 - 1.0)
    assert not checks.clearly_interior([1.0, 2.0, 3.0], [1.0, 10.0, low], 2.0, 10.0)
    assert not checks.clearly_interior([1.0, 2.0, 3.0], [low, 10.0, 1.0], 2.0, 10.0)
    assert checks.clearly_interior([1.0, 2.0, 3.0], [1.0, 10.0, low - 0.01], 2.0, 10.0)
    assert not checks.clearly_interior([2.0, 2.0, 3.0], [1.0, 10.0, 1.0], 2.0, 10.0)  # nothing below


def test_levels_agree_at_exactly_the_confirm_share():
    scores = [0.0, 10.0, 9.0, 1.0]  # the combined best (9.0) is 0.9 of the top over the floor
    assert checks.levels_agree(scores, [0.1, 0.9, 1.0, 0.2])
    assert not checks.levels_agree([0.0, 10.0, 8.99, 1.0], [0.1, 0.9, 1.0, 0.2])


def test_a_neighbour_of_exactly_the_near_top_cut_straddles_but_the_fit_must_lie_strictly_between():
    zs = np.array([1.0, 1.8, 2.0, 2.2, 3.0])
    fit = peak_fit(z_peak=2.05, height=10.0, floor=0.0)  # cut: 0.3 x 10
    assert checks.straddled(zs, np.array([0.0, 3.0, 10.0, 8.0, 0.0]), fit)
    assert not checks.straddled(zs, np.array([0.0, 2.99, 10.0, 8.0, 0.0]), fit)
    for z_peak in (1.8, 2.2, 1.5, 2.5):  # on the outermost strong point, or beyond it
        assert not checks.straddled(zs, np.array([0.0, 7.0, 10.0, 8.0, 0.0]),
                                    peak_fit(z_peak=z_peak, height=10.0, floor=0.0))


def test_converged_at_exactly_its_gap_and_with_a_sample_on_the_peak():
    fit = peak_fit(z_peak=2.0, fwhm=2.0, r2=0.8)  # r2 exactly MIN_R2
    assert checks.converged([1.0, 1.75, 2.25, 3.0], fit, tolerance=0.125)  # gap 0.5 = 4 tolerances
    assert not checks.converged([1.0, 1.74, 2.25, 3.0], fit, tolerance=0.125)
    assert checks.converged([1.0, 1.5, 2.0, 3.0], peak_fit(z_peak=2.0, fwhm=0.4), tolerance=1.0)  # on it
    assert checks.converged([1.0, 1.5, 2.0, 3.0], peak_fit(z_peak=2.0, fwhm=0.4, strong=3), tolerance=1.0)
    assert checks.converged([1.75, 2.25], peak_fit(z_peak=2.0, fwhm=1.25), tolerance=1.0)  # 0.4 of the width
    assert not checks.converged([1.75, 2.25], peak_fit(z_peak=2.0, fwhm=1.24), tolerance=1.0)


def test_an_end_whose_rise_reaches_exactly_the_best_is_worth_extending():
    assert checks.worth_extending(0.5, 0.5, 1.0)
    assert not checks.worth_extending(0.5, 0.49, 1.0)


def test_a_flank_point_counts_from_exactly_near_to_exactly_far():
    pts = points_of([1.5, 1.75, 2.0, 2.25, 2.5], [1.0, 7.0, 10.0, 7.0, 1.0])
    assert checks.pinned(pts, 2.0, [(0.25, 0.25), (0.25, 0.25)])  # at exactly both ends of the reach
    assert not checks.pinned(pts, 2.0, [(0.26, 0.3), (0.1, 0.5)])
    assert not checks.pinned(pts, 2.0, [(0.1, 0.24), (0.1, 0.5)])
    # below, the only point in reach (1.6) scores the same as the peak: not lower
    equal = points_of([1.6, 1.9, 2.0, 2.3], [10.0, 5.0, 10.0, 5.0])
    assert not checks.pinned(equal, 2.0, [(0.2, 0.5), (0.2, 0.5)])
    assert checks.pinned(points_of([1.6, 1.9, 2.0, 2.3], [9.99, 5.0, 10.0, 5.0]), 2.0, [(0.2, 0.5), (0.2, 0.5)])


def test_the_half_height_bracket_needs_points_strictly_below_half():
    zs = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    assert checks.half_height_bracket(zs, np.array([0.0, 5.0, 10.0, 5.0, 0.0])) == 4.0  # 5 is half
    assert checks.half_height_bracket(zs, np.array([0.0, 4.9, 10.0, 4.9, 0.0])) == 2.0


def test_a_curve_flat_into_the_lower_refined_edge_rises_into_it():
    zs = [1.0, 1.2, 2.0, 3.0, 4.0, 5.0]
    scores = [10.0, 9.8, 7.0, 4.0, 2.0, 1.0]
    refined = [False, True, False, False, False, False]
    assert checks.rising_into_edge(zs, scores, np.array(scores) / 10.0, refined, (1.0, 5.0)) == 1.0


def test_an_edge_flat_to_exactly_its_share_over_the_floor_or_of_the_whole_score_counts_as_flat():
    zs = [1.0, 2.0, 3.0, 4.0, 4.8, 5.0]
    refined = [False] * 4 + [True, False]
    for inner in (0.9 * 10.0, 8.99):  # EDGE_FLAT of the best over the floor 0
        scores = [0.0, 2.0, 4.0, 7.0, inner, 10.0]
        edge = checks.rising_into_edge(zs, scores, np.array(scores) / 10.0, refined, (1.0, 5.0))
        assert edge == (5.0 if inner == 0.9 * 10.0 else None)
    for inner in (0.97 * 10.0, 9.8, 9.69):  # a high floor: EDGE_FLAT_ABSOLUTE of the whole score
        scores = [9.0, 9.2, 9.4, 9.5, inner, 10.0]
        edge = checks.rising_into_edge(zs, scores, np.array(scores) / 10.0, refined, (1.0, 5.0))
        assert edge == (5.0 if inner >= 0.97 * 10.0 else None)


def test_a_best_sample_in_the_upper_half_of_the_samples_is_judged_at_the_upper_edge():
    zs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # the best is the fourth of six
    scores = [1.0, 2.0, 4.0, 10.0, 9.5, 9.6]
    refined = [False, False, False, False, True, False]
    assert checks.rising_into_edge(zs, scores, np.array(scores) / 10.0, refined, (1.0, 6.0)) == 6.0


def test_scores_spanning_between_six_and_seven_noise_bounds_are_clearly_above_noise():
    from octoprint_autofocus.focus.noise import log_scores, relative_noise
    zs = np.linspace(0.0, 4.0, 15)
    scores = 1.0 + 0.25 * np.exp(-((zs - 2.0) / 0.5) ** 2) + np.random.default_rng(11).normal(0.0, 0.02, 15)
    logs = log_scores(scores)
    assert 6.0 < (logs.max() - logs.min()) / relative_noise(zs, scores) < 7.0  # NOISE_SURE is 6
    assert checks.clearly_above_noise(zs, scores)


def test_a_frame_scoring_below_zero_is_lower_at_once():
    # a noise-corrected score can be negative; its log says nothing, the sign does
    assert checks.clearly_lower([10.0], [-1.0], free_bound=1000.0, floor=-50.0, sigma=0.0, freedom=0)
    assert checks.clearly_lower([10.0], [0.0], free_bound=1000.0, floor=-50.0, sigma=0.0, freedom=0)
    assert not checks.clearly_lower([10.0], [1.0], free_bound=1000.0, floor=-50.0, sigma=0.0, freedom=0)


def test_an_end_above_the_best_is_worth_extending_whatever_its_slope():
    assert checks.worth_extending(1.2, -0.5, 1.0)


def test_a_noise_free_curve_spans_its_zero_noise_bound_even_when_flat():
    zs = [1.0, 2.0, 3.0, 4.0]
    assert checks.clearly_above_noise(zs, [1.0, 2.0, 4.0, 8.0])  # straight in logs: bound 0
    assert checks.clearly_above_noise(zs, [5.0, 5.0, 5.0, 5.0])  # 0 >= 6 x 0 (contrast fails it first)


def test_an_edge_is_not_risen_into_when_the_combined_curve_peaks_further_inside():
    zs = [1.0, 2.0, 3.0, 4.0, 4.8, 5.0]
    scores = [1.0, 2.0, 4.0, 9.5, 10.0, 9.8]
    refined = [False, False, False, False, True, False]
    combined = [0.1, 0.2, 0.4, 1.0, 0.9, 0.85]  # the coarser levels peak at Z4
    assert checks.rising_into_edge(zs, scores, combined, refined, (1.0, 5.0)) is None
    assert checks.rising_into_edge(zs, scores, [0.1, 0.2, 0.4, 0.8, 1.0, 0.95], refined, (1.0, 5.0)) == 5.0


def test_near_top_points_below_the_top_alone_do_not_straddle_it():
    zs = np.array([1.0, 1.8, 2.0, 2.2, 3.0])
    fit = peak_fit(z_peak=1.95, height=10.0, floor=1.0)  # cut 3.7: strong at 1.8 and 2.0 only
    assert not checks.straddled(zs, np.array([1.0, 7.0, 10.0, 2.0, 1.0]), fit)


@pytest.mark.parametrize("zs, scores, refined, edge", [
    ([1.0, 1.1, 1.2, 3.0, 4.0, 5.0], [9.8, 9.9, 10.0, 5.0, 2.0, 1.0], 2, 1.0),
    ([1.0, 2.0, 3.0, 4.8, 4.9, 5.0], [1.0, 2.0, 5.0, 10.0, 9.9, 9.8], 3, 5.0),
])
def test_a_flat_stretch_from_the_best_to_the_edge_counts_a_refinement_sample_on_the_best(zs, scores, refined,
                                                                                       edge):
    fine = [i == refined for i in range(6)]  # the only refinement sample is the best one
    assert checks.rising_into_edge(zs, scores, np.array(scores) / 10.0, fine, (1.0, 5.0)) == edge


def test_without_other_points_the_peak_stands_nowhere():
    assert checks.peak_over_noise([5.0, 5.2], [], sigma=0.1, freedom=3) == (0.0, math.inf)


def test_the_near_top_cut_counts_from_the_fits_floor():
    zs = np.array([1.0, 1.8, 2.0, 2.2, 3.0])
    fit = peak_fit(z_peak=2.05, height=10.0, floor=1.0)  # cut 1 + 0.3 x 9 = 3.7
    assert checks.straddled(zs, np.array([1.0, 4.0, 10.0, 8.0, 1.0]), fit)


def test_reach_counts_from_the_ends_of_the_plateau_holding_the_peak():
    pts = points_of([1.7, 1.9, 2.0, 2.1, 2.3], [5.0, 9.0, 9.0, 9.0, 5.0])  # one slice from 1.9 to 2.1
    assert checks.pinned(pts, 2.0, [(0.1, 0.25), (0.1, 0.25)])  # 0.2 past each end of the slice


def test_a_flank_that_is_itself_a_plateau_counts_from_its_near_end_to_its_far_end():
    pts = points_of([1.6, 1.75, 2.0, 2.25, 2.4], [5.0, 5.0, 10.0, 5.0, 5.0])  # a slice on each side
    assert checks.pinned(pts, 2.0, [(0.1, 0.3), (0.1, 0.3)])  # near ends 0.25 away, far ends 0.4
    assert not checks.pinned(pts, 2.0, [(0.1, 0.2), (0.1, 0.3)])  # below: its near end too far


def test_levels_agree_counts_heights_over_the_floor():
    assert not checks.levels_agree([1.0, 10.0, 8.0, 2.0], [0.1, 0.9, 1.0, 0.2])  # 7 of 9 over the floor


def test_a_peak_at_or_below_zero_is_never_lower_than_at_once():
    for peak, low in ((0.0, 0.0), (-1.0, -2.0)):  # noise-corrected scores, no peak above zero
        assert not checks.clearly_lower([peak], [low], free_bound=1000.0, floor=-50.0, sigma=0.0, freedom=0)


def test_clearly_interior_counts_only_samples_beside_the_peak_and_below_the_flat_line():
    assert not checks.clearly_interior([1.0, 2.0, 2.0], [1.0, 10.0, 1.0], 2.0, 10.0)  # a frame at Z2 itself
    assert not checks.clearly_interior([1.0, 2.0, 3.0], [9.5, 10.0, 1.0], 2.0, 10.0)  # 9.5: just noise


def test_one_repeated_frame_is_enough_for_the_t_test():
    at_z, at_low = [10.0, 10.0], [9.0]  # one degree of freedom
    assert checks.clearly_lower(at_z, at_low, free_bound=5.0, floor=0.0, sigma=0.01, freedom=1)


def test_an_edge_is_risen_into_when_the_combined_curve_peaks_on_it():
    zs = [1.0, 2.0, 3.0, 4.0, 4.8, 5.0]
    scores = [1.0, 2.0, 4.0, 7.0, 10.0, 9.8]
    refined = [False] * 4 + [True, False]
    combined = [0.1, 0.2, 0.4, 0.7, 0.95, 1.0]  # the coarser levels peak on the edge itself
    assert checks.rising_into_edge(zs, scores, combined, refined, (1.0, 5.0)) == 5.0


def test_a_slice_starting_on_the_peaks_own_z_is_no_flank():
    # frames at Z2 that differ: the lower one starts a slice seen up to 2.3
    pts = points_of([1.7, 2.0, 2.0, 2.3], [5.0, 10.0, 5.0, 5.0])
    assert not checks.pinned(pts, 2.0, [(0.1, 0.5), (0.1, 0.5)])
    assert checks.pinned(pts, 2.0, [(0.1, 0.5), None])


def test_a_slice_reaching_past_the_peak_is_no_flank_below_it():
    # a long replayed slice from 1 to 3 and the fitted peak at 2.9, nearest the point at 3.1
    pts = points_of([1.0, 2.0, 3.0, 3.1, 3.5], [5.0, 5.0, 5.0, 10.0, 4.0])
    assert not checks.pinned(pts, 2.9, [(0.1, 2.5), None])


def test_the_half_resolution_must_score_seven_tenths_of_its_range_at_the_peak():
    half = [2.0, 3.0, 12.0, 4.0]  # range 2..12: the bar is 9.0
    assert checks.HALF_RESOLUTION_AT_PEAK == 0.7
    assert checks.seen_at_half_resolution(half, [9.0])
    assert not checks.seen_at_half_resolution(half, [8.99])
    assert checks.seen_at_half_resolution(half, [6.0, 12.0])  # the frames' mean, not the best
    assert not checks.seen_at_half_resolution(half, [6.0, 11.9])
    assert checks.seen_at_half_resolution([5.0, 5.0], [5.0])  # no range: nothing to miss


def test_the_half_resolution_bar_is_measured_from_the_lowest_score_not_from_zero():
    half = [100.0, 101.0, 110.0]  # range 100..110: the bar is 107
    assert checks.seen_at_half_resolution(half, [107.0])
    assert not checks.seen_at_half_resolution(half, [106.0])


def test_a_frame_at_the_fitted_peak_counts_its_height_over_the_fits_floor():
    fit = peak_fit(height=10.0, floor=6.0)  # a faint scene: most of the score is background
    assert checks.confirms(6.0 + 1.33 * 4.0, best_other=9.0, fit=fit)
    assert not checks.confirms(6.0 + 1.33 * 4.0 + 0.01, best_other=9.0, fit=fit)
    assert not checks.confirms(13.0, best_other=9.0, fit=fit)  # 1.3 x the height, 1.75 x over the floor


def test_a_last_chance_frame_far_above_every_earlier_sample_is_a_new_top():
    assert not checks.new_top(1.33 * 10.0, best=10.0, floor=0.0)
    assert checks.new_top(1.33 * 10.0 + 0.01, best=10.0, floor=0.0)
    assert checks.new_top(13.0, best=10.0, floor=4.0)  # 9 over the floor is 1.5 x 6
    assert not checks.new_top(11.9, best=10.0, floor=4.0)  # 7.9 over the floor: under 1.33 x 6 = 7.98


def test_a_fall_to_an_end_is_measured_over_the_floor_given():
    noisy = [0.885, 0.939, 0.986, 1.0]  # a live camera's curve over a noise floor of 0.87
    assert not checks.falls_away_to(noisy, 0)  # 11.5% of the whole best
    assert checks.falls_away_to(noisy, 0, floor=0.87)  # 88% of the height over the floor
    exactly = [0.97, 0.98, 0.99, 1.0]  # the floor 0.8 plus 0.85 of the height 0.2 over it
    assert checks.falls_away_to(exactly, 0, floor=0.8)
    assert not checks.falls_away_to([0.971] + exactly[1:], 0, floor=0.8)


def test_a_curve_falls_away_to_an_end_only_at_every_step_and_by_its_share():
    scores = [0.7, 0.8, 1.0, 0.95, 0.9, 0.85]
    assert checks.falls_away_to(scores, 5)  # 1.0 to 0.85: 15% in three steps
    assert not checks.falls_away_to(scores[:-1] + [0.86], 5)  # 14%
    assert checks.falls_away_to(scores, 0)  # two steps down to the lower end
    assert not checks.falls_away_to(scores[1:], 0)  # 20%, but in one step
    assert not checks.falls_away_to([0.6, 0.7, 0.7, 1.0], 0)  # a flat step
    assert not checks.falls_away_to([0.6, 0.75, 0.7, 1.0], 0)  # a rise on the way
    assert not checks.falls_away_to(scores, 2)  # the best itself


def test_a_fall_away_may_reorder_samples_near_the_top_but_not_turn_up_towards_the_end():
    flat_top = [0.85, 0.9, 0.97, 0.95, 1.0]  # from the best: 0.95, then 0.97 (noise at the top)
    assert checks.falls_away_to(flat_top, 0)  # the last two steps fall, to the lowest, by 15%
    assert not checks.falls_away_to([0.8, 0.85, 0.9, 0.7, 1.0], 0)  # 0.7 on the way is lower
    assert not checks.falls_away_to([0.85, 0.84, 0.97, 0.95, 1.0], 0)  # up at the last step


def test_a_fall_away_is_measured_to_the_end_asked_for_on_any_scale():
    scores = [0.7, 0.8, 1.0, 0.95, 0.84, 0.9]
    assert checks.falls_away_to(scores, 4)  # what lies beyond the end does not count
    assert checks.falls_away_to([10.0 * s for s in scores], 4)
    assert not checks.falls_away_to([10.0, 9.5, 8.6], 2)  # 14% of 10
    assert not checks.falls_away_to([0.0, 0.0], 0)  # a black frame falls nowhere


def test_a_curve_holds_level_into_an_end_over_the_span_asked_and_under_its_best():
    zs, scores = [1.0, 1.5, 2.0, 2.5, 3.0, 3.5], [0.8, 1.0, 0.95, 0.9, 0.91, 0.9]
    assert checks.holds_level_to(zs, scores, 5, 0.05, 1.0)  # Z2.5..3.5 within 0.011 in logs
    assert not checks.holds_level_to(zs, scores, 5, 0.05, 1.01)  # level over less than the span
    assert not checks.holds_level_to(zs, scores, 5, 0.01, 1.0)  # 0.011 apart: beyond that noise
    assert not checks.holds_level_to(zs, scores, 5, 0.1, 1.0)  # 0.094 under the best: within it
    assert not checks.holds_level_to(zs, scores[:-1] + [0.96], 5, 0.05, 1.0)  # climbs into the end
    assert checks.holds_level_to(zs, scores[::-1], 0, 0.05, 1.0)  # the mirror image, to Z1
    assert checks.holds_level_to(zs[:4], [1.0, 0.9, 0.9, 0.9], 3, 0.05, 0.0)  # three Zs past the best
    assert not checks.holds_level_to(zs[:3], [1.0, 0.9, 0.9], 2, 0.05, 0.0)  # two are too few
    assert not checks.holds_level_to(zs, [0.8, 1.0, 0.95, 0.85, 0.91, 0.9], 5, 0.05, 1.0)  # Z2.5 low


def test_a_level_tail_must_lie_within_the_noise_and_under_the_best_by_more_than_it():
    zs, scores = [1.0, 1.5, 2.0, 2.5, 3.0, 3.5], [0.8, 1.0, 0.95, 0.9, 0.91, 0.9]
    tail = np.log(np.array([0.9, 0.91, 0.9]))
    assert not checks.holds_level_to(zs, scores, 5, float(np.ptp(tail)), 1.0)  # spread = noise
    assert not checks.holds_level_to(zs, scores, 5, math.log(1.0) - float(tail.max()), 1.0)  # gap = noise


# ~~ drifting


def test_frames_whose_sharpness_climbs_steadily_over_time_drift():
    scores = [100.0 * 1.03 ** k for k in range(5)]  # 3% a frame, no noise
    assert checks.drifting(range(5), scores)
    assert checks.drifting(range(5), scores[::-1])  # down as well as up


def test_a_step_between_otherwise_steady_frames_is_a_drift():
    scores = [181.4, 176.3, 194.1, 194.5, 195.8, 191.8]  # a lamp switching: 8% up after two frames
    order = [16, 18, 19, 20, 21, 22]
    assert checks.drifting(order, scores)


def test_noise_alone_and_too_few_frames_are_no_drift():
    assert not checks.drifting(range(6), [100.0, 106.0, 97.0, 104.0, 99.0, 105.0])
    assert not checks.drifting(range(3), [100.0, 110.0, 121.0])  # DRIFT_FRAMES is 4


def test_a_significant_change_smaller_than_the_top_of_a_curve_makes_is_no_drift():
    # 1% a frame without noise is significant, but 4% over the frames is within DRIFT_CHANGE
    assert not checks.drifting(range(5), [100.0 * 1.01 ** k for k in range(5)])
    assert checks.drifting(range(7), [100.0 * 1.01 ** k for k in range(7)])  # 6% over seven


def test_a_slow_noisy_climb_is_a_steady_drift_though_its_halves_differ_too_little():
    scores = [100.0, 102.0, 102.4, 104.9, 105.0, 107.5]  # 6.8% along the line, 4.2% between halves
    assert checks.drifting(range(6), scores)


def test_a_climb_within_three_standard_errors_of_flat_is_no_drift():
    assert not checks.drifting(range(6), [100.0, 103.0, 109.0, 104.0, 113.0, 112.0])


def test_a_step_compares_the_later_half_alone_with_the_earlier():
    step = 100.0 * math.exp(0.06)
    assert checks.drifting(range(4), [100.0, 100.0, step, step])  # one frame more would dilute it


def test_the_middle_frame_of_an_odd_count_belongs_to_neither_half():
    assert checks.drifting(range(5), [99.9, 100.7, 99.7, 106.1, 106.4])  # with it: no step


def test_a_rise_the_noise_of_successive_frames_explains_is_no_step():
    assert not checks.drifting(range(5), [98.1, 98.7, 101.1, 99.9, 107.7])


# ~~ a later look at one Z

@pytest.mark.parametrize("zs, scores, worst", [
    ([], [], None),
    ([0.0, 1.0, 2.0], [1.0, 10.0, 5.0], None),                      # no Z looked at twice
    ([0.0, 1.0, 2.0, 0.0], [2.0, 10.0, 5.0, 1.0], None),            # the first look in the bottom half
    ([0.0, 1.0, 2.0, 1.0, 2.0], [1.0, 10.0, 8.0, 9.0, 4.0], (2.0, 8.0, 4.0)),  # the worst of two
    ([1.0, 1.0, 1.0], [10.0, 6.0, 8.0], (1.0, 10.0, 6.0)),          # against the best earlier look
    ([1.0, 2.0, 1.0], [10.0, 2.0, 12.0], (1.0, 10.0, 12.0)),        # sharper the second time
    ([1.0, 2.0, 1.0, 2.0], [10.0, 8.0, 5.0, 4.0], (1.0, 10.0, 5.0)),  # a tie: the first found
])
def test_the_worst_later_look_at_one_z_is_found(zs, scores, worst):
    assert checks.worst_relook(zs, scores) == worst


def test_a_later_look_counts_against_earlier_looks_only():
    # the first look at Z1 is low, the second high: no earlier look fell short of a later one
    assert checks.worst_relook([1.0, 2.0, 1.0], [6.0, 2.0, 10.0]) == (1.0, 6.0, 10.0)
