"""Focus maps against a real OctoPrint, the virtual printer and the simulated microscope over
known focal surfaces: accuracy, tilt, failing points, cancel, jobs and what serial.log saw."""

import csv
import io
import re
import time

import pytest

from octoprint_autofocus.focus.surface import fit_plane
from octoprint_autofocus.simulator.focal_surface import FocalSurface

from .conftest import DOF, FOCAL_Z, move_to, poll
from .test_job_hold import upload

BED = (0.0, 200.0, 0.0, 200.0)
"""The virtual printer's default profile: 200 x 200 mm from the lower left corner."""
Z_LIMITS = (0.0, 20.0)
"""The integration settings' z_min/z_max (the profile is 200 mm high)."""
_MOVE = re.compile(r"^G[01]\b")
_AXIS = re.compile(r"([XYZ])([-+]?\d*\.?\d+)")


def run_map(client, timeout=180.0, **payload):
    """Start a map, wait for it, return its record (the download)."""
    reply = client.command("map", **payload)
    assert reply.status_code == 202, reply.text
    run_id = reply.json()["run_id"]
    client.wait_idle(timeout)
    record = client.get("/plugin/autofocus/records/%s.json" % run_id)
    record.raise_for_status()
    return record.json()


def describe(record, truth=None):
    """The map's points for an assertion message: where, what was found, how, against the truth."""
    lines = [record["message"]]
    for p in record["points"]:
        true_z = "" if truth is None else " truth %.4f" % truth.z_at(p["x"], p["y"])
        lines.append("X%s Y%s ok=%s z=%s%s frames=%s window=%s searched=%s %s" % (
            p["x"], p["y"], p["ok"], p["z"], true_z, p["frames"], p["window"], p["searched"], p["reason"]))
    return "\n".join(lines)


def moves(sent):
    """G0/G1 lines as dicts of the axes they set."""
    return [{a: float(v) for a, v in _AXIS.findall(line)} for line in sent if _MOVE.match(line)]


def check_serial_log(sent, lift=None, record=None):
    """No XY outside the bed, no Z outside the limits; with ``lift``, every XY move at the
    travel height above the Z focused before it."""
    z = None
    focused = {(p["x"], p["y"]): p["z"] for p in record["points"]} if record else {}
    last_focus = None
    xy_moves = 0
    for move in moves(sent):
        if "Z" in move:
            assert Z_LIMITS[0] <= move["Z"] <= Z_LIMITS[1], move
            z = move["Z"]
        if "X" in move or "Y" in move:
            xy_moves += 1
            assert "Z" not in move
            assert BED[0] <= move.get("X", BED[0]) <= BED[1] and BED[2] <= move.get("Y", BED[2]) <= BED[3], move
            if lift is not None and last_focus is not None:
                assert z == pytest.approx(last_focus + lift, abs=0.002), (move, z, last_focus)
            last_focus = focused.get((move.get("X"), move.get("Y")))
    return xy_moves


def start_near_focus(client, serial_log, z=FOCAL_Z + 0.2):
    """Home and go near focus."""
    client.gcode("G28")
    move_to(client, serial_log, z)


def test_a_tilted_surface_is_measured_within_half_a_depth_of_field(rehome, serial_log):
    rehome.settings(simulator={"surface": "tilted", "surface_height": 0.3})
    start_near_focus(rehome, serial_log)
    mark = serial_log.mark()
    record = run_map(rehome, rows=4, cols=4)
    assert record["ok"] is True, describe(record)
    truth = FocalSurface("tilted", focal_z=FOCAL_Z, height=0.3, bed=BED)
    points = record["points"]
    assert len(points) == 16 and all(p["ok"] for p in points), describe(record, truth)
    for p in points:
        assert abs(p["z"] - truth.z_at(p["x"], p["y"])) <= DOF / 2, describe(record, truth)
    plane = fit_plane([p["x"] for p in points], [p["y"] for p in points], [truth.z_at(p["x"], p["y"]) for p in points])
    summary = record["summary"]
    assert summary["tilt_x"] == pytest.approx(100 * plane.slope_x, rel=0.05)
    assert summary["tilt_y"] == pytest.approx(100 * plane.slope_y, rel=0.05)
    assert summary["high_corner"] == "back right" and summary["low_corner"] == "front left"
    assert summary["range"] == pytest.approx(truth.z_at(190, 190) - truth.z_at(10, 10), abs=DOF / 2)
    assert check_serial_log(serial_log.sent(mark), lift=1.0, record=record) == 16
    rows = list(csv.DictReader(io.StringIO(rehome.get("/plugin/autofocus/records/%s.csv" % record["run_id"]).text)))
    assert len(rows) == 16 and float(rows[5]["z_mm"]) == pytest.approx(points[5]["z"], abs=1e-4)
    state = rehome.state()
    assert state["map"]["last"]["run_id"] == record["run_id"] and state["map"]["progress"] is None
    assert state["history"][0]["kind"] == "map"


