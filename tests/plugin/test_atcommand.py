"""Parsing the parameters of @AUTOFOCUS."""

import pytest

from octoprint_autofocus.atcommand import parse_parameters
from octoprint_autofocus.settings import RunRequest, SettingsError


def test_no_parameters_means_the_settings_apply():
    command = parse_parameters("")
    assert command.request == RunRequest() and command.home is False


def test_keys_are_case_insensitive_and_values_are_parsed():
    command = parse_parameters("range=1.5 Metric=Brenner")
    assert command.request.range == 1.5 and command.request.metric == "brenner"


def test_explicit_limits_are_parsed():
    assert parse_parameters("ZMIN=2 ZMAX=4").request == RunRequest(z_min=2.0, z_max=4.0)


@pytest.mark.parametrize("text", ["HOME", "HOME=1", "home=yes"])
def test_home_flag_turns_homing_on(text):
    assert parse_parameters(text).home is True


def test_home_zero_turns_homing_off():
    assert parse_parameters("HOME=0").home is False


@pytest.mark.parametrize(
    "text, key",
    [
        ("SPEED=3", "SPEED"),
        ("RANGE=wide", "RANGE"),
        ("RANGE=-1", "RANGE"),
        ("RANGE=", "RANGE"),
        ("RANGE", "RANGE"),
        ("RANGE=1 RANGE=2", "RANGE"),
        ("METRIC=magic", "METRIC"),
        ("ZMIN=2", "ZMAX"),
        ("ZMIN=4 ZMAX=2", "ZMAX"),
        ("ZMIN=1 ZMAX=2 RANGE=1", "RANGE"),
        ("HOME=maybe", "HOME"),
    ],
)
def test_bad_parameter_raises_an_error_naming_the_key(text, key):
    with pytest.raises(SettingsError) as error:
        parse_parameters(text)
    assert error.value.field == key


@pytest.mark.parametrize("value", ["1_000", "1e3", "inf", "nan", "0x10", "1,5", "1.5.2", "+-1"])
def test_numbers_in_autofocus_lines_are_plain_decimals(value):
    with pytest.raises(SettingsError) as error:
        parse_parameters("RANGE=%s" % value)
    assert error.value.field == "RANGE"


def test_a_range_below_the_smallest_search_is_refused():
    with pytest.raises(SettingsError) as error:
        parse_parameters("RANGE=0.001")
    assert error.value.field == "RANGE"
    assert parse_parameters("RANGE=.5").request.range == 0.5
