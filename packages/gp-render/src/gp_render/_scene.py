"""What the renderer draws: a padded set of oriented boxes and a semantic ground texture."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from gp_render._classes import SemanticClass


class Boxes(eqx.Module):
    """Oriented 3D boxes in the world frame (x east, y north, z up; metres, radians).

    `center` is the box centre (a car on the ground has z = height / 2); `size` is
    (length along heading, width, height); `yaw` is CCW from +x. Padded entries have
    `valid` False and are never drawn. Traffic-light heads are boxes coloured by state.
    """

    center: Float[Array, "*batch boxes 3"]
    size: Float[Array, "*batch boxes 3"]
    yaw: Float[Array, "*batch boxes"]
    color: Float[Array, "*batch boxes 3"]  # RGB in [0, 1]
    class_id: Int[Array, "*batch boxes"]
    instance_id: Int[Array, "*batch boxes"]
    valid: Bool[Array, "*batch boxes"]

    @property
    def count(self) -> int:
        return self.yaw.shape[-1]


def make_boxes(
    center: ArrayLike,
    size: ArrayLike,
    yaw: ArrayLike,
    color: ArrayLike | None = None,
    class_id: ArrayLike | None = None,
    instance_id: ArrayLike | None = None,
    valid: ArrayLike | None = None,
) -> Boxes:
    """Boxes from array-likes with defaults: vehicle class, blue, instance = index, all valid."""
    center = jnp.asarray(center, jnp.float32).reshape(-1, 3)
    n = center.shape[0]
    size = jnp.asarray(size, jnp.float32).reshape(n, 3)
    if color is None:
        color = jnp.broadcast_to(jnp.asarray([0.2, 0.4, 0.85], jnp.float32), (n, 3))
    if class_id is None:
        class_id = jnp.full((n,), int(SemanticClass.VEHICLE), jnp.int32)
    if instance_id is None:
        instance_id = jnp.arange(n, dtype=jnp.int32)
    if valid is None:
        valid = jnp.ones((n,), bool)
    return Boxes(
        center=center,
        size=size,
        yaw=jnp.asarray(yaw, jnp.float32).reshape(n),
        color=jnp.asarray(color, jnp.float32).reshape(n, 3),
        class_id=jnp.asarray(class_id, jnp.int32).reshape(n),
        instance_id=jnp.asarray(instance_id, jnp.int32).reshape(n),
        valid=jnp.asarray(valid, bool).reshape(n),
    )


def no_boxes() -> Boxes:
    """An empty box set (the renderer pads it to its budget)."""
    return make_boxes(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0,)))


class GroundTexture(eqx.Module):
    """A semantic raster of the ground plane z = 0.

    Texel `classes[iy, ix]` covers world x in origin_x + [ix, ix + 1) * metres_per_texel and
    y in origin_y + [iy, iy + 1) * metres_per_texel: row 0 is the southern edge, so an image
    of `classes` shown with row 0 on top is mirrored north-south. Ground outside the raster
    renders as `SemanticClass.OFF_MAP`.
    """

    classes: Int[Array, "rows cols"]
    origin: Float[Array, "2"]  # world (x, y) of the south-west corner, metres
    metres_per_texel: Float[Array, ""]

    @property
    def shape(self) -> tuple[int, int]:
        return (self.classes.shape[-2], self.classes.shape[-1])


def make_ground(classes: ArrayLike, origin: ArrayLike, metres_per_texel: float) -> GroundTexture:
    """A ground texture from a class raster, checking its shape and spacing."""
    classes = np.asarray(classes)
    if classes.ndim != 2 or min(classes.shape) < 1:
        raise ValueError(
            f"ground classes must be a non-empty (rows, cols) raster, got {classes.shape}"
        )
    if not metres_per_texel > 0:
        raise ValueError(f"metres_per_texel must be positive, got {metres_per_texel}")
    if classes.min() < 0 or classes.max() > 127:
        raise ValueError("ground class ids must lie in [0, 127]")
    return GroundTexture(
        classes=jnp.asarray(classes, jnp.int32),
        origin=jnp.asarray(origin, jnp.float32).reshape(2),
        metres_per_texel=jnp.asarray(metres_per_texel, jnp.float32),
    )
