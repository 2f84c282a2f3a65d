"""FocusJob with a fake printer, the real PrinterStage and scripted searches."""

import contextlib
import dataclasses
import json
import threading
import time
import types

import numpy as np
import pytest

from octoprint_autofocus.focus import FocusResult, autofocus
from octoprint_autofocus import job as job_module
from octoprint_autofocus.focus.errors import CameraError, Cancelled, MoveRefused, StageError, StageTimeout
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
        self.on_frame = None

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
        if self.on_frame is not None:
            self.on_frame()
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
    """A FocusJob wired to fakes; ``pushes`` and ``events`` record what it announced.

    Set ``stage_gate`` (an Event) to make building the stage wait for it (``stage_requested``
    is set meanwhile); ``stage_watches_cancel = False`` builds stages that ignore the cancel
    event, so only ``abort`` can stop them.
    """

    def __init__(self, tmp_path, search, settings=None, printer_z=5.0, camera_fails=False):
        self.printer = FakePrinter(z=printer_z)
        self.camera = FakeCamera(fail=camera_fails)
        self.pushes = []
        self.events = []
        self.references = []
        self.records = RecordStore(str(tmp_path / "records"), keep=5)
        self.config = validate({"z_min": 1.0, "z_max": 9.0, **(settings or {})})
        self.stage_gate = None
        self.stage_requested = threading.Event()
        self.stage_watches_cancel = True
        wiring = Wiring(
            make_stage=self._make_stage,
            open_camera=self.camera.open,
            volume=lambda: (0.0, 8.0),
            push=lambda kind, data: self.pushes.append((kind, data)),
            fire=lambda key, payload: self.events.append(key),
            store_reference=self.references.append,
        )
        self.job = FocusJob(self.printer, self.records, wiring, search=search)
        self.printer.add_listener(self.job.feed_line)
        self.printer.add_sending_listener(self.job.note_sending)

    def _make_stage(self, config, z_min, z_max, cancel):
        self.stage_requested.set()
        if self.stage_gate is not None:
            assert self.stage_gate.wait(10)
        return PrinterStage(
            self.printer, z_min=z_min, z_max=z_max, feedrate=config.feedrate,
            move_template=config.move_template, timeout=2.0,
            cancel=cancel if self.stage_watches_cancel else None,
        )

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


def test_the_search_gets_every_setting_of_the_run(rig_factory):
    seen = {}
    settings = {"metric": "brenner", "roi": {"x": 0.5, "y": 0.25, "w": 0.25, "h": 0.5}, "coarse_points": 7,
                "tolerance": 0.02, "overscan": 0.3, "approach": "below", "settle": 0.2, "frames_per_position": 2}
    rig = rig_factory(records_options(seen), settings=settings)
    rig.run()
    assert seen["metric"] == "brenner" and seen["coarse_points"] == 7 and seen["tolerance"] == 0.02
    assert (seen["overscan"], seen["approach"], seen["settle"], seen["frames_per_position"]) == (0.3, "below", 0.2, 2)
    assert seen["roi"] == (320, 120, 160, 240)  # the region in pixels of the 640x480 first frame


def test_a_run_request_overrides_the_metric_and_region_of_the_settings(rig_factory):
    seen = {}
    rig = rig_factory(records_options(seen), settings={"metric": "brenner"})
    rig.run(request=RunRequest(metric="laplacian", roi=(0.0, 0.0, 0.5, 0.5)))
    assert (seen["metric"], seen["roi"]) == ("laplacian", (0, 0, 320, 240))


def test_second_start_while_running_raises_busy(rig_factory):
    started = threading.Event()
    rig = rig_factory(waits_for_cancel(started))
    rig.job.start(RunPlan(kind="focus", config=rig.config))
    assert started.wait(5)
    with pytest.raises(Busy):
        rig.job.start(RunPlan(kind="focus", config=rig.config))
    assert rig.job.cancel() is True
    assert rig.job.wait(5)


