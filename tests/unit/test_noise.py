"""Noise statistics: the t quantile, the free noise bound, pooled repeat noise, the t-test."""

import math

import numpy as np
import pytest

from octoprint_autofocus.focus.noise import (
    NOISE_LEVEL, interpolation_noise, z_means, log_scores, mean_standard_error, median_standard_error,
    neighbour_noise, relative_noise, repeat_noise, significant, t_quantile)


def test_the_noise_test_quantile_matches_students_t_and_falls_to_the_normal_one():
    exact = {1: 63.657, 2: 9.925, 6: 3.707, 10: 3.169, 30: 2.750}  # t at 0.995
    for freedom, value in exact.items():
        assert t_quantile(freedom) == pytest.approx(value, rel=0.02)
    series = [t_quantile(f) for f in range(1, 200)]
    assert all(b < a for a, b in zip(series, series[1:]))
    assert series[-1] == pytest.approx(2.5758, rel=0.01)


def test_the_neighbour_bound_of_pure_noise_estimates_its_sd():
    rng = np.random.default_rng(0)
    assert neighbour_noise(rng.normal(10.0, 0.5, 4000)) == pytest.approx(0.5, rel=0.05)


def test_a_slope_only_inflates_the_neighbour_bound():
    rng = np.random.default_rng(1)
    noise = rng.normal(0.0, 0.5, 400)
    assert neighbour_noise(noise + np.linspace(0.0, 100.0, 400)) > neighbour_noise(noise)


def test_the_interpolation_bound_of_pure_noise_at_uneven_zs_estimates_its_sd():
    rng = np.random.default_rng(5)
    zs = np.cumsum(rng.uniform(0.1, 2.0, 4000))
    assert interpolation_noise(zs, rng.normal(10.0, 0.5, zs.size)) == pytest.approx(0.5, rel=0.06)


def test_a_straight_slope_leaves_the_interpolation_bound_alone_and_bends_inflate_it():
    rng = np.random.default_rng(6)
    zs = np.cumsum(rng.uniform(0.1, 2.0, 400))
    noise = rng.normal(0.0, 0.5, zs.size)
    slope = interpolation_noise(zs, noise + 3.0 * zs)
    assert slope == pytest.approx(interpolation_noise(zs, noise), rel=1e-6)
    assert neighbour_noise(noise + 3.0 * zs) > 2.0 * slope  # the neighbour bound takes the slope
    assert interpolation_noise(zs, noise + (zs - zs.mean()) ** 2) > 2.0 * slope  # bends all along


def test_the_interpolation_bound_averages_values_at_one_z_and_falls_back_below_three_zs():
    assert interpolation_noise([1.0, 1.0, 2.0, 3.0], [1.0, 3.0, 4.0, 6.0]) == 0.0  # 2, 4, 6: a line
    assert interpolation_noise([1.0, 2.0], [1.0, 3.0]) == neighbour_noise([1.0, 3.0])


def test_fewer_than_two_scores_give_no_bound():
    assert neighbour_noise([3.0]) == math.inf


def test_repeat_noise_pools_the_spread_of_scores_at_the_same_z():
    zs = [1.0, 1.0, 2.0, 2.0, 2.0, 3.0]
    scores = [10.0, 12.0, 5.0, 6.0, 7.0, 100.0]
    sigma, freedom = repeat_noise(zs, scores)
    assert freedom == 3  # (2 - 1) + (3 - 1); the single sample at 3.0 tells nothing
    assert sigma == pytest.approx(math.sqrt((2.0 + 2.0) / 3))


def test_no_repeats_mean_no_noise_estimate():
    assert repeat_noise([1.0, 2.0, 3.0], [1.0, 5.0, 2.0]) == (0.0, 0)


def test_repeat_noise_of_many_draws_estimates_their_sd():
    rng = np.random.default_rng(2)
    zs = np.repeat(np.arange(50.0), 4)
    scores = rng.normal(0.0, 2.0, zs.size) + zs * 10
    sigma, freedom = repeat_noise(zs, scores)
    assert freedom == 150 and sigma == pytest.approx(2.0, rel=0.1)


def test_standard_errors_of_means_and_medians():
    assert mean_standard_error(2.0, 4, 4) == pytest.approx(2.0 * math.sqrt(0.5))
    assert median_standard_error(2.0, 4, 100) > mean_standard_error(2.0, 4, 100)


def test_the_t_test_needs_the_difference_beyond_t_standard_errors():
    assert significant(3.0 * t_quantile(5) * 1.01, 3.0, 5)
    assert not significant(3.0 * t_quantile(5) * 0.99, 3.0, 5)
    assert not significant(1.0, math.inf, 100)


def test_the_t_test_keeps_its_false_alarm_rate_on_pure_noise():
    rng = np.random.default_rng(3)
    alarms = 0
    for _ in range(4000):
        a, b = rng.normal(0.0, 1.0, 3), rng.normal(0.0, 1.0, 3)
        sigma, freedom = repeat_noise([0] * 3 + [1] * 3, list(a) + list(b))
        alarms += significant(a.mean() - b.mean(), mean_standard_error(sigma, 3, 3), freedom)
    assert alarms / 4000 < 0.012  # nominal 0.005


