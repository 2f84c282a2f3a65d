"""CameraManager: the camera a run or the live score opens, and closing it when idle."""

import threading

import cv2
import numpy as np
import pytest

from octoprint_autofocus.camera import CameraManager, browser_camera, frame_size, roi_pixels, select_camera
from octoprint_autofocus.focus.errors import CameraError
from octoprint_autofocus.settings import RunRequest, validate
from octoprint_autofocus.webcam_source import CameraSpec

from .fakes import FakeCompat, FakeWebcam


class RecordingSource:
    """A frame source that serves one JPEG and records open/close."""

    def __init__(self, image):
        self.jpeg = cv2.imencode(".jpg", image)[1].tobytes()
        self.opened = 0
        self.closed = threading.Event()

    def open(self):
        self.opened += 1

    def close(self):
        self.closed.set()

    def frame(self):
        return self.jpeg


def checkerboard(size=(120, 160), cell=8):
    y, x = np.indices(size)
    return (((x // cell + y // cell) % 2) * 255).astype(np.uint8)


def manager(sources, idle_close=60.0, resolve=None):
    def source_for(spec, config):
        sources.append(RecordingSource(checkerboard()))
        return sources[-1]

    return CameraManager(resolve or (lambda config: CameraSpec("cam", "http://cam/stream")),
                         source_for=source_for, idle_close=idle_close)


def test_run_camera_is_opened_and_closed_around_the_block():
    sources = []
    with manager(sources).open_for_run(validate({})) as source:
        assert source.opened == 1 and not source.closed.is_set()
    assert source.closed.is_set()


def test_live_score_reports_the_frame_size_and_metric():
    reply = manager([]).live_score(validate({}), RunRequest(metric="brenner"))
    assert (reply["width"], reply["height"], reply["metric"]) == (160, 120, "brenner")
    assert reply["score"] > 0


def test_live_score_reuses_its_camera_and_closes_it_when_idle():
    sources = []
    cameras = manager(sources, idle_close=0.05)
    cameras.live_score(validate({}), RunRequest())
    cameras.live_score(validate({}), RunRequest())
    assert len(sources) == 1
    assert sources[0].closed.wait(5)


class ClosedUnderTheRequest(RecordingSource):
    """A source whose frame() is interrupted by the manager closing it (a settings save)."""

    def __init__(self, image, cameras):
        super().__init__(image)
        self.cameras = cameras

    def frame(self):
        self.cameras.close()
        raise CameraError("camera closed")


def test_live_score_survives_the_camera_being_closed_under_it():
    sources = []

    def source_for(spec, config):
        first = not sources
        sources.append(ClosedUnderTheRequest(checkerboard(), cameras) if first else RecordingSource(checkerboard()))
        return sources[-1]

    cameras = CameraManager(lambda config: CameraSpec("cam", "http://cam/stream"), source_for=source_for)
    reply = cameras.live_score(validate({}), RunRequest())
    assert reply["score"] > 0 and len(sources) == 2


def test_a_camera_that_fails_by_itself_still_fails_the_live_score():
    class Broken(RecordingSource):
        def frame(self):
            raise CameraError("no picture")

    sources = []

    def source_for(spec, config):
        sources.append(Broken(checkerboard()))
        return sources[-1]

    cameras = CameraManager(lambda config: CameraSpec("cam", "http://cam/stream"), source_for=source_for)
    with pytest.raises(CameraError, match="no picture"):
        cameras.live_score(validate({}), RunRequest())
    assert len(sources) == 1, "not retried: nothing closed it"


def test_missing_camera_becomes_a_camera_error_with_the_reason():
    def resolve(config):
        raise ValueError("Webcam \"scope\" not found")

    with pytest.raises(CameraError, match="scope"):
        manager([], resolve=resolve).spec(validate({}))


def test_roi_fractions_become_pixels_of_the_frame():
    jpeg = RecordingSource(checkerboard((480, 640))).jpeg
    assert frame_size(jpeg) == (640, 480)
    assert roi_pixels((0.25, 0.5, 0.5, 0.25), jpeg) == (160, 240, 320, 120)
    assert roi_pixels(None, jpeg) is None


def test_simulated_microscope_is_opened_with_its_backend_token():
    webcams = [FakeWebcam("autofocus_sim", compat=FakeCompat("/plugin/autofocus/sim/stream"))]
    spec = select_camera(webcams, validate({"camera": "autofocus_sim"}), "http://127.0.0.1:5000")
    assert spec.stream_url.startswith("http://127.0.0.1:5000/plugin/autofocus/sim/stream?token=")


def test_browser_sees_the_configured_urls_never_the_backend_address():
    webcams = [FakeWebcam("classic", flipH=True, compat=FakeCompat("/webcam/?action=stream"))]
    info = browser_camera(webcams, validate({}), "http://127.0.0.1:5000")
    assert (info["name"], info["stream_url"], info["flipH"]) == ("classic", "/webcam/?action=stream", True)
    custom = browser_camera(webcams, validate({"camera": "custom", "stream_url": "/cam/stream"}),
                            "http://127.0.0.1:5000")
    assert custom["stream_url"] == "/cam/stream"
