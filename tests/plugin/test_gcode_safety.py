"""What a line the plugin sends may do: parsing any spelling, templates by what they render."""

import re
import time
import tracemalloc

import pytest

from octoprint_autofocus import gcode_safety
from octoprint_autofocus.gcode_safety import (
    GcodeRefused,
    _target_text,
    check_custom_gcode,
    check_lines,
    check_move_lines,
    check_move_template,
    check_xy_lines,
    check_xy_template,
    parse_line,
    render_move_template,
    render_xy_template,
)

LIMITS = (0.0, 20.0)


@pytest.mark.parametrize(
    "text, command",
    [
        ("G91", "G91"),
        ("G091", "G91"),
        ("g91", "G91"),
        ("G 91", "G91"),
        ("N1 G91", "G91"),
        ("N12 G91*57", "G91"),
        ("G91.0", "G91"),
        ("G92.0 Z0", "G92"),
        ("G92.1", "G92.1"),
        ("G1Z5", "G1"),
        ("  G01 Z5 ; comment G28", "G1"),
        ("M117 Hello G28 Z100", "M117"),
        ("SET_GCODE_OFFSET Z=1", "SET_GCODE_OFFSET"),
        ("; only a comment", ""),
        ("@pause", "@"),
    ],
)
def test_a_line_is_read_like_firmware_reads_it(text, command):
    assert parse_line(text).command == command


@pytest.mark.parametrize(
    "text",
    ["G1 Z5 G91", "G1 Z5 Z150", "G1 (Z100) Z5", "G1 Z1e2", "G1 Z5 %", "G1 Z 5 junk", "Z5", "1 G1 Z5", "G1 X",
     "G1 junk Z5", "G1 % Z5", "G1%Z5"],
)
def test_a_line_that_could_be_read_two_ways_is_refused(text):
    with pytest.raises(GcodeRefused):
        parse_line(text)


@pytest.mark.parametrize(
    "text",
    ["G91", "G091", "G 91", "N1 G91", "G20", "G92 Z0", "G92.0 Z0", "G92.1", "G28", "G28 Z", "G29", "G30",
     "M211 S0", "M120", "M121", "M420 S1", "M206 Z1", "M290 Z0.1", "M84", "G61", "G27", "M600", "G10 L20 Z0",
     "G54", "SET_GCODE_OFFSET Z=1", "SET_KINEMATIC_POSITION Z=0", "FORCE_MOVE STEPPER=stepper_z DISTANCE=5",
     "$H", "$J=G91 Z1", "@AUTOFOCUS", "G38.2 Z-5"],
)
def test_homing_relative_coordinate_endstop_and_self_moving_commands_are_refused(text):
    with pytest.raises(GcodeRefused):
        check_lines([text], LIMITS)


@pytest.mark.parametrize("text", ["G1 Z20.001", "G0 Z-0.001", "G1 Z150", "G2 Z30 I1 J1", "MY_MACRO Z=1", "M42 Z5"])
def test_a_z_outside_the_limits_or_outside_a_move_is_refused(text):
    with pytest.raises(GcodeRefused):
        check_lines([text], LIMITS)


def test_lines_inside_the_limits_pass():
    lines = check_lines(["G1 Z20", "G0 Z0 F300", "M42 P4 S255", "G4 P100", "T0", "LIGHTS_ON", "M117 Z100"], LIMITS)
    assert [line.command for line in lines] == ["G1", "G0", "M42", "G4", "T0", "LIGHTS_ON", "M117"]


def test_set_position_allows_only_a_z_only_g92_inside_the_limits():
    assert check_lines(["G92 Z10"], LIMITS, set_position=True)[0].word("Z") == 10.0
    for text in ("G92 Z30", "G92 X0 Z10", "G92 Z10 E0", "G92", "G28", "G28 Z0", "G10 Z0", "M206 Z1", "M851 Z-1",
                 "G92.1 Z1", "M428 Z1"):
        with pytest.raises(GcodeRefused):
            check_lines([text], LIMITS, set_position=True)


