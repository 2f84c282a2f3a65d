"""MapJob on FocusJob's run slot, with a fake printer, the real PrinterHead and scripted searches."""

import re
import threading
import time

import numpy as np
import pytest

from octoprint_autofocus.focus import FocusResult, autofocus
from octoprint_autofocus.job import Busy, FocusJob, RunPlan, Wiring
from octoprint_autofocus.map_job import MapJob, MapWiring
from octoprint_autofocus.map_settings import MapRequest, resolve_map, validate_map
from octoprint_autofocus.printer_stage import PrinterStage
from octoprint_autofocus.records import RecordStore
from octoprint_autofocus.settings import safety_limits, validate
from octoprint_autofocus.xy_stage import PrinterHead

from .fakes import FakePrinter
from .test_job import FakeCamera, cancel_while_a_search_move_waits, confirm_no_search_move

BED = (0.0, 200.0, 0.0, 200.0)


def tilted(x, y):
    return 4.0 + 0.001 * x + 0.0005 * y


def surface_search(printer, truth=tilted, fail_at=None, block_at=None, blocked=None, crash=False):
    """A search that finds ``truth`` under the head when it lies in its range (else the edge)."""

    def search(stage, camera, z_min, z_max, *, roi, metric, cancel, **options):
        if crash:
            raise RuntimeError("boom")
        here = (printer.x, printer.y)
        if block_at is not None and here == block_at:
            blocked.set()
            cancel.wait(10)
            return FocusResult(ok=False, z=z_max, reason="cancelled", z_min=z_min, z_max=z_max, final_z=z_max)
        stage.move_to(z_max)
        focus = truth(*here)
        if fail_at is not None and here in fail_at:
            return FocusResult(ok=False, z=z_max, reason="no_peak", message="nothing sharp here",
                               z_min=z_min, z_max=z_max, final_z=z_max, frames=3)
        if not z_min <= focus <= z_max:
            return FocusResult(ok=False, z=z_max if focus > z_max else z_min, reason="peak_at_edge",
                               z_min=z_min, z_max=z_max, final_z=z_max, frames=3)
        stage.move_to(round(focus, 3))
        return FocusResult(ok=True, z=round(focus, 3), z_min=z_min, z_max=z_max, final_z=round(focus, 3), frames=6)

    return search


class Rig:
    """A MapJob on a FocusJob wired to fakes; the search is ``surface_search(**search)``,
    or ``real_search`` (the library's autofocus) when given."""

    def __init__(self, tmp_path, settings=None, camera_fails=False, real_search=None, **search):
        self.printer = FakePrinter(z=5.0)
        self.camera = FakeCamera(fail=camera_fails)
        self.pushes = []
        self.events = []
        self.records = RecordStore(str(tmp_path / "records"), keep=20)
        self.config = validate({"z_min": 1.0, "z_max": 9.0, **(settings or {})})
        options = dict(feedrate=self.config.feedrate, move_template=self.config.move_template, timeout=2.0)
        wiring = Wiring(
            make_stage=lambda config, z_min, z_max, cancel: PrinterStage(
                self.printer, z_min=z_min, z_max=z_max, cancel=cancel, **options),
            open_camera=self.camera.open, volume=lambda: (0.0, 8.0),
            push=lambda kind, data: self.pushes.append((kind, data)),
            fire=lambda key, payload: self.events.append((key, payload)), store_reference=lambda z: None,
        )
        self.job = FocusJob(self.printer, self.records, wiring,
                            search=lambda *a, **k: FocusResult(ok=True, z=4.0))
        self.map = MapJob(self.job, self.records, MapWiring(
            make_head=lambda config, plan, z_min, z_max, cancel: PrinterHead(
                self.printer, bed=plan.bed, xy_feedrate=plan.xy_feedrate, xy_template=plan.xy_template,
                z_min=z_min, z_max=z_max, cancel=cancel, **options),
            open_camera=self.camera.open, volume=lambda: (0.0, 8.0),
            push=lambda kind, data: self.pushes.append((kind, data)),
            fire=lambda key, payload: self.events.append((key, payload)),
        ), search=real_search or surface_search(self.printer, **search))
        self.printer.add_listener(self.job.feed_line)
        self.printer.add_sending_listener(lambda line, tags: self.job.note_sending(line, tags))

    def plan(self, **request):
        return resolve_map(validate_map({"rows": 3, "cols": 3}), MapRequest(**request), BED,
                           safety_limits(self.config, (0.0, 8.0)))

    def start(self, in_job=False, **request):
        return self.map.start(self.config, self.plan(**request), in_job=in_job)

    def run(self, in_job=False, **request):
        run_id = self.start(in_job=in_job, **request)
        assert self.job.wait(10)
        return self.records.load(run_id)

    def pushed(self, kind):
        return [data for k, data in self.pushes if k == kind]

    def close(self):
        self.job.shutdown()
        self.printer.close()


