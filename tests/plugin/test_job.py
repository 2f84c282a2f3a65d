"""FocusJob with a fake printer, the real PrinterStage and scripted searches."""

import contextlib
import threading
import time

import numpy as np
import pytest

from octoprint_autofocus.focus import FocusResult
from octoprint_autofocus.focus.errors import CameraError, Cancelled, MoveRefused
from octoprint_autofocus.job import Busy, FocusJob, NotReady, RunPlan, Wiring
from octoprint_autofocus.printer_stage import PrinterStage
from octoprint_autofocus.records import RecordStore
from octoprint_autofocus.settings import RunRequest, validate

from .fakes import FakePrinter


class FakeCamera:
    def __init__(self, fail=False):
        self.fail = fail
        self.opened = 0
        self.closed = 0

    @contextlib.contextmanager
    def open(self, config):
        if self.fail:
            raise CameraError("connection refused")
        self.opened += 1
        try:
            yield self
        finally:
            self.closed += 1

    def frame(self):
        return np.zeros((480, 640), np.uint8)


def focuses_at(z, ok=True, reason=""):
    """A search that moves to ``z`` (one sample) and reports ``ok``."""

    def search(stage, camera, z_min, z_max, *, on_sample, cancel, **options):
        stage.move_to(z)
        on_sample(z, 1.0, "coarse")
        return FocusResult(ok=ok, z=z, reason=reason, z_min=z_min, z_max=z_max)

    return search


def crashes(stage, camera, z_min, z_max, **options):
    raise RuntimeError("boom")


def waits_for_cancel(started):
    def search(stage, camera, z_min, z_max, *, cancel, **options):
        started.set()
        cancel.wait(10)
        return FocusResult(ok=False, z=stage.position(), reason="cancelled")

    return search


class Rig:
    """A FocusJob wired to fakes; ``pushes`` and ``events`` record what it announced."""

    def __init__(self, tmp_path, search, settings=None, printer_z=5.0, camera_fails=False):
        self.printer = FakePrinter(z=printer_z)
        self.camera = FakeCamera(fail=camera_fails)
        self.pushes = []
        self.events = []
        self.references = []
        self.records = RecordStore(str(tmp_path / "records"), keep=5)
        self.config = validate({"z_min": 1.0, "z_max": 9.0, **(settings or {})})
        wiring = Wiring(
            make_stage=lambda config, z_min, z_max, cancel: PrinterStage(
                self.printer, z_min=z_min, z_max=z_max, feedrate=config.feedrate,
                move_template=config.move_template, timeout=2.0, cancel=cancel,
            ),
            open_camera=self.camera.open,
            volume=lambda: (0.0, 8.0),
            push=lambda kind, data: self.pushes.append((kind, data)),
            fire=lambda key, payload: self.events.append(key),
            store_reference=self.references.append,
        )
        self.job = FocusJob(self.printer, self.records, wiring, search=search)
        self.printer.add_listener(self.job.feed_line)

    def run(self, kind="focus", request=RunRequest(), in_job=False):
        run_id = self.job.start(RunPlan(kind=kind, config=self.config, request=request, in_job=in_job))
        assert self.job.wait(10)
        return run_id

    def pushed(self, kind):
        return [data for k, data in self.pushes if k == kind]

    def close(self):
        self.job.shutdown()
        self.printer.close()


@pytest.fixture
def rig_factory(tmp_path):
    rigs = []

    def make(search, **kwargs):
        rigs.append(Rig(tmp_path, search, **kwargs))
        return rigs[-1]

    yield make
    for rig in rigs:
        rig.close()


def test_successful_run_keeps_and_pushes_a_record(rig_factory):
    rig = rig_factory(focuses_at(4.0))
    run_id = rig.run()
    record = rig.records.load(run_id)
    assert record["ok"] is True and record["kind"] == "focus"
    assert rig.pushed("done")[0]["record"]["run_id"] == run_id
    assert rig.pushed("progress")[0]["z"] == 4.0
    assert rig.events == ["focus_started", "focus_finished"]
    assert rig.job.status() == {"state": "idle", "run": None}


def test_run_limits_are_the_range_around_z_cut_by_settings_and_volume(rig_factory):
    rig = rig_factory(focuses_at(4.0))
    run_id = rig.run(request=RunRequest(range=5.0))
    record = rig.records.load(run_id)
    assert (record["z_min"], record["z_max"]) == (1.0, 8.0)


