"""The peak models: three-point vertices and the Lorentzian / Gaussian fits near the top."""

import math
import warnings

import numpy as np
import pytest

from octoprint_autofocus.focus.fit import NEAR_TOP, _fit_model, _near_top, fit_peak, vertex_of_three


def lorentzian(zs, centre=0.9, half_width=0.3, height=8.0, floor=1.0):
    """A Lorentzian bump of ``height`` over ``floor`` with half width at half height."""
    return floor + height / (1.0 + ((np.asarray(zs) - centre) / half_width) ** 2)


def test_three_samples_of_a_lorentzian_give_its_peak_exactly():
    def curve(z):
        return 5.0 / (1.0 + ((z - 2.37) / 0.4) ** 2)

    zs = [1.0, 2.0, 3.5]
    assert vertex_of_three(zs, [curve(z) for z in zs]) == pytest.approx(2.37)


def test_three_rising_samples_put_the_vertex_beyond_the_rising_end():
    # 1/s = 1, 1/2, 1/4: the parabola through them has its minimum (the score's peak) at 3.5
    assert vertex_of_three([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]) == pytest.approx(3.5)


def test_three_samples_with_a_dip_give_no_vertex():
    assert vertex_of_three([1.0, 2.0, 3.0], [4.0, 1.0, 4.0]) is None


@pytest.mark.parametrize("zs, scores", [
    ([1.0, 2.0], [1.0, 2.0]),                 # two points
    ([1.0, 2.0, 3.0], [1.0, 0.0, 1.0]),       # a score that is not positive
    ([1.0, 1.0, 3.0], [1.0, 2.0, 1.0]),       # two points at one Z
    ([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 2.0, 1.0]),  # four points
    ([1.0, 2.0, 3.0], [1.0, -0.5, 1.0]),      # a negative score
    ([1.0, 2.0, 3.0], [1.0, 2.0]),            # fewer scores than Zs
    ([1.0, 2.0, 3.0], [1.0, 2.0, 2.0, 1.0]),  # more scores than Zs
    ([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 1.0]),  # more Zs than scores
])
def test_vertex_of_three_refuses_what_is_not_three_positive_distinct_samples(zs, scores):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused before any division by a zero score or spacing
        assert vertex_of_three(zs, scores) is None


def test_gaussian_samples_are_fitted_near_their_centre_with_a_high_r2():
    zs = np.linspace(0.0, 2.0, 11)
    scores = 0.5 + 10.0 * np.exp(-0.5 * ((zs - 1.13) / 0.2) ** 2)
    fit = fit_peak(zs, scores, floor=0.5)
    assert fit is not None and fit.r2 > 0.95
    assert abs(fit.z_peak - 1.13) < 0.02
    assert 0.3 < fit.fwhm < 0.65  # 2.355 sigma = 0.47


def test_a_lorentzian_is_fitted_exactly_with_its_width_and_height():
    zs = np.linspace(0.0, 2.0, 9)
    fit = fit_peak(zs, lorentzian(zs, floor=0.0), floor=0.0)
    assert fit.model == "lorentzian"
    assert fit.z_peak == pytest.approx(0.9, abs=1e-9)
    assert fit.height == pytest.approx(8.0, rel=1e-9)
    assert fit.fwhm == pytest.approx(0.6, rel=1e-6)
    assert fit.r2 == pytest.approx(1.0)


def test_the_fitted_curve_passes_close_to_the_samples_it_was_fitted_to():
    zs = np.linspace(0.0, 2.0, 9)
    scores = lorentzian(zs)
    fit = fit_peak(zs, scores, floor=1.0)
    used = (zs >= fit.z_lo) & (zs <= fit.z_hi)
    c2, c1, c0 = fit.params
    u = zs[used] - fit.centre
    poly = c2 * u**2 + c1 * u + c0
    model = 1.0 / poly if fit.model == "lorentzian" else np.exp(poly)
    assert used.sum() >= 3
    assert np.max(np.abs(model - scores[used]) / scores[used]) < 0.1


def test_a_curve_without_a_maximum_has_no_fitted_peak():
    zs = np.linspace(0.0, 1.0, 6)
    assert fit_peak(zs, 1.0 + zs**3, floor=1.0) is None


def test_a_curve_rising_to_the_end_has_its_fitted_peak_beyond_the_samples():
    zs = np.linspace(0.0, 1.0, 6)
    fit = fit_peak(zs, 8.0 / (1.0 + ((zs - 1.2) / 0.4) ** 2))  # a Lorentzian peaking at 1.2
    assert fit is not None and fit.z_peak == pytest.approx(1.2)


def test_only_the_samples_near_the_top_are_fitted_so_a_distant_bump_is_ignored():
    zs = np.linspace(0.0, 4.0, 21)
    scores = lorentzian(zs, centre=1.0, half_width=0.2) + lorentzian(zs, 3.5, 0.2, 5.0, 0.0)
    fit = fit_peak(zs, scores, floor=1.0)
    assert fit.z_hi < 2.0
    assert fit.z_peak == pytest.approx(1.0, abs=0.01)


