"""Where the search goes: the coarse grid, refinement proposals, the tolerance, and Motion."""

import math

import numpy as np
import pytest

from octoprint_autofocus.focus.curve import merge_plateaus
from octoprint_autofocus.focus.errors import Cancelled, StageError
from octoprint_autofocus.focus.plan import (GOLDEN, MIN_TOLERANCE_SHARE, SPACING, SPACING_SLACK,
                                            Motion, coarse_grid, derived_tolerance, propose)
from tests.fakes import FakeStage


def points_of(zs, scores):
    """Points with one pyramid level per sample."""
    return merge_plateaus(list(zs), [(s,) for s in scores])


FLAT_TOP = [1.0, 1.0001, 1.0]  # the vertex of the three is the middle sample itself


def motion(stage, approach="above", overscan=0.5, z_range=(1.0, 5.0)):
    return Motion(stage, *z_range, approach, overscan, 0.0, lambda s: None, lambda: None)


# ~~ the coarse grid


def test_coarse_grid_spans_the_range_and_starts_at_the_nearer_end():
    grid = coarse_grid(1.0, 5.0, 9, start_z=4.6)
    assert grid[0] == 5.0 and grid[-1] == 1.0
    assert sorted(grid) == coarse_grid(1.0, 5.0, 9, start_z=1.2)
    assert all(b < a for a, b in zip(grid, grid[1:]))


def test_coarse_grid_is_evenly_spaced_and_ends_exactly_on_the_range_edges():
    grid = coarse_grid(0.1, 0.7, 7, start_z=0.0)
    assert grid[0] == 0.1 and grid[-1] == 0.7
    assert np.allclose(np.diff(grid), 0.1)


# ~~ refinement proposals


def test_a_lorentzian_bracket_proposes_its_peak_from_the_tails():
    zs = [1.0, 2.0, 3.0]
    scores = [1.0 / (1.0 + ((z - 2.3) / 0.5) ** 2) for z in zs]
    assert propose(points_of(zs, scores), tolerance=0.01, width_known=True) == pytest.approx(2.3)


@pytest.mark.parametrize("scores, expected", [
    ([1.0, 2.0, 4.0], 3.0 - GOLDEN),  # rising to the upper end: vertex beyond it
    ([4.0, 2.0, 1.0], 1.0 + GOLDEN),  # falling from the lower end
])
def test_a_best_point_at_an_end_proposes_a_golden_step_towards_its_neighbour(scores, expected):
    z = propose(points_of([1.0, 2.0, 3.0], scores), tolerance=0.01, width_known=True)
    assert z == pytest.approx(expected)


def test_a_proposal_keeps_half_a_tolerance_from_every_sample():
    zs = [1.0, 2.0, 2.04, 3.0]
    scores = [1.0 / (1.0 + ((z - 2.03) / 0.5) ** 2) for z in zs]
    z = propose(points_of(zs, scores), tolerance=0.1, width_known=True)
    assert min(abs(z - s) for s in zs) >= 0.999 * 0.05 - 1e-12


def test_no_proposal_when_the_bracket_has_no_room_left():
    zs = [1.0, 1.01, 1.02]
    scores = [1.0, 2.0, 1.0]
    assert propose(points_of(zs, scores), tolerance=0.1, width_known=True) is None


def test_a_plateau_of_identical_scores_is_kept_clear_of_as_a_whole():
    zs = [1.0, 2.0, 2.1, 2.2, 3.0]
    scores = [1.0, 5.0, 5.0, 5.0, 1.0]  # one replayed slice seen from 2.0 to 2.2
    z = propose(points_of(zs, scores), tolerance=0.1, width_known=True)
    assert z is not None and not 2.0 - 0.0499 < z < 2.2 + 0.0499


def test_without_a_known_width_a_vertex_on_a_sample_moves_an_eighth_of_the_bracket_off():
    near = propose(points_of([1.0, 1.5, 2.0], FLAT_TOP), tolerance=1.0, width_known=False)
    assert abs(near - 1.5) == pytest.approx(SPACING_SLACK * 1.0 / 8.0)


