"""The core cases (focus, @AUTOFOCUS in a print, home) against printers that answer like real
firmware: OctoPrint's virtual printer with each firmware's M114 reply, behind a 115200-baud
serial line (a throttling serial factory, ``throttled_serial_plugin.py``), with the busy
protocol during long moves, ``ok`` before the command's output, and injected resends.
serial.log is the ground truth, as everywhere in these tests."""

from pathlib import Path

import pytest

from .conftest import ADMIN_KEY, DOF, FOCAL_Z, Client, SerialLog, move_to, reported_z, start_server
from .test_job_hold import print_job

THROTTLE = Path(__file__).with_name("throttled_serial_plugin.py")
RESENDS = ["%d:%s" % (line, ("resend", "checksum_mismatch")[i % 2]) for i, line in enumerate(range(15, 900, 23))]
DWELL = "G1 Z{z:.3f} F{feedrate}\nG4 P250"
"""A move template that dwells after each move: with ``sendBusy`` the printer reports
``busy: processing`` while it lasts. OctoPrint answers the first busy report with
``M113 S<communicationBusy - 1>``, and the virtual printer then dwells in steps of that
many seconds: with ``communicationBusy`` 2 every move takes about a second, a long move."""

DIALECTS = {
    "marlin": ({"firmwareName": "Marlin 2.1.2.1", "sendBusy": True, "busyInterval": 0.1,
                "simulated_errors": RESENDS,
                "m114FormatString": "X:{x:.2f} Y:{y:.2f} Z:{z:.2f} E:{e[current]:.2f} Count X:{a} Y:{b} Z:{c}"},
               DWELL, "Recv: ok X:0.00 Y:0.00 Z:"),
    "prusa": ({"firmwareName": "Prusa-Firmware 3.13.3",
               "m114FormatString": "X:{x:.2f} Y:{y:.2f} Z:{z:.2f} E:{e[current]:.2f}"
                                   " Count X: {x:.2f} Y:{y:.2f} Z:{z:.2f} E:{e[current]:.2f}"},
              None, " Count X: 0.00 Y:0.00 Z:"),
    "klipper": ({"firmwareName": "Klipper", "okBeforeCommandOutput": True,
                 "m114FormatString": "X:{x:.3f} Y:{y:.3f} Z:{z:.3f} E:{e[current]:.3f}"},
                None, "Recv: X:0.000 Y:0.000 Z:"),
    "reprapfirmware": ({"firmwareName": "RepRapFirmware for Duet 3 MB6HC", "simulated_errors": RESENDS,
                        "m114FormatString": "X:{x:.3f} Y:{y:.3f} Z:{z:.3f} E0:{e[current]:.1f} Count {a} {b} {c}"
                                            " Machine {x:.3f} {y:.3f} {z:.3f} Bed comp 0.000"},
                       None, " Bed comp 0.000"),
    "smoothieware": ({"firmwareName": "Smoothieware",
                      "m114FormatString": "C: X:{x:.4f} Y:{y:.4f} Z:{z:.4f} E:{e[current]:.4f}"},
                     None, "Recv: ok C: X:0.0000 Y:0.0000 Z:"),
}
"""Firmware -> (virtual printer settings, move template or None for the default, a piece of
its position report as serial.log shows it)."""


@pytest.fixture(scope="module", params=sorted(DIALECTS))
def firmware(request, tmp_path_factory):
    """A server whose virtual printer answers like ``request.param``; (name, client, serial log)."""
    printer, template, _ = DIALECTS[request.param]
    autofocus = {"move_template": template} if template else {}
    from .conftest import PLUGIN_SETTINGS

    server = start_server(
        tmp_path_factory, "octoprint-" + request.param,
        {"plugins": {"virtual_printer": {"enabled": True, "simulated_errors": [], **printer},
                     "autofocus": {**PLUGIN_SETTINGS, **autofocus}},
         "serial": {"log": True, "alwaysSendChecksum": True, "timeout": {"communicationBusy": 2}}},
        plugin_files=[THROTTLE],
    )
    yield request.param, Client(server, ADMIN_KEY), SerialLog(server.basedir)
    server.stop()


def test_the_printer_answers_in_its_dialect_through_a_throttled_line(firmware):
    name, client, log = firmware
    reported_z(client, log)
    text = "\n".join(log.lines())
    assert "ThrottledSerial(" in text and "115200 baud" in text
    assert any(DIALECTS[name][2] in line for line in log.lines())


def test_focus_ends_within_half_a_depth_of_field(firmware):
    name, client, log = firmware
    move_to(client, log, FOCAL_Z + 0.5)
    mark = log.mark()
    record = client.run(range=1.0)
    assert record["ok"] is True, record["message"]
    assert abs(reported_z(client, log) - FOCAL_Z) <= DOF / 2
    received = log.since(mark)
    if DIALECTS[name][0].get("sendBusy"):
        assert any("busy" in line for line in received), "no busy report during the moves"
    if DIALECTS[name][0].get("simulated_errors"):
        assert any("Resend" in line for line in received), "no resend during the run"


def test_autofocus_in_a_print_holds_the_job_until_focused(firmware):
    name, client, log = firmware
    mark = log.mark()
    print_job(client)
    client.wait_job_state("Printing", "Paused")
    assert client.wait_job_state("Operational", "Paused", timeout=120) == "Operational"
    record = client.state()["last"]
    assert record["ok"] is True, record["message"]
    sent = log.sent(mark)
    after = sent.index("G1 X10 F3000")
    focus_moves = [i for i, line in enumerate(sent) if line.startswith("G1 Z") and i > sent.index("G1 Z4.4 F1200")]
    assert len(focus_moves) >= 3 and max(focus_moves) < after


def test_home_sets_the_reference_with_g92(firmware):
    name, client, log = firmware
    assert client.command("set_reference", z=4.5).status_code == 200
    move_to(client, log, FOCAL_Z + 0.3)
    mark = log.mark()
    record = client.run("home")
    assert record["ok"] is True, record["message"]
    sent = log.sent(mark)
    assert "G92 Z4.500" in sent and record["correction"] == pytest.approx(4.5 - record["z"])
    assert reported_z(client, log) == pytest.approx(4.5, abs=0.01)
