"""Real ``octoprint serve`` instances for the integration tests (session-scoped, reused).

``server`` runs the virtual printer with clean serial lines, this plugin, the simulated
microscope enabled and selected, serial.log on, an admin and a user lacking the RUN
permission, both with API keys. ``Client`` wraps the REST calls the tests make.
"""

import re
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import pytest
import requests

from octoprint_autofocus.settings import DEFAULTS
from tools.octoserver import OctoPrintServer, User, add_users, write_config

ADMIN_KEY = "autofocus-integration-admin-key"
VIEWER_KEY = "autofocus-integration-viewer-key"
GUARDED_PERMISSIONS = ("PLUGIN_AUTOFOCUS_RUN", "CONTROL", "STATUS")
"""The permissions the plugin's API checks; a user lacking each one (and nothing else) exists."""
FOCAL_Z = 4.0
DOF = 0.1

PLUGIN_SETTINGS = {
    "camera": "autofocus_sim",
    "stream_url": "",
    "snapshot_url": "",
    "search_range": 1.0,
    "max_extension": None,
    "z_min": 0.0,
    "z_max": 20.0,
    "feedrate": 1200,
    "settle": 0.0,
    "latency": 0.2,  # a loaded machine delivers the simulated stream late: never score a stale view
    "camera_timeout": 5.0,
    "simulator": {"enabled": True, "focal_z": FOCAL_Z, "dof": DOF, "noise": 0.01, "fps": 20.0,
                  "latency": 0.02, "size": [320, 240], "scene": "pcb", "surface": "flat", "surface_height": 0.3,
                  "bare_spot": None},
    "map": {"rows": 5, "cols": 5, "margin": 10.0, "lift": 1.0, "travel_z": None, "xy_feedrate": 3000.0,
            "xy_template": "G0 X{x:.3f} Y{y:.3f} F{feedrate}", "max_failed": 0.25},
}

RESTORED_SETTINGS = {**DEFAULTS, **PLUGIN_SETTINGS,
                     "simulator": {**DEFAULTS["simulator"], **PLUGIN_SETTINGS["simulator"]}}
"""Every setting as a test starts with it (the idle fixture puts them back)."""

_POSITION = re.compile(r"Recv: (?:ok )?(?:C: )?(?://\s*)?X:\s*\S+ Y:\s*\S+ Z:\s*([-\d.]+)")
"""A position report in serial.log, in any firmware's format (the first Z is the position)."""


class Client:
    """REST calls against one server with one API key.

    Without a key it is an anonymous browser: it echoes OctoPrint's CSRF cookie, so a
    refusal comes from the permission check and not from CSRF protection.
    """

    def __init__(self, server: OctoPrintServer, apikey: Optional[str]) -> None:
        self.server = server
        self.session = requests.Session()
        if apikey:
            self.session.headers["X-Api-Key"] = apikey
        else:
            self.session.get(server.url + "/", timeout=30)
            token = self.session.cookies.get("csrf_token_P%d" % server.port)
            self.session.headers["X-CSRF-Token"] = token or ""

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.post(self.server.url + path, json=json, timeout=30, **kwargs)

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.server.url + path, timeout=30)

    def command(self, command: str, **data: Any) -> requests.Response:
        """POST a SimpleApi command of the plugin."""
        return self.post("/api/plugin/autofocus", {"command": command, **data})

    def state(self) -> Dict[str, Any]:
        reply = self.get("/api/plugin/autofocus")
        reply.raise_for_status()
        return reply.json()

    def wait_idle(self, timeout: float = 60.0) -> Dict[str, Any]:
        """Poll the plugin until no run is going; return its state."""
        return poll(self.state, lambda state: state["state"] == "idle", timeout, "autofocus to end")

    def wait_running(self, timeout: float = 30.0) -> Dict[str, Any]:
        """Poll the plugin until a run is going; return its state."""
        return poll(self.state, lambda state: state["state"] == "running", timeout, "autofocus to start")

    def run(self, command: str = "start", **data: Any) -> Dict[str, Any]:
        """Start a run, wait for it, return its record."""
        reply = self.command(command, **data)
        assert reply.status_code == 202, reply.text
        run_id = reply.json()["run_id"]
        self.wait_idle()
        record = self.get("/plugin/autofocus/records/%s.json" % run_id)
        record.raise_for_status()
        return record.json()

    def settings(self, **values: Any) -> None:
        """Save plugin settings through OctoPrint's settings API."""
        reply = self.save_settings(values)
        reply.raise_for_status()

    def save_settings(self, values: Any) -> requests.Response:
        """POST ``{"plugins": {"autofocus": values}}`` to OctoPrint's settings API; the reply."""
        return self.post("/api/settings", {"plugins": {"autofocus": values}})

    def plugin_settings(self) -> Dict[str, Any]:
        """The plugin's settings as OctoPrint's settings API shows them to this client."""
        reply = self.get("/api/settings")
        reply.raise_for_status()
        return reply.json()["plugins"]["autofocus"]

    def gcode(self, *lines: str) -> None:
        reply = self.post("/api/printer/command", {"commands": list(lines)})
        assert reply.status_code == 204, reply.text

    def job_state(self) -> str:
        return self.get("/api/job").json()["state"]

    def wait_job_state(self, *states: str, timeout: float = 60.0) -> str:
        return poll(self.job_state, lambda state: state in states, timeout, "job state in %r" % (states,))