def test_without_a_known_width_the_spacing_stops_shrinking_at_the_finest_derived_tolerance():
    # a bracket of 0.002 in a span of 10: an eighth of it (0.00025) is finer than the finest
    # tolerance a run derives (1e-4 of the span) asks for
    for offset in (0.0, 100.0):  # the span the points cover, wherever it lies
        zs = [offset + z for z in (0.0, 4.999, 5.0, 5.001, 10.0)]
        z = propose(points_of(zs, [0.5] + FLAT_TOP + [0.5]), tolerance=1.0, width_known=False)
        finest = SPACING * MIN_TOLERANCE_SHARE * 10.0
        assert abs(z - (offset + 5.0)) == pytest.approx(SPACING_SLACK * finest, rel=1e-6)


def test_without_a_known_width_a_bracket_narrower_than_the_finest_spacing_has_no_room():
    zs = [0.0, 4.9999, 5.0, 5.0001, 10.0]  # a flat top refined down to a tenth of a micrometre
    assert propose(points_of(zs, [0.5] + FLAT_TOP + [0.5]), tolerance=1.0, width_known=False) is None


def test_a_tolerance_finer_than_the_finest_derived_one_keeps_its_own_spacing():
    zs = [0.0, 4.999, 5.0, 5.001, 10.0]
    z = propose(points_of(zs, [0.5] + FLAT_TOP + [0.5]), tolerance=1e-5, width_known=True)
    assert abs(z - 5.0) == pytest.approx(SPACING_SLACK * SPACING * 1e-5)


def test_an_interior_best_among_many_points_proposes_the_vertex_of_its_three():
    curve = lambda z: 1.0 / (1.0 + ((z - 3.1) / 0.8) ** 2)  # noqa: E731
    zs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    z = propose(points_of(zs, [curve(z) for z in zs]), tolerance=0.01, width_known=True)
    assert z == pytest.approx(3.1)


def test_one_point_gives_no_proposal():
    assert propose(points_of([1.0], [2.0]), tolerance=0.1, width_known=False) is None


# ~~ tolerance


def test_the_derived_tolerance_is_a_quarter_of_the_width_or_an_eighth_of_the_span_without_one():
    assert derived_tolerance(0.4, 10.0) == pytest.approx(0.1)
    assert derived_tolerance(0.4, 0.2) == pytest.approx(0.1)  # a narrow window: still the width
    assert derived_tolerance(math.inf, 4.0) == pytest.approx(0.5)
    assert derived_tolerance(float("nan"), 4.0) == pytest.approx(0.5)
    assert derived_tolerance(1e-9, 10.0) == pytest.approx(1e-3)


# ~~ motion


def test_overscan_shrinks_at_the_edge_instead_of_leaving_the_range():
    stage = FakeStage(limits=(0.0, 10.0), start=4.0)
    m = motion(stage)
    m.arrive(4.8)
    assert stage.commanded == [5.0, 4.8]
    m.arrive(2.0)
    assert stage.commanded[-1] == 2.0 and len(stage.commanded) == 3


@pytest.mark.parametrize("approach, first, then", [("above", 2.0, 3.0), ("below", 3.0, 2.0)])
def test_a_target_on_the_wrong_side_is_reached_through_the_overscan(approach, first, then):
    stage = FakeStage(limits=(0.0, 10.0), start=first)
    m = motion(stage, approach=approach)
    m.arrive(first)  # establishes the direction from the start
    m.arrive(then)
    side = 1 if approach == "above" else -1
    assert stage.commanded[-2:] == [then + side * 0.5, then]
    assert m.moves == len(stage.commanded)
    assert m.travel == pytest.approx(sum(abs(b - a) for a, b in zip([first] + stage.commanded, stage.commanded)))


def test_a_planned_z_outside_the_range_is_a_bug_not_a_move():
    stage = FakeStage(limits=(0.0, 10.0), start=3.0)
    with pytest.raises(AssertionError):
        motion(stage).arrive(0.5)  # a direct move down: nothing else to do first
    assert stage.commanded == []


def test_the_checkpoint_runs_before_every_move():
    stage = FakeStage(limits=(0.0, 10.0), start=3.0)
    calls = []
    m = Motion(stage, 1.0, 5.0, "above", 0.5, 0.0, lambda s: None,
               lambda: calls.append(len(stage.commanded)))
    m.arrive(2.0)
    m.arrive(2.5)
    assert calls == [0, 1, 2]


