"""WebcamSource against a real local MJPEG/snapshot server."""

import socket
import threading
import time

import numpy as np
import pytest

from octoprint_autofocus.focus.errors import CameraError, CameraStalled
from octoprint_autofocus.camera_select import CameraSpec
from octoprint_autofocus.webcam_source import WebcamSource
from tests.plugin.mjpeg_server import MARKER, MjpegServer, frame_number, marker_image, with_comment

READER_THREAD = "octoprint.plugins.autofocus.mjpeg"


@pytest.fixture
def server():
    with MjpegServer(fps=30) as running:
        yield running


@pytest.fixture
def sources():
    """Build WebcamSources that are closed at the end of the test."""
    made = []

    def build(spec, **options):
        made.append(WebcamSource(spec, **options))
        return made[-1]

    yield build
    for source in made:
        source.close()


def stream(server, **flags):
    return CameraSpec("test", stream_url=server.url("/stream"), **flags)


def reader_threads():
    return [t for t in threading.enumerate() if t.name == READER_THREAD]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ~ streaming


def test_nothing_connects_before_open_or_frame(server, sources):
    sources(stream(server))
    time.sleep(0.2)
    assert server.connections == 0
    assert reader_threads() == []


def test_frame_never_returns_a_frame_sent_before_the_call(server, sources):
    source = sources(stream(server), latency=0.2)
    source.open()
    for _ in range(5):
        called = time.monotonic()
        jpeg = source.frame()
        assert server.sent_at[frame_number(jpeg)] >= called


def test_a_stream_frame_arrived_at_least_the_latency_after_the_call(server, sources):
    source = sources(stream(server), latency=0.2)  # the server sends a frame every 33 ms
    source.open()
    for _ in range(5):
        called = time.monotonic()
        jpeg = source.frame()
        assert server.sent_at[frame_number(jpeg)] >= called + 0.2 - 0.05  # sent shortly before it arrived


def test_frames_come_from_one_persistent_connection(server, sources):
    source = sources(stream(server), latency=0.05)
    numbers = [frame_number(source.frame()) for _ in range(4)]
    assert numbers == sorted(set(numbers))
    assert server.connections == 1


def test_stream_without_content_length_is_split_by_jpeg_markers(sources):
    with MjpegServer(content_length=False) as server:
        source = sources(stream(server), latency=0.05)
        called = time.monotonic()
        assert server.sent_at[frame_number(source.frame())] >= called
        source.close()


def test_chunked_stream_as_tornado_sends_it_is_read(server, sources):
    server.chunked = True
    source = sources(stream(server), latency=0.05)
    called = time.monotonic()
    assert server.sent_at[frame_number(source.frame())] >= called


@pytest.mark.parametrize("chunked", [False, True])
def test_reader_reconnects_after_the_stream_drops(server, sources, chunked):
    server.chunked = chunked
    server.drop_after = 3
    source = sources(stream(server), latency=0.05)
    for _ in range(8):
        called = time.monotonic()
        assert server.sent_at[frame_number(source.frame())] >= called
    assert server.connections >= 2


def test_stalled_stream_raises_camera_stalled_within_the_timeout(server, sources):
    source = sources(stream(server), latency=0.05, timeout=0.5)
    source.frame()
    server.stalled.set()
    started = time.monotonic()
    with pytest.raises(CameraStalled, match=r"no new frame for 0\.5 s from http://127\.0\.0\.1"):
        source.frame()
    assert time.monotonic() - started < 3.0


def test_http_404_raises_camera_error_naming_the_url_before_the_timeout(server, sources):
    server.status = 404
    source = sources(stream(server), timeout=30.0)
    with pytest.raises(CameraError, match=r"HTTP 404 .*127\.0\.0\.1.*/stream") as raised:
        source.frame()
    assert not isinstance(raised.value, CameraStalled)


def test_refused_connection_raises_camera_error(sources):
    url = f"http://127.0.0.1:{free_port()}/stream"
    with pytest.raises(CameraError, match="cannot reach"):
        sources(CameraSpec("gone", stream_url=url), timeout=30.0).frame()


def test_stream_that_is_not_multipart_raises_camera_error(server, sources):
    server.stream_content_type = "text/html"
    with pytest.raises(CameraError, match=r"not an MJPEG stream \(Content-Type text/html\)"):
        sources(stream(server)).frame()


def test_stream_parts_that_are_not_jpeg_raise_camera_error(server, sources):
    server.garbage = True
    with pytest.raises(CameraError, match="not a JPEG"):
        sources(stream(server)).frame()


def test_close_stops_the_reader_thread_and_wakes_a_waiting_frame(server, sources):
    server.stalled.set()
    source = sources(stream(server), timeout=30.0)
    closer = threading.Timer(0.2, source.close)
    closer.start()
    started = time.monotonic()
    with pytest.raises(CameraError, match="closed"):
        source.frame()
    assert time.monotonic() - started < 5.0
    closer.join(timeout=10)
    assert reader_threads() == []


