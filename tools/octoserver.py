"""Prepare a throw-away OctoPrint basedir and run a real ``octoprint serve`` on loopback.

Shared by the demo (``scripts/demo``), the integration tests and the browser tests, so all
three run OctoPrint the same way: virtual printer connected, no wizards, no network checks.
"""

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import requests
import yaml

DISABLED_PLUGINS = [
    "announcements",
    "tracking",
    "softwareupdate",
    "pluginmanager",
    "backup",
    "achievements",
    "health_check",
    "discovery",
    "errortracking",
    "pi_support",
    "firmware_check",
]


@dataclass
class User:
    """A user to create in the basedir; ``apikey`` is written into users.yaml when set.

    With ``permissions`` (permission keys, e.g. ``["STATUS", "CONTROL"]``) the user is in no
    group and has exactly those permissions.
    """

    name: str
    password: str
    admin: bool = False
    groups: List[str] = field(default_factory=list)
    apikey: Optional[str] = None
    permissions: Optional[List[str]] = None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def octoprint_cli() -> str:
    """The ``octoprint`` executable of the running interpreter's environment."""
    return str(Path(sys.executable).with_name("octoprint"))


def _merge(into: Dict[str, Any], extra: Dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def write_config(basedir: Path, extra: Optional[Dict[str, Any]] = None) -> None:
    """Write a config.yaml that starts in seconds, offline, with the virtual printer."""
    config: Dict[str, Any] = {
        "server": {
            "firstRun": False,
            "ignoreIncompleteStartup": True,
            "onlineCheck": {"enabled": False},
            "pluginBlacklist": {"enabled": False},
            "seenWizards": {"corewizard": 4, "classicwebcam": 1},
        },
        "plugins": {
            "_disabled": list(DISABLED_PLUGINS),
            "virtual_printer": {"enabled": True, "simulated_errors": []},
        },
        "serial": {"port": "VIRTUAL", "baudrate": 0, "autoconnect": True},
        "devel": {"enableRateLimiter": False},
    }
    _merge(config, extra or {})
    basedir.mkdir(parents=True, exist_ok=True)
    (basedir / "config.yaml").write_text(yaml.safe_dump(config))


def add_users(basedir: Path, users: List[User]) -> None:
    """Create users with OctoPrint's own CLI, then give them API keys where asked."""
    for user in users:
        cmd = [octoprint_cli(), "--basedir", str(basedir), "user", "add", user.name,
               "--password", user.password]
        if user.admin:
            cmd.append("--admin")
        for group in user.groups:
            cmd += ["--group", group]
        subprocess.run(cmd, check=True, capture_output=True)
    edited = [u for u in users if u.apikey or u.permissions is not None]
    if edited:
        path = basedir / "users.yaml"
        data = yaml.safe_load(path.read_text()) or {}
        for user in edited:
            if user.apikey:
                data[user.name]["apikey"] = user.apikey
            if user.permissions is not None:
                data[user.name]["groups"] = []
                data[user.name]["permissions"] = list(user.permissions)
        path.write_text(yaml.safe_dump(data))


class OctoPrintServer:
    """A real ``octoprint serve`` on 127.0.0.1; use as a context manager.

    Its output goes to ``basedir/serve.log``; ``url`` is the base URL.
    """

    def __init__(self, basedir: Path, port: Optional[int] = None) -> None:
        self.basedir = Path(basedir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 90.0) -> "OctoPrintServer":
        """Start the server and wait until it answers HTTP."""
        cmd = [octoprint_cli(), "serve", "--iknowwhatimdoing", "--basedir", str(self.basedir),
               "--host", "127.0.0.1", "--port", str(self.port)]
        log = open(self.basedir / "serve.log", "ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"octoprint exited early; see {self.basedir / 'serve.log'}")
            try:
                if requests.get(self.url + "/online.txt", timeout=2).status_code < 500:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"octoprint did not answer within {timeout:.0f} s")

    def wait_operational(self, apikey: str, timeout: float = 60.0) -> None:
        """Wait until the printer connection reports Operational."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = requests.get(self.url + "/api/printer", headers={"X-Api-Key": apikey}, timeout=5)
            if reply.ok and reply.json().get("state", {}).get("flags", {}).get("operational"):
                return
            time.sleep(0.3)
        raise RuntimeError("printer did not become operational")

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def __enter__(self) -> "OctoPrintServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
