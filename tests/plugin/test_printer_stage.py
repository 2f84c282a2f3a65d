"""PrinterStage: G-code templates, M114 parsing and confirmed moves against a FakePrinter."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from octoprint_autofocus.focus.errors import Cancelled, MoveRefused, StageError, StageTimeout
from octoprint_autofocus.printer_stage import PrinterStage, parse_m114
from tests.plugin.fakes import FakePrinter

TAGS = frozenset({"plugin:autofocus"})


@pytest.fixture
def printer():
    with FakePrinter(z=5.0) as fake:
        yield fake


def make_stage(printer, **overrides):
    options = dict(z_min=1.0, z_max=10.0, feedrate=600, timeout=2.0)
    options.update(overrides)
    stage = PrinterStage(printer, **options)
    printer.add_listener(stage.feed_line)
    printer.add_sending_listener(stage.note_sending)
    return stage


# ~ templates


def test_stage_with_bad_template_cannot_be_constructed(printer):
    with pytest.raises(ValueError, match="speed"):
        PrinterStage(printer, z_min=0, z_max=5, feedrate=100, move_template="G1 Z{z} F{speed}")


# ~ parse_m114


@pytest.mark.parametrize(
    "line, z",
    [
        ("X:0.00 Y:0.00 Z:10.00 E:0.00 Count X:0 Y:0 Z:4000", 10.0),
        ("X:0.00 Y:0.00 Z:10.00 E:0.00 Count X: 0 Y:0 Z: 99999", 10.0),
        ("ok X:0.0 Y:0.0 Z:7.25 E:0.0 Count: A:0 B:0 C:725", 7.25),
        ("ok C: X:0.0000 Y:0.0000 Z:3.1000 E:0.0000", 3.1),
        ("X:0.000 Y:0.000 Z:-0.200 E:0.000", -0.2),
        ("// X:10.000 Y:20.000 Z:0.300 E:0.000", 0.3),
        ("X:0.000 Y:0.000 Z:5.000 E0:0.0 E1:0.0 Count 0 0 2000 Machine 0.000 0.000 5.000", 5.0),
        ("X: 1.00 Y: 2.00 Z: 4.50 E: 0.00", 4.5),
        ("X:0.00 Y:0.00 Z:.5 E:0.00", 0.5),
        ("  X:0.00 Y:0.00 Z:12 E:0.00\r\n", 12.0),
    ],
)
def test_position_reports_from_real_firmwares_give_their_z(line, z):
    assert parse_m114(line) == pytest.approx(z)


@pytest.mark.parametrize(
    "line",
    [
        "ok",
        "ok T:210.0 /210.0 B:60.0 /60.0 @:64 B@:0",
        "T:21.3 /0.0 B:20.9 /0.0",
        "Bed X: 110.00 Y: 110.00 Z: 0.23",
        "echo:  M92 X80.00 Y80.00 Z400.00 E93.00",
        "X:0.00 Y:0.00 E:0.00",
        "Count X:0 Y:0 Z:4000",
        "",
    ],
)
def test_lines_that_are_not_position_reports_give_none(line):
    assert parse_m114(line) is None


# ~ moves


def test_move_sends_g90_move_m400_m114_in_order_with_tags(printer):
    stage = make_stage(printer)
    stage.move_to(3.0)
    assert printer.sent_lines() == ["G90", "G1 Z3.000 F600", "M400", "M114"]
    assert all(TAGS <= tags for _, tags in printer.sent)
    assert printer.z == pytest.approx(3.0)


@pytest.mark.parametrize("target", [0.4, 10.5, float("nan")])
def test_move_outside_limits_is_refused_and_sends_nothing(printer, target):
    stage = make_stage(printer)
    with pytest.raises(MoveRefused):
        stage.move_to(target)
    assert printer.sent == []


@pytest.mark.parametrize("template", ["G1 Z{z:.3f} F{feedrate}", "M280 P0 S{z:.0f}"], ids=["z_move", "servo"])
@pytest.mark.parametrize("target, limit", [(10.1, "ceiling"), (10.001, "ceiling"), (0.999, "floor"), (0.9, "floor")])
def test_a_target_just_past_a_limit_is_refused_by_move_to_itself(printer, template, target, limit):
    stage = make_stage(printer, move_template=template)
    with pytest.raises(MoveRefused, match=r"refusing Z%.2f: \w+ %s" % (target, limit)):
        stage.move_to(target)
    assert printer.sent == []


def test_refusal_message_names_target_and_limit(printer):
    stage = make_stage(printer)
    with pytest.raises(MoveRefused, match=r"refusing Z0\.40: below floor 1\.00"):
        stage.move_to(0.4)
    with pytest.raises(MoveRefused, match=r"refusing Z12\.00: above ceiling 10\.00"):
        stage.move_to(12)


def test_moves_to_the_exact_limits_are_allowed(printer):
    stage = make_stage(printer)
    stage.move_to(1.0)
    stage.move_to(10.0)
    assert printer.z == pytest.approx(10.0)


def test_custom_gcode_is_sent_checked_with_g90_before_a_move(printer):
    stage = make_stage(printer)
    stage.send(["M42 P4 S255", "G1 Z9.5 F300"])
    assert printer.sent_lines() == ["G90", "M42 P4 S255", "G1 Z9.5 F300"]
    stage.send(["M117 done"])
    assert printer.sent_lines()[-1] == "M117 done" and printer.sent_lines().count("G90") == 1


@pytest.mark.parametrize("first", ["G4 P10", "M117 moving", "M400"])
def test_g90_goes_before_the_first_move_whatever_comes_before_it(printer, first):
    stage = make_stage(printer)
    stage.send([first, "G1 Z9.5 F300"])
    assert printer.sent_lines() == ["G90", first, "G1 Z9.5 F300"]


@pytest.mark.parametrize("lines", [["M42 P4", "G1 Z50"], ["G28"], ["G 91", "G1 Z2"], ["G92 Z0"], ["G92 Z5"]])
def test_custom_gcode_with_a_refused_line_sends_nothing(printer, lines):
    stage = make_stage(printer)
    with pytest.raises(MoveRefused):
        stage.send(lines)
    assert printer.sent == []


@pytest.mark.parametrize("template", ["G1 Z{z:.3f}\nG28", "G1 Z{z:.1f}", "G91\nG1 Z{z:.3f}"])
def test_every_move_is_checked_by_what_its_template_renders_not_only_at_construction(printer, template):
    stage = make_stage(printer)
    stage.move_template = template  # swapped after the construction-time check
    with pytest.raises(MoveRefused):
        stage.move_to(3.14159)
    assert printer.sent == []


def test_nothing_is_sent_once_cancelled_or_aborted(printer):
    cancel = threading.Event()
    stage = make_stage(printer, cancel=cancel)
    cancel.set()
    for send in (lambda: stage.send(["M117 after"]), lambda: stage.set_position(5.0), lambda: stage.move_to(5.0)):
        with pytest.raises(Cancelled):
            send()
    other = make_stage(printer)
    other.abort("the print was paused")
    with pytest.raises(StageError, match="paused"):
        other.send(["M117 after"])
    assert printer.sent == []


def test_set_position_sends_g92_inside_the_limits_and_returns_the_reported_z(printer):
    stage = make_stage(printer)
    assert stage.set_position(7.25) == pytest.approx(7.25)
    assert printer.sent_lines() == ["G92 Z7.250", "M400", "M114"]


@pytest.mark.parametrize("z", [10.001, 0.999, 5000.0, float("nan")])
def test_set_position_outside_the_limits_sends_nothing(printer, z):
    stage = make_stage(printer)
    with pytest.raises(MoveRefused, match="refusing to set Z%.3f: outside the Z limits 1.000 to 10.000 mm" % z):
        stage.set_position(z)
    assert printer.sent == []


@pytest.mark.parametrize("z", [1.0, 10.0])
def test_set_position_at_a_limit_is_allowed(printer, z):
    stage = make_stage(printer)
    assert stage.set_position(z) == pytest.approx(z)


def test_position_sends_m400_m114_and_returns_reported_z(printer):
    stage = make_stage(printer)
    assert stage.position() == pytest.approx(5.0)
    assert printer.sent_lines() == ["M400", "M114"]


@pytest.mark.parametrize("template", ["G1 Z{z:%}", "G1 Z{z:.3f}\nG28", "G1 Z{z:>5000}", "G1 Z1{z:.3f}"])
def test_stage_with_a_template_that_renders_unsafe_lines_cannot_be_constructed(printer, template):
    with pytest.raises(ValueError):
        make_stage(printer, move_template=template)
    assert printer.sent == []


def test_servo_template_skips_g90_and_the_z_check(printer):
    stage = make_stage(printer, move_template="M280 P0 S{z:.0f}")
    stage.move_to(7.0)
    assert printer.sent_lines() == ["M280 P0 S7", "M400", "M114"]


def test_reported_z_off_target_raises_stage_error_with_numbers(printer):
    printer.z_error = 0.2
    stage = make_stage(printer, tolerance=0.05)
    with pytest.raises(StageError, match=r"Z3\.200 after a move to Z3\.000"):
        stage.move_to(3.0)


@pytest.mark.parametrize("error", [0.009, -0.009, 0.011, -0.011])
def test_reported_z_within_tolerance_is_accepted(printer, error):
    printer.z_error = error
    stage = make_stage(printer, tolerance=0.01)
    if abs(error) < 0.01:
        stage.move_to(3.0)  # accepted: returns after one move, no error
    else:
        with pytest.raises(StageError, match="tolerance 0.010 mm"):
            stage.move_to(3.0)
    assert printer.sent_lines() == ["G90", "G1 Z3.000 F600", "M400", "M114"]


def test_unanswered_m114_raises_stage_timeout(printer):
    printer.answer_m114 = False
    stage = make_stage(printer, timeout=0.2, feedrate=60000)
    started = time.monotonic()
    with pytest.raises(StageTimeout, match="M114"):
        stage.move_to(3.0)
    assert time.monotonic() - started < 5.0


def test_timeout_grows_with_distance_over_feedrate(printer):
    printer.answer_m114 = False
    clock = iter([0.0, 1000.0]).__next__  # the deadline is set, then it has passed
    stage = make_stage(printer, timeout=0.1, feedrate=60, clock=clock)  # 1 mm/s
    with pytest.raises(StageTimeout, match=r"within 18\.1 s"):  # 0.1 + 2 * 9 mm / (1 mm/s)
        stage.move_to(10.0)


class SteppingClock:
    """A clock that stands still until ``jump`` is set, then leaps 1000 s at every reading
    after the next (a deadline set at that reading has passed at the following one)."""

    def __init__(self):
        self.now = 0.0
        self.jump = False

    def __call__(self):
        value = self.now
        if self.jump:
            self.now += 1000.0
        return value


def test_the_time_allowed_follows_the_distance_from_the_last_confirmed_z(printer):
    clock = SteppingClock()
    stage = make_stage(printer, timeout=0.1, feedrate=60, clock=clock)  # 1 mm/s
    stage.move_to(5.0)  # confirmed: the next move starts from Z5
    printer.answer_m114 = False
    clock.jump = True
    with pytest.raises(StageTimeout, match=r"within 2\.1 s"):  # 0.1 + 2 * 1 mm / (1 mm/s), not the whole range
        stage.move_to(6.0)


def test_without_a_timeout_a_move_is_allowed_ten_seconds_plus_travel(printer):
    clock = SteppingClock()
    stage = PrinterStage(printer, z_min=1.0, z_max=10.0, feedrate=600, clock=clock)
    printer.add_listener(stage.feed_line)
    printer.add_sending_listener(stage.note_sending)
    printer.answer_m114 = False
    clock.jump = True
    with pytest.raises(StageTimeout, match=r"within 11\.8 s"):  # 10 s + 2 * 9 mm / (10 mm/s)
        stage.move_to(3.0)


@pytest.mark.parametrize("error, ok", [(0.009, True), (-0.009, True), (0.02, False), (-0.02, False)])
def test_without_a_tolerance_the_printer_may_miss_a_move_by_a_hundredth(printer, error, ok):
    stage = PrinterStage(printer, z_min=1.0, z_max=10.0, feedrate=600, timeout=2.0)
    printer.add_listener(stage.feed_line)
    printer.add_sending_listener(stage.note_sending)
    printer.z_error = error
    if ok:
        stage.move_to(3.0)
    else:
        with pytest.raises(StageError, match="tolerance 0.010 mm"):
            stage.move_to(3.0)


def test_a_waiting_move_sleeps_between_its_looks_at_cancel(printer):
    readings = []

    def clock():
        readings.append(time.monotonic())
        return readings[-1]

    printer.answer_m114 = False
    cancel = threading.Event()
    stage = make_stage(printer, cancel=cancel, timeout=60.0, clock=clock)
    threading.Timer(0.3, cancel.set).start()
    with pytest.raises(Cancelled):
        stage.move_to(3.0)
    assert 3 <= len(readings) < 100  # about one look per WAIT_SLICE (0.05 s), no busy loop


@pytest.mark.parametrize("late", [0.0, 0.5])
def test_a_move_times_out_when_a_coarse_clock_stands_at_its_deadline(printer, late):
    readings = iter([0.0])  # the deadline is set at 0 s: 1 s + 2 * 9 mm / (1 mm/s) = 19 s
    cancel = threading.Event()
    stage = make_stage(printer, timeout=1.0, feedrate=60, cancel=cancel, clock=lambda: next(readings, 19.0 + late))
    printer.answer_m114 = False
    with ThreadPoolExecutor(1) as pool:
        moving = pool.submit(stage.move_to, 3.0)
        try:
            error = moving.exception(timeout=5.0)
        finally:
            cancel.set()  # ends a wait that would never end
    assert isinstance(error, StageTimeout)


def test_cancel_wakes_a_waiting_move_promptly(printer):
    printer.answer_m114 = False
    cancel = threading.Event()
    stage = make_stage(printer, cancel=cancel, timeout=60.0)
    threading.Timer(0.1, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        stage.move_to(3.0)
    assert time.monotonic() - started < 2.0


def test_cancelled_stage_sends_nothing(printer):
    cancel = threading.Event()
    cancel.set()
    stage = make_stage(printer, cancel=cancel)
    with pytest.raises(Cancelled):
        stage.move_to(3.0)
    assert printer.sent == []


def test_abort_wakes_a_waiting_move_and_refuses_further_moves(printer):
    printer.answer_m114 = False
    stage = make_stage(printer, timeout=60.0)
    threading.Timer(0.1, stage.abort, args=("printer disconnected",)).start()
    with pytest.raises(StageError, match="printer disconnected"):
        stage.move_to(3.0)
    sent_before = len(printer.sent)
    with pytest.raises(StageError, match="printer disconnected"):
        stage.move_to(4.0)
    assert len(printer.sent) == sent_before


def test_a_connection_lost_during_a_move_is_reported_with_the_reason_the_plugin_gives(printer):
    printer.answer_m114 = False
    stage = make_stage(printer, timeout=60.0)
    printer.add_sending_listener(lambda line, tags: setattr(printer, "operational", line != "M114"))
    threading.Timer(0.3, stage.abort, args=("printer disconnected",)).start()  # the plugin's event handler
    with pytest.raises(StageError, match="printer disconnected"):  # not a generic "not operational"
        stage.move_to(3.0)


def test_printer_not_operational_raises_stage_error_and_sends_nothing(printer):
    printer.operational = False
    stage = make_stage(printer)
    with pytest.raises(StageError, match="not operational"):
        stage.move_to(3.0)
    with pytest.raises(StageError, match="not operational"):
        stage.position()
    assert printer.sent == []


def test_position_line_before_the_request_is_not_taken_as_the_answer(printer):
    stage = make_stage(printer)
    printer.receive("X:0.00 Y:0.00 Z:9.99 E:0.00")
    assert printer.wait_idle()
    stage.move_to(3.0)
    assert stage.position() == pytest.approx(3.0)


def test_late_reply_to_a_timed_out_request_does_not_answer_the_next_one(printer):
    printer.answer_m114 = False
    stage = make_stage(printer, timeout=0.1, feedrate=60000)
    with pytest.raises(StageTimeout):
        stage.move_to(3.0)
    printer.receive("X:0.00 Y:0.00 Z:2.50 E:0.00")  # the reply that came too late
    printer.answer_m114 = True
    stage.move_to(4.0)
    assert printer.z == pytest.approx(4.0)


def test_a_position_reported_during_m400_is_not_the_answer(printer):
    printer.autoreport_in_m400 = True
    stage = make_stage(printer)
    for target in (3.0, 7.0, 2.0):
        stage.move_to(target)
    assert printer.z == pytest.approx(2.0)


def test_a_position_reported_during_m400_never_answers_even_without_a_later_reply(printer):
    printer.autoreport_in_m400 = True  # a stale Z5 comes in while M400 waits...
    printer.answer_m114 = False  # ...and the M114 is never answered
    stage = make_stage(printer, timeout=0.3, feedrate=60000)
    with pytest.raises(StageTimeout):
        stage.move_to(3.0)


def test_an_m114_rewritten_with_parameters_on_its_way_out_still_counts(printer):
    stage = PrinterStage(printer, z_min=1.0, z_max=10.0, feedrate=60000, timeout=0.3)
    printer.add_listener(stage.feed_line)  # another plugin's sending hook made it Marlin's M114 R (real position)
    printer.add_sending_listener(lambda line, tags: stage.note_sending("M114 R" if line == "M114" else line, tags))
    stage.move_to(3.0)
    assert printer.z == pytest.approx(3.0)


def test_a_position_reported_before_any_request_does_not_make_a_later_report_the_answer(printer):
    stage = make_stage(printer, timeout=0.3, feedrate=60000)
    printer.receive("X:0.00 Y:0.00 Z:5.00 E:0.00")  # an auto-report before this stage asked anything
    assert printer.wait_idle()
    printer.autoreport_in_m400 = True  # another one comes in while M400 waits...
    printer.answer_m114 = False  # ...and the M114 is never answered
    with pytest.raises(StageTimeout):
        stage.move_to(3.0)


def test_only_this_stages_m114_counts(printer):
    stage = make_stage(printer, timeout=0.3, feedrate=60000)
    other = make_stage(printer)
    other.position()  # another stage's M114 and its reply do not answer ours
    printer.answer_m114 = False
    with pytest.raises(StageTimeout):
        stage.position()


def test_feed_line_ignores_unrelated_lines_without_blocking(printer):
    stage = make_stage(printer)
    started = time.monotonic()
    for _ in range(1000):
        stage.feed_line("ok T:210.0 /210.0 B:60.0 /60.0")
    assert time.monotonic() - started < 1.0
    stage.move_to(2.0)
    assert printer.z == pytest.approx(2.0)


@pytest.mark.parametrize(
    "options, message",
    [(dict(z_min=5, z_max=5), "must be below"), (dict(z_min=6, z_max=5), "must be below"),
     (dict(feedrate=0), "feedrate must be positive"), (dict(feedrate=-1), "feedrate must be positive"),
     (dict(tolerance=-1), "need tolerance"), (dict(timeout=0), "need tolerance"), (dict(timeout=-1), "need tolerance")],
)
def test_invalid_construction_arguments_raise_value_error(printer, options, message):
    with pytest.raises(ValueError, match=message):
        make_stage(printer, **options)


def test_the_limits_must_be_named(printer):
    with pytest.raises(TypeError):  # PrinterStage(printer, 10.0, 1.0, ...) cannot swap them unnoticed
        PrinterStage(printer, 1.0, 10.0, 600)


def test_a_feedrate_below_one_mm_per_minute_is_a_valid_slow_feedrate(printer):
    stage = make_stage(printer, feedrate=0.5)
    stage.move_to(5.5)
    assert printer.sent_lines()[1] == "G1 Z5.500 F0.5"


def test_tolerance_zero_accepts_a_move_the_printer_reports_exactly(printer):
    stage = make_stage(printer, tolerance=0.0)
    stage.move_to(3.0)
    printer.z_error = 0.001
    with pytest.raises(StageError, match="tolerance 0.000 mm"):
        stage.move_to(4.0)
