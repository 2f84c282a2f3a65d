"""The curve's points: ordering, merged plateaus of replayed slices, the combined levels."""

import numpy as np
import pytest

from octoprint_autofocus.focus.curve import combined, merge_held_end, merge_plateaus, union


def test_points_come_out_ascending_in_z():
    points = merge_plateaus([3.0, 1.0, 2.0], [(3.0,), (1.0,), (2.0,)])
    assert points.zs.tolist() == [1.0, 2.0, 3.0]
    assert points.scores.tolist() == [1.0, 2.0, 3.0]
    assert points.spans.tolist() == [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]


def test_neighbours_showing_the_same_image_merge_into_one_point_at_their_mean_z():
    points = merge_plateaus([1.0, 2.0, 2.2, 2.4, 3.0], [(1.0, 5.0), (4.0, 6.0), (4.0, 6.0),
                                                        (4.0, 6.0), (2.0, 5.0)])
    assert len(points) == 3
    assert points.zs[1] == pytest.approx(2.2)
    assert points.spans[1].tolist() == [2.0, 2.4]
    assert points.levels[1].tolist() == [4.0, 6.0]


def test_equal_scores_that_are_not_neighbours_stay_apart():
    points = merge_plateaus([1.0, 2.0, 3.0], [(4.0,), (5.0,), (4.0,)])
    assert len(points) == 3


def test_zero_scores_never_merge():
    points = merge_plateaus([1.0, 2.0, 3.0], [(0.0,), (0.0,), (1.0,)])
    assert len(points) == 3


def test_scores_differing_beyond_rounding_do_not_merge():
    points = merge_plateaus([1.0, 2.0], [(100.0,), (100.001,)])
    assert len(points) == 2


def test_the_combined_curve_weighs_every_level_by_its_maximum():
    levels = np.array([[1.0, 10.0], [2.0, 20.0], [4.0, 10.0]])
    assert combined(levels).tolist() == pytest.approx([0.375, 0.75, 0.75])


def test_a_level_of_zeros_does_not_divide_by_zero():
    levels = np.array([[0.0, 1.0], [0.0, 2.0]])
    assert np.all(np.isfinite(combined(levels)))


def test_the_union_of_overlapping_intervals_is_disjoint_and_sorted():
    starts, ends = np.array([3.0, 1.0, 1.5, 6.0]), np.array([4.0, 2.0, 3.2, 7.0])
    assert union(starts, ends) == [(1.0, 4.0), (6.0, 7.0)]


# ~~ plateau and union edges (tests written for the mutation pass)


def test_scores_within_a_millionth_of_each_other_merge_at_any_scale():
    assert len(merge_plateaus([1.0, 2.0], [(100.0,), (100.00005,)])) == 1  # half a millionth
    assert len(merge_plateaus([1.0, 2.0], [(1e6,), (1e6 + 1.0,)])) == 1  # exactly a millionth
    assert len(merge_plateaus([1.0, 2.0], [(1e6,), (1e6 + 1.5,)])) == 2


def test_a_plateau_of_scores_below_one_merges_too():
    points = merge_plateaus([1.0, 2.0, 3.0], [(0.5,), (0.5,), (0.25,)])
    assert points.zs.tolist() == [1.5, 3.0]


def test_an_interval_inside_the_last_of_several_leaves_the_union_as_it_was():
    starts, ends = np.array([1.0, 3.0, 3.5]), np.array([2.0, 6.0, 5.0])
    assert union(starts, ends) == [(1.0, 2.0), (3.0, 6.0)]


def test_a_slow_drift_within_a_millionth_from_neighbour_to_neighbour_is_one_plateau():
    scores = [1e6, 1e6 + 0.75, 1e6 + 1.5]  # the last differs from the first by 1.5 millionths
    points = merge_plateaus([1.0, 2.0, 3.0], [(s,) for s in scores])
    assert points.spans.tolist() == [[1.0, 3.0]]


def test_touching_intervals_join():
    assert union(np.array([1.0, 2.0]), np.array([2.0, 3.0])) == [(1.0, 3.0)]


def held_points(zs, scores):
    return merge_plateaus(zs, [(s, s / 2.0) for s in scores])


def test_held_points_at_the_top_that_score_alike_are_one_point_at_their_lowest_z():
    points = held_points([1.0, 2.0, 2.6, 2.8, 3.0], [1.0, 5.0, 9.9, 10.1, 10.0])
    merged = merge_held_end(points, [2.6, 2.8, 3.0], side=1)
    assert merged.zs.tolist() == [1.0, 2.0, 2.6]
    assert merged.spans[-1].tolist() == [2.6, 3.0]
    assert merged.levels[-1].tolist() == pytest.approx([10.0, 5.0])


