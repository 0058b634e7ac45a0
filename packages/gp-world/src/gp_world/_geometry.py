"""Oriented boxes: corners, exact separating-axis overlap, and world -> ego frame transforms."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Bool, Float


def box_corners(x, y, yaw, length, width) -> Float[Array, "... 4 2"]:
    """Corners of boxes centred at (x, y) with heading yaw, counter-clockwise from front-left."""
    c, s = jnp.cos(yaw), jnp.sin(yaw)
    hl, hw = 0.5 * length, 0.5 * width
    lead = (1,) * jnp.ndim(x)  # explicit ranks: implicit rank promotion is an error here
    sign_l = jnp.asarray([1.0, -1.0, -1.0, 1.0], jnp.float32).reshape(*lead, 4)
    sign_w = jnp.asarray([1.0, 1.0, -1.0, -1.0], jnp.float32).reshape(*lead, 4)
    lx = hl[..., None] * sign_l
    wy = hw[..., None] * sign_w
    cx = x[..., None] + lx * c[..., None] - wy * s[..., None]
    cy = y[..., None] + lx * s[..., None] + wy * c[..., None]
    return jnp.stack([cx, cy], axis=-1)


def boxes_overlap(x, y, yaw, length, width) -> Bool[Array, "A A"]:
    """Pairwise overlap of A oriented boxes (f32[A] each) by the separating axis theorem.

    Touching boxes (zero-area contact) count as not overlapping. The diagonal is False.
    A cheap bounding-circle test prunes far pairs before the four-axis test.
    """
    dx = x[None, :] - x[:, None]  # [i, j]: centre of j relative to i
    dy = y[None, :] - y[:, None]
    radius = 0.5 * jnp.hypot(length, width)
    near = dx * dx + dy * dy < (radius[:, None] + radius[None, :]) ** 2
    c, s = jnp.cos(yaw), jnp.sin(yaw)
    hl, hw = 0.5 * length, 0.5 * width
    # |u_i . u_j| etc. for unit axes u = (c, s) (length) and v = (-s, c) (width).
    cc = c[:, None] * c[None, :] + s[:, None] * s[None, :]  # u_i.u_j = v_i.v_j
    cs = jnp.abs(c[:, None] * s[None, :] - s[:, None] * c[None, :])  # |u_i.v_j| = |v_i.u_j|
    acc = jnp.abs(cc)
    # Axes of box i: project the centre offset and box j's half extents.
    d_ui = jnp.abs(dx * c[:, None] + dy * s[:, None])
    d_vi = jnp.abs(-dx * s[:, None] + dy * c[:, None])
    sep_ui = d_ui >= hl[:, None] + hl[None, :] * acc + hw[None, :] * cs
    sep_vi = d_vi >= hw[:, None] + hl[None, :] * cs + hw[None, :] * acc
    # Axes of box j.
    d_uj = jnp.abs(dx * c[None, :] + dy * s[None, :])
    d_vj = jnp.abs(-dx * s[None, :] + dy * c[None, :])
    sep_uj = d_uj >= hl[None, :] + hl[:, None] * acc + hw[:, None] * cs
    sep_vj = d_vj >= hw[None, :] + hl[:, None] * cs + hw[:, None] * acc
    overlap = near & ~(sep_ui | sep_vi | sep_uj | sep_vj)
    return overlap & ~jnp.eye(x.shape[0], dtype=bool)


def to_ego(px, py, x, y, yaw):
    """World points (px, py) -> ego frame (x forward, y left) of a pose (x, y, yaw); broadcasts."""
    c, s = jnp.cos(yaw), jnp.sin(yaw)
    dx, dy = px - x, py - y
    return dx * c + dy * s, -dx * s + dy * c
