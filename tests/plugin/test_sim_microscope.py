"""The simulated microscope: Z tracking from G-code, lazy rendering, Tornado routes."""

import asyncio
import threading
import time
from typing import Callable, Dict, Iterator, List, Optional

import cv2
import numpy as np
import pytest
import requests
import tornado.httpserver
import tornado.netutil
import tornado.web
from tornado.ioloop import IOLoop

from octoprint_autofocus.sim_microscope import (
    WEBCAM_NAME,
    SimConfig,
    SimMicroscope,
    ZTracker,
    backend_stream_url,
    http_routes,
    webcam_config,
)
from octoprint_autofocus.sim_microscope.handlers import ACCESS_TOKEN

PREFIX = "/plugin/autofocus"


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def tracker_after(lines: List[str], clock: Optional[FakeClock] = None, **options) -> ZTracker:
    """A real-speed tracker (time_factor 1, down moves take time) fed ``lines`` at once."""
    options = {"time_factor": 1.0, "instant_down": False, **options}
    tracker = ZTracker(clock=clock or FakeClock(), **options)
    for line in lines:
        tracker.on_sent(line)
    return tracker


def final_z(tracker: ZTracker) -> float:
    return tracker.z_at(tracker.clock() + 1e6)


# ~~ ZTracker


def test_absolute_moves_end_at_their_targets():
    tracker = tracker_after(["G90", "G1 Z5 F600", "G0 Z2.5"])
    assert final_z(tracker) == pytest.approx(2.5)


def test_relative_moves_add_up():
    tracker = tracker_after(["G91", "G1 Z2 F600", "G1 Z-0.5", "G1 Z1.25"])
    assert final_z(tracker) == pytest.approx(2.75)


def test_switching_back_to_absolute_uses_absolute_targets():
    tracker = tracker_after(["G91", "G1 Z2 F600", "G90", "G1 Z1"])
    assert final_z(tracker) == pytest.approx(1.0)


def test_g92_renames_the_position_without_moving_the_optics():
    tracker = tracker_after(["G1 Z5 F600", "G92 Z10"])
    assert final_z(tracker) == pytest.approx(5.0)
    assert tracker.position() == pytest.approx(10.0)
    tracker.on_sent("G1 Z9")
    assert final_z(tracker) == pytest.approx(4.0)


def test_g92_of_another_axis_keeps_the_z_coordinate():
    tracker = tracker_after(["G1 Z5 F600", "G92 E0", "G92 X3"])
    assert tracker.position() == pytest.approx(5.0)


def test_g28_sends_z_to_physical_zero_and_clears_g92():
    tracker = tracker_after(["G1 Z5 F600", "G92 Z10", "G28"])
    assert final_z(tracker) == pytest.approx(0.0)
    assert tracker.position() == pytest.approx(0.0)


def test_g28_of_x_only_leaves_z_alone():
    tracker = tracker_after(["G1 Z5 F600", "G28 X"])
    assert final_z(tracker) == pytest.approx(5.0)


def test_inch_moves_are_converted_to_millimetres():
    tracker = tracker_after(["G20", "G1 Z0.1 F10", "G21", "G91", "G1 Z1"])
    assert final_z(tracker) == pytest.approx(3.54)


def test_other_commands_comments_and_line_numbers_are_handled():
    tracker = tracker_after(["M114", "G1 Z3 F600 ; up (comment Z9)", "N12 G1 Z4*71", "T0", ""])
    assert final_z(tracker) == pytest.approx(4.0)


def test_a_frame_during_a_move_sees_an_in_between_z():
    clock = FakeClock()
    tracker = tracker_after(["G1 Z6 F60"], clock)  # 6 mm at 1 mm/s
    start = clock.now
    assert tracker.z_at(start + 1.5) == pytest.approx(1.5)
    assert tracker.z_at(start + 3.0) == pytest.approx(3.0)
    assert tracker.z_at(start + 6.0) == pytest.approx(6.0)


