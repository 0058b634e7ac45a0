"""Reusable checks: random scenes with the awkward cases, and backend agreement.

Tolerance: colour and ids must match exactly (both backends run the same tracing code on the
same culled tables); depth to DEPTH_TOLERANCE metres, since XLA may fuse float ops differently.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gp_render._classes import SemanticClass
from gp_render._ground_painter import build_ground
from gp_render._render import Frame
from gp_render._scene import Boxes, GroundTexture

DEPTH_TOLERANCE = 1e-5


def sample_ground(metres_per_texel: float = 0.5) -> GroundTexture:
    """A 60 m x 40 m patch: an east-west road, dashed centre line, stop line and crosswalk."""
    road = [(-30.0, -5.0), (30.0, -5.0), (30.0, 5.0), (-30.0, 5.0)]
    return build_ground(
        (-20.0, -20.0),
        (60.0, 40.0),
        metres_per_texel,
        roads=[road],
        solid_lines=[[(-30.0, -4.8), (30.0, -4.8)], [(-30.0, 4.8), (30.0, 4.8)]],
        dashed_lines=[[(-30.0, 0.0), (30.0, 0.0)]],
        stop_lines=[[(15.0, -4.8), (15.0, 0.0)]],
        crosswalks=[([(18.0, -5.0), (18.0, 5.0)], 3.0)],
    )


def random_boxes(key: jax.Array, count: int, radius: float = 30.0) -> Boxes:
    """`count` boxes scattered within `radius` metres of the origin, about 1 in 6 invalid."""
    k = jax.random.split(key, 7)
    xy = jax.random.uniform(k[0], (count, 2), jnp.float32, -radius, radius)
    size = jax.random.uniform(k[1], (count, 3), jnp.float32, 0.5, 5.0)
    lift = jax.random.uniform(k[2], (count,), jnp.float32, 0.0, 1.0)
    center = jnp.concatenate([xy, (size[:, 2] / 2 + lift)[:, None]], axis=1)
    classes = jax.random.randint(k[3], (count,), int(SemanticClass.VEHICLE), 13)
    return Boxes(
        center=center,
        size=size,
        yaw=jax.random.uniform(k[4], (count,), jnp.float32, -np.pi, np.pi),
        color=jax.random.uniform(k[5], (count, 3), jnp.float32),
        class_id=classes.astype(jnp.int32),
        instance_id=jnp.arange(count, dtype=jnp.int32) + 100,
        valid=jax.random.uniform(k[6], (count,)) > 1 / 6,
    )


def awkward_boxes(count: int, far: float) -> Boxes:
    """Boxes for a camera at the origin looking along +x: one straddling the camera plane,
    one around the camera, one beyond `far`, the rest stacked ahead (padded to `count`)."""
    center = np.zeros((count, 3), np.float32)
    size = np.full((count, 3), 1.5, np.float32)
    center[0], size[0] = (0.0, 2.5, 1.0), (12.0, 2.0, 2.0)  # partly behind the camera
    center[1], size[1] = (0.0, 0.0, 1.5), (4.0, 2.0, 3.0)  # contains the camera
    center[2], size[2] = (far + 20.0, 0.0, 1.0), (4.0, 30.0, 2.0)  # beyond the far range
    for i in range(3, count):
        center[i] = (4.0 + 2.0 * i, (-1.0) ** i * 0.7 * i, 0.75 + 0.1 * i)
    return Boxes(
        center=jnp.asarray(center),
        size=jnp.asarray(size),
        yaw=jnp.linspace(0.0, 1.0, count, dtype=jnp.float32),
        color=jnp.tile(jnp.asarray([[0.9, 0.3, 0.2]], jnp.float32), (count, 1)),
        class_id=jnp.full((count,), int(SemanticClass.VEHICLE), jnp.int32),
        instance_id=jnp.arange(count, dtype=jnp.int32),
        valid=jnp.ones((count,), bool),
    )


def assert_frames_agree(a: Frame, b: Frame, depth_tolerance: float = DEPTH_TOLERANCE) -> None:
    """Colour, class and instance exactly equal; depth within `depth_tolerance` (inf == inf)."""
    np.testing.assert_array_equal(np.asarray(a.rgb), np.asarray(b.rgb))
    for name in ("class_id", "instance_id"):
        x, y = getattr(a, name), getattr(b, name)
        if x is not None and y is not None:
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=name)
    if a.depth is not None and b.depth is not None:
        np.testing.assert_allclose(
            np.asarray(a.depth), np.asarray(b.depth), rtol=0.0, atol=depth_tolerance
        )