def test_a_run_never_keeps_octoprint_from_exiting(rig_factory):
    started = threading.Event()
    rig = rig_factory(waits_for_cancel(started))
    rig.job.start(RunPlan(kind="focus", config=rig.config))
    assert started.wait(5)
    workers = [thread for thread in threading.enumerate() if thread.name == job_module.THREAD_NAME]
    assert len(workers) == 1 and workers[0].daemon  # a run that hangs cannot hold the process open
    rig.job.cancel()
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
    assert [data["record"]["run_id"] for data in rig.pushed("failed")] == [run_id]  # failed, not aborted
    assert rig.pushed("aborted") == []


def test_home_sets_the_reference_with_g92_after_a_passed_run(rig_factory):
    rig = rig_factory(focuses_at(4.0), settings={"reference_z": 3.5})
    run_id = rig.run(kind="home")
    assert "G92 Z3.500" in rig.printer.sent_lines()
    assert rig.records.load(run_id)["correction"] == pytest.approx(-0.5)


@pytest.mark.parametrize("reason", ["poor_fit", "camera_dark"])
def test_home_sends_no_g92_after_a_failed_run(rig_factory, reason):
    rig = rig_factory(focuses_at(4.0, ok=False, reason=reason), settings={"reference_z": 3.5})
    rig.run(kind="home")
    assert not any(line.startswith("G92") for line in rig.printer.sent_lines())


def test_reference_run_stores_the_focused_z_only_when_passed(rig_factory):
    passed = rig_factory(focuses_at(4.25))
    passed.run(kind="reference")
    failed = rig_factory(focuses_at(4.25, ok=False, reason="no_peak"))
    failed.run(kind="reference")
    assert passed.references == [4.25] and failed.references == []


def test_before_and_after_gcode_frame_the_search(rig_factory):
    rig = rig_factory(focuses_at(4.0), settings={"before_gcode": "M355 S1", "after_gcode": "M355 S0\nM117 done"})
    rig.run()
    lines = rig.printer.sent_lines()
    assert lines.index("M355 S1") < lines.index("G1 Z4.000 F600") < lines.index("M355 S0") < lines.index("M117 done")


LIGHTS = {"before_gcode": "M355 S1", "after_gcode": "M355 S0"}


@pytest.mark.parametrize("reason", ["no_peak", "camera_dark"])
def test_after_gcode_follows_a_failed_search(rig_factory, reason):
    rig = rig_factory(focuses_at(4.0, ok=False, reason=reason), settings=LIGHTS)
    rig.run()
    assert rig.printer.sent_lines()[-1] == "M355 S0"


@pytest.mark.parametrize("reason", ["cancelled", "stage_error"])
def test_nothing_follows_a_cancelled_search_or_a_stage_error(rig_factory, reason):
    rig = rig_factory(focuses_at(4.0, ok=False, reason=reason), settings={**LIGHTS, "reference_z": 4.0})
    rig.run(kind="home")
    lines = rig.printer.sent_lines()
    assert lines[-3:] == ["G1 Z4.000 F600", "M400", "M114"]  # the search's last move, then nothing
    assert "M355 S0" not in lines and not any(line.startswith("G92") for line in lines)


def cancels_at_the_end(rig_holder, ok=True):
    """A search that focuses at 4.0 and is cancelled just as it returns."""

    def search(stage, camera, z_min, z_max, *, on_sample, cancel, **options):
        stage.move_to(4.0)
        rig_holder[0].job.cancel("cancelled by the user")
        return FocusResult(ok=ok, z=4.0, z_min=z_min, z_max=z_max)

    return search


def test_a_cancel_as_the_search_ends_sends_no_after_gcode_and_no_g92(rig_factory):
    holder = []
    holder.append(rig_factory(cancels_at_the_end(holder), settings={**LIGHTS, "reference_z": 4.1}))
    run_id = holder[0].run(kind="home")
    lines = holder[0].printer.sent_lines()
    assert "M355 S0" not in lines and not any(line.startswith("G92") for line in lines)
    assert holder[0].records.load(run_id)["reason"] == "cancelled"


