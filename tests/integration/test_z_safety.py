"""No line the plugin sends puts Z outside the limits, against a real server (serial.log is the truth)."""

import re

import pytest

from .conftest import move_to, poll, reported_z

Z_WORD = re.compile(r"\bZ\s*([-+]?\d*\.?\d+)")
LIGHTS = {"before_gcode": "M117 before-run", "after_gcode": "M117 after-run"}


def z_words(lines):
    return [float(match.group(1)) for line in lines if line.startswith(("G0", "G1")) for match in [Z_WORD.search(line)]
            if match]


def set_profile_height(client, height):
    reply = client.session.patch(client.server.url + "/api/printerprofiles/_default",
                                 json={"profile": {"volume": {"height": height}}}, timeout=30)
    assert reply.status_code == 200, reply.text


@pytest.fixture
def short_printer(idle):
    """The printer profile is 10 mm high during the test."""
    set_profile_height(idle, 10)
    yield idle
    set_profile_height(idle, 100)


@pytest.mark.parametrize(
    "template",
    ["G1 Z{z:%}", "G1 Z1{z:.3f}", "G1 Z-{z:.3f}", "G1 Z{z:.3f}\nG1 Z150", "G1 Z{z:.3f}\nG28",
     "G1 Z{z:.3f}\nM211 S0", "G1 Z{z:.3f}\nG92.0 Z0", "G091\nG1 Z{z:.3f}", "G 91\nG1 Z{z:.3f}",
     "N1 G91\nG1 Z{z:.3f}", "G1 Z{z:{feedrate}}", "G1 Z{z:>5000}", "G1 Z{z:999999999}"],
)
def test_a_move_template_that_renders_unsafe_lines_cannot_be_saved(idle, template):
    reply = idle.save_settings({"move_template": template})
    assert reply.status_code == 400 and reply.json()["field"] == "move_template", reply.text
    assert idle.plugin_settings()["move_template"] == "G1 Z{z:.3f} F{feedrate}"


def test_the_servo_template_is_saved_and_drives_the_servo(idle, serial_log):
    move_to(idle, serial_log, 4.0)
    assert idle.save_settings({"move_template": "M280 P0 S{z:.0f}"}).status_code == 200
    mark = serial_log.mark()
    reply = idle.command("jog", dz=1.0)
    assert reply.status_code == 200, reply.text
    assert "M280 P0 S5" in serial_log.sent(mark) and "G90" not in serial_log.sent(mark)


@pytest.mark.parametrize("field", ["before_gcode", "after_gcode"])
@pytest.mark.parametrize("gcode", ["G1 Z50", "G28", "G91\nG1 Z1", "M211 S0", "G92 Z0"])
def test_custom_gcode_that_could_leave_the_limits_cannot_be_saved(idle, field, gcode):
    reply = idle.save_settings({field: gcode})
    assert reply.status_code == 400 and reply.json()["field"] == field, reply.text
    assert idle.plugin_settings()[field] == ""


def test_after_gcode_follows_a_run_that_ended_by_itself(idle, serial_log):
    idle.settings(**LIGHTS)
    move_to(idle, serial_log, 4.4)
    mark = serial_log.mark()
    record = idle.run(range=1.0)
    sent = serial_log.sent(mark)
    assert record["ok"] is True, record["message"]
    last_move = max(i for i, line in enumerate(sent) if line.startswith("G1 Z"))
    assert sent.index("M117 before-run") < sent.index("M117 after-run") and sent.index("M117 after-run") > last_move
    assert all(3.4 <= z <= 5.4 for z in z_words(sent))


def test_after_a_cancel_nothing_more_is_sent(idle, serial_log):
    idle.settings(settle=0.5, **LIGHTS)
    move_to(idle, serial_log, 4.4)
    mark = serial_log.mark()
    assert idle.command("start").status_code == 202
    poll(idle.state, lambda state: (state["run"] or {}).get("samples"), 30, "the first sample")
    assert idle.command("cancel").json() == {"cancelled": True}
    record = idle.wait_idle()["last"]
    settled = serial_log.mark()
    reported_z(idle, serial_log)  # a round trip: anything queued by the plugin has been sent by now
    sent = serial_log.sent(mark)
    assert record["reason"] == "cancelled"
    assert "M117 before-run" in sent and "M117 after-run" not in sent
    assert not any(line.startswith(("G0", "G1", "G92")) for line in serial_log.sent(settled))


def test_home_refuses_a_reference_outside_todays_printer_volume(short_printer, serial_log):
    assert short_printer.command("set_reference", z=15.0).status_code == 400  # outside the 10 mm printer
    short_printer.settings(reference_z=None)
    set_profile_height(short_printer, 100)
    assert short_printer.command("set_reference", z=15.0).status_code == 200
    set_profile_height(short_printer, 10)
    mark = serial_log.mark()
    reply = short_printer.command("home")
    assert reply.status_code == 400 and reply.json()["field"] == "reference_z", reply.text
    assert serial_log.sent(mark) == [] and short_printer.state()["state"] == "idle"


def test_home_asks_before_a_large_correction_and_applies_it_when_confirmed(rehome, serial_log):
    rehome.settings(max_correction=2.0)
    assert rehome.command("set_reference", z=10.0).status_code == 200
    move_to(rehome, serial_log, 4.3)
    mark = serial_log.mark()
    refused = rehome.run("home")
    assert (refused["ok"], refused["reason"]) == (False, "needs_confirmation")
    assert refused["proposed_correction"] == pytest.approx(10.0 - refused["z"], abs=0.01)
    assert not any(line.startswith("G92") for line in serial_log.sent(mark))
    assert reported_z(rehome, serial_log) == pytest.approx(refused["z"], abs=0.01)
    confirmed = rehome.run("home", confirm=True)
    assert confirmed["ok"] is True and "G92 Z10.000" in serial_log.sent(mark)
    assert reported_z(rehome, serial_log) == pytest.approx(10.0, abs=0.01)
