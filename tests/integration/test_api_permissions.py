"""The plugin's API permission table, command by command, through the real server.

For every command a user who lacks one of the guarded permissions (and has the others)
sends it with a payload the command refuses (an unknown field): a needed permission missing
gives 403 and nothing is sent to the printer; otherwise the call gets past the permission
check and is refused for its payload (400). The permissions each command needs are written
out here, not read from the plugin, so a loosened table fails.
"""

from typing import Optional

import pytest

from octoprint_autofocus.plugin import AutofocusPlugin

from .conftest import GUARDED_PERMISSIONS, Client, permission_key

RUN, CONTROL, STATUS = "PLUGIN_AUTOFOCUS_RUN", "CONTROL", "STATUS"

NEEDS = {
    "start": {RUN, CONTROL},
    "cancel": {RUN, CONTROL},
    "set_reference": {RUN, CONTROL},
    "home": {RUN, CONTROL},
    "jog": {RUN, CONTROL},
    "score": {STATUS},
    "move": {RUN, CONTROL},
    "map": {RUN, CONTROL},
}
"""Command -> the permissions a caller must have (all of them). A new command needs a row."""

ANNOUNCED = {"move"}
"""Rows for commands other branches are adding (the tab's ``move``):
skipped until the plugin has them; drop a name here once it has landed."""


def plugin_commands():
    return set(AutofocusPlugin().get_api_commands())

PROBE = {"permission_probe": 1}
"""A field no command accepts: past the permission check every command answers 400."""


@pytest.fixture(scope="module")
def callers(server):
    """Clients of the users lacking one guarded permission (key) or none (key None)."""
    return {lacking: Client(server, permission_key(lacking)) for lacking in (*GUARDED_PERMISSIONS, None)}


def test_every_command_of_the_plugin_has_a_permission_row():
    commands = plugin_commands()
    assert commands - set(NEEDS) == set(), "add these commands to NEEDS with the permissions they need"
    assert set(NEEDS) - commands <= ANNOUNCED


def needs(command):
    """The permissions ``command`` needs; skips a command announced but not yet in the plugin."""
    if command in ANNOUNCED and command not in plugin_commands():
        pytest.skip("the %s command has not landed yet" % command)
    return NEEDS[command]


@pytest.mark.parametrize("lacking", GUARDED_PERMISSIONS)
@pytest.mark.parametrize("command", sorted(NEEDS))
def test_a_user_without_a_needed_permission_is_refused_and_nothing_moves(callers, serial_log, command, lacking):
    expected = 403 if lacking in needs(command) else 400
    mark = serial_log.mark()
    reply = callers[lacking].command(command, **PROBE)
    assert reply.status_code == expected, reply.text
    assert reply.json()["error"]
    assert serial_log.sent_besides_readout(mark) == []


@pytest.mark.parametrize("command", sorted(NEEDS))
def test_a_user_with_every_guarded_permission_gets_past_the_check(callers, command):
    needs(command)
    reply = callers[None].command(command, **PROBE)
    assert reply.status_code == 400, reply.text
    assert reply.json()["field"] == "permission_probe"


@pytest.mark.parametrize("lacking, status", [(None, 200), (RUN, 200), (CONTROL, 200), (STATUS, 403)])
def test_reading_the_state_needs_status(callers, lacking: Optional[str], status):
    assert callers[lacking].get("/api/plugin/autofocus").status_code == status


@pytest.mark.parametrize("lacking, status", [(None, 404), (RUN, 404), (STATUS, 403)])
@pytest.mark.parametrize("extension", ["json", "csv"])
def test_downloading_a_record_needs_status(callers, lacking: Optional[str], status, extension):
    assert callers[lacking].get("/plugin/autofocus/records/no-such-run.%s" % extension).status_code == status