def test_the_feedrate_is_remembered_and_sets_the_duration():
    clock = FakeClock()
    tracker = tracker_after(["G1 Z2 F120"], clock)  # 2 mm/s: 1 s
    clock.now += 1.0
    tracker.on_sent("G1 Z4")
    assert tracker.z_at(clock.now + 0.5) == pytest.approx(3.0)
    tracker.on_sent("G1 Z10 F720")  # 12 mm/s after the previous move ends
    assert tracker.z_at(clock.now + 1.25) == pytest.approx(7.0)


def test_queued_moves_run_one_after_another():
    clock = FakeClock()
    tracker = tracker_after(["G1 Z2 F60", "G1 Z3", "G1 Z1"], clock)
    start = clock.now
    assert tracker.z_at(start + 2.0) == pytest.approx(2.0)
    assert tracker.z_at(start + 2.5) == pytest.approx(2.5)
    assert tracker.z_at(start + 3.5) == pytest.approx(2.5)
    assert tracker.z_at(start + 5.0) == pytest.approx(1.0)


def test_a_move_sent_after_the_queue_drained_starts_when_sent():
    clock = FakeClock()
    tracker = tracker_after(["G1 Z1 F60"], clock)
    clock.now += 10.0
    tracker.on_sent("G1 Z2")
    assert tracker.z_at(clock.now) == pytest.approx(1.0)
    assert tracker.z_at(clock.now + 0.5) == pytest.approx(1.5)


def test_time_factor_speeds_moves_up():
    clock = FakeClock()
    tracker = tracker_after(["G1 Z6 F60"], clock, time_factor=0.1)
    assert tracker.z_at(clock.now + 0.3) == pytest.approx(3.0)


def test_moves_down_are_instant_like_the_virtual_printer_by_default():
    clock = FakeClock()
    tracker = ZTracker(clock=clock)
    tracker.on_sent("G1 Z5 F600")
    clock.now += 10.0
    tracker.on_sent("G1 Z1")
    assert tracker.z_at(clock.now) == pytest.approx(1.0)


def test_moving_up_the_optics_lag_by_the_backlash():
    tracker = tracker_after(["G1 Z5 F600"], backlash=0.2)
    assert final_z(tracker) == pytest.approx(4.8)


def test_moving_down_the_optics_follow_the_command():
    tracker = tracker_after(["G1 Z5 F600", "G1 Z3"], backlash=0.2)
    assert final_z(tracker) == pytest.approx(3.0)


def test_a_reversal_inside_the_backlash_band_does_not_move_the_optics():
    tracker = tracker_after(["G1 Z5 F600", "G1 Z4.9"], backlash=0.2)
    assert final_z(tracker) == pytest.approx(4.8)


def test_the_position_stays_right_after_old_moves_are_forgotten():
    clock = FakeClock()
    tracker = ZTracker(clock=clock)
    for step in range(1, 200):
        tracker.on_sent(f"G1 Z{step * 0.01:.2f} F600")
        clock.now += 1.0
    assert tracker.z_now() == pytest.approx(1.99)


def test_a_reset_starts_over_at_rest_in_absolute_millimetres():
    tracker = tracker_after(["G20", "G91", "G1 Z1 F600", "G92 Z7"])
    tracker.reset(2.0)
    assert final_z(tracker) == pytest.approx(2.0)
    tracker.on_sent("G1 Z3")
    assert (final_z(tracker), tracker.position()) == (pytest.approx(3.0), pytest.approx(3.0))


def test_xy_moves_are_followed_with_their_timing():
    clock = FakeClock()
    tracker = tracker_after(["G1 X10 Y20 F600"], clock)  # 20 mm at 10 mm/s: 2 s
    assert tracker.xy_at(clock.now) == (pytest.approx(0.0), pytest.approx(0.0))
    assert tracker.xy_at(clock.now + 1.0) == (pytest.approx(5.0), pytest.approx(10.0))
    assert tracker.xy_at(clock.now + 2.0) == (pytest.approx(10.0), pytest.approx(20.0))
    tracker.on_sent("G0 Y5")  # X stays
    assert tracker.xy_at(clock.now + 1e6) == (pytest.approx(10.0), pytest.approx(5.0))
    assert final_z(tracker) == pytest.approx(0.0)