@pytest.fixture
def make_rig(tmp_path):
    rigs = []

    def make(**kwargs):
        rigs.append(Rig(tmp_path, **kwargs))
        return rigs[-1]

    yield make
    for rig in rigs:
        rig.close()


def moves(printer):
    """The G0/G1 lines sent, as (x, y, z) with None for an axis the line does not set."""
    out = []
    for line in printer.sent_lines():
        if re.match(r"G[01]\b", line):
            words = dict(re.findall(r"([XYZ])([-\d.]+)", line))
            out.append(tuple(float(words[a]) if a in words else None for a in "XYZ"))
    return out


def test_a_map_is_kept_pushed_and_announced(make_rig):
    rig = make_rig()
    record = rig.run()
    assert record["kind"] == "map" and record["ok"] is True and record["reason"] == ""
    assert len(record["points"]) == 9 and all(p["ok"] for p in record["points"])
    for p in record["points"]:
        assert p["z"] == pytest.approx(tilted(p["x"], p["y"]), abs=0.001)
    assert record["summary"]["tilt_x"] == pytest.approx(0.1, rel=0.02)
    assert record["summary"]["tilt_y"] == pytest.approx(0.05, rel=0.02)
    assert record["map"]["rectangle"] == [10.0, 190.0, 10.0, 190.0]
    assert record["settings"]["z_min"] == 1.0
    progress = rig.pushed("map_progress")
    assert progress[0]["point"] is None and progress[0]["total"] == 9
    assert [p["done"] for p in progress[1:]] == list(range(1, 10))
    assert progress[-1]["point"]["index"] == 8
    done = rig.pushed("map_done")
    assert done[0]["map"]["run_id"] == record["run_id"] and "samples" not in done[0]["map"]["points"][0]
    assert [key for key, _ in rig.events] == ["map_finished"]
    event = rig.events[0][1]
    assert event["ok"] is True and event["points"] == 9 and event["failed"] == 0
    assert event["tilt_x"] == pytest.approx(0.1, rel=0.02)
    status = rig.map.status()
    assert status["state"] == "idle" and status["progress"] is None
    assert status["last"]["run_id"] == record["run_id"]
    assert rig.job.status() == {"state": "idle", "run": None}


def test_every_xy_move_travels_at_the_lift_height_inside_the_bed(make_rig):
    rig = make_rig()
    record = rig.run(lift=1.5)
    z = 5.0
    travelled = []
    for x, y, move_z in moves(rig.printer):
        if move_z is not None:
            z = move_z
        else:
            assert 0.0 <= x <= 200.0 and 0.0 <= y <= 200.0
            travelled.append(((x, y), z))
    focused = {(p["x"], p["y"]): p["z"] for p in record["points"]}
    heights = [5.0] + [focused[xy] for xy, _ in travelled[:-1]]
    assert [z for _, z in travelled] == pytest.approx([h + 1.5 for h in heights])
    assert all(1.0 <= m[2] <= 8.0 for m in moves(rig.printer) if m[2] is not None)
    lines = rig.printer.sent_lines()
    first_xy = next(i for i, line in enumerate(lines) if line.startswith("G0 X"))
    assert lines[first_xy - 1] == "G90" and lines[first_xy + 1:first_xy + 3] == ["M400", "M114"]