def test_context_manager_opens_and_closes_the_stream(server):
    with WebcamSource(stream(server)) as source:
        assert frame_number(source.frame()) >= 1
        assert len(reader_threads()) == 1
    assert reader_threads() == []


# ~ snapshots


def test_snapshot_is_requested_after_the_call_plus_latency(server, sources):
    source = sources(CameraSpec("snap", snapshot_url=server.url("/snapshot")), latency=0.1)
    called = time.monotonic()
    jpeg = source.frame()
    assert server.sent_at[frame_number(jpeg)] >= called + 0.1
    assert reader_threads() == []


def test_snapshot_http_error_raises_camera_error(server, sources):
    server.status = 500
    with pytest.raises(CameraError, match=r"HTTP 500 .*/snapshot"):
        sources(CameraSpec("snap", snapshot_url=server.url("/snapshot"))).frame()


def test_snapshot_that_is_not_jpeg_raises_camera_error_without_echoing_its_bytes(server, sources):
    server.garbage = True
    with pytest.raises(CameraError, match="not a JPEG") as error:
        sources(CameraSpec("snap", snapshot_url=server.url("/snapshot"))).frame()
    assert "html" not in str(error.value).replace("text/html", "") and "bytes" in str(error.value)


@pytest.mark.parametrize("field, route", [("stream_url", "/stream"), ("snapshot_url", "/snapshot")])
def test_credentials_in_the_url_are_sent_as_basic_auth(server, sources, field, route):
    url = server.url(route).replace("http://", "http://admin:hunter2@")
    sources(CameraSpec("cam", **{field: url})).frame()
    assert server.request_headers[0]["Authorization"] == "Basic YWRtaW46aHVudGVyMg=="


@pytest.mark.parametrize("field", ["stream_url", "snapshot_url"])
def test_errors_never_show_credentials_or_tokens(sources, field):
    url = "http://admin:hunter2@127.0.0.1:%d/cam?action=stream&token=s3cret" % free_port()
    with pytest.raises(CameraError) as error:
        sources(CameraSpec("cam", **{field: url}), timeout=2.0).frame()
    message = str(error.value)
    assert "hunter2" not in message and "admin" not in message and "s3cret" not in message
    assert "127.0.0.1" in message and "action=stream" in message


def test_unanswered_snapshot_raises_camera_stalled(server, sources):
    server.stalled.set()
    source = sources(CameraSpec("snap", snapshot_url=server.url("/snapshot")), timeout=0.3)
    with pytest.raises(CameraStalled, match=r"no new frame for 0\.3 s"):
        source.frame()


def test_refused_snapshot_raises_camera_error(sources):
    url = f"http://127.0.0.1:{free_port()}/snapshot"
    with pytest.raises(CameraError, match="cannot reach"):
        sources(CameraSpec("gone", snapshot_url=url)).frame()


# ~ orientation


def centroid(mask):
    ys, xs = np.nonzero(mask)
    return xs.mean(), ys.mean()


def test_without_flip_or_rotation_frame_returns_jpeg_bytes(server, sources):
    frame = sources(stream(server), latency=0.0).frame()
    assert isinstance(frame, bytes) and frame.startswith(b"\xff\xd8")


@pytest.mark.parametrize(
    "flags",
    [
        dict(flip_h=True),
        dict(flip_v=True),
        dict(flip_h=True, flip_v=True),
        dict(rotate90=True),
        dict(flip_h=True, rotate90=True),
    ],
)
def test_flip_and_rotation_move_the_marker_where_the_user_sees_it(server, sources, flags):
    expected = marker_image() > 128
    if flags.get("flip_h"):
        expected = np.fliplr(expected)
    if flags.get("flip_v"):
        expected = np.flipud(expected)
    if flags.get("rotate90"):
        expected = np.rot90(expected)  # counter-clockwise, as OctoPrint's CSS rotate(-90deg)
    frame = sources(stream(server, **flags), latency=0.0).frame()
    assert frame.shape == expected.shape
    assert centroid(frame > 128) == pytest.approx(centroid(expected), abs=1.5)


def test_horizontal_flip_puts_the_top_left_marker_on_the_right(server, sources):
    frame = sources(stream(server, flip_h=True), latency=0.0).frame()
    x, y = centroid(frame > 128)
    assert x > frame.shape[1] / 2 and y < frame.shape[0] / 2
    assert MARKER[0] < frame.shape[1] / 2  # the marker starts on the left


def test_frame_number_reads_back_the_comment_written_by_the_server():
    assert frame_number(with_comment(b"\xff\xd8\xff\xd9", "frame=42")) == 42