def records_options(seen):
    """A search that keeps its window and options in ``seen`` and focuses at the window's centre."""

    def search(stage, camera, z_min, z_max, **options):
        seen.update(options, window=(z_min, z_max))
        return focuses_at(0.5 * (z_min + z_max))(stage, camera, z_min, z_max, **options)

    return search


@pytest.mark.parametrize("settings, request_, window, limits, extension", [
    ({}, RunRequest(), (3.0, 7.0), (1.0, 8.0), None),
    ({"max_extension": 0.0}, RunRequest(range=1.0), (4.0, 6.0), (1.0, 8.0), 0.0),
    ({"max_extension": 1.5}, RunRequest(z_min=2.0, z_max=4.0), (2.0, 4.0), (2.0, 4.0), 1.5),
])
def test_the_search_gets_the_window_and_may_extend_into_the_safety_limits_unless_bounds_are_explicit(
        rig_factory, settings, request_, window, limits, extension):
    seen = {}
    rig = rig_factory(records_options(seen), settings=settings)
    rig.run(request=request_)
    assert seen["window"] == window
    assert seen["limits"] == limits
    assert seen["max_extension"] == extension


def test_second_start_while_running_raises_busy(rig_factory):
    started = threading.Event()
    rig = rig_factory(waits_for_cancel(started))
    rig.job.start(RunPlan(kind="focus", config=rig.config))
    assert started.wait(5)
    with pytest.raises(Busy):
        rig.job.start(RunPlan(kind="focus", config=rig.config))
    assert rig.job.cancel() is True
    assert rig.job.wait(5)


def test_start_without_an_operational_printer_raises_and_sends_nothing(rig_factory):
    rig = rig_factory(focuses_at(4.0))
    rig.printer.operational = False
    with pytest.raises(NotReady):
        rig.job.start(RunPlan(kind="focus", config=rig.config))
    assert rig.printer.sent == [] and not rig.job.running


def test_start_outside_a_job_while_printing_is_refused_and_sends_nothing(rig_factory):
    rig = rig_factory(focuses_at(4.0))
    rig.printer.printing = True
    with pytest.raises(NotReady):
        rig.job.start(RunPlan(kind="focus", config=rig.config))
    with pytest.raises(NotReady):
        rig.job.jog(rig.config, 0.1)
    assert rig.printer.sent == [] and not rig.job.running


def test_start_inside_a_job_while_printing_holds_the_job(rig_factory):
    rig = rig_factory(focuses_at(4.0))
    rig.printer.printing = True
    rig.run(in_job=True)
    assert rig.printer.holds == [True, False]


@pytest.mark.parametrize(
    "search, camera_fails",
    [(focuses_at(4.0), False), (focuses_at(4.0, ok=False, reason="no_peak"), False), (crashes, False),
     (focuses_at(4.0), True), (focuses_at(20.0), False)],
    ids=["success", "failure", "exception", "camera_error", "move_refused"],
)
def test_job_hold_is_released_on_every_path(rig_factory, search, camera_fails):
    rig = rig_factory(search, camera_fails=camera_fails)
    rig.run(in_job=True)
    assert rig.printer.holds == [True, False]


def test_job_hold_is_released_when_the_run_is_cancelled(rig_factory):
    started = threading.Event()
    rig = rig_factory(waits_for_cancel(started))
    rig.job.start(RunPlan(kind="focus", config=rig.config, in_job=True))
    assert started.wait(5)
    rig.job.cancel("the print is being cancelled")
    assert rig.job.wait(5)
    assert rig.printer.holds == [True, False]
    record = rig.pushed("aborted")[0]["record"]
    assert (record["reason"], record["message"]) == ("cancelled", "the print is being cancelled")
    assert rig.printer.pauses == 0


@pytest.mark.parametrize("in_job", [False, True])
def test_cancel_outside_job_only_spares_a_run_that_holds_the_job(rig_factory, in_job):
    started = threading.Event()
    rig = rig_factory(waits_for_cancel(started))
    rig.job.start(RunPlan(kind="focus", config=rig.config, in_job=in_job))
    assert started.wait(5)
    assert rig.job.cancel("a print started", outside_job_only=True) is not in_job
    rig.job.cancel()
    assert rig.job.wait(5)


def test_failure_inside_a_print_pauses_it_by_default(rig_factory):
    rig = rig_factory(focuses_at(4.0, ok=False, reason="no_peak"))
    rig.run(in_job=True)
    assert rig.printer.pauses == 1
    assert rig.pushed("failed")[0]["record"]["reason"] == "no_peak"