def test_an_over_long_line_is_refused():
    with pytest.raises(GcodeRefused):
        check_lines(["M117 " + "x" * 100], LIMITS)


# ~ move templates


@pytest.mark.parametrize(
    "template",
    ["G1 Z{z:.3f} F{feedrate}", "G0 Z{z:.4f} F{feedrate:.0f}", "M280 P0 S{z:.0f}",
     "G1 Z{z:.3f} F{feedrate}\nG4 P200", "G90\nG1 Z{z:.3f}", "G1Z{z:.3f}"],
)
def test_sensible_templates_are_accepted(template):
    check_move_template(template, 600, LIMITS)


@pytest.mark.parametrize(
    "template",
    [
        "G1 Z{z:%}",
        "G1 Z1{z:.3f}",
        "G1 Z-{z:.3f}",
        "G1 Z{z:.3f}\nG1 Z150",
        "G1 Z{z:.3f}\nG28",
        "G1 Z{z:.3f}\nM211 S0",
        "G1 Z{z:.3f}\nG92.0 Z0",
        "G091\nG1 Z{z:.3f}",
        "G 91\nG1 Z{z:.3f}",
        "N1 G91\nG1 Z{z:.3f}",
        "G1 Z{z:{feedrate}}",
        "G1 Z{z:>5000}",
        "G1 Z{z:999999999}",
        "G1 Z{z:,.3f}",
        "G1 Z{z:.9f}",
        "G1 Z{z!r}",
        "G1 Z{z.real}",
        "G1 Z{z[0]}",
        "G1 Z{z}",  # 1e-05 near 0
        "G1 Z{z:.2f}",  # not the target
        "G1 Z{z:.0f}",
        "G1 Z{z:.3f} X10",
        "G1 Z{z:.3f} E1",
        "G1 F{feedrate}",
        "G1 Z{z:.3f} F0",
        "G1 Z{z:.3f}\nG4 S60",
        "M42 P4 S{z:.0f}",
        "G1 Z{z:.3f}\n" * 5,
        "G1 Z{z:.3f} ;" + "x" * 200,
        "G1 Z{z:.3f} {{",
    ],
)
def test_unsafe_or_wrong_templates_are_refused_by_what_they_render(template):
    with pytest.raises(GcodeRefused):
        check_move_template(template, 600, LIMITS)


def test_the_servo_template_does_not_count_as_a_z_move_and_the_default_does():
    assert check_move_template("M280 P0 S{z:.0f}", 600, LIMITS) is False
    assert check_move_template("G1 Z{z:.3f} F{feedrate}", 600, LIMITS) is True


def test_a_huge_format_spec_is_refused_before_anything_is_rendered():
    tracemalloc.start()
    started = time.monotonic()
    for template in ("G1 Z{z:999999999}", "G1 Z{z:.999999999f}", "G1 Z{z:>{feedrate}}"):
        with pytest.raises(GcodeRefused):
            render_move_template(template, 1.0, 600)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1_000_000 and time.monotonic() - started < 1.0


def test_rendered_moves_must_reach_exactly_the_target():
    check_move_lines(["G1 Z4.400 F600"], 4.4, LIMITS)
    with pytest.raises(GcodeRefused):
        check_move_lines(["G1 Z14.400 F600"], 4.4, LIMITS)


# ~ custom G-code


def test_custom_gcode_with_z_outside_the_limits_is_refused_and_names_the_line():
    with pytest.raises(GcodeRefused, match="G1 Z50"):
        check_custom_gcode("M42 P4 S255\nG1 Z50\n", LIMITS)


def test_custom_gcode_may_switch_lights_and_move_within_the_limits():
    lines = check_custom_gcode("M42 P4 S255\n\nG1 Z10 F600\nM117 focusing", LIMITS)
    assert len(lines) == 3


def test_custom_gcode_has_a_line_limit():
    with pytest.raises(GcodeRefused):
        check_custom_gcode("M117 x\n" * 51, LIMITS)