def test_a_map_and_a_focus_run_exclude_each_other(make_rig):
    blocked = threading.Event()
    rig = make_rig(block_at=(190.0, 10.0), blocked=blocked)
    rig.start()
    assert blocked.wait(5)
    with pytest.raises(Busy):
        rig.job.start(RunPlan(kind="focus", config=rig.config))
    with pytest.raises(Busy):
        rig.start()
    status = rig.map.status()
    assert status["state"] == "running" and status["progress"]["done"] == 2
    assert status["progress"]["remaining"] is not None and status["progress"]["remaining"] >= 0
    assert rig.job.status()["run"]["kind"] == "map"
    assert rig.job.cancel("cancelled by the user") is True
    assert rig.job.wait(5)
    # the slot is free again for either
    rig.job.start(RunPlan(kind="focus", config=rig.config))
    assert rig.job.wait(5)
    assert rig.records.last()["kind"] == "focus"


def test_cancel_lifts_once_to_the_travel_height_then_sends_nothing(make_rig):
    blocked = threading.Event()
    rig = make_rig(block_at=(190.0, 10.0), blocked=blocked)
    rig.start(in_job=True)
    assert blocked.wait(5)
    rig.printer.wait_idle()
    before = len(rig.printer.sent)
    z_before = rig.printer.z
    rig.job.cancel("cancelled by the user")
    assert rig.job.wait(5)
    after = [line for line in rig.printer.sent_lines()[before:] if line not in ("M400", "M114", "G90")]
    assert after == ["G1 Z%.3f F600" % (z_before + 1.0)]
    record = rig.records.last()
    assert (record["reason"], record["message"]) == ("cancelled", "cancelled by the user")
    assert len(record["points"]) == 2
    assert rig.printer.holds == [True, False] and rig.printer.pauses == 0
    assert rig.pushed("map_failed")[0]["map"]["reason"] == "cancelled"


def test_a_cancel_while_a_search_move_waits_for_its_confirmation_ends_the_map_as_cancelled(make_rig):
    rig = make_rig(real_search=autofocus)
    frames = confirm_no_search_move(rig.printer, rig.camera)
    run_id = rig.start(in_job=True)
    waiting, moved_to = cancel_while_a_search_move_waits(rig, frames)
    record = rig.records.load(run_id)
    assert (record["reason"], record["message"]) == ("cancelled", "cancelled by the user")
    assert not rig.job.running and rig.printer.holds == [True, False] and rig.printer.pauses == 0
    # the search sent nothing more; the cancelled map's lift asked where Z is (unanswered), no move
    assert rig.printer.sent_lines()[waiting:] == ["M400", "M114"]
    assert rig.printer.z == moved_to and all(1.0 <= z <= 8.0 for _, _, z in moves(rig.printer) if z is not None)


def test_a_search_move_never_confirmed_without_a_cancel_is_still_a_stage_error(make_rig, caplog):
    rig = make_rig(real_search=autofocus)
    confirm_no_search_move(rig.printer, rig.camera)
    with caplog.at_level("DEBUG", logger="octoprint_autofocus.focus.search"):
        record = rig.run()
    assert record["reason"] == "stage_error" and record["points"][0]["reason"] == "stage_error"
    assert "(no M114 reply after M400)" in caplog.text  # the stage's timeout, not a cancel


def test_a_disconnect_aborts_without_a_lift(make_rig):
    blocked = threading.Event()
    rig = make_rig(block_at=(190.0, 10.0), blocked=blocked)
    rig.start()
    assert blocked.wait(5)
    rig.printer.wait_idle()
    before = len(rig.printer.sent)
    rig.printer.operational = False
    rig.job.cancel("the printer disconnected")
    assert rig.job.wait(5)
    assert rig.printer.sent_lines()[before:] == []
    assert rig.records.last()["message"] == "the printer disconnected"


def test_a_failed_point_is_kept_and_the_map_goes_on(make_rig):
    rig = make_rig(fail_at={(100.0, 100.0)})
    record = rig.run()
    assert record["ok"] is True
    failed = [p for p in record["points"] if not p["ok"]]
    assert [(p["x"], p["y"], p["reason"], p["message"]) for p in failed] == [
        (100.0, 100.0, "no_peak", "nothing sharp here")]
    assert record["summary"]["failed"] == 1
    assert record["message"] == "Measured 8 of 9 points. 1 could not be focused."
    assert record["detail"] == "measured 8 of 9 points; 1 failed"


