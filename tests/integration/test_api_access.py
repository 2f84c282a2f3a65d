"""Who may call the API, and what malformed input gets: nothing moves on a refused call."""

import pytest

from .conftest import move_to


def test_anonymous_caller_gets_403(anonymous):
    assert anonymous.get("/api/plugin/autofocus").status_code == 403
    assert anonymous.command("start").status_code == 403


def test_user_without_the_run_permission_gets_403_but_may_read_state(viewer):
    assert viewer.command("start").status_code == 403
    assert viewer.command("jog", dz=0.1).status_code == 403
    assert viewer.command("move", z=4.0).status_code == 403
    assert viewer.get("/api/plugin/autofocus").status_code == 200


@pytest.mark.parametrize(
    "command, payload, field",
    [
        ("start", {"range": "far"}, "range"),
        ("start", {"z_min": 3}, "z_max"),
        ("start", {"z_min": 30, "z_max": 40}, "range"),
        ("start", {"metric": "magic"}, "metric"),
        ("start", {"roi": {"x": 0.9, "y": 0, "w": 0.5, "h": 0.5}}, "roi"),
        ("start", {"speed": 1}, "speed"),
        ("jog", {"dz": 50}, "dz"),
        ("set_reference", {"z": "top"}, "z"),
        ("start", {"metric": ["tenengrad"]}, "metric"),
        ("start", {"metric": {"x": 1}}, "metric"),
        ("score", {"metric": ["tenengrad"]}, "metric"),
        ("start", {"range": "1_000"}, "range"),
        ("start", {"range": "1.5"}, "range"),
        ("start", {"range": " 2 "}, "range"),
        ("start", {"range": True}, "range"),
        ("start", {"range": 1e-320}, "range"),
        ("start", {"z_min": -1e308, "z_max": 5}, "z_min"),
        ("jog", {"dz": "0.1"}, "dz"),
        ("set_reference", {"z": 5000}, "z"),
        ("set_reference", {"z": 1e308}, "z"),
        ("set_reference", {"z": -1000}, "z"),
        ("home", {"confirm": "yes"}, "confirm"),
        ("move", {}, "z"),
        ("move", {"z": "4.0"}, "z"),
        ("move", {"z": 1e308}, "z"),
        ("move", {"z": 500.0}, "z"),
        ("move", {"z": -3.0}, "z"),
    ],
)
def test_malformed_payload_gets_400_naming_the_field_and_nothing_moves(idle, serial_log, command, payload, field):
    before = idle.state()
    mark = serial_log.mark()
    reply = idle.command(command, **payload)
    assert reply.status_code == 400, reply.text
    assert reply.json()["field"] == field and reply.json()["error"]
    assert serial_log.sent_besides_readout(mark) == []
    after = idle.state()
    assert after["state"] == "idle" and after["reference_z"] == before["reference_z"]


def test_unknown_command_gets_400(idle):
    assert idle.command("self_destruct").status_code == 400


def test_second_start_while_running_gets_409(idle, serial_log):
    idle.settings(settle=0.5)
    move_to(idle, serial_log, 4.4)
    assert idle.command("start").status_code == 202
    reply = idle.command("start")
    assert reply.status_code == 409 and reply.json()["error"]
    assert idle.command("cancel").json() == {"cancelled": True}
    assert idle.wait_idle()["last"]["reason"] == "cancelled"


def test_jog_moves_z_by_the_step(idle, serial_log):
    move_to(idle, serial_log, 4.0)
    reply = idle.command("jog", dz=0.25)
    assert reply.status_code == 200 and reply.json()["z"] == pytest.approx(4.25)


def test_move_goes_to_an_absolute_z(idle, serial_log):
    move_to(idle, serial_log, 4.0)
    reply = idle.command("move", z=4.375)
    assert reply.status_code == 200 and reply.json()["z"] == pytest.approx(4.375)
    assert idle.state()["position"] == {"z": pytest.approx(4.375), "state": "known"}


def test_a_move_outside_the_limits_says_so_in_plain_words(idle):
    reply = idle.command("move", z=500.0)
    assert reply.json() == {"error": "Z 500.000 mm is above the highest Z (20.000 mm); nothing moved.", "field": "z"}


def test_an_error_names_the_field_by_its_label(idle):
    reply = idle.command("start", range=600)
    assert reply.status_code == 400
    assert reply.json() == {"error": "Search range: must be at most 500 mm.", "field": "range"}


def test_live_score_is_higher_in_focus(idle, serial_log):
    move_to(idle, serial_log, 4.0)
    sharp = idle.command("score").json()
    move_to(idle, serial_log, 5.0)
    blurred = idle.command("score").json()
    assert sharp["score"] > blurred["score"]
    assert (sharp["width"], sharp["height"]) == (320, 240)