def test_the_relative_bound_is_the_same_for_flicker_at_any_brightness():
    rng = np.random.default_rng(4)
    jitter = 1.0 + rng.normal(0.0, 0.05, 2000)
    zs = np.arange(jitter.size, dtype=float)
    assert relative_noise(zs, 10.0 * jitter) == pytest.approx(relative_noise(zs, 1e4 * jitter))
    assert relative_noise(zs, 10.0 * jitter) == pytest.approx(0.05, rel=0.1)


def test_log_scores_survive_zero_scores():
    logs = log_scores([0.0, 2.0, 4.0])
    assert np.all(np.isfinite(logs)) and logs[0] < logs[1] < logs[2]


# ~~ the t quantile against Student's t itself (tests written for the mutation pass)


def students_t_two_sided(t, freedom):
    """P(|T| <= t) for Student's t with an integer number of degrees of freedom, in closed
    form (Abramowitz & Stegun 26.7.3 and 26.7.4)."""
    theta = math.atan(t / math.sqrt(freedom))
    c, s = math.cos(theta), math.sin(theta)
    if freedom % 2:
        term = total = c
        for k in range(1, (freedom - 3) // 2 + 1):
            term *= c * c * (2 * k) / (2 * k + 1)
            total += term
        return 2 / math.pi * (theta + (s * total if freedom > 1 else 0.0))
    term = total = 1.0
    for k in range(1, (freedom - 2) // 2 + 1):
        term *= c * c * (2 * k - 1) / (2 * k)
        total += term
    return s * total


def bisect(f, target, lo, hi):
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) < target else (lo, mid)
    return lo


def students_t_quantile(freedom, level=0.005):
    return bisect(lambda t: students_t_two_sided(t, freedom), 1 - 2 * level, 0.0, 1000.0)


def test_the_quantiles_for_one_to_five_degrees_of_freedom_are_students_t_at_the_noise_level():
    for freedom in range(1, 6):
        exact = students_t_quantile(freedom, NOISE_LEVEL)
        assert abs(t_quantile(freedom) - exact) < 5e-4  # three decimals


def test_no_degrees_of_freedom_count_as_one():
    assert t_quantile(0) == t_quantile(1)


def test_beyond_the_table_the_quantile_is_the_cornish_fisher_series_of_the_normal_one():
    normal = bisect(lambda x: math.erf(x / math.sqrt(2)), 1 - 2 * NOISE_LEVEL, 0.0, 10.0)
    x = 2.5758  # the normal quantile to four decimals
    assert abs(x - normal) < 5e-5
    for freedom in (6, 7, 10, 30, 100, 1000):
        v = float(freedom)
        series = x + (x ** 3 + x) / (4 * v) + (5 * x ** 5 + 16 * x ** 3 + 3 * x) / (96 * v ** 2)  # A&S 26.7.5
        assert t_quantile(freedom) == pytest.approx(series, rel=1e-12)
        exact = students_t_quantile(freedom)
        assert abs(t_quantile(freedom) - exact) < 0.1 * (exact - normal)  # a tenth of t's own excess


# ~~ edges of the bounds and the test (tests written for the mutation pass)


def test_two_scores_give_a_finite_neighbour_bound():
    assert neighbour_noise([1.0, 3.0]) == pytest.approx(2.0 / (0.6745 * math.sqrt(2.0)))


def test_one_repeated_pair_gives_one_degree_of_freedom_and_its_spread():
    sigma, freedom = repeat_noise([1.0, 1.0, 2.0], [10.0, 13.0, 50.0])
    assert freedom == 1 and sigma == pytest.approx(3.0 / math.sqrt(2.0))


def test_a_difference_of_exactly_t_standard_errors_is_not_significant():
    error = 3.0
    assert not significant(t_quantile(5) * error, error, 5)


def test_the_standard_error_against_a_median_matches_simulated_draws():
    rng = np.random.default_rng(7)
    means = rng.normal(0.0, 2.0, (10000, 400)).mean(axis=1)
    medians = np.median(rng.normal(0.0, 2.0, (10000, 51)), axis=1)  # the median's share dominates
    assert np.std(means - medians) == pytest.approx(median_standard_error(2.0, 400, 51), rel=0.03)


def test_log_scores_clip_zeros_to_a_millionth_of_the_largest_score_at_any_scale():
    logs = log_scores([0.0, 0.2, 0.4])
    assert logs[0] == pytest.approx(math.log(0.4e-6))
    assert np.all(np.isfinite(log_scores([0.0, 0.0])))


def test_the_interpolation_bound_of_pure_noise_at_even_zs_estimates_its_sd_closely():
    rng = np.random.default_rng(8)  # each residual is v - (left + right) / 2: SD sqrt(1.5) sigma
    assert interpolation_noise(np.arange(40000.0), rng.normal(10.0, 0.5, 40000)) == pytest.approx(0.5, rel=0.02)


def test_the_interpolation_bound_weighs_each_neighbour_by_its_share_on_uneven_zs():
    rng = np.random.default_rng(9)  # spacings 1, 3, 1, 3 ...: weights 3/4 and 1/4 in turn
    zs = np.cumsum(np.tile([1.0, 3.0], 20000))
    assert interpolation_noise(zs, rng.normal(10.0, 0.5, zs.size)) == pytest.approx(0.5, rel=0.02)


def test_z_means_are_the_mean_at_each_distinct_z_in_ascending_order():
    zs, means = z_means([2.0, 1.0, 2.0, 3.0, 1.0], [4.0, 1.0, 6.0, 7.0, 2.0])
    assert zs.tolist() == [1.0, 2.0, 3.0]
    assert means.tolist() == [1.5, 5.0, 7.0]