# ~ the limits, exactly at and just past each


def test_a_line_of_80_characters_passes_and_81_is_refused():
    assert check_lines(["M117 " + "x" * 75], LIMITS)[0].command == "M117"
    with pytest.raises(GcodeRefused, match="longer than 80 characters"):
        check_lines(["M117 " + "x" * 76], LIMITS)


def _template_of(length):
    """A move template of ``length`` characters (at least 200): a move and three messages."""
    pad = (length - 29) // 3
    return "\n".join(["G1 Z{z:.3f}"] + ["M117 " + "x" * pad] * 2 + ["M117 " + "x" * (length - 29 - 2 * pad)])


def test_a_template_of_200_characters_is_accepted_and_201_refused():
    assert len(_template_of(200)) == 200 and len(_template_of(201)) == 201
    assert len(render_move_template(_template_of(200), 1.0, 600)) == 4
    assert check_move_template(_template_of(200), 600, LIMITS) is True
    for check in (lambda t: render_move_template(t, 1.0, 600), lambda t: check_move_template(t, 600, LIMITS)):
        with pytest.raises(GcodeRefused, match="longer than 200 characters"):
            check(_template_of(201))


def test_a_template_may_render_four_lines():
    assert check_move_template("G1 Z{z:.3f}\nG4 P1\nM400\nM117 focusing", 600, LIMITS) is True


def test_custom_gcode_may_have_50_lines():
    assert len(check_custom_gcode("M117 x\n" * 50, LIMITS)) == 50


@pytest.mark.parametrize("line", ["G1 Z4.401", "G1 Z4.399", "G1 Z4.4 F100000", "G1 Z4.4 F0.001", "G4 P10000",
                                  "G4 S10", "G4 P0", "G4 S0"])
def test_move_lines_at_the_edge_of_what_a_template_may_render_pass(line):
    assert check_move_lines([line], 4.4, LIMITS)[0].text == line


@pytest.mark.parametrize("line, reason", [
    ("G1 Z4.4012", "must go to the target"), ("G1 Z4.3988", "must go to the target"),
    ("G1 Z4.4 F100001", "feedrate must be above 0"), ("G1 Z4.4 F0", "feedrate must be above 0"),
    ("G1 Z4.4 F-1", "feedrate must be above 0"), ("G4 P10001", "dwell may last at most 10 s"),
    ("G4 S10.001", "dwell may last at most 10 s"), ("G4 P-1", "dwell may last at most 10 s"),
    ("G4 S-0.001", "dwell may last at most 10 s"), ("G4 O11", "dwell may last at most 10 s"),  # not P: seconds
])
def test_move_lines_just_past_what_a_template_may_render_are_refused(line, reason):
    with pytest.raises(GcodeRefused, match=reason):
        check_move_lines([line], 4.4, LIMITS)


def test_templates_are_tried_within_a_narrow_range_too():
    narrow = (0.0, 1.0)
    assert check_move_template("G1 Z{z:.3f} F{feedrate}", 600, narrow) is True
    assert check_move_template("G1 Z{z:.3f} F{feedrate}", 600, (1.0, 1.003)) is True  # 3 micrometres
    assert check_move_template("G1 Z{z:.3f} F{feedrate}", 600, (1.0049, 1.0051)) is True  # 0.2 micrometres
    with pytest.raises(GcodeRefused, match="must go to the target"):  # {z:.2f} is caught at 0.374
        check_move_template("G1 Z{z:.2f} F{feedrate}", 600, narrow)


@pytest.mark.parametrize("line", ["G0 X10.005 Y20.5", "G0 X10 Y20.4945", "G0 X10 Y20.5 F100000", "G1 X10 Y20.5 F0.5"])
def test_xy_lines_at_the_edge_of_what_an_xy_template_may_render_pass(line):
    assert check_xy_lines([line], 10.0, 20.5).text == line


