"""Semantic class ids shared by the ground raster, the boxes and the per-pixel class output.

One id space so a class image needs no second channel: sky is 0, ground classes follow, object
classes after them. Callers may use their own ids for boxes; these are the defaults.
"""

from __future__ import annotations

import enum

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


class SemanticClass(enum.IntEnum):
    """Per-pixel class ids (values < 128: they are packed into a texel's top byte)."""

    SKY = 0
    OFF_MAP = 1  # ground outside the texture
    OFFROAD = 2
    ROAD = 3
    LANE_SOLID = 4
    LANE_DASHED = 5
    STOP_LINE = 6
    CROSSWALK = 7
    VEHICLE = 8
    CYCLIST = 9
    PEDESTRIAN = 10
    STATIC_OBJECT = 11
    TRAFFIC_LIGHT = 12


NUM_CLASSES = len(SemanticClass)

# Instance id of pixels that hit no box (ground and sky).
NO_INSTANCE = -1

_DEFAULT_COLOURS = {
    SemanticClass.SKY: (0.62, 0.78, 0.95),
    SemanticClass.OFF_MAP: (0.33, 0.42, 0.30),
    SemanticClass.OFFROAD: (0.40, 0.52, 0.33),
    SemanticClass.ROAD: (0.30, 0.30, 0.32),
    SemanticClass.LANE_SOLID: (0.95, 0.95, 0.95),
    SemanticClass.LANE_DASHED: (0.95, 0.95, 0.95),
    SemanticClass.STOP_LINE: (1.00, 1.00, 1.00),
    SemanticClass.CROSSWALK: (0.92, 0.92, 0.85),
    SemanticClass.VEHICLE: (0.20, 0.40, 0.85),
    SemanticClass.CYCLIST: (0.90, 0.55, 0.10),
    SemanticClass.PEDESTRIAN: (0.85, 0.20, 0.60),
    SemanticClass.STATIC_OBJECT: (0.55, 0.45, 0.35),
    SemanticClass.TRAFFIC_LIGHT: (0.10, 0.10, 0.10),
}

# Traffic-light head colours by state; a head is a box coloured by one of these.
LIGHT_RED = (0.95, 0.10, 0.10)
LIGHT_YELLOW = (0.98, 0.80, 0.10)
LIGHT_GREEN = (0.10, 0.90, 0.25)
LIGHT_OFF = (0.15, 0.15, 0.15)


def default_palette() -> Float[Array, "classes 3"]:
    """RGB in [0, 1] per class id: row `SemanticClass.SKY` is the sky (and fog) colour."""
    table = np.zeros((NUM_CLASSES, 3), np.float32)
    for cls, rgb in _DEFAULT_COLOURS.items():
        table[cls] = rgb
    return jnp.asarray(table)