def test_a_device_exception_of_the_stage_becomes_a_stage_error():
    class Broken(FakeStage):
        def move_to(self, z):
            raise OSError("serial port gone")

    with pytest.raises(StageError):
        motion(Broken(start=3.0)).arrive(2.0)


def test_a_cancel_raised_by_the_stage_while_it_moves_stays_a_cancel():
    class CancelledInTheWait(FakeStage):  # as PrinterStage, cancelled while awaiting its M114
        def move_to(self, z):
            raise Cancelled("cancelled")

    m = motion(CancelledInTheWait(start=3.0))
    with pytest.raises(Cancelled):
        m.arrive(2.0)
    assert (m.moves, m.position) == (0, 3.0)


# ~~ motion: when a target is reached directly (tests written for the mutation pass)


SIDES = {"above": 1, "below": -1}  # the side every target is reached from


@pytest.mark.parametrize("approach", ["above", "below"])
def test_a_short_step_the_approach_way_goes_direct_only_once_the_stage_last_moved_that_way(approach):
    side = SIDES[approach]
    way = -side  # the direction of every final move
    stage = FakeStage(limits=(0.0, 10.0), start=3.0)
    m = motion(stage, approach=approach)
    first = 3.0 + way * 0.25  # the way it must arrive, but the last direction is not known yet
    m.arrive(first)
    assert stage.commanded == [first + side * 0.5, first]
    second = first + way * 0.25  # the stage last moved the approach way: straight there
    m.arrive(second)
    assert stage.commanded[2:] == [second]
    back = second - way * 0.25  # a short step the other way: through the overscan
    m.arrive(back)
    assert stage.commanded[3:] == [back + side * 0.5, back]
    m.arrive(back)  # already there, arrived the approach way: nothing to do
    assert len(stage.commanded) == 5 and m.moves == 5


@pytest.mark.parametrize("approach", ["above", "below"])
def test_the_start_z_itself_is_reached_again_from_the_approach_side(approach):
    side = SIDES[approach]
    stage = FakeStage(limits=(0.0, 10.0), start=3.0)
    m = motion(stage, approach=approach)
    m.arrive(3.0)  # how the carriage got to its start is not known
    assert stage.commanded == [3.0 + side * 0.5, 3.0]


@pytest.mark.parametrize("approach", ["above", "below"])
def test_a_step_of_exactly_the_overscan_the_approach_way_goes_direct(approach):
    side = SIDES[approach]
    stage = FakeStage(limits=(0.0, 10.0), start=3.0)
    m = motion(stage, approach=approach, overscan=0.5)
    m.arrive(3.0 - side * 0.5)
    assert stage.commanded == [3.0 - side * 0.5]


def test_the_stage_settles_after_every_arrival_and_not_at_all_when_settle_is_zero():
    for settle, expected in ((0.25, [0.25, 0.25]), (0.0, [])):
        stage = FakeStage(limits=(0.0, 10.0), start=3.0)
        pauses = []
        m = Motion(stage, 1.0, 5.0, "above", 0.5, settle, pauses.append, lambda: None)
        m.arrive(2.0)
        m.arrive(2.5)  # two moves (overscan and back), one settle
        assert pauses == expected


# ~~ refinement proposals at the ends of the curve and at keep-out edges


def parabola_vertex(zs, scores):
    """The vertex of the parabola through (z, max(scores) / score), by least squares."""
    a, b, _ = np.polyfit(zs, max(scores) / np.asarray(scores), 2)
    return -b / (2 * a)


def gaussian(zs, centre, sigma=0.8):
    return [math.exp(-((z - centre) / sigma) ** 2 / 2) for z in zs]