def test_a_warped_surface_is_measured_within_half_a_depth_of_field(rehome, serial_log):
    rehome.settings(simulator={"surface": "warped", "surface_height": 0.25})
    start_near_focus(rehome, serial_log)
    mark = serial_log.mark()
    record = run_map(rehome, rows=4, cols=4, x_min=20, x_max=180, y_min=20, y_max=180)
    assert record["ok"] is True, describe(record)
    truth = FocalSurface("warped", focal_z=FOCAL_Z, height=0.25, bed=BED)
    errors = [abs(p["z"] - truth.z_at(p["x"], p["y"])) for p in record["points"]]
    assert len(errors) == 16 and max(errors) <= DOF / 2, describe(record, truth)
    assert record["summary"]["rms"] > 0.02  # a bump is no plane
    check_serial_log(serial_log.sent(mark), lift=1.0, record=record)


def test_a_point_over_a_bare_spot_fails_and_the_map_goes_on(rehome, serial_log):
    rehome.settings(simulator={"bare_spot": [100.0, 100.0, 8.0]})
    start_near_focus(rehome, serial_log)
    record = run_map(rehome, rows=3, cols=3)
    assert record["ok"] is True, record["message"]
    failed = [p for p in record["points"] if not p["ok"]]
    assert [(p["x"], p["y"]) for p in failed] == [(100.0, 100.0)]
    # a bare spot shows the camera's noise only, and noise is no texture
    assert failed[0]["reason"] == "low_texture", failed[0]["message"]
    assert failed[0]["message"]
    assert record["summary"]["failed"] == 1 and record["summary"]["measured"] == 8
    for p in record["points"]:
        if p["ok"]:
            assert abs(p["z"] - FOCAL_Z) <= DOF / 2


def test_cancel_mid_map_lifts_once_and_sends_nothing_more(rehome, serial_log):
    rehome.settings(settle=0.3)
    start_near_focus(rehome, serial_log)
    mark = serial_log.mark()
    assert rehome.command("map", rows=3, cols=3).status_code == 202
    poll(rehome.state, lambda s: (s["map"]["progress"] or {}).get("done", 0) >= 2, 90, "two points")
    assert rehome.command("cancel").json() == {"cancelled": True}
    state = rehome.wait_idle(30)
    record = state["map"]["last"]
    assert record["reason"] == "cancelled" and record["ok"] is False
    assert 2 <= len(record["points"]) < 9
    time.sleep(1.0)
    sent = serial_log.sent(mark)
    last_move = moves(sent)[-1]
    before = [m["Z"] for m in moves(sent)[:-1] if "Z" in m][-1]
    assert set(last_move) == {"Z"} and last_move["Z"] > before  # the lift
    time.sleep(1.0)
    assert len(moves(serial_log.sent(mark))) == len(moves(sent))  # nothing more
    check_serial_log(sent)


def test_bad_parameters_are_refused_by_name_before_anything_moves(idle, serial_log):
    mark = serial_log.mark()
    for payload, field in [({"rows": 0}, "rows"), ({"x_min": -20}, "x_min"), ({"x_max": 400}, "x_max"),
                           ({"x_min": 150, "x_max": 50}, "x_max"), ({"template": "G0 X{x} Y{y} Z{x}"}, "template"),
                           ({"cols": "many"}, "cols"), ({"travel_z": 99}, "travel_z"), ({"speed": 2}, "speed")]:
        reply = idle.command("map", **payload)
        assert reply.status_code == 400, (payload, reply.text)
        assert reply.json()["field"] == field and reply.json()["error"]
    assert moves(serial_log.sent(mark)) == []
    assert idle.state()["state"] == "idle"