def test_xy_follows_relative_moves_g92_and_homing():
    tracker = tracker_after(["G1 X10 Y10 F600", "G91", "G1 X5", "G90"])
    assert tracker.xy_at(1e9) == (pytest.approx(15.0), pytest.approx(10.0))
    tracker.on_sent("G92 X0")  # rename: the head stays at physical X15
    tracker.on_sent("G1 X2")
    assert tracker.xy_at(1e9) == (pytest.approx(17.0), pytest.approx(10.0))
    tracker.on_sent("G28 X")
    assert tracker.xy_at(1e9) == (pytest.approx(0.0), pytest.approx(10.0))
    tracker.on_sent("G1 X3")
    assert tracker.xy_at(1e9)[0] == pytest.approx(3.0)



# ~~ SimMicroscope


def sharpness(jpeg: bytes) -> float:
    gray = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    return float(cv2.Laplacian(gray.astype(np.float64), cv2.CV_64F).var())


def microscope_at(z: float, **config) -> SimMicroscope:
    """A microscope whose tracker has settled at ``z``, with no latency by default."""
    clock = FakeClock()
    tracker = ZTracker(clock=clock, start_z=z)
    return SimMicroscope(SimConfig(**{"latency": 0.0, "size": (160, 120), **config}), tracker)


def test_an_in_focus_frame_is_sharper_than_a_defocused_one():
    in_focus = microscope_at(4.0, focal_z=4.0).snapshot()
    defocused = microscope_at(4.3, focal_z=4.0).snapshot()
    assert sharpness(in_focus) > 2 * sharpness(defocused)


def test_a_snapshot_is_a_jpeg_of_the_configured_size():
    jpeg = microscope_at(1.0, size=(200, 100)).snapshot()
    assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image.shape[:2] == (100, 200)


def test_nothing_renders_until_a_frame_is_asked_for():
    microscope = microscope_at(1.0)
    microscope.tracker.on_sent("G1 Z3 F600")
    assert microscope.renders == 0
    microscope.snapshot()
    assert microscope.renders == 1


def test_a_recent_frame_is_shared_but_a_snapshot_is_always_fresh():
    microscope = microscope_at(1.0)
    first = microscope.capture(max_age=1.0)
    assert microscope.capture(max_age=1.0) is first
    microscope.snapshot()
    assert microscope.renders == 2


def test_reconfigure_moves_the_focal_plane():
    microscope = microscope_at(6.0, focal_z=4.0)
    before = sharpness(microscope.snapshot())
    microscope.reconfigure(SimConfig(focal_z=6.0, latency=0.0, size=(160, 120)))
    assert sharpness(microscope.snapshot()) > 2 * before


def test_reconfigure_sets_the_trackers_backlash():
    microscope = microscope_at(0.0)
    microscope.reconfigure(SimConfig(backlash=0.3))
    assert microscope.tracker.backlash == 0.3


def test_a_frame_shows_the_z_of_latency_seconds_ago():
    clock = FakeClock()
    tracker = ZTracker(clock=clock, start_z=4.0, time_factor=1.0)
    lagging = SimMicroscope(SimConfig(focal_z=4.0, latency=5.0, size=(160, 120)), tracker)
    tracker.on_sent("G1 Z4.5 F600")
    clock.now += 1.0
    assert sharpness(lagging.snapshot()) > 2 * sharpness(microscope_at(4.5, focal_z=4.0).snapshot())


def microscope_over(surface: str, x: float, y: float, z: float, **config) -> SimMicroscope:
    """A microscope over a focal surface, its head settled at (x, y, z)."""
    clock = FakeClock()
    tracker = ZTracker(clock=clock, start_z=z)
    tracker.on_sent("G0 X%s Y%s F100000" % (x, y))
    clock.now += 10.0
    settings = {"latency": 0.0, "size": (160, 120), "focal_z": 4.0, "surface": surface, **config}
    return SimMicroscope(SimConfig(**settings), tracker)