def test_a_cancel_before_the_before_gcode_sends_nothing(rig_factory):
    started = threading.Event()
    rig = rig_factory(waits_for_cancel(started), settings=LIGHTS)
    rig.camera.on_frame = lambda: rig.job.cancel("stop")  # cancelled while the first frame is taken
    rig.run()
    assert rig.printer.sent_lines() == ["M400", "M114"]  # only the starting position was read
    assert not started.is_set()


def test_after_gcode_refused_at_send_time_is_reported_and_the_result_stands(rig_factory):
    rig = rig_factory(focuses_at(4.0), settings={"after_gcode": "G1 Z8.5"})  # the printer volume ends at 8
    run_id = rig.run()
    assert rig.records.load(run_id)["ok"] is True
    assert "G1 Z8.5" not in rig.printer.sent_lines()
    assert "G1 Z8.5" in rig.pushed("error")[0]["message"]


def test_home_with_a_correction_beyond_the_limit_sends_no_g92_and_asks(rig_factory):
    rig = rig_factory(focuses_at(4.0), settings={"reference_z": 7.5, "max_correction": 3.0})
    run_id = rig.run(kind="home")
    record = rig.records.load(run_id)
    assert not any(line.startswith("G92") for line in rig.printer.sent_lines())
    assert (record["ok"], record["reason"]) == (False, "needs_confirmation")
    assert record["proposed_correction"] == pytest.approx(3.5) and record["correction"] is None
    assert record["z"] == 4.0 and "3.500 mm" in record["message"]


def test_home_with_a_confirmed_large_correction_sends_g92(rig_factory):
    rig = rig_factory(focuses_at(4.0), settings={"reference_z": 7.5, "max_correction": 3.0})
    run_id = rig.job.start(RunPlan(kind="home", config=rig.config, confirmed=True))
    assert rig.job.wait(10)
    assert "G92 Z7.500" in rig.printer.sent_lines()
    assert rig.records.load(run_id)["correction"] == pytest.approx(3.5)


def test_a_large_correction_in_a_job_pauses_it(rig_factory):
    rig = rig_factory(focuses_at(4.0), settings={"reference_z": 7.5, "max_correction": 3.0})
    rig.printer.printing = True
    rig.run(kind="home", in_job=True)
    assert rig.printer.pauses == 1 and rig.printer.holds == [True, False]


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


@pytest.mark.parametrize("z", [1.0, 8.0])  # the safety limits: settings 1..9 cut by the volume 0..8
def test_move_to_exactly_a_limit_is_allowed(rig_factory, z):
    rig = rig_factory(focuses_at(4.0))
    assert rig.job.move(rig.config, z) == z
    assert rig.printer.z == pytest.approx(z)


def test_move_outside_the_limits_is_refused_and_nothing_moves(rig_factory):
    rig = rig_factory(focuses_at(4.0))
    with pytest.raises(MoveRefused) as error:
        rig.job.move(rig.config, rig.config.z_max + 1)
    assert "above the highest Z" in str(error.value)
    assert rig.printer.z == 5.0 and not rig.job.running


@pytest.mark.parametrize("watches_cancel, error, says", [(True, Cancelled, "cancelled"), (False, StageError, "stop")],
                         ids=["stage-watches-cancel", "stage-needs-abort"])
def test_cancel_stops_a_jog_waiting_for_the_printer(rig_factory, watches_cancel, error, says):
    rig = rig_factory(focuses_at(4.0))
    rig.stage_watches_cancel = watches_cancel
    rig.printer.answer_m114 = False
    errors = []

    def jog():
        try:
            rig.job.jog(rig.config, 0.5)
        except Exception as exc:  # the jog's outcome is what the test checks
            errors.append(exc)

    worker = threading.Thread(target=jog)
    worker.start()
    assert poll_until(lambda: rig.job.running and "M114" in rig.printer.sent_lines())
    assert rig.job.cancel("stop") is True
    worker.join(10)
    assert not worker.is_alive() and isinstance(errors[0], error)
    assert str(errors[0]) == says  # an aborted stage says why it was stopped
    assert not isinstance(errors[0], StageTimeout)  # stopped by the cancel, not by the 2 s timeout
    assert not rig.job.running


