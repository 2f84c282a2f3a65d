"""The OctoPi webcam setup: OctoPrint's classic webcam with a relative stream URL
(``/webcam/?action=stream``, served on OctoPi by the web server on port 80, not by OctoPrint)
and an absolute snapshot URL (``http://127.0.0.1:8080/?action=snapshot``, mjpg-streamer).

A real local HTTP server plays mjpg-streamer (``/?action=stream`` and ``/?action=snapshot``);
its frames are the simulated microscope's, relayed, so a focus run can succeed through it.
"""

import pytest
import requests

from tests.plugin.mjpeg_server import MjpegServer

from .conftest import ADMIN_KEY, DOF, FOCAL_Z, move_to, reported_z

RELATIVE_STREAM = "/webcam/?action=stream"


@pytest.fixture
def streamer(server):
    """mjpg-streamer on a free port, showing what the simulated microscope sees."""
    session = requests.Session()
    session.headers["X-Api-Key"] = ADMIN_KEY

    def relay():
        reply = session.get(server.url + "/plugin/autofocus/sim/snapshot", timeout=10)
        reply.raise_for_status()
        return reply.content

    with MjpegServer(fps=20, frames=relay) as running:
        yield running


@pytest.fixture
def classic_webcam(idle):
    """Sets the classic webcam's URLs (``classic_webcam(stream, snapshot)``) and selects it."""

    def configure(stream, snapshot):
        reply = idle.post("/api/settings", {"plugins": {"classicwebcam": {"stream": stream, "snapshot": snapshot}}})
        reply.raise_for_status()
        idle.settings(camera="classic")

    yield configure
    idle.post("/api/settings", {"plugins": {"classicwebcam": {"stream": "", "snapshot": ""}}})


def test_octoprint_itself_does_not_serve_the_relative_stream(server):
    reply = requests.get(server.url + RELATIVE_STREAM, timeout=10, stream=True)
    assert not reply.headers.get("Content-Type", "").startswith("multipart/")
    reply.close()


def test_octopi_camera_is_read_from_the_stream_its_snapshot_url_implies(idle, serial_log, streamer, classic_webcam):
    classic_webcam(RELATIVE_STREAM, streamer.url("/?action=snapshot"))
    source = idle.state()["camera"]["source"]
    assert source["type"] == "stream" and source["url"] == streamer.url("/?action=stream")
    assert RELATIVE_STREAM in source["reason"]
    assert idle.state()["camera"]["stream_url"] == RELATIVE_STREAM  # the browser keeps its own URL
    assert idle.command("score").status_code == 200
    move_to(idle, serial_log, FOCAL_Z + 0.5)
    record = idle.run(range=1.0)
    assert record["ok"] is True, record["message"]
    assert abs(reported_z(idle, serial_log) - FOCAL_Z) <= DOF / 2
    assert "/?action=stream" in streamer.paths


def test_a_relative_stream_with_an_unknown_snapshot_url_is_read_by_snapshots(idle, streamer, classic_webcam):
    classic_webcam(RELATIVE_STREAM, streamer.url("/snapshot.jpg"))
    source = idle.state()["camera"]["source"]
    assert source["type"] == "snapshot" and source["url"] == streamer.url("/snapshot.jpg")
    assert "snapshots" in source["reason"]
    reply = idle.command("score")
    assert reply.status_code == 200, reply.text
    assert "/snapshot.jpg" in streamer.paths and "/?action=stream" not in streamer.paths