def test_too_many_failed_points_fail_the_map_and_pause_the_job(make_rig):
    rig = make_rig(fail_at={(10.0, 10.0), (100.0, 10.0), (190.0, 10.0)})
    record = rig.run(in_job=True)
    assert record["ok"] is False and record["reason"] == "too_many_failed"
    assert record["message"] == "Stopped: 3 of 9 points could not be focused, more than the 25% allowed."
    assert rig.printer.pauses == 1 and rig.printer.holds == [True, False]
    assert rig.pushed("map_failed")[0]["map"]["reason"] == "too_many_failed"
    assert rig.events[0][1]["ok"] is False


def test_failure_continues_the_job_when_configured(make_rig):
    rig = make_rig(settings={"on_failure": "continue"}, crash=True)
    rig.run(in_job=True)
    assert rig.printer.pauses == 0 and rig.printer.holds == [True, False]


@pytest.mark.parametrize("kwargs", [{}, {"crash": True}, {"camera_fails": True},
                                    {"fail_at": {(10.0, 10.0), (100.0, 10.0), (190.0, 10.0)}}],
                         ids=["success", "exception", "camera_error", "too_many_failed"])
def test_job_hold_is_released_on_every_path(make_rig, kwargs):
    rig = make_rig(**kwargs)
    rig.run(in_job=True)
    assert rig.printer.holds == [True, False]
    assert not rig.job.running


def test_an_exception_becomes_a_failed_record(make_rig):
    rig = make_rig(crash=True)
    record = rig.run()
    assert record["ok"] is False and record["reason"] == "stage_error" and "boom" in record["message"]


def test_a_broken_camera_fails_before_anything_moves(make_rig):
    rig = make_rig(camera_fails=True)
    record = rig.run()
    assert record["reason"] == "camera_error"
    assert moves(rig.printer) == []


def test_a_move_outside_the_limits_fails_the_map_and_nothing_outside_is_sent(make_rig):
    rig = make_rig(truth=lambda x, y: 7.9 if x > 100 else 4.0)
    record = rig.run(travel_z=7.5)
    # every Z stays within the safety limits (1..8), whatever the surface does
    assert all(1.0 <= m[2] <= 8.0 for m in moves(rig.printer) if m[2] is not None)
    assert record["points"][0]["ok"] is True


def test_the_time_left_comes_from_the_points_after_the_first(make_rig):
    rig = make_rig()
    rig.run()
    remaining = [p["remaining"] for p in rig.pushed("map_progress")[1:]]
    assert remaining[0] is None
    assert all(r is not None and r >= 0 for r in remaining[1:])
    assert remaining[-1] == 0


def test_records_of_maps_and_focus_runs_are_told_apart(make_rig):
    rig = make_rig()
    rig.job.start(RunPlan(kind="focus", config=rig.config))
    assert rig.job.wait(5)
    map_record = rig.run()
    assert rig.records.last()["kind"] == "map"
    assert rig.records.last(kinds=("focus",))["kind"] == "focus"
    assert rig.map.status()["last"]["run_id"] == map_record["run_id"]


def test_before_and_after_gcode_frame_a_map_that_ends_by_itself(make_rig):
    rig = make_rig(settings={"before_gcode": "M355 S1", "after_gcode": "M355 S0"})
    rig.run()
    lines = rig.printer.sent_lines()
    first_xy = next(i for i, line in enumerate(lines) if line.startswith("G0 X"))
    assert lines.index("M355 S1") < first_xy < lines.index("M355 S0")
    assert lines.index("M355 S0") > max(i for i, line in enumerate(lines) if line.startswith("G1 Z"))


def test_no_after_gcode_after_a_cancel(make_rig):
    blocked = threading.Event()
    rig = make_rig(settings={"after_gcode": "M355 S0"}, block_at=(190.0, 10.0), blocked=blocked)
    rig.start()
    assert blocked.wait(5)
    rig.job.cancel("cancelled by the user")
    assert rig.job.wait(5)
    assert "M355 S0" not in rig.printer.sent_lines()