def test_the_focal_surface_follows_the_head():
    # tilted by 0.3 mm corner to corner: at the back-right corner focus lies 0.15 mm higher
    high = 4.15
    at_corner = sharpness(microscope_over("tilted", 200, 200, high).snapshot())
    at_centre = sharpness(microscope_over("tilted", 100, 100, high).snapshot())
    assert at_corner > 2 * at_centre
    assert sharpness(microscope_over("flat", 100, 100, 4.0).snapshot()) > 2 * at_centre


def test_a_bare_spot_shows_no_texture():
    spot = {"bare_spot": (50.0, 50.0, 5.0)}
    assert sharpness(microscope_over("flat", 50, 50, 4.0, **spot).snapshot()) < 0.1 * sharpness(
        microscope_over("flat", 60, 50, 4.0, **spot).snapshot())


def test_surface_settings_become_a_config_and_bad_ones_are_refused():
    config = SimConfig.from_settings({"surface": "warped", "surface_height": "0.2", "bare_spot": [1, 2, 3],
                                      "bed": [0, 300, 0, 250]})
    assert config.focal_surface().z_at(180, 100) == pytest.approx(4.2)
    assert config.bare_spot == (1.0, 2.0, 3.0)
    with pytest.raises(ValueError):
        SimConfig(surface="wavy")
    with pytest.raises(ValueError):
        SimConfig(bare_spot=(1.0, 2.0, -1.0))


def test_settings_with_extra_keys_and_lists_become_a_config():
    config = SimConfig.from_settings({"enabled": True, "focal_z": "2.5", "size": [320, 240], "seed": 3})
    assert (config.focal_z, config.size, config.seed) == (2.5, (320, 240), 3)