def test_the_held_run_stops_at_a_score_beyond_two_percent_or_at_a_point_reached_exactly():
    points = held_points([1.0, 2.4, 2.6, 2.8, 3.0], [1.0, 9.9, 9.7, 10.15, 10.0])
    assert merge_held_end(points, [2.4, 2.6, 2.8, 3.0], side=1).zs.tolist() == [1.0, 2.4, 2.6, 2.8]
    exact = held_points([1.0, 2.6, 2.8, 3.0], [1.0, 10.0, 10.0 * 1.02, 10.0])
    assert merge_held_end(exact, [2.8, 3.0], side=1).zs.tolist() == [1.0, 2.6, 2.8]


@pytest.mark.parametrize("reduced, merged", [(5.0 * 1.02, True), (5.0 * 1.021, False), (5.0 * 0.979, False)])
def test_held_points_are_one_image_only_when_every_level_scores_alike(reduced, merged):
    # the full resolution matches at the end, but a reduced level that differs shows another Z
    points = merge_plateaus([1.0, 2.8, 3.0], [(1.0, 0.5), (10.1, reduced), (10.0, 5.0)])
    zs = merge_held_end(points, [2.8, 3.0], side=1).zs.tolist()
    assert zs == ([1.0, 2.8] if merged else [1.0, 2.8, 3.0])


def test_approached_from_below_the_held_end_is_the_bottom_and_merges_at_its_highest_z():
    points = held_points([1.0, 1.2, 1.4, 3.0], [10.0, 10.1, 9.9, 2.0])
    merged = merge_held_end(points, [1.0, 1.2, 1.4], side=-1)
    assert merged.zs.tolist() == [1.4, 3.0]
    assert merged.spans[0].tolist() == [1.0, 1.4]


def test_nothing_merges_without_a_held_end_point_or_with_one_held_point_alone():
    points = held_points([1.0, 2.8, 3.0], [1.0, 10.0, 10.0 * 0.99])
    assert merge_held_end(points, [2.8], side=1).zs.tolist() == [1.0, 2.8, 3.0]  # the end is exact
    assert merge_held_end(points, [3.0], side=1).zs.tolist() == [1.0, 2.8, 3.0]
    assert merge_held_end(points, [], side=1).zs.tolist() == [1.0, 2.8, 3.0]


def plateau_points(groups):
    """Points from [(zs, score)]: each group of Zs shows one identical image (a plateau)."""
    zs = [z for group, _ in groups for z in group]
    return merge_plateaus(zs, [(s, s / 2.0) for group, s in groups for _ in group])


def test_a_held_z_anywhere_inside_a_plateau_makes_it_held():
    points = plateau_points([([1.0], 1.0), ([2.5, 2.6, 2.7], 10.1), ([2.8, 2.9, 3.0], 10.0)])
    for held in ([2.6, 2.9], [2.5, 2.8], [2.7, 3.0]):
        merged = merge_held_end(points, held, side=1)
        assert merged.zs.tolist() == [1.0, 2.5], held
        assert merged.spans.tolist() == [[1.0, 1.0], [2.5, 3.0]]


def test_a_held_plateau_alone_at_the_end_stays_as_it_was():
    points = plateau_points([([1.0], 1.0), ([2.8, 2.9, 3.0], 10.0)])
    merged = merge_held_end(points, [3.0], side=1)
    assert merged.zs.tolist() == pytest.approx([1.0, 2.9])


def test_a_point_reached_exactly_ends_the_held_run_even_with_held_points_beyond_it():
    points = held_points([1.0, 2.6, 2.8, 3.0], [1.0, 10.0, 10.1, 10.0])
    assert merge_held_end(points, [2.6, 3.0], side=1).zs.tolist() == [1.0, 2.6, 2.8, 3.0]


def test_every_held_point_is_compared_with_the_end_point_and_exactly_two_percent_is_alike():
    points = held_points([1.0, 2.6, 2.8, 3.0], [1.0, 102.01, 101.9, 100.0])
    assert merge_held_end(points, [2.6, 2.8, 3.0], side=1).zs.tolist() == [1.0, 2.6, 2.8]
    alike = held_points([1.0, 2.8, 3.0], [1.0, 102.0, 100.0])
    assert merge_held_end(alike, [2.8, 3.0], side=1).zs.tolist() == [1.0, 2.8]
