"""AtCommandRunner: what a queued @AUTOFOCUS line does, with a real FocusJob on a fake printer.

The integration tests (tests/integration/test_job_hold.py, test_map_takeover.py) run the
same paths through a real OctoPrint; these show each decision on its own and fast.
"""

import threading

import pytest

from octoprint_autofocus.atcommand_runner import AtCommandRunner, AtCommandWiring
from octoprint_autofocus.map_settings import MapRequest
from octoprint_autofocus.job import RunPlan
from octoprint_autofocus.settings import SettingsError

from .test_job import Rig, focuses_at, waits_for_cancel

JOB = {"source:file"}
TERMINAL = {"source:api"}


class Line:
    """A Rig's FocusJob behind an AtCommandRunner; ``maps`` the maps asked for, ``terminal``
    what was written to the terminal."""

    def __init__(self, tmp_path, search, printing=False):
        self.rig = Rig(tmp_path, search)
        self.rig.printer.printing = printing
        self.rig.printer.log_lines = lambda *lines: self.terminal.extend(lines)
        self.terminal = []
        self.maps = []
        self.runner = AtCommandRunner(self.rig.printer, self.rig.job, AtCommandWiring(
            config=lambda: self.rig.config,
            check_home=self._check_home,
            start_map=lambda config, request, in_job: self.maps.append((request, in_job)),
            push=lambda kind, data: self.rig.pushes.append((kind, data)),
        ))

    @staticmethod
    def _check_home(config):
        if config.reference_z is None:
            raise SettingsError("reference_z", "no reference Z is set; calibrate it first")

    def errors(self):
        return [data["message"] for data in self.rig.pushed("error")]

    def wait_job_calls(self, count):
        """The printer's hold/pause calls, once there are ``count`` (they come from threads)."""
        for _ in range(100):
            if len(self.rig.printer.job_calls) >= count:
                break
            threading.Event().wait(0.05)
        return self.rig.printer.job_calls


@pytest.fixture
def line_factory(tmp_path):
    made = []

    def make(search=focuses_at(4.0), **kwargs):
        made.append(Line(tmp_path / str(len(made)), search, **kwargs))
        return made[-1]

    yield make
    for item in made:
        item.rig.close()


def test_a_bad_parameter_in_a_job_is_refused_told_and_the_job_paused(line_factory):
    line = line_factory(printing=True)
    line.runner.queued("RANGE=wide", JOB)
    assert line.wait_job_calls(3) == [("hold", True), ("pause", None), ("hold", False)]
    assert not line.rig.job.running and line.rig.records.history() == []
    assert len(line.errors()) == 1 and line.errors()[0].startswith("@AUTOFOCUS RANGE=wide not run: ")
    assert line.terminal == line.errors()


def test_a_bad_parameter_from_the_terminal_is_refused_without_touching_a_job(line_factory):
    line = line_factory(printing=True)  # a print is going, but the line came from the terminal
    line.runner.queued("RANGE=wide", TERMINAL)
    assert len(line.errors()) == 1
    assert line.rig.printer.job_calls == []


def test_a_line_runs_a_focus_held_in_the_job(line_factory):
    line = line_factory(printing=True)
    line.runner.queued("RANGE=1", JOB)
    assert line.rig.job.wait(10)
    record = line.rig.records.last()
    assert record["ok"] is True and record["kind"] == "focus"
    assert line.rig.printer.holds == [True, False] and line.errors() == []


def test_home_without_a_reference_is_refused_before_anything_moves(line_factory):
    line = line_factory()
    line.runner.queued("HOME", TERMINAL)
    assert "no reference Z is set" in line.errors()[0]
    assert line.rig.records.history() == [] and line.rig.printer.sent == []


def test_a_map_line_starts_a_map_in_the_job(line_factory):
    line = line_factory(printing=True)
    line.runner.queued("MAP ROWS=2 COLS=3", JOB)
    [(request, in_job)] = line.maps
    assert isinstance(request, MapRequest) and (request.rows, request.cols) == (2, 3)
    assert in_job is True and line.errors() == []


def test_a_jobs_line_takes_over_a_run_outside_the_job(line_factory):
    started = threading.Event()
    searches = iter([waits_for_cancel(started), focuses_at(4.0)])
    line = line_factory(search=lambda *args, **kwargs: next(searches)(*args, **kwargs))
    outside = line.rig.job.start(RunPlan(kind="focus", config=line.rig.config))
    assert started.wait(5)
    line.rig.printer.printing = True
    line.runner.queued("RANGE=1", JOB)
    assert line.wait_job_calls(1)[0] == ("hold", True), "the job is held at once"
    for _ in range(200):  # the job's run starts on a thread once the cancelled one ended
        if len(line.rig.records.history()) == 2:
            break
        threading.Event().wait(0.05)
    assert line.rig.job.wait(10)
    assert line.rig.records.last()["run_id"] != outside
    assert line.rig.records.load(outside)["message"] == "an @AUTOFOCUS line of the print job took over"
    assert line.rig.records.last()["ok"] is True
    assert line.wait_job_calls(4)[-1] == ("hold", False) and line.rig.printer.pauses == 0
    assert line.errors() == []


def test_a_terminal_line_does_not_take_over_a_running_run(line_factory):
    started = threading.Event()
    line = line_factory(search=waits_for_cancel(started))
    line.rig.job.start(RunPlan(kind="focus", config=line.rig.config))
    assert started.wait(5)
    line.runner.queued("RANGE=1", TERMINAL)
    assert line.rig.job.running, "the running run goes on"
    assert len(line.errors()) == 1 and line.rig.printer.job_calls == []
    line.rig.job.cancel("the test is over")
