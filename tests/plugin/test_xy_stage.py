"""The XY choke point: the XY template checked by what it renders (gcode_safety) and
PrinterHead's confirmed X/Y moves against a FakePrinter."""

import math
import threading
import time

import pytest

from octoprint_autofocus.focus.errors import Cancelled, MoveRefused, StageError
from octoprint_autofocus.gcode_safety import GcodeRefused, check_xy_lines, check_xy_template, render_xy_template
from octoprint_autofocus.printer_stage import parse_position
from octoprint_autofocus.xy_stage import DEFAULT_XY_TEMPLATE, PrinterHead
from tests.plugin.fakes import FakePrinter

BED = (0.0, 200.0, 0.0, 180.0)


# ~ the XY template


def validate_xy_template(template):
    check_xy_template(template, 3000, BED)


def test_the_default_template_renders_one_xy_move():
    validate_xy_template(DEFAULT_XY_TEMPLATE)
    assert render_xy_template(DEFAULT_XY_TEMPLATE, 10, 20.5, 3000) == ["G0 X10.000 Y20.500 F3000"]
    assert check_xy_lines(["G0 X10.000 Y20.500 F3000"], 10, 20.5).command == "G0"


@pytest.mark.parametrize("template", ["G1 X{x} Y{y}", "G0 X{x:.2f} Y{y:.2f}", "G1 Y{y:.3f} X{x:.3f} F6000",
                                      "G0 X{x} Y{y} ; travel", "G01 X{x:.4f} Y{y:.4f} F{feedrate}"])
def test_other_plain_xy_moves_are_accepted(template):
    validate_xy_template(template)


@pytest.mark.parametrize("template, says", [
    ("G0 X{x:.3f} Y{y:.3f} Z5", "not Z"),
    ("G0 X{x} Y{y} E1", "not E"),
    ("G0 X{x} Y{y}\nG1 Z{x}", "exactly one line"),
    ("G0 X{x} Y{y}\nM400", "exactly one line"),
    ("G0 X{y} Y{x}", "the target"),
    ("G0 X{x:.1f} Y{y:.1f}", "the target"),
    ("G0 X10 Y{y}", "{x} and {y}"),
    ("G0 X{x} Y{y} {z}", "{z}"),
    ("M3 X{x} Y{y}", "G0 or G1"),
    ("G91 X{x} Y{y}", "relative"),
    ("G92 X{x} Y{y}", "coordinates"),
    ("G28 X{x} Y{y}", "homes"),
    ("G0 X{x} Y{y} F0", "feedrate"),
    ("G0 X{x} Y{y} (travel)", "parentheses"),
    ("G0 X{x", "not a valid template"),
    ("G0 X{x:.3q} Y{y}", "not allowed"),
    ("G0 X{x:>9999} Y{y}", "not allowed"),
    ("G0 X{x!r} Y{y}", "not allowed"),
    ("", "{x} and {y}"),
    ("G0 X{x} Y{y} ; " + "a" * 300, "longer than"),
])
def test_templates_that_do_more_or_less_than_the_xy_move_are_refused(template, says):
    with pytest.raises(GcodeRefused) as refused:
        validate_xy_template(template)
    assert says in str(refused.value)


# ~ PrinterHead


@pytest.fixture
def printer():
    with FakePrinter(z=5.0) as fake:
        yield fake


def make_head(printer, **overrides):
    options = dict(bed=BED, xy_feedrate=3000, z_min=1.0, z_max=10.0, feedrate=600, timeout=2.0,
                   )
    options.update(overrides)
    head = PrinterHead(printer, **options)
    printer.add_listener(head.feed_line)
    printer.add_sending_listener(head.note_sending)
    return head


def test_a_position_report_gives_every_axis():
    assert parse_position("ok X:1.50 Y:-2.00 Z:3.00 E:0.00 Count: A:150") == {"X": 1.5, "Y": -2.0, "Z": 3.0, "E": 0.0}
    assert parse_position("X:1.00 Y:2.00") is None  # no Z: not a position report


def test_an_xy_move_is_absolute_confirmed_and_waits(printer):
    head = make_head(printer)
    head.move_xy(50, 60.25)
    sent = printer.sent_lines()
    assert sent == ["G90", "G0 X50.000 Y60.250 F3000", "M400", "M114"]  # G90 from the stage's one writer
    assert (printer.x, printer.y) == (50.0, 60.25)
    head.move_to(4.0)  # Z still works through the same head
    assert printer.z == 4.0


@pytest.mark.parametrize("x, y", [(-0.1, 10), (10, 180.5), (200.01, 0), (math.nan, 10), (10, math.inf)])
def test_targets_outside_the_bed_are_refused_and_nothing_is_sent(printer, x, y):
    head = make_head(printer)
    with pytest.raises(MoveRefused):
        head.move_xy(x, y)
    assert printer.sent == []


def test_the_bed_edges_themselves_are_allowed(printer):
    head = make_head(printer)
    head.move_xy(200.0, 180.0)
    head.move_xy(0.0, 0.0)
    assert (printer.x, printer.y) == (0.0, 0.0)


def test_a_printer_that_ends_elsewhere_fails_the_move(printer):
    head = make_head(printer, xy_template="G0 X{x:.3f} Y{y:.3f} F{feedrate}")
    printer.m114_format = "ok X:1.0 Y:1.0 Z:{z} E:0.0"
    with pytest.raises(StageError, match="reports X1.000 Y1.000"):
        head.move_xy(50, 50)


def test_a_report_without_xy_cannot_confirm_the_move(printer):
    head = make_head(printer)
    printer.m114_format = "ok Z:{z}"
    with pytest.raises(StageError, match="no X and Y"):
        head.move_xy(50, 50)


def test_a_bad_template_or_bed_refuses_the_head(printer):
    with pytest.raises(ValueError):
        make_head(printer, xy_template="G0 X{x} Y{y} Z1")
    with pytest.raises(ValueError):
        make_head(printer, bed=(10, 0, 0, 10))
    with pytest.raises(ValueError):
        make_head(printer, xy_feedrate=0)


def test_cancel_wakes_a_waiting_xy_move(printer):
    cancel = threading.Event()
    head = make_head(printer, cancel=cancel, timeout=30.0)
    printer.answer_m114 = False
    errors = []
    thread = threading.Thread(target=lambda: _record(errors, head.move_xy, 20, 20))
    thread.start()
    time.sleep(0.2)
    cancel.set()
    thread.join(2.0)
    assert not thread.is_alive() and isinstance(errors[0], Cancelled)
    with pytest.raises(Cancelled):
        head.move_xy(30, 30)


def test_an_aborted_head_refuses_further_moves(printer):
    head = make_head(printer)
    head.abort("the printer disconnected")
    with pytest.raises(StageError, match="disconnected"):
        head.move_xy(10, 10)
    assert printer.sent == []


def _record(errors, call, *args):
    try:
        call(*args)
    except Exception as exc:  # the test looks at it
        errors.append(exc)