def test_fit_order_of_the_samples_does_not_matter():
    zs = np.array([0.2, 1.4, 0.6, 1.0, 0.8, 1.8])
    scores = lorentzian(zs)
    shuffled = fit_peak(zs, scores, floor=1.0)
    ordered = fit_peak(np.sort(zs), lorentzian(np.sort(zs)), floor=1.0)
    assert shuffled.z_peak == pytest.approx(ordered.z_peak)
    assert (shuffled.z_lo, shuffled.z_hi) == (ordered.z_lo, ordered.z_hi)


def test_a_fit_counts_the_strong_points_near_the_top_apart_from_padding():
    zs = np.linspace(0.0, 2.0, 5)  # 0.0 0.5 1.0 1.5 2.0 around a narrow peak at 1.0
    fit = fit_peak(zs, lorentzian(zs, centre=1.0, half_width=0.1), floor=1.0)
    assert fit.points == 3 and fit.strong == 1


@pytest.mark.parametrize("scores", [[1.0, 2.0], [0.0, 0.0, 0.0], [3.0, 1.0, 3.0]])
def test_no_fit_from_too_few_points_zero_scores_or_a_dip(scores):
    assert fit_peak(np.arange(len(scores), dtype=float), scores) is None


def gaussian(zs, centre=1.1, sigma=0.25, height=6.0):
    return height * np.exp(-0.5 * ((np.asarray(zs) - centre) / sigma) ** 2)


def test_a_gaussian_is_fitted_exactly_with_its_width_and_height():
    zs = np.linspace(0.0, 2.0, 9)
    fit = fit_peak(zs, gaussian(zs), floor=0.0)
    assert fit.model == "gaussian" and fit.r2 == pytest.approx(1.0)
    assert fit.z_peak == pytest.approx(1.1, abs=1e-9)
    assert fit.height == pytest.approx(6.0, rel=1e-9)
    assert fit.fwhm == pytest.approx(2.0 * math.sqrt(2.0 * math.log(2.0)) * 0.25, rel=1e-6)


def test_a_fitted_curve_is_as_wide_as_its_model_at_every_level_and_unbounded_at_zero():
    zs = np.linspace(0.0, 2.0, 9)
    lor = fit_peak(zs, lorentzian(zs, floor=0.0), floor=0.0)  # height 8, half width 0.3
    gau = fit_peak(zs, gaussian(zs), floor=0.0)  # height 6, sigma 0.25
    assert lor.width_at(0.5) == pytest.approx(2.0 * 0.3 * math.sqrt(8.0 / 0.5 - 1.0), rel=1e-6)
    assert gau.width_at(0.5) == pytest.approx(2.0 * 0.25 * math.sqrt(2.0 * math.log(6.0 / 0.5)), rel=1e-6)
    for fit in (lor, gau):
        assert fit.width_at(fit.height / 2.0) == pytest.approx(fit.fwhm, rel=1e-6)
        assert fit.width_at(0.0) == math.inf and fit.width_at(-1.0) == math.inf
        assert fit.width_at(1.01 * fit.height) == 0.0


def test_the_strong_points_are_counted_over_the_floor():
    zs = np.linspace(0.0, 2.0, 9)  # the bump: 0.8 1.4 2.9 6.4 7.2 3.4 1.6 0.9 0.6 over 10
    fit = fit_peak(zs, lorentzian(zs, floor=10.0), floor=10.0)
    assert fit.points == 4 and fit.strong == 4  # the four above 10 + 0.3 x 7.2


def test_three_samples_on_a_straight_line_in_one_over_the_score_give_no_vertex():
    assert vertex_of_three([1.0, 2.0, 3.0], [1.0, 0.5, 1.0 / 3.0]) is None  # 1/s = z: no curvature


def test_samples_at_one_z_are_refused_before_any_arithmetic():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by a zero spacing on the way
        assert vertex_of_three([1.0, 1.0, 3.0], [1.0, 2.0, 1.0]) is None
        assert vertex_of_three([2.0, 2.0, 2.0], [1.0, 2.0, 1.0]) is None


def test_a_negative_score_among_the_samples_fitted_gives_no_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fit_peak([0.0, 1.0, 2.0], [5.0, -1.0, 0.5]) is None


def test_the_order_of_the_three_samples_does_not_change_the_vertex():
    def curve(z):
        return 5.0 / (1.0 + ((z - 2.37) / 0.4) ** 2)

    for zs in ([0.0, 2.5, 3.0], [3.0, 0.0, 2.5], [2.5, 3.0, 0.0]):
        assert vertex_of_three(zs, [curve(z) for z in zs]) == pytest.approx(2.37)


