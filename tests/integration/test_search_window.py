"""The search window is a first guess: runs extend past it into the safety limits, not past
explicit bounds, the extension budget or the limits (real OctoPrint + virtual printer)."""

import pytest

from .conftest import DOF, FOCAL_Z, move_to, reported_z


def z_targets(lines):
    """The Z of every absolute Z move in ``lines``."""
    return [float(word[1:]) for line in lines if line.startswith(("G0 ", "G1 "))
            for word in line.split() if word.startswith("Z")]


def test_the_demo_case_focus_at_the_window_edge_is_found_and_the_record_says_extended(idle, serial_log):
    move_to(idle, serial_log, FOCAL_Z + 2.0)  # jogged up 1 mm from the demo's Z5: focus at the window edge
    record = idle.run(range=2.0)
    assert record["ok"] is True, record["message"]
    assert abs(reported_z(idle, serial_log) - FOCAL_Z) <= DOF / 2
    assert record["window"] == [FOCAL_Z, FOCAL_Z + 4.0]
    assert record["limits"] == [0.0, 20.0]
    assert record["extended"][0] > 0 and record["extended"][1] == 0
    assert record["z_min"] == pytest.approx(FOCAL_Z - record["extended"][0])
    assert "below" in record["message"]


@pytest.mark.parametrize("start_z", [FOCAL_Z + 2.5, FOCAL_Z - 2.5], ids=["focus_below", "focus_above"])
def test_focus_half_a_millimetre_past_the_window_is_found(idle, serial_log, start_z):
    move_to(idle, serial_log, start_z)
    mark = serial_log.mark()
    record = idle.run(range=2.0)
    assert record["ok"] is True, record["message"]
    assert abs(reported_z(idle, serial_log) - FOCAL_Z) <= DOF / 2
    assert max(record["extended"]) >= 0.5
    assert all(0.0 <= z <= 20.0 for z in z_targets(serial_log.sent(mark)))


def test_explicit_bounds_stay_hard_and_the_failure_names_the_edge(idle, serial_log):
    move_to(idle, serial_log, FOCAL_Z + 2.5)
    mark = serial_log.mark()
    record = idle.run(z_min=FOCAL_Z + 0.5, z_max=FOCAL_Z + 4.5)
    assert record["ok"] is False and record["reason"] == "peak_at_edge"
    assert record["edge_z"] == pytest.approx(FOCAL_Z + 0.5) and record["edge_kind"] == "limit"
    assert record["extended"] == [0.0, 0.0]
    assert "%.3f" % (FOCAL_Z + 0.5) in record["message"]
    targets = z_targets(serial_log.sent(mark))
    assert targets and all(FOCAL_Z + 0.5 <= z <= FOCAL_Z + 4.5 for z in targets)


def test_no_extension_keeps_every_sample_inside_the_window(idle, serial_log):
    idle.settings(max_extension=0)
    move_to(idle, serial_log, FOCAL_Z + 2.5)
    mark = serial_log.mark()
    record = idle.run(range=2.0)
    assert record["ok"] is False and record["reason"] == "peak_at_edge"
    assert record["edge_kind"] == "budget" and record["edge_z"] == pytest.approx(FOCAL_Z + 0.5)
    assert all(FOCAL_Z + 0.5 <= z <= FOCAL_Z + 4.5 for z, _ in record["samples"])
    overscan = record["settings"]["overscan"]  # backlash take-up may pass the window's top
    assert all(FOCAL_Z + 0.5 <= z <= FOCAL_Z + 4.5 + overscan for z in z_targets(serial_log.sent(mark)))


def test_the_search_never_extends_past_the_safety_limits(idle, serial_log):
    idle.settings(z_min=FOCAL_Z + 0.3)
    move_to(idle, serial_log, FOCAL_Z + 2.0)
    mark = serial_log.mark()
    record = idle.run(range=1.0)
    assert record["ok"] is False and record["reason"] == "peak_at_edge"
    assert record["edge_kind"] == "limit" and record["edge_z"] == pytest.approx(FOCAL_Z + 0.3)
    assert min(z_targets(serial_log.sent(mark))) >= FOCAL_Z + 0.3


def test_a_negative_or_too_large_extension_is_refused_by_name_and_changes_nothing(idle):
    for value in (-1, 25):
        reply = idle.post("/api/settings", {"plugins": {"autofocus": {"max_extension": value}}})
        saved = idle.get("/api/settings").json()["plugins"]["autofocus"]["max_extension"]
        assert saved is None, reply.text