@pytest.mark.parametrize("bad", [{"dof": 0}, {"fps": -1}, {"scene": "nope"}, {"size": (4, 4)}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        SimConfig(**bad)


# ~~ webcam registration


def test_the_webcam_points_at_the_plugin_routes_without_the_token():
    webcam = webcam_config(SimConfig())
    assert webcam.name == WEBCAM_NAME and webcam.canSnapshot
    assert webcam.displayName == "Simulated microscope"
    assert webcam.compat.stream == PREFIX + "/sim/stream"
    assert webcam.compat.snapshot == PREFIX + "/sim/snapshot"
    assert ACCESS_TOKEN not in webcam.compat.stream
    assert not (webcam.flipH or webcam.flipV or webcam.rotate90)


def test_the_backend_url_carries_the_token():
    assert backend_stream_url() == f"{PREFIX}/sim/stream?token={ACCESS_TOKEN}"


# ~~ Tornado routes on a real HTTP server


def deny(request) -> None:
    """What OctoPrint's permission validator does without a session."""
    raise tornado.web.HTTPError(403)


def session_cookie_validation(request) -> None:
    """Stands in for OctoPrint's session check: a browser with the cookie is let in."""
    if request.cookies.get("session") is None or request.cookies["session"].value != "ok":
        raise tornado.web.HTTPError(403)


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """Start a real Tornado server with the routes on a free loopback port; yields its URL."""
    stoppers = []

    def start(microscope: SimMicroscope, validation: Callable = deny, **options) -> str:
        ready = threading.Event()
        state: Dict[str, object] = {}

        async def main() -> None:
            routes = [
                (PREFIX + route, handler, kwargs)
                for route, handler, kwargs in http_routes(microscope, validation, **options)
            ]
            sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
            server = tornado.httpserver.HTTPServer(tornado.web.Application(routes))
            server.add_sockets(sockets)
            state.update(port=sockets[0].getsockname()[1], loop=IOLoop.current(), stop=asyncio.Event())
            ready.set()
            await state["stop"].wait()
            server.stop()

        thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        thread.start()
        assert ready.wait(10)
        stoppers.append((state, thread))
        return f"http://127.0.0.1:{state['port']}{PREFIX}"

    yield start
    for state, thread in stoppers:
        state["loop"].add_callback(state["stop"].set)
        thread.join(10)


def read_parts(response: requests.Response, count: int) -> List[bytes]:
    """Read ``count`` multipart parts, checking each part's headers."""
    boundary = response.headers["Content-Type"].split("boundary=")[1].encode()
    raw = response.raw
    parts = []
    for _ in range(count):
        assert raw.readline().strip() == b"--" + boundary
        headers = {}
        while (line := raw.readline().strip()) != b"":
            name, value = line.decode().split(":", 1)
            headers[name.strip().lower()] = value.strip()
        assert headers["content-type"] == "image/jpeg"
        body = raw.read(int(headers["content-length"]))
        assert raw.readline() == b"\r\n"
        parts.append(body)
    return parts


@pytest.fixture
def fast_microscope() -> Iterator[SimMicroscope]:
    microscope = SimMicroscope(SimConfig(fps=50.0, size=(160, 120)))
    yield microscope
    microscope.close()


def test_the_stream_sends_jpeg_parts_to_a_client_with_the_token(serve, fast_microscope):
    url = serve(fast_microscope)
    with requests.get(f"{url}/sim/stream", params={"token": ACCESS_TOKEN}, stream=True, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        parts = read_parts(response, 4)
    for part in parts:
        assert cv2.imdecode(np.frombuffer(part, np.uint8), cv2.IMREAD_GRAYSCALE).shape == (120, 160)


def test_the_stream_is_open_to_a_browser_session(serve, fast_microscope):
    url = serve(fast_microscope, session_cookie_validation)
    with requests.get(f"{url}/sim/stream", cookies={"session": "ok"}, stream=True, timeout=10) as response:
        assert response.status_code == 200
        assert len(read_parts(response, 2)) == 2


@pytest.mark.parametrize("params", [{}, {"token": "wrong"}, {"token": ""}])
def test_without_a_session_a_missing_or_wrong_token_is_refused(serve, fast_microscope, params):
    url = serve(fast_microscope)
    for route in ("/sim/stream", "/sim/snapshot"):
        response = requests.get(url + route, params=params, timeout=10)
        assert response.status_code == 403
    assert fast_microscope.renders == 0


def test_the_snapshot_route_returns_one_fresh_jpeg(serve, fast_microscope):
    url = serve(fast_microscope)
    response = requests.get(f"{url}/sim/snapshot", params={"token": ACCESS_TOKEN}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_GRAYSCALE).shape == (120, 160)
    assert fast_microscope.renders == 1


def test_a_disabled_simulator_answers_not_found(serve, fast_microscope):
    url = serve(fast_microscope, is_enabled=lambda: False)
    for route in ("/sim/stream", "/sim/snapshot"):
        assert requests.get(url + route, params={"token": ACCESS_TOKEN}, timeout=10).status_code == 404
        assert requests.get(url + route, timeout=10).status_code == 403


def test_the_stream_ends_when_the_simulator_is_disabled(serve, fast_microscope):
    enabled = threading.Event()
    enabled.set()
    url = serve(fast_microscope, is_enabled=enabled.is_set)
    with requests.get(f"{url}/sim/stream", params={"token": ACCESS_TOKEN}, stream=True, timeout=10) as response:
        read_parts(response, 2)
        enabled.clear()
        rest = response.raw.read()
    assert rest.count(b"Content-Length") <= 2


def test_rendering_stops_when_the_stream_client_disconnects(serve, fast_microscope):
    url = serve(fast_microscope)
    assert fast_microscope.renders == 0
    with requests.get(f"{url}/sim/stream", params={"token": ACCESS_TOKEN}, stream=True, timeout=10) as response:
        read_parts(response, 3)
    counts = [fast_microscope.renders]
    while len(counts) < 3 or counts[-1] != counts[-3]:
        assert len(counts) < 50, "the stream kept rendering after its client left"
        time.sleep(0.2)
        counts.append(fast_microscope.renders)
