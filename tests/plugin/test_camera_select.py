"""Camera selection: which webcam, which URL the backend reads, what the browser is told."""

import pytest

from octoprint_autofocus.camera_select import CameraSpec, browser_camera, implied_stream, resolve_camera, select_camera
from octoprint_autofocus.settings import validate
from tests.plugin.fakes import FakeCompat, FakeWebcam

BASE = "http://octopi.local:5000/"




def test_relative_stream_and_snapshot_urls_resolve_against_the_base_url():
    webcam = FakeWebcam("classic", compat=FakeCompat("/webcam/?action=stream", "/webcam/?action=snapshot"))
    spec = resolve_camera([webcam], "", "", "", BASE)
    assert spec.stream_url == "http://octopi.local:5000/webcam/?action=stream"
    assert spec.snapshot_url == "http://octopi.local:5000/webcam/?action=snapshot"


def test_absolute_urls_are_kept_and_flags_are_copied():
    webcam = FakeWebcam(
        "cam", flipH=True, rotate90=True, compat=FakeCompat("http://10.0.0.9:8080/stream", "")
    )
    spec = resolve_camera([webcam], "cam", "", "", BASE)
    assert (spec.stream_url, spec.snapshot_url) == ("http://10.0.0.9:8080/stream", "")
    assert (spec.flip_h, spec.flip_v, spec.rotate90) == (True, False, True)


def test_default_is_the_first_webcam_unless_one_is_flagged_default():
    first = FakeWebcam("first", compat=FakeCompat("/a"))
    second = FakeWebcam("second", compat=FakeCompat("/b"))
    assert resolve_camera([first, second], "", "", "", BASE).name == "first"
    second.default = True
    assert resolve_camera([first, second], "", "", "", BASE).name == "second"


def test_named_webcam_is_selected_by_name():
    cams = [FakeWebcam("a", compat=FakeCompat("/a")), FakeWebcam("b", compat=FakeCompat("/b"))]
    assert resolve_camera(cams, "b", "", "", BASE).stream_url == "http://octopi.local:5000/b"


def test_custom_uses_the_urls_from_the_settings():
    spec = resolve_camera([], "custom", "", "/snap.jpg", BASE)
    assert (spec.name, spec.stream_url) == ("custom", "")
    assert spec.snapshot_url == "http://octopi.local:5000/snap.jpg"


def test_unknown_webcam_name_raises_value_error_listing_the_available_ones():
    cams = [FakeWebcam("a", compat=FakeCompat("/a")), FakeWebcam("b", compat=FakeCompat("/b"))]
    with pytest.raises(ValueError, match='"nope" not found; available: a, b'):
        resolve_camera(cams, "nope", "", "", BASE)


@pytest.mark.parametrize(
    "webcams, selected",
    [
        ([], ""),
        ([FakeWebcam("bare", compat=None)], "bare"),
        ([FakeWebcam("webrtc", compat=FakeCompat("webrtc://cam/stream"))], ""),
        ([], "custom"),
    ],
)
def test_missing_camera_or_url_raises_value_error(webcams, selected):
    with pytest.raises(ValueError):
        resolve_camera(webcams, selected, "", "", BASE)


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


# ~ OctoPi: a relative stream behind a proxy, an absolute snapshot


OCTOPI = FakeCompat("/webcam/?action=stream", "http://127.0.0.1:8080/?action=snapshot")


def test_octopi_relative_stream_is_replaced_by_the_stream_its_snapshot_url_implies():
    spec = resolve_camera([FakeWebcam("classic", compat=OCTOPI)], "", "", "", BASE)
    assert spec.stream_url == "http://127.0.0.1:8080/?action=stream"
    assert spec.snapshot_url == "http://127.0.0.1:8080/?action=snapshot"
    assert spec.source == "stream" and "/webcam/?action=stream" in spec.reason


