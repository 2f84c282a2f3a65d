"""Trace one case of a bench: every sample its run scored, at each pyramid level.

Usage (from the repository root; ``PYTHONPATH=/path/to/checkout`` traces another checkout's
library, as the benches measure it)::

    .venv/bin/python bench/trace_case.py search 608111671 c4:texture:r4:middle --holdout
    .venv/bin/python bench/trace_case.py should-fail 1612885655 beyond6
    .venv/bin/python bench/trace_case.py stacks 574644860 'sparse/asym/jpeg-rec#0' --window
    .venv/bin/python bench/trace_case.py heldout 608111671 near/inside/3

SEED and NAME as the bench printed them: ``bench_search.py`` its seed (``--holdout`` for the
held-out scenes), ``--should-fail`` a case set's ``SEED:NAME``, ``bench_stacks.py`` its seed
base (``--window`` as there), ``bench_heldout.py`` its seed. The run is the bench's own: its
rig, its options, its judgement, printed last.

Each sample is a line in the order the run took it: its phase, its Z, the full-resolution
score, every pyramid level's score over that level's best in the run (1.000 marks the best)
and the texture of the coarsest level (:func:`octoprint_autofocus.focus.sampling.relative_texture`).
A run's result keeps only Z and score; the levels and the texture are what its checks saw.
"""

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional

ROOT = Path(__file__).resolve().parents[1]
if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(ROOT))  # no other library asked for: this checkout's
import octoprint_autofocus  # noqa: E402,F401  (PYTHONPATH's checkout when given)

sys.path.insert(0, str(ROOT))  # this checkout's bench package

from bench import bench_heldout, bench_search, bench_stacks  # noqa: E402
from bench.heldout_cases import draw_cases as heldout_cases  # noqa: E402
from bench.real_stacks import load_stacks  # noqa: E402
from bench.stack_rig import make_cases  # noqa: E402
from octoprint_autofocus.focus import autofocus  # noqa: E402
from octoprint_autofocus.focus.sampling import FrameScorer, Sample  # noqa: E402

BENCHES = ("search", "should-fail", "stacks", "heldout")


@contextlib.contextmanager
def recording() -> Iterator[List[Sample]]:
    """Every :class:`Sample` any :class:`FrameScorer` makes inside the block, in order."""
    samples: List[Sample] = []
    original = FrameScorer.sample

    def sample(scorer: FrameScorer, *args: Any, **kwargs: Any) -> Sample:
        made = original(scorer, *args, **kwargs)
        samples.append(made)
        return made

    FrameScorer.sample = sample  # type: ignore[method-assign]
    try:
        yield samples
    finally:
        FrameScorer.sample = original  # type: ignore[method-assign]


def sample_lines(samples: List[Sample]) -> List[str]:
    """One line per sample: phase, Z, full-resolution score, each level over its best, texture."""
    if not samples:
        return []
    depth = min(len(s.levels) for s in samples)
    best = [max(s.levels[i] for s in samples) or 1.0 for i in range(depth)]
    lines = [f"{'#':>3} {'phase':7} {'z':>10} {'score':>11}  levels / their best   texture"]
    for index, s in enumerate(samples):
        levels = " ".join(f"{s.levels[i] / best[i]:.3f}" for i in range(depth))
        lines.append(f"{index:3d} {s.phase:7} {s.z:10.4f} {s.score:11.5g}  {levels}   {s.texture:.4f}")
    return lines


def find(cases: List[Any], name: str) -> Any:
    """The case called ``name``; a SystemExit naming a few others when there is none."""
    for case in cases:
        if case.name == name:
            return case
    known = ", ".join(c.name for c in cases[:6])
    raise SystemExit(f"no case named {name!r} there (the first ones: {known}, ...)")


def run(bench: str, seed: int, name: str, holdout: bool = False, window: bool = False) -> str:
    """Run the named case as its bench does; the bench's judgement as one line."""
    if bench == "search":
        scenes = bench_search.HOLDOUT_SCENES if holdout else bench_search.MAIN_SCENES
        groups = bench_search.focusable_groups(120, seed, scenes)
        case = find([c for group in groups.values() for c in group], name)
        return _search_line(case, bench_search.run_autofocus(case))
    if bench == "should-fail":
        case = find(bench_search.should_fail_cases(seed + 1), name)
        return _search_line(case, bench_search.run_autofocus(case))
    if bench == "stacks":
        rec = bench_stacks.run_case(find(make_cases(seed), name), autofocus, window)
        error = rec.get("err_tol", float("nan"))
        return (f"{rec['verdict']}  reason={rec.get('reason') or '-'}  err={error:.2f} "
                f"tol  frames={rec['frames']}  focus Z{rec['focus']:.4f}  sharp band "
                f"{rec['band'][0]:+.4f}..{rec['band'][1]:+.4f} of it")
    stacks = load_stacks()
    cases = heldout_cases(seed, stacks, bench_heldout.supports_windows())
    out = bench_heldout.run(find(cases, name), stacks, autofocus)
    return f"{out.verdict}  reason={out.reason or '-'}  frames={out.frames}  {out.detail}"


def _search_line(case: Any, outcome: Any) -> str:
    return (f"{bench_search.verdict(outcome)}  frames={outcome.frames}  error={outcome.error_dof:.2f} DOF  "
            f"focal Z{case.rig_args['focal_z']:.4f}  window {case.z_min:.4f}..{case.z_max:.4f}  "
            f"options {case.options}")


def main(argv: Optional[List[str]] = None, out: Callable[[str], None] = print) -> None:
    """Parse the arguments, run the case, print its samples and the bench's judgement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench", choices=BENCHES)
    parser.add_argument("seed", type=int)
    parser.add_argument("name")
    parser.add_argument("--holdout", action="store_true", help="search: the held-out scenes")
    parser.add_argument("--window", action="store_true", help="stacks: a window around the start")
    args = parser.parse_args(argv)
    with recording() as samples:
        judged = run(args.bench, args.seed, args.name, args.holdout, args.window)
    for line in sample_lines(samples):
        out(line)
    out(judged)


if __name__ == "__main__":
    main()