def poll_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def confirm_no_search_move(printer, camera):
    """From the search's first frame on (the run's first frame only checks the camera),
    ``printer`` answers ``M114`` with a bare ``ok``: the next move waits for a confirmation
    that never comes. Returns the number of lines sent at each frame."""
    frames = []

    def on_frame():
        frames.append(len(printer.sent))
        printer.answer_m114 = len(frames) < 2

    camera.on_frame = on_frame
    return frames


def cancel_while_a_search_move_waits(rig, frames):
    """Once a search's move awaits the confirmation :func:`confirm_no_search_move` withholds,
    cancel as the user does and wait for the run to end; return the number of lines sent
    and the printer's Z at the cancel."""
    assert poll_until(lambda: len(frames) >= 2 and "M114" in rig.printer.sent_lines()[frames[1]:])
    rig.printer.wait_idle()
    waiting, moved_to = len(rig.printer.sent), rig.printer.z
    rig.job.cancel("cancelled by the user")
    assert rig.job.wait(10)
    return waiting, moved_to


def test_a_cancel_while_a_search_move_waits_for_its_confirmation_is_a_cancel(rig_factory):
    rig = rig_factory(autofocus)
    frames = confirm_no_search_move(rig.printer, rig.camera)
    run_id = rig.job.start(RunPlan(kind="focus", config=rig.config))
    waiting, moved_to = cancel_while_a_search_move_waits(rig, frames)
    record = rig.records.load(run_id)
    assert (record["reason"], record["message"]) == ("cancelled", "cancelled by the user")
    assert rig.pushed("aborted") and not rig.pushed("failed")
    assert len(rig.printer.sent) == waiting and rig.printer.z == moved_to  # left where it is


def test_a_record_keeps_no_credentials_tokens_or_custom_gcode(rig_factory):
    rig = rig_factory(focuses_at(4.0), settings={
        "camera": "custom", "stream_url": "http://admin:hunter2@cam:8080/?action=stream&token=s3cret",
        "snapshot_url": "http://admin:hunter2@cam:8080/?action=snapshot", "before_gcode": "M117 secret-lamp"})
    record = rig.records.load(rig.run())
    text = str(record)
    assert "hunter2" not in text and "s3cret" not in text and "secret-lamp" not in text
    assert record["settings"]["stream_url"] == "http://cam:8080/?action=stream"


# ~~ the job hold: taken before start returns, released on every path, after the pause


class _ThreadThatCannotStart(threading.Thread):
    def start(self):
        raise RuntimeError("can't start new thread")


def test_job_hold_is_released_when_the_run_cannot_start(rig_factory, monkeypatch):
    rig = rig_factory(focuses_at(4.0))
    rig.printer.printing = True
    threads = types.SimpleNamespace(Thread=_ThreadThatCannotStart, Event=threading.Event)
    monkeypatch.setattr(job_module, "threading", threads)
    with pytest.raises(RuntimeError):
        rig.job.start(RunPlan(kind="focus", config=rig.config, in_job=True))
    assert rig.printer.holds == [True, False]
    assert not rig.job.running and rig.job.status() == {"state": "idle", "run": None}
    monkeypatch.undo()
    rig.run(in_job=True)  # the "running" lock was given back
    assert rig.printer.holds == [True, False, True, False]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_job_hold_is_released_when_pausing_the_failed_job_raises(rig_factory):
    rig = rig_factory(focuses_at(4.0, ok=False, reason="no_peak"))
    rig.printer.printing = True

    def pause_refused():
        rig.printer.job_calls.append(("pause", None))
        raise RuntimeError("printer refused to pause")

    rig.printer.pause_print = pause_refused
    run_id = rig.run(in_job=True)
    assert rig.printer.job_calls == [("hold", True), ("pause", None), ("hold", False)]
    assert rig.records.load(run_id)["reason"] == "no_peak"
    assert rig.pushed("failed")[0]["record"]["run_id"] == run_id and not rig.job.running