def test_a_viewer_may_not_map_and_a_second_map_is_busy(idle, viewer, serial_log):
    assert viewer.command("map").status_code == 403
    idle.settings(settle=0.3)
    assert idle.command("map", rows=2, cols=2).status_code == 202
    assert idle.command("map", rows=2, cols=2).status_code == 409
    assert idle.command("start").status_code == 409
    idle.command("cancel")
    idle.wait_idle(30)


JOB = """G28
G90
G1 Z{start} F1200
@AUTOFOCUS MAP {parameters}
M117 after the map
G1 X10 F3000
"""


def test_a_map_in_a_job_holds_the_job_until_it_is_done(rehome, serial_log):
    mark = serial_log.mark()
    upload(rehome, JOB.format(start=FOCAL_Z + 0.2, parameters="ROWS=2 COLS=3 X0=20 Y0=20 X1=120 Y1=80"))
    rehome.wait_job_state("Printing")
    rehome.wait_job_state("Operational", timeout=120)
    assert rehome.get("/api/job").json()["progress"]["completion"] == pytest.approx(100)
    record = rehome.state()["map"]["last"]
    assert record["ok"] is True and len(record["points"]) == 6, record["message"]
    assert record["map"]["rectangle"] == [20.0, 120.0, 20.0, 80.0]
    sent = serial_log.sent(mark)
    after = sent.index("M117 after the map")
    xy = [i for i, line in enumerate(sent) if line.startswith("G0 X")]
    assert len(xy) == 6 and max(xy) < after
    assert max(i for i, line in enumerate(sent) if line == "M114") < after


def test_a_failed_map_in_a_job_pauses_it_and_releases_the_hold(rehome, serial_log):
    rehome.settings(simulator={"bare_spot": [100.0, 100.0, 500.0]})
    mark = serial_log.mark()
    upload(rehome, JOB.format(start=FOCAL_Z + 0.2, parameters="ROWS=2 COLS=2"))
    try:
        rehome.wait_job_state("Paused", timeout=120)
        record = rehome.wait_idle()["map"]["last"]
        assert record["reason"] == "too_many_failed"
        assert "M117 after the map" not in serial_log.sent(mark)
    finally:
        rehome.post("/api/job", {"command": "cancel"})
        rehome.wait_job_state("Operational", timeout=30)


def test_cancelling_the_job_during_a_map_releases_the_hold(rehome, serial_log):
    rehome.settings(settle=0.3)
    mark = serial_log.mark()
    upload(rehome, JOB.format(start=FOCAL_Z + 0.2, parameters="ROWS=3 COLS=3"))
    poll(rehome.state, lambda s: (s["map"]["progress"] or {}).get("done", 0) >= 1, 60, "a first point")
    assert rehome.post("/api/job", {"command": "cancel"}).status_code == 204
    rehome.wait_job_state("Operational", timeout=30)
    record = rehome.wait_idle(30)["map"]["last"]
    assert record["reason"] == "cancelled" and "cancelled" in record["message"]
    assert "M117 after the map" not in serial_log.sent(mark)


def test_a_bad_map_line_in_a_job_pauses_it_before_anything_moves(idle, serial_log):
    mark = serial_log.mark()
    upload(idle, JOB.format(start=FOCAL_Z + 0.2, parameters="ROWS=0"))
    try:
        idle.wait_job_state("Paused", timeout=30)
        sent = serial_log.sent(mark)
        assert not any(line.startswith("G0 X") for line in sent)
        assert idle.state()["state"] == "idle"
    finally:
        idle.post("/api/job", {"command": "cancel"})
        idle.wait_job_state("Operational", timeout=30)


def test_a_map_from_the_terminal_runs_without_a_job(rehome, serial_log):
    start_near_focus(rehome, serial_log)
    before = rehome.state()["map"]["last"]
    rehome.gcode("@AUTOFOCUS MAP ROWS=2 COLS=2 X0=50 Y0=50 X1=150 Y1=150 LIFT=0.5")
    poll(rehome.state, lambda s: s["map"]["last"] and s["map"]["last"]["run_id"] != (before or {}).get("run_id"),
         90, "the map to end")
    record = rehome.state()["map"]["last"]
    assert record["ok"] is True and record["map"]["lift"] == 0.5
    assert [(p["x"], p["y"]) for p in record["points"]] == [(50.0, 50.0), (150.0, 50.0), (150.0, 150.0), (50.0, 150.0)]
    assert all(abs(p["z"] - FOCAL_Z) <= DOF / 2 for p in record["points"])