def test_failure_inside_a_print_continues_when_configured(rig_factory):
    rig = rig_factory(focuses_at(4.0, ok=False, reason="no_peak"), settings={"on_failure": "continue"})
    rig.run(in_job=True)
    assert rig.printer.pauses == 0 and rig.printer.holds == [True, False]


def test_exception_in_the_search_becomes_a_failed_record_with_the_message(rig_factory):
    rig = rig_factory(crashes)
    run_id = rig.run()
    record = rig.records.load(run_id)
    assert record["ok"] is False and "boom" in record["message"]
    assert rig.events[-1] == "focus_failed"


def test_camera_error_fails_the_run_before_any_move(rig_factory):
    rig = rig_factory(focuses_at(4.0), camera_fails=True)
    run_id = rig.run()
    assert rig.records.load(run_id)["reason"] == "camera_error"
    assert not any(line.startswith("G1") for line in rig.printer.sent_lines())


def test_home_sets_the_reference_with_g92_after_a_passed_run(rig_factory):
    rig = rig_factory(focuses_at(4.0), settings={"reference_z": 3.5})
    run_id = rig.run(kind="home")
    assert "G92 Z3.500" in rig.printer.sent_lines()
    assert rig.records.load(run_id)["correction"] == pytest.approx(-0.5)


def test_home_sends_no_g92_after_a_failed_run(rig_factory):
    rig = rig_factory(focuses_at(4.0, ok=False, reason="poor_fit"), settings={"reference_z": 3.5})
    rig.run(kind="home")
    assert not any(line.startswith("G92") for line in rig.printer.sent_lines())


def test_reference_run_stores_the_focused_z_only_when_passed(rig_factory):
    passed = rig_factory(focuses_at(4.25))
    passed.run(kind="reference")
    failed = rig_factory(focuses_at(4.25, ok=False, reason="no_peak"))
    failed.run(kind="reference")
    assert passed.references == [4.25] and failed.references == []


def test_before_and_after_gcode_frame_the_search(rig_factory):
    rig = rig_factory(focuses_at(4.0), settings={"before_gcode": "M355 S1", "after_gcode": "M355 S0\nM84"})
    rig.run()
    lines = rig.printer.sent_lines()
    assert lines.index("M355 S1") < lines.index("G1 Z4.000 F600") < lines.index("M355 S0") < lines.index("M84")


def test_jog_moves_relative_within_limits(rig_factory):
    rig = rig_factory(focuses_at(4.0))
    assert rig.job.jog(rig.config, -0.5) == pytest.approx(4.5)
    assert rig.printer.z == pytest.approx(4.5)


def test_jog_beyond_the_limits_is_refused_and_nothing_moves(rig_factory):
    rig = rig_factory(focuses_at(4.0))
    with pytest.raises(ValueError):
        rig.job.jog(rig.config, 4.0)
    assert rig.printer.z == 5.0 and not rig.job.running


def test_jog_beyond_the_limits_says_so_in_millimetres(rig_factory):
    rig = rig_factory(focuses_at(4.0))
    with pytest.raises(MoveRefused) as error:
        rig.job.jog(rig.config, -5.5)
    assert str(error.value) == "Z -0.500 mm is below the lowest Z (1.000 mm); nothing moved."


def test_move_goes_to_an_absolute_z_within_the_limits(rig_factory):
    rig = rig_factory(focuses_at(4.0))
    assert rig.job.move(rig.config, 4.125) == pytest.approx(4.125)
    assert rig.printer.z == pytest.approx(4.125) and not rig.job.running


def test_move_outside_the_limits_is_refused_and_nothing_moves(rig_factory):
    rig = rig_factory(focuses_at(4.0))
    with pytest.raises(MoveRefused) as error:
        rig.job.move(rig.config, rig.config.z_max + 1)
    assert "above the highest Z" in str(error.value)
    assert rig.printer.z == 5.0 and not rig.job.running


def test_cancel_stops_a_jog_waiting_for_the_printer(rig_factory):
    rig = rig_factory(focuses_at(4.0))
    rig.printer.answer_m114 = False
    errors = []

    def jog():
        try:
            rig.job.jog(rig.config, 0.5)
        except Exception as exc:  # the jog's outcome is what the test checks
            errors.append(exc)

    worker = threading.Thread(target=jog)
    worker.start()
    assert poll_until(lambda: rig.job.running)
    assert rig.job.cancel("stop") is True
    worker.join(5)
    assert not worker.is_alive() and isinstance(errors[0], Cancelled)
    assert not rig.job.running


def poll_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
