"""``@AUTOFOCUS MAP`` in a print job and runs from the tab share one run slot: the job's map
takes over a focus run or a map started from the tab (the job held at once, the other run
cancelled and awaited, then the job's map; the job is not paused for it), and while the job's
map holds the job, a focus run, a jog, a move or a map from the tab is refused saying why."""

import pytest

from .conftest import FOCAL_Z, move_to, poll
from .test_focus_map import check_serial_log
from .test_job_hold import upload

MAP_LINE = "@AUTOFOCUS MAP ROWS=2 COLS=2 X0=50 Y0=50 X1=150 Y1=150"
AFTER = "M117 after the job's map"
JOB = MAP_LINE + "\n" + AFTER + "\nG1 X10 F3000\n"


def record_of(client, run_id):
    reply = client.get("/plugin/autofocus/records/%s.json" % run_id)
    reply.raise_for_status()
    return reply.json()


def job_runs_to_the_end(client, timeout=180):
    """Wait for the job to end; fail if it was paused instead."""
    client.wait_job_state("Printing", "Paused")
    state = client.wait_job_state("Operational", "Paused", timeout=timeout)
    assert state == "Operational", "the job was paused"
    assert client.get("/api/job").json()["progress"]["completion"] == pytest.approx(100)


def the_jobs_map(client, not_run_id):
    """The newest map record, which must be the job's (not ``not_run_id``), passed with 4 points."""
    record = client.wait_idle(60)["map"]["last"]
    assert record["run_id"] != not_run_id and record["ok"] is True, record["message"]
    assert [(p["x"], p["y"]) for p in record["points"]] == [(50.0, 50.0), (150.0, 50.0), (150.0, 150.0),
                                                             (50.0, 150.0)]
    assert all(abs(p["z"] - FOCAL_Z) <= 0.05 for p in record["points"]), record["points"]
    return record


def assert_the_map_ran_before_the_next_line(sent):
    after = sent.index(AFTER)
    xy = [i for i, line in enumerate(sent) if line.startswith("G0 X")]
    assert len(xy) >= 4 and max(xy) < after
    assert max(i for i, line in enumerate(sent) if line.startswith("G1 Z")) < after
    check_serial_log(sent)


def test_a_jobs_map_takes_over_a_focus_run_from_the_tab(rehome, serial_log):
    rehome.settings(settle=0.5)
    move_to(rehome, serial_log, FOCAL_Z + 0.4)
    assert rehome.command("start", range=3).status_code == 202
    ui_run = rehome.wait_running()["run"]["run_id"]
    rehome.settings(settle=0.0)  # the run from the tab keeps its own settings; the job's map is quick
    mark = serial_log.mark()

    upload(rehome, JOB)

    job_runs_to_the_end(rehome)
    assert record_of(rehome, ui_run)["reason"] == "cancelled"
    the_jobs_map(rehome, ui_run)
    assert_the_map_ran_before_the_next_line(serial_log.sent(mark))


def map_from_the_tab(client, serial_log):
    """Start a slow 3x3 map as the tab would, wait for its first point; return its run id (the
    settings are put back to fast for what follows, the map keeps its own)."""
    client.settings(settle=0.3)
    move_to(client, serial_log, FOCAL_Z + 0.2)
    reply = client.command("map", rows=3, cols=3)
    assert reply.status_code == 202
    poll(client.state, lambda s: (s["map"]["progress"] or {}).get("done", 0) >= 1, 90, "the tab's map's first point")
    client.settings(settle=0.0)
    return reply.json()["run_id"]


def test_a_jobs_map_takes_over_a_map_from_the_tab(rehome, serial_log):
    ui_map = map_from_the_tab(rehome, serial_log)
    mark = serial_log.mark()

    upload(rehome, JOB)

    job_runs_to_the_end(rehome)
    cancelled = record_of(rehome, ui_map)
    assert cancelled["reason"] == "cancelled" and 1 <= len(cancelled["points"]) < 9
    the_jobs_map(rehome, ui_map)
    assert_the_map_ran_before_the_next_line(serial_log.sent(mark))


def test_a_jobs_focus_line_takes_over_a_map_from_the_tab(rehome, serial_log):
    ui_map = map_from_the_tab(rehome, serial_log)
    before = rehome.state()["last"]
    mark = serial_log.mark()

    upload(rehome, "@AUTOFOCUS RANGE=1.5\n" + AFTER + "\n")

    job_runs_to_the_end(rehome)
    assert record_of(rehome, ui_map)["reason"] == "cancelled"
    focus = rehome.wait_idle(60)["last"]
    assert focus["run_id"] != (before or {}).get("run_id") and focus["ok"] is True, focus["message"]
    sent = serial_log.sent(mark)
    assert max(i for i, line in enumerate(sent) if line.startswith("G1 Z")) < sent.index(AFTER)


REFUSED = "The print job is measuring a focus map (@AUTOFOCUS MAP); autofocus and Z moves are refused until it has ended."


def test_while_a_jobs_map_holds_the_job_the_tab_is_refused_saying_why(rehome, serial_log):
    rehome.settings(settle=0.3)
    move_to(rehome, serial_log, FOCAL_Z + 0.2)
    upload(rehome, JOB)
    job_map = poll(rehome.state, lambda s: s["run"] and s["run"]["kind"] == "map", 60, "the job's map")["run"]
    assert job_map["in_job"] is True

    for command, payload in [("start", {}), ("jog", {"dz": 0.1}), ("move", {"z": 4.0}), ("set_reference", {}),
                             ("map", {"rows": 2, "cols": 2})]:
        reply = rehome.command(command, **payload)
        assert reply.status_code == 409, (command, reply.text)
        assert reply.json()["error"] == REFUSED, command

    rehome.settings(settle=0.0)
    job_runs_to_the_end(rehome)
    record = rehome.wait_idle(60)["map"]["last"]
    assert record["run_id"] == job_map["run_id"] and record["ok"] is True