def test_scores_in_any_units_are_fitted_alike():
    zs = np.linspace(0.0, 2.0, 9)
    for unit in (1.0, 1e-3):
        fit = fit_peak(zs, unit * lorentzian(zs, floor=0.0), floor=0.0)
        assert fit.z_peak == pytest.approx(0.9, abs=1e-9) and fit.height == pytest.approx(8.0 * unit)
        fit = fit_peak(zs, unit * gaussian(zs), floor=0.0)  # a half height below 1 too
        assert fit.fwhm == pytest.approx(2.0 * math.sqrt(2.0 * math.log(2.0)) * 0.25, rel=1e-6)


def test_a_sample_exactly_at_the_near_top_cut_is_fitted():
    # cut = 0.3 x 10 = 3: the sample at Z1 scoring exactly 3 belongs to the top
    fit = fit_peak([0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 5.0, 10.0, 1.0])
    assert (fit.z_lo, fit.z_hi, fit.points) == (1.0, 3.0, 3)


@pytest.mark.parametrize("scores, span", [
    ([0.0, 1.0, 10.0, 9.0, 0.5, 0.2], (1, 4)),  # one flank above the cut: padded on the other
    ([0.2, 0.5, 9.0, 10.0, 1.0, 0.0], (2, 5)),  # the same, mirrored
    ([1.0, 10.0, 0.5, 0.2, 0.1], (0, 3)),       # a lone top next to the first sample
    ([9.0, 10.0, 8.0, 7.0, 0.1], (0, 4)),       # the top's flank runs to the first sample
    ([1.0, 10.0, 5.0, 3.0, 1.0], (1, 4)),       # a sample above the top exactly at the cut (3)
    ([1.0, 2.0], (0, 2)),                       # fewer samples than a fit needs: all of them
    ([2.0], (0, 1)),
])
def test_the_samples_near_the_top_are_those_above_the_cut_padded_to_three(scores, span):
    assert _near_top(np.array(scores), 0.0) == span


def test_a_strong_point_may_lie_exactly_at_the_cut():
    fit = fit_peak([0.0, 1.0, 2.0, 3.0, 4.0], [1.0, NEAR_TOP * 10.0, 10.0, 5.0, 1.0])
    assert (fit.points, fit.strong) == (3, 3)


def test_without_a_floor_the_width_is_measured_at_half_the_height_over_zero():
    zs = np.linspace(0.0, 2.0, 9)
    fit = fit_peak(zs, lorentzian(zs, floor=0.0))  # height 8, half width 0.3
    assert fit.fwhm == pytest.approx(0.6, rel=1e-9)


def test_a_broad_gaussian_is_fitted_as_a_gaussian():
    zs = np.linspace(0.0, 10.0, 11)  # sigma 2 mm: a curvature of -1/8 in log s
    fit = fit_peak(zs, gaussian(zs, centre=5.3, sigma=2.0), floor=0.0)
    assert fit.model == "gaussian" and fit.z_peak == pytest.approx(5.3, abs=1e-9)


def test_three_samples_at_two_zs_give_no_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused before a rank-deficient least squares
        assert fit_peak([0.0, 0.0, 1.0], [1.0, 2.0, 1.0]) is None


def test_scores_exactly_flat_in_log_have_no_gaussian_peak():
    zs = np.array([0.0, 1.0, 2.0])
    assert _fit_model("gaussian", zs, np.ones(3), 0.0, 3) is None


@pytest.mark.parametrize("floor", [-6.5, -20.0])
def test_a_gaussian_over_a_floor_below_minus_its_height_never_falls_to_half(floor):
    # half height = (6 + floor) / 2 <= 0, a level a Gaussian never reaches
    zs = np.linspace(0.0, 2.0, 9)
    fit = fit_peak(zs, gaussian(zs), floor=floor)
    assert fit.model == "gaussian" and fit.fwhm == math.inf


@pytest.mark.parametrize("model, scores", [
    ("lorentzian", lorentzian(np.linspace(0.6, 1.4, 5), centre=1.0, floor=0.0)),
    ("gaussian", gaussian(np.linspace(0.6, 1.4, 5), centre=1.0)),
])
def test_a_floor_above_the_peak_leaves_no_width_at_half_height(model, scores):
    fit = _fit_model(model, np.linspace(0.6, 1.4, 5), scores, 20.0, 0)
    assert fit is not None and fit.fwhm == 0.0


def test_a_fitted_peak_cannot_be_changed():
    import dataclasses
    fit = fit_peak(np.linspace(0.0, 2.0, 9), gaussian(np.linspace(0.0, 2.0, 9)), floor=0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.z_peak = 0.0


def test_a_lorentzian_curve_at_or_below_zero_in_one_over_the_score_is_infinitely_high():
    from octoprint_autofocus.focus.fit import _inverse
    assert list(_inverse("lorentzian", np.array([-0.5, 0.0, 2.0]))) == [math.inf, math.inf, 0.5]


def test_flat_scores_explain_nothing():
    from octoprint_autofocus.focus.fit import _r_squared
    assert _r_squared(np.full(4, 2.0), np.full(4, 2.0)) == 0.0
    assert _r_squared(np.array([1.0, 2.0, 3.0]), np.array([1.0, math.inf, 3.0])) == 0.0