@pytest.mark.parametrize(
    "snapshot, stream",
    [
        ("http://127.0.0.1:8080/?action=snapshot", "http://127.0.0.1:8080/?action=stream"),  # mjpg-streamer
        ("http://127.0.0.1:8080/snapshot", "http://127.0.0.1:8080/stream"),  # ustreamer, camera-streamer
        ("http://cam:8081/webcam/snapshot?x=1", "http://cam:8081/webcam/stream?x=1"),
        ("http://cam/capture.jpg", ""),
        ("http://cam/?action=other", ""),
    ],
)
def test_implied_stream_of_known_streamers(snapshot, stream):
    assert implied_stream(snapshot) == stream


def test_relative_stream_with_an_unknown_absolute_snapshot_reads_snapshots():
    webcam = FakeWebcam("cam", compat=FakeCompat("/webcam/stream", "http://10.0.0.5/capture.jpg"))
    spec = resolve_camera([webcam], "", "", "", BASE)
    assert (spec.source, spec.stream_url, spec.snapshot_url) == ("snapshot", "", "http://10.0.0.5/capture.jpg")
    assert "snapshots" in spec.reason


def test_absolute_stream_is_read_as_given():
    webcam = FakeWebcam("cam", compat=FakeCompat("http://10.0.0.9:8080/stream", "http://10.0.0.9:8080/snapshot"))
    spec = resolve_camera([webcam], "", "", "", BASE)
    assert (spec.source, spec.stream_url) == ("stream", "http://10.0.0.9:8080/stream")


def test_custom_urls_follow_the_same_rules():
    spec = resolve_camera([], "custom", "/webcam/?action=stream", "http://127.0.0.1:8080/?action=snapshot", BASE)
    assert spec.stream_url == "http://127.0.0.1:8080/?action=stream"


def test_source_info_names_the_source_with_the_url_redacted():
    spec = CameraSpec("cam", "http://user:pw@cam:81/stream?token=abc", reason="why")
    assert spec.source_info() == {"type": "stream", "url": "http://cam:81/stream", "reason": "why"}
    assert CameraSpec("cam", "", "http://cam/?action=snapshot").source_info()["type"] == "snapshot"


def test_browser_gets_no_credentials_and_is_told_the_source():
    config = validate({"camera": "custom", "stream_url": "http://admin:hunter2@10.0.0.9:8080/?action=stream&k=v"})
    info = browser_camera([], config, "http://127.0.0.1:5000", private=True)
    assert "hunter2" not in str(info) and "admin" not in str(info)
    assert info["stream_url"] == "http://10.0.0.9:8080/?action=stream&k=v"
    assert info["source"]["type"] == "stream" and info["source"]["url"] == "http://10.0.0.9:8080/?action=stream"


def test_users_who_may_not_read_the_settings_get_the_urls_without_query_values():
    config = validate({"camera": "custom", "stream_url": "http://10.0.0.9:8080/?action=stream&token=s3cret",
                       "snapshot_url": "/snap?token=s3cret"})
    info = browser_camera([], config, "http://127.0.0.1:5000")
    assert (info["stream_url"], info["snapshot_url"]) == ("http://10.0.0.9:8080/?action=stream", "/snap")


def test_the_simulated_microscope_token_is_not_in_the_source_the_browser_sees():
    webcams = [FakeWebcam("autofocus_sim", compat=FakeCompat("/plugin/autofocus/sim/stream"))]
    info = browser_camera(webcams, validate({"camera": "autofocus_sim"}), "http://127.0.0.1:5000")
    assert info["source"]["url"] == "http://127.0.0.1:5000/plugin/autofocus/sim/stream"
    assert "token" not in str(info)


def test_a_url_that_is_not_http_is_refused_without_showing_its_credentials():
    with pytest.raises(ValueError) as error:
        resolve_camera([], "custom", "rtsp://admin:hunter2@cam/stream", "", BASE)
    assert "hunter2" not in str(error.value)