@pytest.mark.parametrize("kind", ["focus", "reference", "home"])
def test_job_hold_is_released_after_a_passed_run_of_every_kind(rig_factory, kind):
    rig = rig_factory(focuses_at(4.0), settings={"reference_z": 3.5})
    rig.printer.printing = True
    run_id = rig.run(kind=kind, in_job=True)
    assert rig.records.load(run_id)["ok"] is True
    assert rig.printer.job_calls == [("hold", True), ("hold", False)]


@pytest.mark.parametrize("search", [focuses_at(4.0, ok=False, reason="no_peak"), crashes,
                                    focuses_at(4.0, ok=False, reason="camera_dark")],
                         ids=["failed", "crashed", "camera_dark"])
def test_a_failed_run_pauses_the_job_before_releasing_the_hold(rig_factory, search):
    rig = rig_factory(search)
    rig.printer.printing = True
    rig.run(in_job=True)
    assert rig.printer.job_calls == [("hold", True), ("pause", None), ("hold", False)]


@pytest.mark.parametrize("search, camera_fails, reason", [(focuses_at(4.0), True, "camera_error"),
                                                         (focuses_at(20.0), False, "stage_error")],
                         ids=["camera_error", "move_refused"])
def test_every_failure_but_a_cancel_pauses_the_job(rig_factory, search, camera_fails, reason):
    rig = rig_factory(search, camera_fails=camera_fails)
    rig.printer.printing = True
    run_id = rig.run(in_job=True)
    assert rig.records.load(run_id)["reason"] == reason
    assert rig.printer.job_calls == [("hold", True), ("pause", None), ("hold", False)]


def test_a_hold_gone_with_a_disconnect_is_noted_and_the_run_ends_normally(rig_factory, caplog):
    rig = rig_factory(focuses_at(4.0))
    rig.printer.printing = True
    take_hold = rig.printer.set_job_on_hold

    def release_fails(value, blocking=True):
        if not value:
            raise RuntimeError("not connected")  # OctoPrint's answer once the printer is gone
        return take_hold(value, blocking)

    rig.printer.set_job_on_hold = release_fails
    with caplog.at_level("INFO", logger="octoprint.plugins.autofocus.job"):
        run_id = rig.run(in_job=True)
    assert "No job hold to release: the printer is disconnected" in caplog.text
    assert rig.pushed("done")[0]["record"]["run_id"] == run_id and not rig.job.running


# ~~ cancel at every moment, and what the record says


def test_cancel_without_a_run_or_jog_returns_false(rig_factory):
    rig = rig_factory(focuses_at(4.0))
    assert rig.job.cancel("nothing to stop") is False
    assert rig.records.load(rig.run())["ok"] is True  # the next run is not touched by it


@pytest.mark.parametrize("watches_cancel", [True, False], ids=["stage-watches-cancel", "stage-needs-abort"])
def test_cancel_while_the_stage_is_being_built_stops_the_run_before_anything_is_sent(rig_factory, watches_cancel):
    rig = rig_factory(focuses_at(4.0))
    rig.stage_watches_cancel = watches_cancel
    rig.stage_gate = threading.Event()
    run_id = rig.job.start(RunPlan(kind="focus", config=rig.config))
    assert rig.stage_requested.wait(5)
    assert rig.job.cancel("stop now") is True
    rig.stage_gate.set()
    assert rig.job.wait(5)
    record = rig.records.load(run_id)
    assert record["ok"] is False and record["message"] in ("stop now", "cancelled")
    assert rig.printer.sent_lines() == []


def test_a_search_that_reports_the_cancel_itself_gets_the_cancel_reason(rig_factory):
    started = threading.Event()

    def search(stage, camera, z_min, z_max, *, cancel, **options):
        started.set()
        cancel.wait(10)
        return FocusResult(ok=False, z=4.5, reason="cancelled", message="the run was cancelled")

    rig = rig_factory(search)
    run_id = rig.job.start(RunPlan(kind="focus", config=rig.config))
    assert started.wait(5)
    rig.job.cancel("the printer disconnected")
    assert rig.job.wait(5)
    assert rig.records.load(run_id)["message"] == "the printer disconnected"


