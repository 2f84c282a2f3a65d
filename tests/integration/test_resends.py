"""A run survives the line errors and resends the virtual printer injects on purpose, and
the position auto-reports (M154) a firmware sends while a move is being confirmed."""

import pytest

from .conftest import ADMIN_KEY, DOF, FOCAL_Z, Client, SerialLog, move_to, reported_z, start_server

ERRORS = ["resend", "checksum_mismatch"]
"""The injected faults that make the printer ask for a resend. (``missing_lineno`` is left
out: on an idle virtual printer it stalls OctoPrint itself, whose "wait" handling then
never times out.)"""
INJECTED = ["%d:%s" % (line, ERRORS[i % len(ERRORS)]) for i, line in enumerate(range(12, 400, 9))]


@pytest.fixture(scope="module")
def flaky_server(tmp_path_factory):
    server = start_server(
        tmp_path_factory,
        "octoprint-resends",
        {"plugins": {"virtual_printer": {"enabled": True, "simulated_errors": INJECTED,
                                          "capabilities": {"AUTOREPORT_POS": True}}},
         "serial": {"log": True, "alwaysSendChecksum": True}},
    )
    yield server
    server.stop()


def test_run_succeeds_while_the_printer_asks_for_resends(flaky_server):
    client, log = Client(flaky_server, ADMIN_KEY), SerialLog(flaky_server.basedir)
    move_to(client, log, FOCAL_Z + 0.5)
    mark = log.mark()
    record = client.run(range=1.0)
    assert record["ok"] is True, record["message"]
    assert any("Resend" in line for line in log.since(mark))
    assert any("M154 S" in line for line in log.lines()), "position auto-report was never enabled"
    assert abs(reported_z(client, log) - FOCAL_Z) <= DOF / 2
