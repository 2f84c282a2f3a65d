"""@AUTOFOCUS inside a printed job: the job waits for focus, and cancel always gets through."""

import uuid

import pytest

from .conftest import move_to, poll

JOB = """G28
G90
G1 Z{start} F1200
@AUTOFOCUS {parameters}
G1 X10 F3000
M117 after autofocus
G1 X20 F3000
"""


def upload(client, content):
    """Upload G-code and start printing it."""
    name = "job-%s.gcode" % uuid.uuid4().hex[:8]
    reply = client.session.post(
        client.server.url + "/api/files/local",
        files={"file": (name, content, "application/octet-stream")},
        data={"print": "true"},
        timeout=30,
    )
    assert reply.status_code == 201, reply.text


def print_job(client, start=4.4, parameters="RANGE=1"):
    """Upload a job with @AUTOFOCUS and start printing it."""
    upload(client, JOB.format(start=start, parameters=parameters))


def test_job_waits_for_focus_and_then_finishes(idle, serial_log):
    mark = serial_log.mark()
    print_job(idle)
    idle.wait_job_state("Printing")
    idle.wait_job_state("Operational")
    assert idle.get("/api/job").json()["progress"]["completion"] == pytest.approx(100)
    record = idle.state()["last"]
    assert record["ok"] is True, record["message"]
    sent = serial_log.sent(mark)
    job_z, after = sent.index("G1 Z4.4 F1200"), sent.index("G1 X10 F3000")
    focus_moves = [i for i, line in enumerate(sent) if line.startswith("G1 Z") and i > job_z]
    confirmations = [i for i, line in enumerate(sent[:after]) if line == "M114"]
    assert len(focus_moves) >= 3 and max(focus_moves) < after
    assert max(focus_moves) < max(confirmations) < after


AFTER = "M117 after-run"


def test_cancelling_the_job_during_focus_releases_the_hold_and_sends_no_after_gcode(idle, serial_log):
    idle.settings(settle=0.5, after_gcode=AFTER)
    mark = serial_log.mark()
    print_job(idle)
    idle.wait_running()
    assert idle.post("/api/job", {"command": "cancel"}).status_code == 204
    idle.wait_job_state("Operational", timeout=30)
    assert idle.wait_idle()["last"]["reason"] == "cancelled"
    assert "G1 X10 F3000" not in serial_log.sent(mark) and AFTER not in serial_log.sent(mark)


def test_pausing_the_job_during_focus_stops_the_run_and_the_job_pauses(idle, serial_log):
    idle.settings(settle=0.5, after_gcode=AFTER)
    mark = serial_log.mark()
    print_job(idle)
    idle.wait_running()
    try:
        assert idle.post("/api/job", {"command": "pause", "action": "pause"}).status_code == 204
        idle.wait_job_state("Paused", timeout=30)
        record = idle.wait_idle()["last"]
        assert record["reason"] == "cancelled" and "paused" in record["message"]
        assert "G1 X10 F3000" not in serial_log.sent(mark) and AFTER not in serial_log.sent(mark)
    finally:
        idle.post("/api/job", {"command": "cancel"})
        idle.wait_job_state("Operational", timeout=30)


def test_bad_parameter_pauses_the_job_and_runs_nothing(idle, serial_log):
    mark = serial_log.mark()
    print_job(idle, parameters="RANGE=wide")
    try:
        idle.wait_job_state("Paused", timeout=30)
        sent = serial_log.sent(mark)
        assert "G1 X10 F3000" not in sent
        assert [line for line in sent if line.startswith("G1 Z")] == ["G1 Z4.4 F1200"]
        assert idle.state()["state"] == "idle"
    finally:
        idle.post("/api/job", {"command": "cancel"})
        idle.wait_job_state("Operational", timeout=30)


def test_autofocus_from_the_terminal_runs_without_a_job(idle, serial_log):
    move_to(idle, serial_log, 4.3)
    before = idle.state()["last"]
    idle.gcode("@AUTOFOCUS RANGE=1")
    idle.wait_running()
    record = idle.wait_idle()["last"]
    assert record["run_id"] != (before or {}).get("run_id") and record["ok"] is True


