"""Reusable test material: a nuScenes-layout fixture database, random annotated toy scenes and a
toy student with gp-agents' student interface, for smoke tests of the adaptation machinery."""

from gp_adapt._nuscenes_fixture import (
    ANNOTATION_COLOUR,
    FIXTURE_BOXES,
    FIXTURE_CAMERAS,
    ROAD_HALF_WIDTH_M,
    write_nuscenes_fixture,
)
from gp_adapt._toy import (
    ToyObservation,
    ToyStudent,
    ToyViewEncoder,
    student_observations,
    toy_ground,
    toy_observations,
    toy_scenes,
    toy_teacher_actions,
)

__all__ = [
    "ANNOTATION_COLOUR",
    "FIXTURE_BOXES",
    "FIXTURE_CAMERAS",
    "ROAD_HALF_WIDTH_M",
    "ToyObservation",
    "ToyStudent",
    "ToyViewEncoder",
    "student_observations",
    "toy_ground",
    "toy_observations",
    "toy_scenes",
    "toy_teacher_actions",
    "write_nuscenes_fixture",
]