@pytest.mark.parametrize("line, reason", [
    ("G0 X10.007 Y20.5", "the target"), ("G0 X10 Y20.493", "the target"), ("G0 Y20.5", "the target"),
    ("G0 X10 Y20.5 F100001", "feedrate"), ("G0 X10 Y20.5 F0", "feedrate"), ("G0 X10 Y20.5 F-1", "feedrate"),
])
def test_xy_lines_just_past_what_an_xy_template_may_render_are_refused(line, reason):
    with pytest.raises(GcodeRefused, match=reason):
        check_xy_lines([line], 10.0, 20.5)


def test_an_xy_template_of_200_characters_renders_and_201_is_refused():
    template = "G0 X{x:.3f} Y{y:.3f} F{feedrate} ;" + "x" * 166
    assert len(template) == 200 and len(render_xy_template(template, 1, 2, 3000)) == 1
    with pytest.raises(GcodeRefused, match="longer than 80 characters"):  # what it renders is too long
        check_xy_template(template, 3000, (0, 200, 0, 180))
    for check in (lambda t: render_xy_template(t, 1, 2, 3000), lambda t: check_xy_template(t, 3000, (0, 200, 0, 180))):
        with pytest.raises(GcodeRefused, match="longer than 200 characters"):
            check(template + "x")


def test_an_unknown_placeholder_is_answered_with_every_name_a_template_may_use():
    with pytest.raises(GcodeRefused, match=r"use \{z\} and \{feedrate\}"):
        check_move_template("G1 Z{z:.3f} F{speed}", 600, LIMITS)
    with pytest.raises(GcodeRefused, match=r"use \{x\}, \{y\} and \{feedrate\}"):
        check_xy_template("G0 X{x} Y{y} F{speed}", 3000, (0, 200, 0, 180))


@pytest.mark.parametrize("limits", [(50.0, 60.0), (-60.0, -50.0), (250.0, 250.5)])
def test_templates_are_checked_within_a_z_range_far_from_zero(limits):
    assert check_move_template("G1 Z{z:.3f} F{feedrate}", 600, limits) is True


def test_a_checked_line_cannot_be_changed_afterwards():
    line = check_lines(["G1 Z5"], LIMITS)[0]
    with pytest.raises(AttributeError):  # dataclasses.FrozenInstanceError
        line.command = "G28"


@pytest.mark.parametrize("bed, pad", [((0, 200, 0, 600), 58), ((0, 200, 0, 1), 60), ((100, 200, 0, 600), 58),
                                      ((100, 200, 0, 1), 60)])
def test_an_xy_template_may_render_up_to_80_characters_anywhere_on_the_bed(bed, pad):
    template = "G0 X{x:.3f} Y{y:.3f} ;" + "x" * pad
    assert len(render_xy_template(template, bed[1], bed[3], 3000)[0]) == 80  # the longest, at a corner
    check_xy_template(template, 3000, bed)


@pytest.mark.parametrize("template, shown", [("G1 Z{z!r}", "{z!r}"), ("G1 Z{z:>5000}", "{z:>5000}"),
                                             ("G1 Z{z!s:.3f}", "{z!s:.3f}")])
def test_a_placeholder_that_is_not_allowed_is_quoted_as_written(template, shown):
    with pytest.raises(GcodeRefused, match=re.escape(shown + " is not allowed")):
        check_move_template(template, 600, LIMITS)


@pytest.mark.parametrize("limits", [(-1.0, 0.0), (-1.0, -0.000005)])
def test_a_plain_z_template_is_refused_over_a_range_below_zero(limits):
    with pytest.raises(GcodeRefused, match="not G-code words|exponent"):  # Z-1e-05 near 0 from below
        check_move_template("G1 Z{z}", 600, limits)


def test_xy_lines_must_be_exactly_one():
    for lines in ([], ["G0 X1 Y2", "G0 X1 Y2"]):
        with pytest.raises(GcodeRefused, match="exactly one line"):
            check_xy_lines(lines, 1.0, 2.0)