@pytest.mark.parametrize("centre", [0.8, 4.2])  # the best point is the lowest or the highest Z
def test_a_best_point_at_an_end_proposes_the_vertex_of_the_three_points_at_that_end(centre):
    zs = [1.0, 2.0, 3.0, 4.0]
    scores = gaussian(zs, centre)  # not a Lorentzian: other triples predict other vertices
    end = slice(0, 3) if centre < 2.5 else slice(1, 4)
    expected = parabola_vertex(zs[end], scores[end])
    assert (1.0 < expected < 2.0) if centre < 2.5 else (3.0 < expected < 4.0)  # inside the end bracket
    others = slice(1, 4) if centre < 2.5 else slice(0, 3)
    assert abs(parabola_vertex(zs[others], scores[others]) - expected) > 0.05
    z = propose(points_of(zs, scores), tolerance=0.01, width_known=True)
    assert z == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("scores, expected", [
    ([1.0, 0.5, 0.2], 0.0 + (3 - math.sqrt(5)) / 2),  # 1/score = z^2 + 1: vertex on the best point, z=0
    ([0.2, 0.5, 1.0], 2.0 - (3 - math.sqrt(5)) / 2),  # mirrored: vertex on z=2
])
def test_a_vertex_exactly_on_the_best_end_point_gives_a_golden_step_instead(scores, expected):
    z = propose(points_of([0.0, 1.0, 2.0], scores), tolerance=0.01, width_known=True)
    assert z == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("zs, expected", [
    ([1.0, 1.5, 2.5], 1.5 + (3 - math.sqrt(5)) / 2 * 1.0),  # the wider side is above
    ([1.0, 2.0, 2.5], 2.0 - (3 - math.sqrt(5)) / 2 * 1.0),  # the wider side is below
    ([1.0, 2.0, 3.0], 2.0 + (3 - math.sqrt(5)) / 2 * 1.0),  # both equal: the step goes up
])
def test_without_a_vertex_the_golden_step_goes_into_the_wider_side_of_the_bracket(zs, expected):
    scores = [0.0, 1.0, 0.5]  # a black frame beside the best point: no parabola
    z = propose(points_of(zs, scores), tolerance=0.01, width_known=True)
    assert z == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("peak, expected", [(2.03, 2.05), (1.97, 1.95)])
def test_a_vertex_near_a_sample_moves_to_the_nearer_edge_half_a_tolerance_away(peak, expected):
    zs = [1.0, 2.0, 3.0]
    scores = [1.0 / (1.0 + ((z - peak) / 0.5) ** 2) for z in zs]  # the vertex is the peak
    z = propose(points_of(zs, scores), tolerance=0.1, width_known=True)
    assert z == pytest.approx(expected, abs=1e-4)


def test_a_vertex_inside_a_plateau_moves_past_its_far_end_when_that_is_nearer():
    zs = [1.0, 2.0, 2.1, 2.2, 3.0]  # one replayed slice seen from 2.0 to 2.2: a point at 2.1
    shape = {1.0: 1.4225, 2.1: 0.1025, 3.0: 0.8225}  # 1/score = (z - 2.15)^2 + 0.1 at the points
    scores = [1.0 / shape[1.0]] + [1.0 / shape[2.1]] * 3 + [1.0 / shape[3.0]]
    z = propose(points_of(zs, scores), tolerance=0.1, width_known=True)
    assert z == pytest.approx(2.2 + 0.05, abs=1e-4)  # not 2.15, inside the plateau


# ~~ held by backlash


def test_a_target_the_overscan_could_not_fully_pass_may_be_held_by_backlash():
    stage = FakeStage(limits=(0.0, 10.0), start=4.0)
    m = motion(stage, overscan=0.5, z_range=(1.0, 5.0))
    assert m.held is False  # no move away from the approach side yet
    m.arrive(4.8)  # up to the end Z5 (0.2 of overscan left), then down 0.2
    assert m.held is True
    m.arrive(4.5)  # straight down: 0.5 below the end of the last move up
    assert m.held is False
    m.arrive(2.0)
    assert m.held is False


def test_below_the_mirror_holds_and_a_zero_overscan_never_does():
    stage = FakeStage(limits=(0.0, 10.0), start=2.0)
    m = motion(stage, approach="below", overscan=0.5, z_range=(1.0, 5.0))
    m.arrive(1.3)  # down to the end Z1, then up 0.3
    assert m.held is True
    m.arrive(1.6)  # straight up: 0.6 above the end of the last move down
    assert m.held is False
    none = motion(FakeStage(limits=(0.0, 10.0), start=2.0), overscan=0.0, z_range=(1.0, 5.0))
    none.arrive(4.9)
    assert none.held is False


def test_a_full_overscan_that_rounds_short_still_counts_as_full():
    m = motion(FakeStage(limits=(0.0, 10.0), start=0.5), overscan=0.2, z_range=(0.0, 5.0))
    m.arrive(0.7)  # up to 0.7 + 0.2 (rounded), then down
    assert m.held is False
