"""Settings: validation into RunConfig, migration, and the limits of a run."""

from dataclasses import asdict

import pytest

from octoprint_autofocus.map_settings import validate_map
from octoprint_autofocus.settings import (
    DEFAULTS,
    RunRequest,
    SettingsError,
    migrate,
    profile_z_range,
    run_limits,
    run_window,
    safety_limits,
    validate,
    validate_simulator,
)


def test_defaults_validate():
    config = asdict(validate({}))
    run_settings = {key: value for key, value in DEFAULTS.items() if key not in ("simulator", "map")}
    assert set(config) == set(run_settings)  # every run setting has a default and vice versa
    assert config == run_settings  # validation keeps every default as it is...
    assert all(type(config[key]) is type(value) for key, value in run_settings.items())  # ...and its type
    assert validate_simulator({}) == DEFAULTS["simulator"]
    assert asdict(validate_map({})) == DEFAULTS["map"]
    # the safe choices a fresh install makes
    assert (config["on_failure"], config["reference_z"], config["tolerance"]) == ("pause", None, None)
    assert config["z_min"] < config["z_max"] and config["move_template"] == "G1 Z{z:.3f} F{feedrate}"


@pytest.mark.parametrize(
    "field, value",
    [
        ("z_max", -5),
        ("feedrate", 0),
        ("feedrate", "fast"),
        ("tolerance", float("nan")),
        ("coarse_points", 2.5),
        ("coarse_points", True),
        ("metric", "sharpness9000"),
        ("approach", "sideways"),
        ("on_failure", "explode"),
        ("roi", {"x": 0.5, "y": 0.5, "w": 0.0, "h": 0.2}),
        ("roi", {"x": 0.8, "y": 0.0, "w": 0.5, "h": 0.2}),
        ("roi", [0, 0, 1, 1]),
        ("move_template", "G1 X{x}"),
        ("reference_z", "here"),
        ("max_extension", -0.5),
        ("max_extension", 100.5),
        ("max_extension", "far"),
        ("reference_z", True),
        ("reference_z", 1e308),
        ("feedrate", "600"),
        ("search_range", "2"),
        ("search_range", 1e-320),
        ("z_max", 1e308),
        ("z_min", -1e308),
        ("metric", ["tenengrad"]),
        ("metric", {"x": 1}),
        ("approach", ["above"]),
        ("stream_url", ["http://cam"]),
        ("before_gcode", "M117 x\n" * 1000),
        ("max_correction", 0),
        ("max_correction", "5"),
    ],
)
def test_bad_value_raises_an_error_naming_the_field(field, value):
    with pytest.raises(SettingsError) as error:
        validate({field: value})
    assert error.value.field.split(".")[0] == field
    assert str(error.value).startswith(field)


def test_roi_fractions_are_kept_as_a_tuple():
    assert validate({"roi": {"x": 0.25, "y": 0.25, "w": 0.5, "h": 0.5}}).roi == (0.25, 0.25, 0.5, 0.5)


def test_bad_simulator_value_names_the_nested_field():
    with pytest.raises(SettingsError) as error:
        validate_simulator({"dof": -1})
    assert error.value.field == "simulator.dof"


def test_migration_from_unversioned_renames_legacy_keys():
    migrated = migrate({"range": 1.5, "webcam": "microscope", "feedrate": 300}, None)
    assert migrated == {"search_range": 1.5, "camera": "microscope", "feedrate": 300}


def test_migration_from_unversioned_drops_values_that_no_longer_validate():
    migrated = migrate({"metric": "sobel_v0", "tolerance": 0.02}, None)
    assert "metric" not in migrated and migrated["tolerance"] == 0.02


def test_migration_keeps_the_new_key_when_legacy_and_new_both_exist():
    assert migrate({"range": 1.5, "search_range": 3.0}, None) == {"search_range": 3.0}


def test_migration_of_current_version_changes_nothing():
    stored = {"range": 1.5}
    assert migrate(stored, 1) == stored


@pytest.fixture
def config():
    return validate({"z_min": 1.0, "z_max": 20.0, "search_range": 2.0})


def test_range_around_current_z_defaults_to_the_search_range(config):
    assert run_limits(config, 5.0, RunRequest()) == (3.0, 7.0)


def test_range_is_cut_by_the_safety_limits_and_the_printer_volume(config):
    assert run_limits(config, 2.0, RunRequest(range=3.0)) == (1.0, 5.0)
    assert run_limits(config, 9.0, RunRequest(range=3.0), volume=(0.0, 10.0)) == (6.0, 10.0)


def test_explicit_limits_replace_the_range(config):
    assert run_limits(config, 5.0, RunRequest(z_min=2.0, z_max=4.0)) == (2.0, 4.0)


def test_range_entirely_outside_the_limits_is_an_error(config):
    with pytest.raises(SettingsError) as error:
        run_limits(config, None, RunRequest(z_min=30.0, z_max=40.0))
    assert error.value.field == "range"


def test_profile_z_range_prefers_the_custom_box_over_the_height():
    assert profile_z_range({"volume": {"height": 200, "custom_box": {"z_min": -1, "z_max": 150}}}) == (-1.0, 150.0)
    assert profile_z_range({"volume": {"height": 200, "custom_box": False}}) == (0.0, 200.0)
    assert profile_z_range(None) is None


@pytest.mark.parametrize("value, expected", [(None, None), ("", None), (0, 0.0), (2.5, 2.5), (100, 100.0)])
def test_max_extension_is_unset_off_or_at_most_the_safety_range(value, expected):
    assert validate({"max_extension": value}).max_extension == expected


def test_max_extension_larger_than_the_safety_range_says_so_plainly():
    with pytest.raises(SettingsError) as error:
        validate({"z_min": 1.0, "z_max": 20.0, "max_extension": 25.0})
    assert error.value.field == "max_extension" and "19.0" in str(error.value)


def test_a_run_window_around_z_may_extend_to_the_safety_limits(config):
    assert run_window(config, 5.0, RunRequest()) == ((3.0, 7.0), (1.0, 20.0))
    assert run_window(config, 2.0, RunRequest(range=3.0), volume=(0.0, 10.0)) == ((1.0, 5.0), (1.0, 10.0))


def test_explicit_bounds_are_hard_the_limits_are_the_window_itself(config):
    assert run_window(config, 5.0, RunRequest(z_min=2.0, z_max=4.0)) == ((2.0, 4.0), (2.0, 4.0))


def test_safety_limits_are_the_settings_cut_by_the_printer_volume(config):
    assert safety_limits(config) == (1.0, 20.0)
    assert safety_limits(config, volume=(0.0, 10.0)) == (1.0, 10.0)