@pytest.mark.parametrize("text", ["M117 focusing (1", "M117 focusing 1)", "G1 Z5 (", "G1 Z5 )"])
def test_a_single_parenthesis_is_refused_even_in_a_message(text):
    with pytest.raises(GcodeRefused, match="parentheses"):
        check_lines([text], LIMITS)


def test_an_xy_word_exactly_the_rounding_allowance_off_passes():
    assert check_xy_lines(["G0 X0.006 Y-0.006"], 0.0, 0.0).word("X") == 0.006  # 0.006 mm: a template rounding


def test_a_refused_template_names_its_target_in_millimetres_as_precisely_as_it_matters():
    with pytest.raises(GcodeRefused) as refused:
        check_move_template("G1 Z{z:.3f} F{feedrate}\nG28", 600, (0.0, 100.0))
    assert str(refused.value).startswith('for the target Z 0.000 mm, "G28": ')
    assert [_target_text(z) for z in (0.0, 0.00001, 9.99951, 100.0)] == ["0.000", "0.00001", "9.99951", "100.000"]


def test_set_position_must_be_named():
    with pytest.raises(TypeError):  # check_lines(lines, limits, True) cannot let a G92 through unnoticed
        check_lines(["G92 Z5"], LIMITS, True)


def test_a_rendered_z_exactly_the_rounding_allowance_off_passes():
    assert check_move_lines(["G1 Z0.0011"], 0.0, LIMITS)[0].word("Z") == 0.0011


def test_an_xy_line_with_a_z_word_is_refused_for_the_z_word_wherever_z_is():
    for z in ("-1", "5"):
        with pytest.raises(GcodeRefused, match="only have X, Y and F words, not Z"):
            check_xy_lines(["G0 X1 Y2 Z" + z], 1.0, 2.0)


def test_an_unknown_placeholder_is_named_up_to_20_characters():
    with pytest.raises(GcodeRefused, match=r"unknown placeholder \{abcdefghijklmnopqrst\};"):
        check_move_template("G1 Z{z:.3f} F{abcdefghijklmnopqrstuvwxy}", 600, LIMITS)


@pytest.mark.parametrize("low", [0.0, 0.5, -3.0, 7.25])
def test_a_template_coarser_than_three_decimals_is_refused_over_any_range(low):
    ranges = [(low, low + step * 0.0517) for step in range(1, 400)]
    ranges += [(low + hundredths / 100, low + (hundredths + width) / 100)  # limits in whole hundredths
               for hundredths in range(0, 300, 7) for width in range(1, 60, 3)]
    for limits in ranges:
        with pytest.raises(GcodeRefused, match="must go to the target|outside the Z limits"):
            check_move_template("G1 Z{z:.2f}", 600, limits)


@pytest.mark.parametrize("low", [0.0, 1.0049, -3.0, 7.25, 12.3449])
def test_every_target_a_move_template_is_tried_at_lies_within_the_limits(monkeypatch, low):
    tried = []
    monkeypatch.setattr(gcode_safety, "check_move_lines", lambda lines, z, limits: tried.append(z) or [])
    for width in [0.0, 0.0002, 0.001, 0.0027, 0.003, 0.01, 0.0517, 1.0, 250.0]:
        tried.clear()
        check_move_template("G1 Z{z}", 600, (low, low + width))
        assert tried and all(low <= z <= low + width for z in tried), (width, tried)


@pytest.mark.parametrize("z, text", [(2.5, "2.500"), (2.25, "2.250"), (2.125, "2.125"), (-0.1, "-0.100")])
def test_a_target_is_shown_with_at_least_three_decimals(z, text):
    assert _target_text(z) == text


def test_a_forbidden_spec_after_an_escaped_brace_is_still_refused():
    with pytest.raises(GcodeRefused, match="is not allowed"):
        check_move_template("M117 {{focus}}\nG1 Z{z:>9999}", 600, LIMITS)


