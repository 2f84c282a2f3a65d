"""The simulator's focal surfaces and the XY map rig."""

import numpy as np
import pytest

from octoprint_autofocus.focus import score
from octoprint_autofocus.focus.errors import MoveRefused
from octoprint_autofocus.simulator.focal_surface import SURFACES, FocalSurface
from octoprint_autofocus.simulator.map_rig import make_map_rig, view_at


def test_flat_surface_is_level():
    surface = FocalSurface("flat", focal_z=3.5)
    assert {surface.z_at(x, y) for x in (0, 77, 200) for y in (0, 150, 200)} == {3.5}


def test_tilted_surface_rises_its_height_from_front_left_to_back_right():
    surface = FocalSurface("tilted", focal_z=4.0, height=0.3, bed=(0, 200, 0, 100))
    assert surface.z_at(100, 50) == pytest.approx(4.0)
    assert surface.z_at(200, 100) - surface.z_at(0, 0) == pytest.approx(0.3)
    assert surface.z_at(200, 0) - surface.z_at(0, 0) == pytest.approx(0.2)  # two thirds along X
    assert surface.z_at(0, 100) - surface.z_at(0, 0) == pytest.approx(0.1)
    dips = FocalSurface("tilted", focal_z=4.0, height=-0.3)
    assert dips.z_at(200, 200) < dips.z_at(0, 0)


def test_warped_surface_has_one_smooth_bump():
    surface = FocalSurface("warped", focal_z=4.0, height=0.25, bed=(0, 200, 0, 200))
    assert surface.z_at(120, 80) == pytest.approx(4.25)
    assert surface.z_at(0, 200) == pytest.approx(4.0, abs=0.01)
    assert 4.0 < surface.z_at(150, 80) < 4.25


def test_surface_settings_are_checked():
    assert SURFACES == ("flat", "tilted", "warped")
    with pytest.raises(ValueError):
        FocalSurface("wavy")
    with pytest.raises(ValueError):
        FocalSurface(bed=(10, 0, 0, 10))
    with pytest.raises(ValueError):
        FocalSurface(bare_spot=(1, 1, 0))
    spot = FocalSurface(bare_spot=(50, 50, 5))
    assert spot.is_bare(53, 50) and not spot.is_bare(56, 50)
    assert not FocalSurface().is_bare(0, 0)


def test_the_view_moves_with_the_head():
    image = np.arange(12 * 16, dtype=np.float32).reshape(12, 16)
    assert np.array_equal(view_at(image, 0, 0, 1.0), image)
    moved = view_at(image, 3, 0, 1.0)
    assert np.array_equal(moved[:, 0], image[:, 3])  # moving right shows what lay to the right


def test_map_rig_focuses_where_the_surface_is():
    surface = FocalSurface("tilted", focal_z=4.0, height=0.3)
    rig = make_map_rig(surface, dof=0.1, jpeg_quality=None)
    rig.xy.move_xy(190, 190)
    rig.stage.move_to(rig.focal_z())
    sharp = score(rig.camera.frame())
    rig.stage.move_to(rig.focal_z() - 0.2)
    assert score(rig.camera.frame()) < 0.5 * sharp
    assert rig.optical_error() == pytest.approx(0.2)


def test_map_rig_bare_spot_has_no_texture_and_xy_limits_hold():
    surface = FocalSurface("flat", focal_z=4.0, bare_spot=(100, 100, 10))
    rig = make_map_rig(surface, dof=0.1, jpeg_quality=None, start_z=4.0)
    textured = score(rig.camera.frame())
    rig.xy.move_xy(100, 100)
    assert score(rig.camera.frame()) < 0.05 * textured
    t = rig.clock.now()
    rig.xy.move_xy(150, 100)
    assert rig.clock.now() - t == pytest.approx(0.05 + 50 / 50.0)
    with pytest.raises(MoveRefused):
        rig.xy.move_xy(201, 0)
    assert rig.xy.violations == [(201, 0)] and rig.xy.position_xy() == (150, 100)
