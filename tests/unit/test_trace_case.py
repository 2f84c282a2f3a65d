"""bench/trace_case.py: one bench case traced sample by sample."""

import re

import pytest

from bench import bench_search, trace_case
from octoprint_autofocus.focus.sampling import FrameScorer, Sample


@pytest.mark.parametrize("bench, seed, name, first_word", [
    ("should-fail", "7", "outside0", None),
    ("search", "7", "c0:grid:r62:random", "success"),
    ("stacks", "0", "featureless#0", "PASS"),
    ("heldout", "1", "model/0", "pass"),
])
def test_a_traced_case_has_a_line_per_frame_its_bench_counted_and_the_benchs_verdict_last(
        bench, seed, name, first_word):
    lines = []
    trace_case.main([bench, seed, name], out=lines.append)
    verdict = lines[-1]
    frames = int(re.search(r"frames=(\d+)", verdict).group(1))
    rows = lines[1:-1]
    assert lines[0].split()[:4] == ["#", "phase", "z", "score"]
    assert len(rows) == frames  # one frame a sample at the benches' defaults
    if first_word is None:  # a should-fail case: the same verdict as the bench's own run
        case = next(c for c in bench_search.should_fail_cases(8) if c.name == name)
        first_word = bench_search.verdict(bench_search.run_autofocus(case))
    assert verdict.split("  ")[0] == first_word
    columns = list(zip(*(row.split()[4:-1] for row in rows)))
    assert len(columns) >= 2 and all("1.000" in column for column in columns)  # each level's best
    assert all(float(v) <= 1.0 for column in columns for v in column)


def test_sample_lines_scale_each_level_by_its_best_and_show_the_texture():
    samples = [Sample(1.0, (2.0, 8.0), 0.02, "coarse"), Sample(2.0, (4.0, 2.0), 0.05, "fine")]
    header, first, second = trace_case.sample_lines(samples)
    assert first.split() == ["0", "coarse", "1.0000", "2", "0.500", "1.000", "0.0200"]
    assert second.split() == ["1", "fine", "2.0000", "4", "1.000", "0.250", "0.0500"]
    assert trace_case.sample_lines([]) == []


def test_an_unknown_name_stops_with_the_names_there_are():
    with pytest.raises(SystemExit) as stopped:
        trace_case.main(["should-fail", "7", "nothing9"], out=lambda line: None)
    assert "no case named 'nothing9'" in str(stopped.value) and "flat0" in str(stopped.value)


def test_recording_gives_the_scorer_back_its_own_method_even_after_an_error():
    original = FrameScorer.sample
    with pytest.raises(RuntimeError):
        with trace_case.recording():
            assert FrameScorer.sample is not original
            raise RuntimeError("a run that broke")
    assert FrameScorer.sample is original