@pytest.mark.parametrize("reason", ["", "camera_stalled", "no_peak", "verify_failed"])
def test_a_search_that_was_not_cancelled_keeps_its_own_message(rig_factory, reason):
    def search(stage, camera, z_min, z_max, **options):
        return FocusResult(ok=not reason, z=4.5, reason=reason, message="what the search said")

    rig = rig_factory(search)
    assert rig.records.load(rig.run())["message"] == "what the search said"


def test_nan_in_a_result_is_null_in_the_record(rig_factory):
    nan = float("nan")

    def search(stage, camera, z_min, z_max, **options):
        return FocusResult(ok=False, z=nan, reason="no_peak", samples=[(4.0, nan)], verify_score=nan)

    rig = rig_factory(search)
    run_id = rig.run()
    for record in (rig.records.load(run_id), rig.pushed("failed")[0]["record"]):
        assert (record["z"], record["verify_score"], record["samples"]) == (None, None, [[4.0, None]])
        json.dumps(record, allow_nan=False)  # strict JSON: raises on NaN


@pytest.mark.parametrize("reference_z, max_correction, allowed", [
    (7.5, 3.5, True),  # exactly the limit: no confirmation needed
    (1.5, 2.5, True),  # a correction downwards, at the limit
    (1.5, 2.4, False),  # downwards, beyond the limit
])
def test_home_without_confirmation_up_to_max_correction_either_way(rig_factory, reference_z, max_correction,
                                                                     allowed):
    rig = rig_factory(focuses_at(4.0), settings={"reference_z": reference_z, "max_correction": max_correction})
    record = rig.records.load(rig.run(kind="home"))
    assert ("G92 Z%.3f" % reference_z in rig.printer.sent_lines()) is allowed
    assert record["ok"] is allowed and record["reason"] == ("" if allowed else "needs_confirmation")


def test_home_fails_when_the_printer_reports_another_z_after_g92(rig_factory):
    rig = rig_factory(focuses_at(4.0), settings={"reference_z": 3.5})
    execute = rig.printer._execute

    def sloppy_g92(line):  # firmware that applies G92 0.05 mm off
        execute(line)
        if line.startswith("G92"):
            rig.printer.z += 0.05

    rig.printer._execute = sloppy_g92
    record = rig.records.load(rig.run(kind="home"))
    assert record["ok"] is False and record["correction"] is None
    assert "after G92 the printer reports Z3.550 instead of Z3.500" in record["message"]


def test_home_accepts_a_g92_the_firmware_rounds_by_up_to_a_hundredth(rig_factory):
    rig = rig_factory(focuses_at(0.5), settings={"z_min": 0.0, "reference_z": 0.0})
    execute = rig.printer._execute

    def rounding_g92(line):  # firmware that lands G92 Z0 at Z0.01
        execute(line)
        if line.startswith("G92"):
            rig.printer.z += 0.01

    rig.printer._execute = rounding_g92
    record = rig.records.load(rig.run(kind="home"))
    assert record["ok"] is True and record["correction"] == pytest.approx(-0.5)


def test_a_reference_run_never_sends_g92(rig_factory):
    rig = rig_factory(focuses_at(4.0), settings={"reference_z": 3.5})  # an older reference is set
    record = rig.records.load(rig.run(kind="reference"))
    assert record["ok"] is True and record["correction"] is None and rig.references == [4.0]
    assert not any(line.startswith("G92") for line in rig.printer.sent_lines())


def test_a_run_that_fails_after_reading_z_records_where_it_started(rig_factory):
    rig = rig_factory(focuses_at(4.0), camera_fails=True, printer_z=5.5)
    record = rig.records.load(rig.run())
    assert (record["reason"], record["z"], record["start_z"], record["final_z"]) == ("camera_error", 5.5, 5.5, 5.5)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the SystemExit goes on
def test_a_run_stopped_by_a_base_exception_still_pauses_the_print_and_releases_the_hold(rig_factory):
    def exits(stage, camera, z_min, z_max, **options):
        raise SystemExit("the interpreter is going down")

    rig = rig_factory(exits)
    rig.printer.printing = True
    run_id = rig.run(in_job=True)
    record = rig.records.load(run_id)
    assert (record["ok"], record["reason"]) == (False, "stage_error")
    assert rig.printer.job_calls == [("hold", True), ("pause", None), ("hold", False)]
    assert rig.events == ["focus_started", "focus_failed"]


