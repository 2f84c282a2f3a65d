"""Settings: validation into RunConfig, migration, and the limits of a run."""

from dataclasses import asdict

import pytest

from octoprint_autofocus.fields import BOUNDS, LABELS, METRICS, SCENES, template_vars
from octoprint_autofocus.focus import MEASURES
from octoprint_autofocus.map_settings import validate_map
from octoprint_autofocus.settings import (
    CENTRE_ROI,
    DEFAULTS,
    SETTINGS_VERSION,
    RunRequest,
    SettingsError,
    check_reference,
    check_request,
    describe,
    error_body,
    migrate,
    normalised,
    parse_number,
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
    run_settings["roi"] = tuple(run_settings["roi"][key] for key in "xywh")  # a region becomes a tuple
    assert config == run_settings  # validation keeps every default as it is...
    assert all(type(config[key]) is type(value) for key, value in run_settings.items())  # ...and its type
    assert validate_simulator({}) == DEFAULTS["simulator"]
    assert asdict(validate_map({})) == DEFAULTS["map"]
    # the safe choices a fresh install makes
    assert (config["on_failure"], config["reference_z"], config["tolerance"]) == ("pause", None, None)
    assert config["z_min"] < config["z_max"] and config["move_template"] == "G1 Z{z:.3f} F{feedrate}"


FRESH_INSTALL = {
    "camera": "", "stream_url": "", "snapshot_url": "", "metric": "tenengrad",
    "roi": {"x": 0.25, "y": 0.25, "w": 0.5, "h": 0.5}, "search_range": 2.0, "max_extension": None,
    "z_min": 0.0, "z_max": 100.0, "coarse_points": 5, "tolerance": None, "feedrate": 600.0, "settle": 0.1,
    "frames_per_position": 1, "overscan": 0.2, "approach": "above", "move_template": "G1 Z{z:.3f} F{feedrate}",
    "before_gcode": "", "after_gcode": "", "reference_z": None, "max_correction": 5.0, "on_failure": "pause",
    "latency": 0.1, "camera_timeout": 5.0, "history_size": 20, "jog_step": 0.1,
    "map": {"rows": 5, "cols": 5, "margin": 10.0, "lift": 1.0, "travel_z": None, "xy_feedrate": 3000.0,
            "xy_template": "G0 X{x:.3f} Y{y:.3f} F{feedrate}", "max_failed": 0.25},
    "simulator": {"enabled": False, "focal_z": 4.0, "dof": 0.1, "noise": 0.01, "fps": 15.0, "latency": 0.05,
                  "backlash": 0.0, "scene": "pcb", "seed": 1, "size": [640, 480], "surface": "flat",
                  "surface_height": 0.3, "bare_spot": None},
}
"""What a fresh install runs with, written out: a default changes every install that never
saved that setting, so changing one is a decision made here too (README and DESIGN quote
some: max_correction 5 mm, a quarter of the map's points, the move templates)."""


def test_the_defaults_a_fresh_install_gets():
    assert DEFAULTS == FRESH_INSTALL


@pytest.mark.parametrize(
    "field, value",
    [
        ("z_max", -5),
        ("z_max", 0.0),  # equal to the lowest Z: no room to move
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
    stored = {"range": 1.5, "roi": None}
    assert migrate(stored, 2) == stored


def test_migration_to_version_2_drops_a_null_region_so_the_centre_default_applies():
    assert migrate({"roi": None, "feedrate": 300}, 1) == {"feedrate": 300}
    assert migrate({"roi": {"x": 0, "y": 0, "w": 1, "h": 1}}, 1) == {"roi": {"x": 0, "y": 0, "w": 1, "h": 1}}


def test_a_saved_null_region_becomes_the_default_region():
    assert normalised({"roi": None, "feedrate": 300}) == {"roi": CENTRE_ROI, "feedrate": 300}
    assert normalised({"feedrate": 300}) == {"feedrate": 300}


def test_the_default_region_is_a_dict_never_none():
    # OctoPrint warns on every read when a saved dict sits over a None default (issue 8, log spam)
    assert DEFAULTS["roi"] == CENTRE_ROI and validate(DEFAULTS).roi == (0.25, 0.25, 0.5, 0.5)


@pytest.mark.parametrize(
    "settings, expected",
    [
        ({"search_range": 0}, "Search range: must be at least 0.01 mm."),
        ({"feedrate": 0}, "Feedrate: must be more than 0 mm/min."),
        ({"feedrate": "fast"}, "Feedrate: must be a number, not \u201cfast\u201d."),
        ({"settle": 11}, "Settle time: must be at most 10 s."),
        ({"coarse_points": 2}, "Coarse points: must be at least 3."),
        ({"coarse_points": 4.5}, "Coarse points: must be a whole number."),
        ({"z_min": 10, "z_max": 5}, "Highest Z: must be above the lowest Z (10.000 mm)."),
        ({"roi": {"x": 0.8, "y": 0, "w": 0.5, "h": 0.2}}, "Focus region: reaches outside the picture."),
        ({"metric": "magic"}, "Sharpness measure: must be one of brenner, laplacian, normalized_variance, spot,"
                              " tenengrad, vollath_f4, not \u201cmagic\u201d."),
    ],
)
def test_errors_name_the_field_by_its_label_in_a_plain_sentence_with_units(settings, expected):
    with pytest.raises(SettingsError) as error:
        validate(settings)
    assert describe(error.value) == expected
    assert error_body(error.value) == {"error": expected, "field": error.value.field}
    assert str(error.value).startswith(error.value.field + ": ")  # the log keeps the key


def test_a_long_wrong_value_is_cut_short_in_the_message():
    with pytest.raises(SettingsError) as error:
        validate({"feedrate": "x" * 500})
    assert len(error.value.message) < 60


def test_request_errors_name_what_the_user_typed():
    with pytest.raises(SettingsError) as error:
        check_request(RunRequest(z_min=3.0, z_max=1.0), {"z_min": "ZMIN", "z_max": "ZMAX"})
    assert describe(error.value) == "ZMAX: must be above ZMIN (3.000 mm)."


def test_every_setting_a_person_can_change_has_a_label_and_every_number_its_bounds():
    nested = ("simulator", "map")
    keys = [key for key in DEFAULTS if key not in nested] + [
        "%s.%s" % (group, key) for group in nested for key in DEFAULTS[group]]
    assert [key for key in keys if key not in LABELS] == []
    numbers = [key for key in keys if key in BOUNDS]
    for key in numbers:
        value = DEFAULTS[key] if "." not in key else DEFAULTS[key.split(".")[0]][key.split(".")[1]]
        assert value is None or isinstance(value, (int, float)), key
    assert {"search_range", "z_min", "z_max", "coarse_points", "simulator.seed"} <= set(numbers)


def test_the_limits_the_pane_shows_are_the_ones_the_server_checks():
    bounds = template_vars(list(MEASURES), list(SCENES), CENTRE_ROI)["bounds"]
    with pytest.raises(SettingsError):
        validate({"camera_timeout": bounds["camera_timeout"]["high"] + 1})
    assert validate({"camera_timeout": bounds["camera_timeout"]["high"]}).camera_timeout == 120.0
    with pytest.raises(SettingsError):
        validate({"history_size": bounds["history_size"]["low"] - 1})


def test_every_metric_and_scene_has_a_label_and_every_metric_one_sentence_of_help():
    assert set(METRICS) == set(MEASURES)
    from octoprint_autofocus.simulator import SCENES as GENERATORS
    assert set(SCENES) == set(GENERATORS)
    for metric in template_vars(list(MEASURES), list(GENERATORS), CENTRE_ROI)["metrics"]:
        assert str(metric["help"]).count(". ") == 0 and str(metric["help"]).endswith(".")


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
    assert error.value.field == "max_extension" and "(19 mm)" in str(error.value)


def test_a_run_window_around_z_may_extend_to_the_safety_limits(config):
    assert run_window(config, 5.0, RunRequest()) == ((3.0, 7.0), (1.0, 20.0))
    assert run_window(config, 2.0, RunRequest(range=3.0), volume=(0.0, 10.0)) == ((1.0, 5.0), (1.0, 10.0))


def test_explicit_bounds_are_hard_the_limits_are_the_window_itself(config):
    assert run_window(config, 5.0, RunRequest(z_min=2.0, z_max=4.0)) == ((2.0, 4.0), (2.0, 4.0))


def test_safety_limits_are_the_settings_cut_by_the_printer_volume(config):
    assert safety_limits(config) == (1.0, 20.0)
    assert safety_limits(config, volume=(0.0, 10.0)) == (1.0, 10.0)


# ~ limits of text, regions, sizes: exactly at and just past each


def test_a_text_setting_of_4000_characters_is_kept_and_4001_refused():
    assert validate({"camera": "c" * 4000}).camera == "c" * 4000
    with pytest.raises(SettingsError, match="at most 4000 characters") as error:
        validate({"camera": "c" * 4001})
    assert error.value.field == "camera"


def test_an_error_quotes_what_was_typed_up_to_20_characters():
    with pytest.raises(SettingsError) as whole:
        validate({"feedrate": "f" * 20})
    assert "\u201c" + "f" * 20 + "\u201d" in whole.value.message
    with pytest.raises(SettingsError) as cut:
        validate({"feedrate": "f" * 21})
    assert "\u201c" + "f" * 19 + "\u2026\u201d" in cut.value.message


@pytest.mark.parametrize("roi", [{"x": 0.5, "y": 0.0, "w": 0.5, "h": 1.0}, {"x": 0.0, "y": 0.7, "w": 1.0, "h": 0.3},
                                 {"x": 0.0, "y": 0.0, "w": 1.0, "h": 1.0}])
def test_a_region_reaching_exactly_to_the_edge_is_accepted(roi):
    assert validate({"roi": roi}).roi == tuple(roi[key] for key in "xywh")


@pytest.mark.parametrize("roi", [{"x": 0.5, "y": 0.0, "w": 0.500001, "h": 0.5},
                                 {"x": 0.0, "y": 0.5, "w": 0.5, "h": 0.500001}])
def test_a_region_a_hair_past_the_edge_is_refused(roi):
    with pytest.raises(SettingsError, match="outside the picture"):
        validate({"roi": roi})


@pytest.mark.parametrize("key, value, refused", [
    ("size", [8, 4096], None), ("size", [4096, 8], None), ("size", [7, 480], "at least 8"),
    ("size", [640, 4097], "at most 4096"), ("size", [640, 480, 3], "width, height"),
    ("size", [640.5, 480], "whole number"), ("size", [640], "width, height"),
    ("surface_height", 10.0, None), ("surface_height", -10.0, None),
    ("surface_height", 10.001, "at most 10"), ("surface_height", -10.001, "at least -10"),
])
def test_the_simulated_picture_and_surface_at_and_just_past_their_bounds(key, value, refused):
    if refused is None:
        assert validate_simulator({key: value})[key] == value
    else:
        with pytest.raises(SettingsError, match=refused):
            validate_simulator({key: value})


def test_limits_that_only_touch_the_printer_volume_are_refused_and_both_ranges_named():
    with pytest.raises(SettingsError) as error:  # 0..100 and 100..200 share one point: no room to move
        safety_limits(validate({}), (100.0, 200.0))
    assert error.value.field == "z_max"
    assert error.value.message == ("the Z limits (0.000 mm to 100.000 mm) lie outside the printer's Z range"
                                   " (100.000 mm to 200.000 mm).")


@pytest.mark.parametrize("request_, field, other", [(RunRequest(z_min=1.0), "z_max", "Lowest Z"),
                                                    (RunRequest(z_max=1.0), "z_min", "Highest Z")])
def test_one_explicit_limit_asks_for_the_other(request_, field, other):
    with pytest.raises(SettingsError) as error:
        check_request(request_)
    assert (error.value.field, error.value.message) == (field, "is needed together with %s." % other)


def test_without_the_current_z_one_explicit_limit_is_refused_not_crashed_on():
    with pytest.raises(SettingsError) as error:
        run_limits(validate({}), None, RunRequest(z_min=1.0))
    assert error.value.field == "range"


@pytest.mark.parametrize("spot", [[1, 2, 3, 4], [1, 2]])
def test_a_bare_spot_is_exactly_x_y_and_radius(spot):
    with pytest.raises(SettingsError, match="x, y, radius"):
        validate_simulator({"bare_spot": spot})


@pytest.mark.parametrize("roi", [{"x": 0, "y": 0, "w": 0.5}, {"x": 0, "y": 0, "w": 0.5, "h": 0.5, "z": 1}])
def test_a_region_without_exactly_x_y_w_h_is_refused(roi):
    with pytest.raises(SettingsError, match="region"):
        validate({"roi": roi})


@pytest.mark.parametrize("roi", [{"x": 0.0, "y": 1e-9, "w": 0.5, "h": 1.0}, {"x": 1e-9, "y": 0.0, "w": 1.0, "h": 0.5}])
def test_a_region_past_the_edge_only_by_rounding_is_accepted(roi):
    assert validate({"roi": roi}).roi == tuple(roi[key] for key in "xywh")


def test_a_feedrate_below_one_mm_per_minute_is_a_valid_setting():
    assert validate({"feedrate": 0.5}).feedrate == 0.5


@pytest.mark.parametrize("key, value", [("tolerance", "fine"), ("stream_url", 5), ("z_max", "high"),
                                        ("approach", "sideways")])
def test_unversioned_settings_drop_every_value_that_no_longer_validates(key, value):
    assert migrate({key: value}, None) == {}


def test_a_window_that_only_touches_the_limits_is_refused():
    with pytest.raises(SettingsError, match="lies entirely outside the Z limits") as error:
        run_limits(validate({}), -2.0, RunRequest(range=2.0))  # -4..0 meets the limits 0..100 at 0 only
    assert error.value.field == "range"


@pytest.mark.parametrize("roi", [{"x": 0.5, "y": 0.5, "w": 0.0, "h": 0.2}, {"x": 0.5, "y": 0.5, "w": 0.2, "h": 0.0}])
def test_a_region_without_width_or_height_is_refused(roi):
    with pytest.raises(SettingsError, match="is empty"):
        validate({"roi": roi})


@pytest.mark.parametrize("z_min, z_max", [(3.0, 3.0), (5.0, 3.0)])
def test_an_empty_or_reversed_window_is_refused_naming_its_upper_end(z_min, z_max):
    with pytest.raises(SettingsError, match="must be above the lowest Z") as error:
        run_limits(validate({}), 5.0, RunRequest(z_min=z_min, z_max=z_max))
    assert error.value.field == "z_max"


def test_without_the_current_z_explicit_limits_are_enough():
    assert run_limits(validate({}), None, RunRequest(z_min=1.0, z_max=5.0)) == (1.0, 5.0)


def test_limits_apart_from_the_printer_volume_are_refused():
    with pytest.raises(SettingsError, match="outside the printer's Z range"):
        safety_limits(validate({}), (200.0, 300.0))


def test_settings_saved_by_a_newer_version_are_left_as_they_are():
    assert migrate({"roi": None, "z_max": 50.0}, 3) == {"roi": None, "z_max": 50.0}


def test_a_runs_settings_cannot_change_under_it():
    config = validate({})
    with pytest.raises(AttributeError):  # dataclasses.FrozenInstanceError
        config.z_max = 1000.0


@pytest.mark.parametrize("z", [0.0, 100.0])  # the limits of a fresh install
def test_a_reference_exactly_at_a_limit_is_allowed(z):
    assert check_reference(z, validate({})) == z


@pytest.mark.parametrize("value, says", [(1.5, "at most 1"), (-0.5, "at least 0")])
@pytest.mark.parametrize("key", ["x", "y", "w", "h"])
def test_a_region_number_outside_zero_to_one_names_itself(key, value, says):
    roi = {"x": 0.0, "y": 0.0, "w": 0.5, "h": 0.5, key: value}
    with pytest.raises(SettingsError, match=says) as error:
        validate({"roi": roi})
    assert error.value.field == "roi." + key


def test_equal_explicit_limits_are_refused():
    with pytest.raises(SettingsError, match="must be above") as error:
        check_request(RunRequest(z_min=3.0, z_max=3.0))
    assert error.value.field == "z_max"


def test_settings_saved_at_version_1_are_migrated():
    assert 1 < SETTINGS_VERSION  # OctoPrint calls the migration only for a stored version below it...
    assert migrate({"roi": None, "z_max": 50.0}, 1) == {"z_max": 50.0}  # ...which drops a null region


def test_the_bounds_of_a_number_must_be_named():
    with pytest.raises(TypeError):  # parse_number(field, value, 10, 0) cannot swap them unnoticed
        parse_number("range", 5, 0.0, 10.0)


CHECKED_AS = {  # field: (unit, lowest, highest, p: above 0 / i: whole number / o: may be empty)
    "search_range": ("mm", 0.01, 500.0, ""),
    "max_extension": ("mm", 0.0, None, "o"),
    "z_min": ("mm", -10000.0, 10000.0, ""),
    "z_max": ("mm", -10000.0, 10000.0, ""),
    "coarse_points": ("", 3, 50, "i"),
    "tolerance": ("mm", None, 5.0, "po"),
    "feedrate": ("mm/min", None, 100000.0, "p"),
    "settle": ("s", 0.0, 10.0, ""),
    "frames_per_position": ("", 1, 10, "i"),
    "overscan": ("mm", 0.0, 10.0, ""),
    "reference_z": ("mm", -10000.0, 10000.0, "o"),
    "max_correction": ("mm", None, 1000.0, "p"),
    "latency": ("s", 0.0, 5.0, ""),
    "camera_timeout": ("s", None, 120.0, "p"),
    "history_size": ("", 1, 1000, "i"),
    "jog_step": ("mm", None, 10.0, "p"),
    "simulator.focal_z": ("mm", None, None, ""),
    "simulator.dof": ("mm", None, 10.0, "p"),
    "simulator.noise": ("", 0.0, 1.0, ""),
    "simulator.fps": ("fps", None, 60.0, "p"),
    "simulator.latency": ("s", 0.0, 5.0, ""),
    "simulator.backlash": ("mm", 0.0, 5.0, ""),
    "simulator.seed": ("", 0, 2147483647, "i"),
    "simulator.surface_height": ("mm", -10.0, 10.0, ""),
    "map.rows": ("", 2, 15, "i"),
    "map.cols": ("", 2, 15, "i"),
    "map.margin": ("mm", 0.0, 1000.0, ""),
    "map.lift": ("mm", 0.0, 100.0, ""),
    "map.travel_z": ("mm", -10000.0, 10000.0, "o"),
    "map.xy_feedrate": ("mm/min", None, 100000.0, "p"),
    "map.max_failed": ("", 0.0, 1.0, ""),
    "range": ("mm", 0.01, 500.0, ""),
    "dz": ("mm", -10.0, 10.0, ""),
    "z": ("mm", -10000.0, 10000.0, ""),
}
"""What every number a person can type is checked against, written out: a bound changes what
the settings, the API and @AUTOFOCUS accept, so changing one is a decision made here too."""


def test_the_bounds_every_number_is_checked_against():
    flags = {key: "".join(f for f, on in (("p", b.positive), ("i", b.integer), ("o", b.optional)) if on)
             for key, b in BOUNDS.items()}
    assert {key: (b.unit, b.low, b.high, flags[key]) for key, b in BOUNDS.items()} == CHECKED_AS


def test_a_nested_field_is_labelled_by_its_group_or_shown_as_given():
    from octoprint_autofocus.fields import label_of

    assert label_of("simulator.z_max") == label_of("simulator") != label_of("z_max")  # an unknown key in a group
    assert label_of("other.z_max") == "other.z_max"  # not a group of these settings: as given


def test_the_bounds_table_cannot_be_changed_by_a_caller():
    from octoprint_autofocus.fields import BOUNDS

    with pytest.raises(AttributeError):  # dataclasses.FrozenInstanceError
        BOUNDS["z_max"].high = 1e9
