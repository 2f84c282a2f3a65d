"""Autofocus runs through the REST API against a real OctoPrint and the virtual printer."""

import pytest

from tools.octoserver import free_port

from .conftest import DOF, FOCAL_Z, move_to, poll, reported_z


def z_moves(lines):
    return [line for line in lines if line.startswith("G1 Z") or line.startswith("G0 Z")]


@pytest.mark.parametrize("start_z", [FOCAL_Z + 0.6, FOCAL_Z - 0.6], ids=["plane_below_start", "plane_above_start"])
def test_start_ends_within_half_a_depth_of_field_of_the_focal_plane(idle, serial_log, start_z):
    move_to(idle, serial_log, start_z)
    record = idle.run(range=1.0)
    assert record["ok"] is True, record["message"]
    assert abs(reported_z(idle, serial_log) - FOCAL_Z) <= DOF / 2


def test_run_follows_a_moved_focal_plane(idle, serial_log):
    idle.settings(simulator={"focal_z": 6.2})
    move_to(idle, serial_log, 6.0)
    record = idle.run()
    assert record["ok"] is True, record["message"]
    assert abs(reported_z(idle, serial_log) - 6.2) <= DOF / 2


def test_run_never_commands_z_outside_the_requested_limits(idle, serial_log):
    move_to(idle, serial_log, 4.2)
    mark = serial_log.mark()
    record = idle.run(z_min=3.5, z_max=4.5)
    targets = [float(line.split()[1][1:]) for line in z_moves(serial_log.sent(mark))]
    assert targets and all(3.5 <= z <= 4.5 for z in targets)
    assert record["ok"] is True


def test_state_and_record_download_describe_the_last_run(idle, serial_log):
    move_to(idle, serial_log, 4.3)
    record = idle.run()
    state = idle.state()
    assert state["last"]["run_id"] == record["run_id"]
    assert state["history"][0]["run_id"] == record["run_id"]
    assert record["samples"] and record["settings"]["camera"] == "autofocus_sim"
    assert idle.get("/plugin/autofocus/records/20200101-000000000-abcdef.json").status_code == 404


def test_broken_camera_url_fails_clearly_and_moves_nothing(idle, serial_log):
    url = "http://127.0.0.1:%d/stream" % free_port()
    idle.settings(camera="custom", stream_url=url, snapshot_url="")
    move_to(idle, serial_log, 4.4)
    mark = serial_log.mark()
    record = idle.run()
    assert record["ok"] is False and record["reason"] == "camera_error"
    assert url in record["message"]
    assert z_moves(serial_log.sent(mark)) == []
    assert reported_z(idle, serial_log) == pytest.approx(4.4, abs=0.01)


def test_live_score_from_a_broken_camera_url_is_a_clear_503(idle):
    url = "http://127.0.0.1:%d/stream" % free_port()
    idle.settings(camera="custom", stream_url=url, snapshot_url="")
    reply = idle.command("score")
    assert reply.status_code == 503 and url in reply.json()["error"]


def test_unknown_webcam_is_refused_before_the_run(idle):
    idle.settings(camera="no_such_camera")
    reply = idle.command("start")
    assert reply.status_code == 503 and "no_such_camera" in reply.json()["error"]
    assert idle.state()["state"] == "idle"


def test_disconnected_printer_refuses_start(idle, server):
    idle.post("/api/connection", {"command": "disconnect"})
    poll(lambda: idle.get("/api/connection").json()["current"]["state"], lambda s: s == "Closed", 30,
         "the printer to disconnect")
    try:
        reply = idle.command("start")
        assert reply.status_code == 409 and "not connected" in reply.json()["error"]
    finally:
        idle.post("/api/connection", {"command": "connect", "port": "VIRTUAL"})
        server.wait_operational(idle.session.headers["X-Api-Key"])


def test_disconnect_during_a_run_stops_it_with_the_reason(idle, server, serial_log):
    idle.settings(settle=0.5)
    move_to(idle, serial_log, 4.4)
    assert idle.command("start").status_code == 202
    idle.wait_running()
    try:
        idle.post("/api/connection", {"command": "disconnect"})
        record = idle.wait_idle()["last"]
        assert record["ok"] is False and "disconnected" in record["message"]
    finally:
        idle.post("/api/connection", {"command": "connect", "port": "VIRTUAL"})
        server.wait_operational(idle.session.headers["X-Api-Key"])


def test_set_reference_without_z_stores_the_focused_z(idle, serial_log):
    move_to(idle, serial_log, 4.3)
    record = idle.run("set_reference")
    assert record["ok"] is True and record["kind"] == "reference"
    assert idle.state()["reference_z"] == round(record["z"], 3)  # what G92 will send; no 3.9997509...


def test_home_sets_the_reference_with_g92_after_a_passed_run(rehome, serial_log):
    rehome.settings(max_correction=10.0)
    assert rehome.command("set_reference", z=10.0).json() == {"reference_z": 10.0}
    move_to(rehome, serial_log, 4.3)
    mark = serial_log.mark()
    record = rehome.run("home")
    sent = serial_log.sent(mark)
    assert record["ok"] is True
    assert "G92 Z10.000" in sent and sent.index("G92 Z10.000") > sent.index(z_moves(sent)[-1])
    assert record["correction"] == pytest.approx(10.0 - record["z"])
    assert reported_z(rehome, serial_log) == pytest.approx(10.0, abs=0.01)


def test_home_sends_no_g92_when_the_run_fails_on_a_featureless_view(rehome, serial_log):
    rehome.command("set_reference", z=10.0)
    rehome.settings(simulator={"scene": "flat"})
    move_to(rehome, serial_log, 4.0)
    mark = serial_log.mark()
    record = rehome.run("home")
    assert record["ok"] is False
    assert not any(line.startswith("G92") for line in serial_log.sent(mark))