def test_a_forbidden_spec_is_quoted_up_to_20_characters():
    with pytest.raises(GcodeRefused, match=r"\{z:abcdefghijklmnopqrst\} is not allowed"):
        check_move_template("G1 Z{z:abcdefghijklmnopqrstuvwxy}", 600, LIMITS)


@pytest.mark.parametrize("x0", [0.0, -100.0, 12.5])
def test_xy_templates_are_judged_alike_on_any_bed(x0):
    for step in range(1, 200):
        bed = (x0, x0 + step * 1.37, x0 / 2, x0 / 2 + step * 0.93)
        check_xy_template("G0 X{x:.2f} Y{y:.2f}", 3000, bed)
        check_xy_template("G0 X{x} Y{y}", 3000, bed)
        for coarse in ("G0 X{x:.0f} Y{y:.3f}", "G0 X{x:.3f} Y{y:.0f}", "G0 X{x:.1f} Y{y:.3f}", "G0 X{x:.3f} Y{y:.1f}"):
            with pytest.raises(GcodeRefused, match="the target"):
                check_xy_template(coarse, 3000, bed)


@pytest.mark.parametrize("bed", [(0, 109.6, 0, 180), (0, 200, 0, 109.6), (-100, -50, -30.4, 30.4), (0.3, 0.5, 0.2, 0.4),
                                 (12.5, 12.6, -0.1, 0), (0, 0.2, 0, 0.2)])
def test_an_xy_template_rounding_to_a_tenth_of_a_millimetre_is_refused_when_saved(bed):
    check_xy_template("G0 X{x:.2f} Y{y:.2f} F{feedrate}", 3000, bed)
    for template in ("G0 X{x:.1f} Y{y:.3f} F{feedrate}", "G0 X{x:.3f} Y{y:.1f} F{feedrate}"):
        with pytest.raises(GcodeRefused, match="the target"):
            check_xy_template(template, 3000, bed)


def _xy_targets(monkeypatch, bed):
    """The (x, y) targets check_xy_template tries an XY template with on ``bed``."""
    tried = []
    monkeypatch.setattr(gcode_safety, "check_xy_lines", lambda lines, x, y: tried.append((x, y)))
    check_xy_template("G0 X{x} Y{y}", 3000, bed)
    return tried


def _off_a_tenth(value):
    """How far ``value`` (mm) lies from the nearest multiple of 0.1 mm."""
    return abs(value - round(value, 1))


@pytest.mark.parametrize("low", [-100.0, -0.37, 0.0, 0.3, 12.5])
def test_an_xy_template_is_tried_at_a_target_far_from_every_tenth_of_a_millimetre(monkeypatch, low):
    for span in [0.1 + 0.013 * step for step in range(200)] + [0.2, 1.0, 109.6, 200.0]:
        tried = _xy_targets(monkeypatch, (low, low + span, low / 3, low / 3 + span))
        assert max(_off_a_tenth(x) for x, _ in tried) > 0.044, (span, tried)
        assert max(_off_a_tenth(y) for _, y in tried) > 0.044, (span, tried)


@pytest.mark.parametrize("bed", [(0, 0.05, 0, 0.05), (-0.05, 0, -0.02, 0), (0, 0, 5, 5), (0.06, 0.09, 0.06, 0.09),
                                 (0.3, 0.5, 0.2, 0.4), (0, 0.2, 0.5, 0.55), (-100, -50, -30, 30), (0, 109.6, 0, 180)])
def test_every_target_an_xy_template_is_tried_at_lies_on_the_bed(monkeypatch, bed):
    tried = _xy_targets(monkeypatch, bed)
    assert len(tried) == 4
    assert all(bed[0] <= x <= bed[1] and bed[2] <= y <= bed[3] for x, y in tried), tried


def test_a_comment_line_in_custom_gcode_passes():
    lines = check_custom_gcode("; light for the camera\nM42 P4 S255", LIMITS)
    assert [line.command for line in lines] == ["", "M42"]
