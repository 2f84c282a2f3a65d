"""PositionTracker: Z from the printer's answers, stale after moves, pushed throttled."""

import threading
import time

import pytest

from octoprint_autofocus.position import PositionTracker, moves_z


class Recorder:
    def __init__(self, idle=True):
        self.pushes = []
        self.asked = 0
        self.idle = idle
        self.lock = threading.Lock()

    def push(self, data):
        with self.lock:
            self.pushes.append(dict(data))

    def ask(self):
        with self.lock:
            self.asked += 1
        return self.idle


@pytest.fixture
def tracked():
    recorder = Recorder()
    tracker = PositionTracker(recorder.push, recorder.ask, min_interval=0.05, quiet=0.05)
    tracker.start()
    yield tracker, recorder
    tracker.stop()


def until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize(
    "line, moves",
    [
        ("G1 Z4.2 F600", True),
        ("G0 X10 Z-0.5", True),
        ("N12 G1 Z.5*93", True),
        ("G28", True),
        ("G92 Z0", True),
        ("G1 X10 Y10", False),
        ("G10", False),
        ("G1 E2.5", False),
        ("M114", False),
        ("G280 Z1", False),
    ],
)
def test_lines_that_may_change_z_are_recognised(line, moves):
    assert moves_z(line) is moves


def test_position_is_unknown_until_the_printer_answers(tracked):
    tracker, _ = tracked
    assert tracker.snapshot() == {"z": None, "state": "unknown"}
    tracker.feed_line("ok T:21.0 /0.0 B:21.0 /0.0")
    assert tracker.snapshot()["state"] == "unknown"
    tracker.feed_line("X:0.00 Y:0.00 Z:4.25 E:0.00 Count X:0 Y:0 Z:17000")
    assert tracker.snapshot() == {"z": 4.25, "state": "known"}


def test_an_answer_is_pushed_and_a_burst_is_throttled_to_the_latest(tracked):
    tracker, recorder = tracked
    for i in range(50):
        tracker.feed_line("ok X:0 Y:0 Z:%.2f E:0" % (1 + i / 100))
    assert until(lambda: recorder.pushes and recorder.pushes[-1]["z"] == pytest.approx(1.49))
    assert len(recorder.pushes) < 10


def test_a_z_move_makes_the_position_stale_until_the_next_answer(tracked):
    tracker, recorder = tracked
    tracker.feed_line("ok X:0 Y:0 Z:4.0 E:0")
    tracker.note_sent("G1 Z4.5 F600", {"plugin:autofocus"})
    assert tracker.snapshot() == {"z": 4.0, "state": "moving"}
    tracker.feed_line("ok X:0 Y:0 Z:4.5 E:0")
    assert tracker.snapshot() == {"z": 4.5, "state": "known"}
    assert until(lambda: recorder.pushes and recorder.pushes[-1] == {"z": 4.5, "state": "known"})


def test_after_a_move_of_someone_else_the_position_is_asked_for(tracked):
    tracker, recorder = tracked
    tracker.note_sent("G1 Z3 F600", {"source:api"})
    assert until(lambda: recorder.asked == 1)


def test_the_plugins_own_moves_are_answered_by_its_own_m114_so_nothing_is_asked(tracked):
    tracker, recorder = tracked
    tracker.note_sent("G1 Z3 F600", {"plugin:autofocus", "plugin:autofocus:stage-1:3"})
    tracker.ask_soon()  # a probe that the worker is alive and asks when told to
    assert until(lambda: recorder.asked == 1)
    time.sleep(0.2)
    assert recorder.asked == 1


def test_an_answer_before_the_quiet_time_cancels_the_question(tracked):
    tracker, recorder = tracked
    tracker.quiet = 0.3
    tracker.note_sent("G91", None)
    tracker.note_sent("G1 Z0.1", None)
    tracker.feed_line("ok X:0 Y:0 Z:4.1 E:0")
    time.sleep(0.5)
    assert recorder.asked == 0


def test_reset_forgets_the_position(tracked):
    tracker, recorder = tracked
    tracker.feed_line("ok X:0 Y:0 Z:4.0 E:0")
    tracker.reset()
    assert tracker.snapshot() == {"z": None, "state": "unknown"}
    assert until(lambda: recorder.pushes and recorder.pushes[-1]["state"] == "unknown")


def test_stop_ends_the_worker_promptly():
    recorder = Recorder()
    tracker = PositionTracker(recorder.push, recorder.ask, min_interval=5.0)
    tracker.start()
    tracker.feed_line("ok X:0 Y:0 Z:4.0 E:0")
    assert until(lambda: recorder.pushes)
    started = time.monotonic()
    tracker.stop()
    assert time.monotonic() - started < 1.0