def test_a_run_plan_cannot_change_under_a_running_job(rig_factory):
    rig = rig_factory(focuses_at(4.0))
    plan = RunPlan(kind="focus", config=rig.config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.kind = "home"


@pytest.mark.parametrize("detail", ["t = 1.2 < 2.6 at p = 0.005", ""])
def test_a_failure_is_logged_with_its_detail(rig_factory, caplog, detail):
    def search(stage, camera, z_min, z_max, **options):
        return FocusResult(ok=False, z=4.5, reason="no_peak", message="no clear peak", detail=detail)

    rig = rig_factory(search)
    with caplog.at_level("WARNING", logger="octoprint.plugins.autofocus.job"):
        run_id = rig.run()
    expected = "Autofocus run %s failed (no_peak): no clear peak" % run_id + (" (%s)" % detail if detail else "")
    assert expected in [entry.getMessage() for entry in caplog.records]


@pytest.mark.parametrize("search, camera_fails, reason, words", [
    (focuses_at(20.0), False, "stage_error", "refusing Z20.00"),
    (focuses_at(4.0), True, "camera_error", "connection refused"),
], ids=["stage_error", "camera_error"])
def test_a_device_error_is_reported_with_its_own_message(rig_factory, search, camera_fails, reason, words):
    rig = rig_factory(search, camera_fails=camera_fails)
    record = rig.records.load(rig.run())
    assert record["reason"] == reason and words in record["message"]


@pytest.mark.parametrize("kind", ["focus", "home"])
def test_only_a_reference_run_stores_the_reference(rig_factory, kind):
    rig = rig_factory(focuses_at(4.0), settings={"reference_z": 3.5})
    assert rig.records.load(rig.run(kind=kind))["ok"] is True
    assert rig.references == []


def test_wait_idle_returns_once_the_slot_is_free_and_false_on_timeout(rig_factory):
    started = threading.Event()
    rig = rig_factory(waits_for_cancel(started))
    rig.job.start(RunPlan(kind="focus", config=rig.config))
    assert started.wait(5)
    assert rig.job.wait_idle(0.1) is False
    threading.Timer(0.1, rig.job.cancel).start()
    assert rig.job.wait_idle(5) is True and not rig.job.running


def test_lines_a_cancelled_run_had_queued_are_dropped_before_they_are_sent(rig_factory):
    started = threading.Event()
    rig = rig_factory(waits_for_cancel(started))
    rig.job.start(RunPlan(kind="focus", config=rig.config))
    assert started.wait(5)
    queued_tags = rig.printer.sent[-1][1]  # the tags of the run's last queued line
    assert rig.job.note_sending("G1 Z4.000 F600", queued_tags) is True
    rig.job.cancel("stop")
    assert rig.job.wait(5)
    assert rig.job.note_sending("G1 Z4.000 F600", queued_tags) is False
    assert rig.job.note_sending("G1 Z4.000 F600", frozenset({"source:api"})) is True
    assert rig.job.note_sending("M114", None) is True


def test_the_lines_of_the_last_eight_cancelled_stages_are_dropped(rig_factory):
    rig = rig_factory(focuses_at(4.0))
    tags = []
    for _ in range(9):  # nine runs cancelled before the printer answered any of their lines
        _, cancel = rig.job.claim("focus")
        tags.append(rig.job.use_stage(rig.config, cancel).own_tag)
        assert rig.job.cancel("stop")
        rig.job.release(False)
    sent = [rig.job.note_sending("M114", frozenset({tag})) for tag in tags]
    assert sent == [True] + [False] * 8  # the oldest is forgotten: a bounded memory


def test_a_claim_is_outside_a_job_unless_it_says_otherwise(rig_factory):
    rig = rig_factory(focuses_at(4.0))
    rig.printer.printing = True
    with pytest.raises(NotReady):  # nothing moves under a print unless the print asked for it
        rig.job.claim("map")
    assert rig.printer.holds == [] and not rig.job.running


def test_a_job_hold_that_cannot_be_taken_leaves_the_run_slot_free(rig_factory):
    rig = rig_factory(focuses_at(4.0))
    rig.printer.printing = True

    def refuses(value, blocking=True):
        raise RuntimeError("no job to hold")

    rig.printer.set_job_on_hold = refuses
    with pytest.raises(RuntimeError):
        rig.job.start(RunPlan(kind="focus", config=rig.config, in_job=True))
    assert not rig.job.running
    rig.printer.printing = False
    assert rig.records.load(rig.run())["ok"] is True  # not Busy


def test_a_record_that_cannot_be_saved_is_logged_and_the_run_still_ends(rig_factory, caplog):
    rig = rig_factory(focuses_at(4.0))

    def disk_full(record):
        raise OSError(28, "No space left on device")

    rig.records.save = disk_full
    with caplog.at_level("ERROR", logger="octoprint.plugins.autofocus.job"):
        run_id = rig.run()
    assert "Could not save the record of run %s" % run_id in caplog.text
    assert rig.pushed("done")[0]["record"]["run_id"] == run_id and not rig.job.running


@pytest.mark.parametrize("reason, logged", [("stop", "Autofocus run cancelled: stop"), ("", "Autofocus run cancelled")])
def test_a_cancel_is_logged_with_its_reason(rig_factory, caplog, reason, logged):
    started = threading.Event()
    rig = rig_factory(waits_for_cancel(started))
    rig.job.start(RunPlan(kind="focus", config=rig.config))
    assert started.wait(5)
    with caplog.at_level("INFO", logger="octoprint.plugins.autofocus.job"):
        rig.job.cancel(reason)
    assert rig.job.wait(5)
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("Autofocus run cancelled")] == [logged]


