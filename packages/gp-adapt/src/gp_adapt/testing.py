"""Reusable test material: a nuScenes-layout fixture database (more as the package grows)."""

from gp_adapt._nuscenes_fixture import (
    ANNOTATION_COLOUR,
    FIXTURE_BOXES,
    FIXTURE_CAMERAS,
    ROAD_HALF_WIDTH_M,
    write_nuscenes_fixture,
)

__all__ = [
    "ANNOTATION_COLOUR",
    "FIXTURE_BOXES",
    "FIXTURE_CAMERAS",
    "ROAD_HALF_WIDTH_M",
    "write_nuscenes_fixture",
]
