"""Per-pixel ray tracing shared by both backends: the same jnp code runs in XLA and in the kernel.

Everything here works on one tile: pixel vectors of shape (pixels,) and box parameter rows of
shape (boxes,); all shapes stay powers of two so Triton accepts them. Boxes are packed as rows of
a (BOX_PARAMS, boxes) table, the view as a VIEW_PARAMS vector, the ground as int32 texels
(rgb in the low three bytes, class id in the top byte) with one extra texel for off-map ground.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

# Rows of the per-tile box table.
BOX_CX, BOX_CY, BOX_CZ, BOX_COS, BOX_SIN, BOX_HX, BOX_HY, BOX_HZ = range(8)
BOX_R, BOX_G, BOX_B, BOX_CLASS, BOX_INSTANCE, BOX_VALID, BOX_COUNT = range(8, 15)
BOX_PARAMS = 16

# Entries of the per-view parameter vector.
V_ORIGIN, V_ORIGIN_COL, V_ORIGIN_ROW = 0, 3, 6
V_DIR, V_DIR_COL, V_DIR_ROW = 9, 12, 15
V_NEAR, V_FAR = 18, 19
V_TEX_X, V_TEX_Y, V_TEX_SCALE, V_TEX_COLS, V_TEX_ROWS = 20, 21, 22, 23, 24
V_FOG, V_SKY = 25, 26  # fog density 1/m; sky RGB in 26..28
VIEW_PARAMS = 32

# Selection key of a pixel that hits no box (larger than any finite float's bits).
NO_KEY = 0x7FFFFFFF
# Smallest |direction component| kept, so slab divisions never make 0 * inf.
_TINY = 1e-20
# Light direction for face shading (unit, from above, the north and the east), and weights of
# a half-Lambert term (0.5 + 0.5 n.L): every face of a box gets its own brightness.
_LIGHT = (0.36, 0.48, 0.80)
_AMBIENT, _DIFFUSE = 0.5, 0.5


class BoxHit(NamedTuple):
    """Nearest box hit per pixel: t = inf where no box is hit."""

    t: jax.Array  # (pixels,) float32
    rgb: tuple[jax.Array, jax.Array, jax.Array]  # shaded colour, float32 in [0, 1]
    class_id: jax.Array  # (pixels,) int32
    instance_id: jax.Array  # (pixels,) int32


class Rays(NamedTuple):
    origin: tuple[jax.Array, jax.Array, jax.Array]
    direction: tuple[jax.Array, jax.Array, jax.Array]


def pixel_rays(view: Callable[[int], jax.Array], rows: jax.Array, cols: jax.Array) -> Rays:
    """Rays of pixels given as float32 (row, col) vectors, from the affine view model."""

    def affine(base: int, per_col: int, per_row: int) -> tuple[jax.Array, jax.Array, jax.Array]:
        x, y, z = (
            view(base + i) + cols * view(per_col + i) + rows * view(per_row + i) for i in range(3)
        )
        return x, y, z

    return Rays(affine(V_ORIGIN, V_ORIGIN_COL, V_ORIGIN_ROW), affine(V_DIR, V_DIR_COL, V_DIR_ROW))


def _safe(d: jax.Array) -> jax.Array:
    return jnp.where(d >= 0.0, jnp.maximum(d, _TINY), jnp.minimum(d, -_TINY))


def _slab(
    origin: tuple[jax.Array, ...],
    direction: tuple[jax.Array, ...],
    box: Callable[[int], jax.Array],
    near: jax.Array,
    far: jax.Array,
):
    """Ray-box slab test; inputs broadcast against each other. Returns (t_near, hit, lo, d_box).

    A box counts only where the ray enters it in [near, far], so a camera inside a box (the
    ego's own box) does not see it.
    """
    c, s = box(BOX_COS), box(BOX_SIN)
    rx, ry = origin[0] - box(BOX_CX), origin[1] - box(BOX_CY)
    dx, dy, dz = direction
    # Ray in the box frame (rotate by -yaw).
    o_box = (c * rx + s * ry, c * ry - s * rx, origin[2] - box(BOX_CZ))
    d_box = (c * dx + s * dy, c * dy - s * dx, dz + jnp.zeros_like(c))
    half = (box(BOX_HX), box(BOX_HY), box(BOX_HZ))
    lo, hi = [], []
    for o, d, h in zip(o_box, d_box, half, strict=True):
        inv = 1.0 / _safe(d)
        ta, tb = (-h - o) * inv, (h - o) * inv
        lo.append(jnp.minimum(ta, tb))
        hi.append(jnp.maximum(ta, tb))
    t_near = jnp.maximum(jnp.maximum(lo[0], lo[1]), lo[2])
    t_far = jnp.minimum(jnp.minimum(hi[0], hi[1]), hi[2])
    hit = (box(BOX_VALID) > 0.5) & (t_near <= t_far) & (t_near >= near) & (t_near <= far)
    return t_near, hit, lo, d_box


def nearest_key(
    rays: Rays,
    box: Callable[[int], jax.Array],
    first_slot: jax.Array | int,
    slots: int,
    near: jax.Array,
    far: jax.Array,
) -> jax.Array:
    """Per pixel, the smallest selection key over `box(i)` rows of shape (chunk,).

    key = bits of t with the low bits replaced by the slot number, so one integer min finds
    the nearest box; hits closer than 2**log2(slots) ulps count as ties, won by the lower
    slot. NO_KEY where nothing is hit.
    """
    col = lambda x: x[:, None]  # noqa: E731
    row = lambda i: box(i)[None, :]  # noqa: E731
    origin = tuple(col(o) for o in rays.origin)
    direction = tuple(col(d) for d in rays.direction)
    t_near, hit, _, _ = _slab(origin, direction, row, near, far)
    # + 0.0 turns -0.0 into +0.0, so the bit pattern of every t >= 0 sorts like t.
    bits = jax.lax.bitcast_convert_type(t_near + 0.0, jnp.int32)
    slot = jax.lax.broadcasted_iota(jnp.int32, t_near.shape, 1) + first_slot
    key = jnp.where(hit, (bits & ~(slots - 1)) | slot, NO_KEY)
    return jnp.min(key, axis=1)


def box_surface(
    rays: Rays, key: jax.Array, box: Callable[[int], jax.Array], near: jax.Array, far: jax.Array
) -> BoxHit:
    """Depth, shaded colour and ids of the box chosen by `key`; `box(i)`: its rows per pixel."""
    t_near, hit, lo, d_box = _slab(rays.origin, rays.direction, box, near, far)
    hit = hit & (key != NO_KEY)
    # Face normal in the box frame: the axis whose slab was entered last, facing the ray.
    on_x = lo[0] == t_near
    on_y = (lo[1] == t_near) & ~on_x
    on_z = ~on_x & ~on_y
    sign = lambda d: jnp.where(d > 0.0, -1.0, 1.0)  # noqa: E731
    nx_box = jnp.where(on_x, sign(d_box[0]), 0.0)
    ny_box = jnp.where(on_y, sign(d_box[1]), 0.0)
    nz = jnp.where(on_z, sign(d_box[2]), 0.0)
    c, s = box(BOX_COS), box(BOX_SIN)
    nx, ny = c * nx_box - s * ny_box, s * nx_box + c * ny_box
    lit = 0.5 + 0.5 * (nx * _LIGHT[0] + ny * _LIGHT[1] + nz * _LIGHT[2])
    shade = _AMBIENT + _DIFFUSE * lit
    rgb = (box(BOX_R) * shade, box(BOX_G) * shade, box(BOX_B) * shade)
    return BoxHit(
        jnp.where(hit, t_near, jnp.inf),
        rgb,
        box(BOX_CLASS).astype(jnp.int32),
        jnp.where(hit, box(BOX_INSTANCE).astype(jnp.int32), -1),
    )


def _unpack(texel: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    channel = lambda shift: ((texel >> shift) & 255).astype(jnp.float32) * (1.0 / 255.0)  # noqa: E731
    return channel(0), channel(8), channel(16)


def shade_pixels(
    rays: Rays,
    boxes: BoxHit,
    view: Callable[[int], jax.Array],
    texel: Callable[[jax.Array], jax.Array],
    bilinear: bool,
    fog: bool,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Combine the box hit with the ground and sky: (rgb packed int32, depth, class, instance).

    `texel(index)` reads int32 texels; index = rows * cols is the off-map texel.
    """
    near, far = view(V_NEAR), view(V_FAR)
    (ox, oy, oz), (dx, dy, dz) = rays.origin, rays.direction
    t_ground = -oz / jnp.minimum(dz, -_TINY)
    ground = (dz < 0.0) & (t_ground >= near) & (t_ground <= far) & (t_ground < boxes.t)
    t_ground = jnp.where(ground, t_ground, 0.0)
    scale, cols, rows = view(V_TEX_SCALE), view(V_TEX_COLS), view(V_TEX_ROWS)
    u = (ox + t_ground * dx - view(V_TEX_X)) * scale
    v = (oy + t_ground * dy - view(V_TEX_Y)) * scale
    off_map = (rows * cols).astype(jnp.int32)

    def fetch(fu: jax.Array, fv: jax.Array) -> jax.Array:
        inside = (fu >= 0.0) & (fu < cols) & (fv >= 0.0) & (fv < rows)
        iu = jnp.where(inside, fu, 0.0).astype(jnp.int32)
        iv = jnp.where(inside, fv, 0.0).astype(jnp.int32)
        return texel(jnp.where(inside, iv * cols.astype(jnp.int32) + iu, off_map))

    nearest = fetch(jnp.floor(u), jnp.floor(v))
    ground_class = (nearest >> 24) & 127
    if bilinear:
        u0, v0 = jnp.floor(u - 0.5), jnp.floor(v - 0.5)
        wu, wv = u - 0.5 - u0, v - 0.5 - v0
        corners = [_unpack(fetch(u0 + a, v0 + b)) for b in (0.0, 1.0) for a in (0.0, 1.0)]
        weights = [(1.0 - wu) * (1.0 - wv), wu * (1.0 - wv), (1.0 - wu) * wv, wu * wv]
        ground_rgb = tuple(
            sum(w * c[i] for w, c in zip(weights, corners, strict=True)) for i in range(3)
        )
    else:
        ground_rgb = _unpack(nearest)

    box = jnp.isfinite(boxes.t)
    sky = (view(V_SKY), view(V_SKY + 1), view(V_SKY + 2))
    t = jnp.where(ground, t_ground, jnp.where(box, boxes.t, jnp.inf))
    rgb = [
        jnp.where(ground, g, jnp.where(box, b, s))
        for g, b, s in zip(ground_rgb, boxes.rgb, sky, strict=True)
    ]
    if fog:
        hit = ground | box
        distance = jnp.where(hit, t, 0.0) * jnp.sqrt(dx * dx + dy * dy + dz * dz)
        keep = jnp.exp(-distance * view(V_FOG))
        rgb = [
            jnp.where(hit, c * keep + s * (1.0 - keep), c) for c, s in zip(rgb, sky, strict=True)
        ]
    q = [jnp.floor(jnp.clip(c, 0.0, 1.0) * 255.0 + 0.5).astype(jnp.int32) for c in rgb]
    packed = q[0] | (q[1] << 8) | (q[2] << 16)
    class_id = jnp.where(ground, ground_class, jnp.where(box, boxes.class_id, 0))
    instance_id = jnp.where(ground | ~box, -1, boxes.instance_id)
    return packed, t, class_id, instance_id
