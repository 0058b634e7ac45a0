"""Perspective rasteriser for oriented boxes on a textured ground: a Pallas kernel with an XLA twin.

Takes arrays (cameras, ego poses, boxes, a ground texture, a palette) and returns images; it
imports no other gp package.
"""

from gp_render._camera import (
    Camera,
    View,
    bev_view,
    camera_view,
    forward_rig,
    pinhole_camera,
    rig_views,
    stitch,
)
from gp_render._classes import (
    LIGHT_GREEN,
    LIGHT_OFF,
    LIGHT_RED,
    LIGHT_YELLOW,
    NO_INSTANCE,
    NUM_CLASSES,
    SemanticClass,
    default_palette,
)
from gp_render._ground_painter import GroundPainter, build_ground
from gp_render._render import Backend, Frame, render, resolve_backend
from gp_render._scene import Boxes, GroundTexture, make_boxes, make_ground, no_boxes
from gp_render.config import RenderConfig

__version__ = "0.1.0"

__all__ = [
    "LIGHT_GREEN",
    "LIGHT_OFF",
    "LIGHT_RED",
    "LIGHT_YELLOW",
    "NO_INSTANCE",
    "NUM_CLASSES",
    "Backend",
    "Boxes",
    "Camera",
    "Frame",
    "GroundPainter",
    "GroundTexture",
    "RenderConfig",
    "SemanticClass",
    "View",
    "__version__",
    "bev_view",
    "build_ground",
    "camera_view",
    "default_palette",
    "forward_rig",
    "make_boxes",
    "make_ground",
    "no_boxes",
    "pinhole_camera",
    "render",
    "resolve_backend",
    "rig_views",
    "stitch",
]