def test_a_map_record_keeps_no_credentials_or_custom_gcode(make_rig):
    rig = make_rig(settings={"stream_url": "http://admin:hunter2@cam:8080/?action=stream&token=s3cret",
                             "before_gcode": "M117 secret-lamp"})
    record = rig.run()
    text = str(record)
    assert "hunter2" not in text and "s3cret" not in text and "secret-lamp" not in text
    assert record["settings"]["stream_url"] == "http://cam:8080/?action=stream"


def test_each_point_shows_its_own_window_and_samples_in_the_run_status(make_rig):
    rig = make_rig()
    base = rig.map._search

    def sampling_search(stage, camera, z_min, z_max, *, on_sample, **options):
        on_sample(z_min, 10.0, "coarse")
        on_sample(z_max, 20.0, "coarse")
        return base(stage, camera, z_min, z_max, **options)

    rig.map._search = sampling_search
    record = rig.run()
    states = [data["run"] for data in rig.pushed("state") if data["run"] and data["run"]["point"]]
    numbers = [run["point"]["number"] for run in states]
    assert numbers == list(range(1, 10))  # one state message as each point's search starts
    plan = rig.plan()
    assert [(run["point"]["x"], run["point"]["y"]) for run in states] == [(p.x, p.y) for p in plan.points]
    assert all(run["samples"] == [] and run["point"]["total"] == 9 and run["kind"] == "map" for run in states)
    searched = [p["searched"] for p in record["points"]]
    assert [run["window"] for run in states] == searched  # the scripted search searches exactly its window
    progress = rig.pushed("progress")
    assert len(progress) == 18 and {p["run_id"] for p in progress} == {record["run_id"]}


def test_a_run_or_jog_refused_during_a_jobs_map_says_the_job_is_mapping(make_rig):
    blocked = threading.Event()
    rig = make_rig(block_at=(190.0, 10.0), blocked=blocked)
    rig.start(in_job=True)
    assert blocked.wait(5)
    with pytest.raises(Busy, match=r"print job is measuring a focus map"):
        rig.job.start(RunPlan(kind="focus", config=rig.config))
    with pytest.raises(Busy, match=r"print job is measuring a focus map"):
        rig.job.jog(rig.config, 0.1)
    assert rig.job.status()["run"]["in_job"] is True
    rig.job.cancel("the print is being cancelled")
    assert rig.job.wait(5)


def test_a_run_refused_during_a_map_from_the_tab_says_a_map_is_running(make_rig):
    blocked = threading.Event()
    rig = make_rig(block_at=(190.0, 10.0), blocked=blocked)
    rig.start()
    assert blocked.wait(5)
    with pytest.raises(Busy, match=r"^A focus map is running; cancel it or wait until it has ended\.$"):
        rig.job.move(rig.config, 4.0)
    rig.job.cancel("cancelled by the user")
    assert rig.job.wait(5)


def test_a_cancelled_map_is_logged_without_a_warning_and_a_failed_one_with_one(make_rig, caplog):
    blocked = threading.Event()
    rig = make_rig(block_at=(190.0, 10.0), blocked=blocked)
    with caplog.at_level("INFO", logger="octoprint.plugins.autofocus.map"):
        run_id = rig.start()
        assert blocked.wait(5)
        rig.job.cancel("cancelled by the user")
        assert rig.job.wait(5)
    said = {entry.getMessage(): entry.levelname for entry in caplog.records if run_id in entry.getMessage()}
    assert said["Focus map %s failed (cancelled): cancelled by the user" % run_id] == "INFO"
    assert "WARNING" not in said.values()

    failing = make_rig(fail_at={(10.0, 10.0), (100.0, 10.0), (190.0, 10.0)})
    with caplog.at_level("INFO", logger="octoprint.plugins.autofocus.map"):
        failed_id = failing.run()["run_id"]
    assert any(entry.levelname == "WARNING" and failed_id in entry.getMessage() for entry in caplog.records)