def test_the_job_and_its_wiring_are_set_up_by_name_and_never_change(rig_factory):
    rig = rig_factory(focuses_at(4.0))
    with pytest.raises(TypeError):  # FocusJob(printer, records, wiring, search) cannot pass a search unnoticed
        FocusJob(rig.printer, rig.records, rig.job._wiring, focuses_at(4.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        rig.job._wiring.push = print


def test_a_cancelled_run_is_logged_without_a_warning(rig_factory, caplog):
    def search(stage, camera, z_min, z_max, **options):
        return FocusResult(ok=False, z=4.5, reason="cancelled", message="cancelled")

    rig = rig_factory(search)
    with caplog.at_level("INFO", logger="octoprint.plugins.autofocus.job"):
        run_id = rig.run()
    said = [(entry.levelname, entry.getMessage()) for entry in caplog.records if run_id in entry.getMessage()]
    assert ("INFO", "Autofocus run %s failed (cancelled): cancelled" % run_id) in said
    assert [level for level, _ in said if level != "INFO"] == []


@pytest.mark.parametrize("kind, in_job, says", [
    ("focus", True, r"^The print job is focusing \(@AUTOFOCUS\); autofocus and Z moves are refused until it has"
                    r" ended\.$"),
    ("focus", False, r"^An autofocus run is already in progress\.$"),
    ("reference", False, r"^An autofocus run is already in progress\.$"),
    ("home", False, r"^An autofocus run is already in progress\.$"),
])
def test_a_refused_jog_says_which_focus_run_holds_the_slot(rig_factory, kind, in_job, says):
    rig = rig_factory(focuses_at(4.0))
    rig.job.claim(kind, in_job)
    try:
        with pytest.raises(Busy, match=says):
            rig.job.jog(rig.config, 0.1)
    finally:
        rig.job.release(in_job)


def test_a_failure_other_than_a_cancel_is_logged_as_a_warning(rig_factory, caplog):
    rig = rig_factory(focuses_at(4.0), camera_fails=True)
    with caplog.at_level("INFO", logger="octoprint.plugins.autofocus.job"):
        run_id = rig.run()
    said = [(entry.levelname, entry.getMessage()) for entry in caplog.records if run_id in entry.getMessage()]
    assert [level for level, message in said if "failed (camera_error)" in message] == ["WARNING"]