def test_start_from_the_api_while_printing_is_refused(idle, serial_log):
    mark = serial_log.mark()
    upload(idle, "G4 S2\nG4 S2\n")
    idle.wait_job_state("Printing")
    refused = idle.command("start")
    idle.wait_job_state("Operational")
    assert refused.status_code == 409 and "@AUTOFOCUS" in refused.json()["error"]
    assert not any(line.startswith("G1") for line in serial_log.sent(mark))


def test_a_print_started_during_a_terminal_run_stops_the_run(idle, serial_log):
    idle.settings(settle=0.5)
    move_to(idle, serial_log, 4.4)
    assert idle.command("start").status_code == 202
    idle.wait_running()
    upload(idle, "G4 P100\n")
    record = idle.wait_idle()["last"]
    idle.wait_job_state("Operational")
    assert record["reason"] == "cancelled" and "print started" in record["message"]


def test_autofocus_home_in_a_job_sets_the_reference_before_the_next_line(rehome, serial_log):
    rehome.settings(max_correction=10.0)
    rehome.command("set_reference", z=12.0)
    mark = serial_log.mark()
    print_job(rehome, parameters="RANGE=1 HOME")
    rehome.wait_job_state("Printing")
    rehome.wait_job_state("Operational")
    sent = serial_log.sent(mark)
    assert rehome.state()["last"]["kind"] == "home"
    assert sent.index("G92 Z12.000") < sent.index("G1 X10 F3000")


def test_autofocus_home_without_a_reference_is_refused_before_anything_moves(idle, serial_log):
    idle.settings(reference_z=None)
    before = idle.state()["last"]
    mark = serial_log.mark()
    idle.gcode("@AUTOFOCUS HOME", "M114")  # M114 marks that the @-line has been handled
    poll(lambda: serial_log.sent(mark), lambda sent: "M114" in sent, 10.0, "the marker M114")
    assert idle.state()["state"] == "idle"
    assert idle.state()["last"] == before
    assert not any(line.startswith("G1") for line in serial_log.sent(mark))


def test_autofocus_home_in_a_job_with_a_correction_beyond_the_limit_pauses_without_g92(rehome, serial_log):
    rehome.command("set_reference", z=12.0)  # focus is near Z4: an 8 mm correction, above the 5 mm default
    mark = serial_log.mark()
    print_job(rehome, parameters="RANGE=1 HOME")
    try:
        rehome.wait_job_state("Paused", timeout=60)
        sent = serial_log.sent(mark)
        assert rehome.state()["last"]["reason"] == "needs_confirmation"
        assert not any(line.startswith("G92") for line in sent) and "G1 X10 F3000" not in sent
    finally:
        rehome.post("/api/job", {"command": "cancel"})
        rehome.wait_job_state("Operational", timeout=30)


def test_a_jobs_autofocus_takes_over_a_run_from_the_tab_and_the_job_is_not_paused(idle, serial_log):
    idle.settings(settle=0.5)
    move_to(idle, serial_log, 4.4)
    assert idle.command("start", range=3).status_code == 202
    ui_run = idle.wait_running()["run"]["run_id"]
    mark = serial_log.mark()
    upload(idle, "@AUTOFOCUS RANGE=1\nG1 X10 F3000\nM117 after autofocus\n")
    idle.wait_job_state("Printing", "Paused")
    state = idle.wait_job_state("Operational", "Paused", timeout=90)
    assert state == "Operational", "the job was paused"
    assert idle.get("/api/job").json()["progress"]["completion"] == pytest.approx(100)
    ui_record = idle.get("/plugin/autofocus/records/%s.json" % ui_run).json()
    job_record = idle.state()["last"]
    assert ui_record["reason"] == "cancelled" and job_record["run_id"] != ui_run
    assert job_record["ok"] is True, job_record["message"]
    sent = serial_log.sent(mark)
    focus_moves = [i for i, line in enumerate(sent) if line.startswith("G1 Z")]
    assert focus_moves and max(focus_moves) < sent.index("G1 X10 F3000")
