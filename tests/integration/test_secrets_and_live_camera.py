"""No secret leaks, and a dead camera never slows OctoPrint down (real server, real sockets)."""

import json
import socket
import statistics
import threading
import time

import pytest

from tools.octoserver import free_port

SECRET_URL = "http://admin:hunter2@127.0.0.1:{port}/?action=stream&token=s3cret"
SECRETS = ("hunter2", "s3cret", "admin:")


class SilentCamera:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        self.sock.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                self.accepted.append(self.sock.accept()[0])
            except OSError:
                continue

    def close(self):
        self.stopping.set()
        self.thread.join(5)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent_camera():
    camera = SilentCamera()
    yield camera
    camera.close()


def octoprint_log(server):
    return (server.basedir / "logs" / "octoprint.log").read_text(errors="replace")


def no_secret_in(text):
    return not any(secret in text for secret in SECRETS)


def test_camera_urls_and_custom_gcode_are_kept_from_users_without_settings_access(idle, viewer):
    idle.settings(camera="custom", stream_url=SECRET_URL.format(port=free_port()), before_gcode="M117 lamp-on")
    seen = viewer.plugin_settings()
    assert seen["stream_url"] is None and seen["before_gcode"] is None and seen["snapshot_url"] is None
    assert idle.plugin_settings()["before_gcode"] == "M117 lamp-on"
    camera = viewer.state()["camera"]
    assert no_secret_in(json.dumps(camera)) and camera["source"]["type"] == "stream"
    url = camera["source"]["url"]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/?action=stream")


def test_errors_records_and_logs_show_no_credentials_or_tokens(idle, viewer, server, serial_log):
    idle.settings(camera="custom", stream_url=SECRET_URL.format(port=free_port()), snapshot_url="")
    reply = viewer.command("score")
    assert reply.status_code == 503 and "127.0.0.1" in reply.json()["error"]
    assert no_secret_in(reply.text)
    record = idle.run()
    assert record["reason"] == "camera_error"
    download = viewer.get("/plugin/autofocus/records/%s.json" % record["run_id"])
    assert download.status_code == 200 and no_secret_in(download.text)
    assert no_secret_in(json.dumps(viewer.state()))
    assert no_secret_in(octoprint_log(server))


def test_the_simulated_microscopes_token_never_reaches_a_record_or_the_log(idle, viewer, server):
    idle.settings(simulator={"fps": 0.2}, camera_timeout=0.5)  # a frame every 5 s: the run stalls
    record = idle.run()
    assert record["reason"] in ("camera_stalled", "camera_error"), record["message"]
    assert "/plugin/autofocus/sim/stream" in record["message"] + (record.get("detail") or "")
    download = viewer.get("/plugin/autofocus/records/%s.json" % record["run_id"])
    assert "token" not in download.text and "token" not in json.dumps(viewer.state())
    assert "token=" not in octoprint_log(server)


def test_a_snapshot_that_is_not_a_jpeg_is_not_echoed(idle, server):
    idle.settings(camera="custom", stream_url="", snapshot_url=server.url + "/")  # OctoPrint's HTML page
    reply = idle.command("score")
    assert reply.status_code == 503 and "not a JPEG" in reply.json()["error"]
    assert "<" not in reply.json()["error"] and "DOCTYPE" not in reply.json()["error"].upper()


def test_live_score_keeps_answering_while_settings_are_saved(idle):
    replies, stop = [], threading.Event()

    def keep_scoring():
        while not stop.is_set():
            replies.append(idle.command("score").status_code)
            time.sleep(0.25)

    poller = threading.Thread(target=keep_scoring)
    poller.start()
    step, deadline = 0, time.monotonic() + 60.0
    try:
        # at least 12 saves, and on until 5 scores were answered among them (a loaded
        # machine answers fewer in the time 12 saves take)
        while (step < 12 or len(replies) < 5) and time.monotonic() < deadline:
            idle.settings(search_range=1.0 + step % 50 / 100, latency=0.05 + (step % 2) / 100)
            step += 1
            time.sleep(0.1)
    finally:
        stop.set()
        poller.join(30)
    assert len(replies) >= 5 and set(replies) == {200}, replies


def test_score_requests_beyond_the_rate_limit_get_429(idle):
    assert idle.command("score").status_code == 200
    time.sleep(1.5)  # the bucket refills
    replies = []
    burst = [threading.Thread(target=lambda: replies.append(idle.command("score"))) for _ in range(20)]
    for thread in burst:
        thread.start()
    for thread in burst:
        thread.join(30)
    codes = sorted(reply.status_code for reply in replies)
    refused = [reply for reply in replies if reply.status_code == 429]
    assert codes.count(200) >= 5 and refused, codes  # the burst of 5 passes, the rest waits
    assert refused[0].headers["Retry-After"] == "1" and refused[0].json()["error"]


def test_a_camera_that_never_answers_does_not_slow_octoprint(idle, viewer, silent_camera):
    idle.settings(camera="custom", stream_url="http://127.0.0.1:%d/?action=stream" % silent_camera.port,
                  snapshot_url="", camera_timeout=5.0)
    stop, scored = threading.Event(), []

    def poll_score(client):
        while not stop.is_set():
            scored.append(client.command("score").status_code)

    pollers = [threading.Thread(target=poll_score, args=(client,)) for client in [idle, viewer] * 4]
    for poller in pollers:
        poller.start()
    latencies = []
    try:
        deadline = time.monotonic() + 6.0
        while time.monotonic() < deadline:
            started = time.monotonic()
            assert idle.get("/api/printer").status_code == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.1)
    finally:
        stop.set()
        for poller in pollers:
            poller.join(30)
    assert set(scored) <= {429, 503} and 503 in scored
    assert max(latencies) < 1.5 and statistics.median(latencies) < 0.3, latencies
    assert len(silent_camera.accepted) <= 3  # one grab at a time: not a connection per request