def poll(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float, what: str) -> Any:
    """Call ``read`` until ``done(value)``; return that value or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError("waited %.0f s for %s; last: %r" % (timeout, what, value))
        time.sleep(0.05)


class SerialLog:
    """serial.log of a server: the lines sent and received, in order."""

    def __init__(self, basedir: Path) -> None:
        self.path = basedir / "logs" / "serial.log"

    def lines(self) -> List[str]:
        return self.path.read_text(errors="replace").splitlines() if self.path.exists() else []

    def mark(self) -> int:
        """The current length; pass it to ``since`` to get only what came after."""
        return len(self.lines())

    def since(self, mark: int) -> List[str]:
        return self.lines()[mark:]

    def sent(self, mark: int) -> List[str]:
        """Commands sent since ``mark``, without line numbers and checksums."""
        commands = []
        for line in self.since(mark):
            if "Send: " in line:
                text = line.split("Send: ", 1)[1]
                text = re.sub(r"^N\d+\s+", "", text)
                commands.append(re.sub(r"\*\d+$", "", text).strip())
        return commands

    def sent_besides_readout(self, mark: int) -> List[str]:
        """:meth:`sent` without ``M114``: the Z readout asks for the position on its own time
        (a delayed ask after an earlier test's move may fall into any window)."""
        return [command for command in self.sent(mark) if command != "M114"]


def reported_z(client: Client, log: SerialLog, timeout: float = 10.0) -> float:
    """The Z the printer reports to an M114 sent now (after M400), read from serial.log."""
    mark = log.mark()
    client.gcode("M400", "M114")

    def position() -> Optional[float]:
        matches = [_POSITION.search(line) for line in log.since(mark)]
        return next((float(match.group(1)) for match in matches if match), None)

    return poll(position, lambda z: z is not None, timeout, "an M114 reply in serial.log")


def move_to(client: Client, log: SerialLog, z: float) -> None:
    """Move the printer to ``z`` and wait until it reports being there."""
    client.gcode("G90", "G1 Z%.3f F1200" % z)
    assert reported_z(client, log) == pytest.approx(z, abs=0.01)


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    """Every test in this folder is an integration test."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


def start_server(tmp_path_factory: pytest.TempPathFactory, name: str,
                 extra: Optional[Dict[str, Any]] = None, users: Sequence[User] = (),
                 plugin_files: Sequence[Path] = ()) -> OctoPrintServer:
    """A real server for ``name``: the test settings with ``extra`` config merged in (one
    level deep), the test users and ``users``, ``plugin_files`` (single-file plugins) in its
    plugins folder."""
    basedir = tmp_path_factory.mktemp(name)
    if plugin_files:
        (basedir / "plugins").mkdir()
        for path in plugin_files:
            shutil.copy(path, basedir / "plugins" / path.name)
    config: Dict[str, Any] = {"plugins": {"autofocus": PLUGIN_SETTINGS}, "serial": {"log": True}}
    for key, value in (extra or {}).items():
        config[key] = {**config.get(key, {}), **value}
    write_config(basedir, config)
    add_users(basedir, [
        User("admin", "admin-password", admin=True, apikey=ADMIN_KEY),
        User("viewer", "viewer-password", groups=["readonly"], apikey=VIEWER_KEY),
        *users,
    ])
    server = OctoPrintServer(basedir).start()
    server.wait_operational(ADMIN_KEY)
    return server


def permission_key(lacking: Optional[str]) -> str:
    """The API key of the user who has every GUARDED_PERMISSION but ``lacking`` (None: all)."""
    return "autofocus-integration-without-%s-key" % (lacking or "nothing").lower()


def permission_users() -> List[User]:
    """A user for each guarded permission who lacks just that one, and one who has them all."""
    return [
        User("without-%s" % (lacking or "nothing").lower(), "password-%s" % lacking,
             apikey=permission_key(lacking),
             permissions=[name for name in GUARDED_PERMISSIONS if name != lacking])
        for lacking in (*GUARDED_PERMISSIONS, None)
    ]


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    server = start_server(tmp_path_factory, "octoprint", users=permission_users())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def admin(server) -> Client:
    return Client(server, ADMIN_KEY)


@pytest.fixture(scope="session")
def viewer(server) -> Client:
    return Client(server, VIEWER_KEY)


@pytest.fixture(scope="session")
def anonymous(server) -> Client:
    return Client(server, None)


@pytest.fixture(scope="session")
def serial_log(server) -> SerialLog:
    return SerialLog(server.basedir)


@pytest.fixture
def idle(admin):
    """The plugin is idle before and after the test, and the settings are restored."""
    admin.wait_idle()
    yield admin
    admin.command("cancel")
    admin.wait_idle()
    admin.settings(**RESTORED_SETTINGS)


@pytest.fixture
def rehome(idle, serial_log):
    """Home with G28 afterwards, so printer and simulator agree on Z again."""
    yield idle
    idle.gcode("G28")
    move_to(idle, serial_log, 4.0)
