"""Culling: per view (frustum and range, nearest `boxes_per_view` kept) and per tile of pixels.

Both backends trace the same per-tile box tables, so culling decides what is drawn and the
backends only differ in how they loop over it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from gp_render import _tracing as tr
from gp_render._camera import View
from gp_render._classes import SemanticClass
from gp_render._scene import Boxes, GroundTexture
from gp_render.config import RenderConfig

# Screen-rectangle slack in pixels, so rounding never culls a box off a tile it touches.
_MARGIN = 1.0


def _pad_boxes(boxes: Boxes, count: int) -> Boxes:
    missing = count - boxes.count
    if missing <= 0:
        return boxes
    pad = lambda x: jnp.concatenate([x, jnp.zeros((missing, *x.shape[1:]), x.dtype)])  # noqa: E731
    return jax.tree.map(pad, boxes)


def _box_corners(boxes: Boxes) -> Float[Array, "boxes 8 3"]:
    signs = jnp.asarray(
        [[sx, sy, sz] for sx in (-0.5, 0.5) for sy in (-0.5, 0.5) for sz in (-0.5, 0.5)],
        jnp.float32,
    )
    local = signs[None, :, :] * boxes.size[:, None, :]
    c, s = jnp.cos(boxes.yaw)[:, None], jnp.sin(boxes.yaw)[:, None]
    x = c * local[..., 0] - s * local[..., 1]
    y = s * local[..., 0] + c * local[..., 1]
    return jnp.stack([x, y, local[..., 2]], axis=-1) + boxes.center[:, None, :]


def screen_rectangles(
    view: View, boxes: Boxes
) -> tuple[Float[Array, "boxes 4"], Float[Array, " boxes"], Array]:
    """Per box: (u_min, u_max, v_min, v_max) in pixels, depth of its centre, and visibility.

    A box with corners on both sides of the near plane gets the whole screen (conservative).
    """
    corners = _box_corners(boxes)
    homogeneous = jnp.concatenate([corners, jnp.ones((*corners.shape[:2], 1), jnp.float32)], -1)
    projected = jnp.einsum("ij,bkj->bki", view.projection, homogeneous)
    w = projected[..., 2]
    in_front = w > view.near
    safe_w = jnp.where(in_front, w, 1.0)
    u, v = projected[..., 0] / safe_w, projected[..., 1] / safe_w
    big = jnp.float32(1e9)
    crosses = ~jnp.all(in_front, axis=1)
    rect = jnp.stack(
        [
            jnp.where(crosses, -big, jnp.min(u, axis=1)),
            jnp.where(crosses, big, jnp.max(u, axis=1)),
            jnp.where(crosses, -big, jnp.min(v, axis=1)),
            jnp.where(crosses, big, jnp.max(v, axis=1)),
        ],
        axis=1,
    )
    on_screen = (
        (rect[:, 1] >= -_MARGIN)
        & (rect[:, 0] <= view.width + _MARGIN)
        & (rect[:, 3] >= -_MARGIN)
        & (rect[:, 2] <= view.height + _MARGIN)
    )
    in_range = jnp.any(in_front, axis=1) & jnp.any(w <= view.far, axis=1)
    centre_depth = view.projection[2, :3] @ boxes.center.T + view.projection[2, 3]
    return rect, centre_depth, boxes.valid & on_screen & in_range


def box_table(boxes: Boxes) -> Float[Array, "boxes 16"]:
    """Boxes as rows of tracing parameters (see `_tracing.BOX_*`)."""
    n = boxes.count
    columns: list[jax.Array | None] = [None] * tr.BOX_PARAMS
    columns[tr.BOX_CX], columns[tr.BOX_CY], columns[tr.BOX_CZ] = boxes.center.T
    columns[tr.BOX_COS], columns[tr.BOX_SIN] = jnp.cos(boxes.yaw), jnp.sin(boxes.yaw)
    half = 0.5 * boxes.size
    columns[tr.BOX_HX], columns[tr.BOX_HY], columns[tr.BOX_HZ] = half.T
    columns[tr.BOX_R], columns[tr.BOX_G], columns[tr.BOX_B] = boxes.color.T
    columns[tr.BOX_CLASS] = boxes.class_id.astype(jnp.float32)
    columns[tr.BOX_INSTANCE] = boxes.instance_id.astype(jnp.float32)
    columns[tr.BOX_VALID] = boxes.valid.astype(jnp.float32)
    zeros = jnp.zeros((n,), jnp.float32)
    return jnp.stack([zeros if c is None else c for c in columns], axis=1)


def tile_grid(view: View, config: RenderConfig) -> tuple[int, int]:
    """Number of tile rows and columns covering the image (the last ones may overhang)."""
    return -(-view.height // config.tile_height), -(-view.width // config.tile_width)


def cull(view: View, boxes: Boxes, config: RenderConfig) -> Float[Array, "tiles 16 boxes_per_tile"]:
    """The per-tile box tables of one view, nearest box first, invalid slots zeroed.

    Row `BOX_COUNT` holds how many leading slots of the tile are valid.
    """
    boxes = _pad_boxes(boxes, config.boxes_per_view)
    rect, depth, visible = screen_rectangles(view, boxes)
    score = jnp.where(visible, -depth, -jnp.inf)
    score, keep = jax.lax.top_k(score, config.boxes_per_view)
    kept_visible = score > -jnp.inf
    rect = rect[keep]
    table = box_table(jax.tree.map(lambda x: x[keep], boxes))

    tile_rows, tile_cols = tile_grid(view, config)
    th, tw = config.tile_height, config.tile_width
    # Pixel centres of a tile span [start + 0.5, start + size - 0.5].
    v0 = jnp.arange(tile_rows, dtype=jnp.float32) * th + 0.5
    u0 = jnp.arange(tile_cols, dtype=jnp.float32) * tw + 0.5
    v0, u0 = (x.reshape(-1) for x in jnp.meshgrid(v0, u0, indexing="ij"))
    overlap = (
        kept_visible[None, :]
        & (rect[None, :, 1] >= u0[:, None] - _MARGIN)
        & (rect[None, :, 0] <= u0[:, None] + (tw - 1) + _MARGIN)
        & (rect[None, :, 3] >= v0[:, None] - _MARGIN)
        & (rect[None, :, 2] <= v0[:, None] + (th - 1) + _MARGIN)
    )
    # The first boxes_per_tile overlapping boxes in view order (nearest first): box k goes to
    # slot (number of overlapping boxes before it), a cumulative sum instead of a sort.
    position = jnp.cumsum(overlap, axis=1, dtype=jnp.int32) - 1
    slot_ids = jnp.arange(config.boxes_per_tile, dtype=jnp.int32)
    takes = overlap[:, None, :] & (position[:, None, :] == slot_ids[None, :, None])
    box_ids = jnp.arange(config.boxes_per_view, dtype=jnp.int32)
    slots = jnp.sum(jnp.where(takes, box_ids[None, None, :], 0), axis=2)
    in_tile = jnp.any(takes, axis=2)
    tiles = table[slots]  # (tiles, boxes_per_tile, params)
    tiles = tiles.at[..., tr.BOX_VALID].set(in_tile.astype(jnp.float32))
    count = jnp.sum(in_tile, axis=1, dtype=jnp.int32).astype(jnp.float32)
    tiles = tiles.at[..., tr.BOX_COUNT].set(jnp.broadcast_to(count[:, None], in_tile.shape))
    return jnp.swapaxes(tiles, 1, 2)


def view_params(
    view: View, ground: GroundTexture, palette: Float[Array, "classes 3"], config: RenderConfig
) -> Float[Array, "32"]:
    """The per-view parameter vector read by the tracer (see `_tracing.V_*`)."""
    rows, cols = ground.shape
    fog = 0.0 if config.fog_distance is None else 1.0 / config.fog_distance
    parts = [
        view.origin,
        view.origin_per_col,
        view.origin_per_row,
        view.direction,
        view.direction_per_col,
        view.direction_per_row,
        jnp.stack([view.near, view.far]),
        ground.origin,
        jnp.stack([1.0 / ground.metres_per_texel]),
        jnp.asarray([cols, rows, fog], jnp.float32),
        palette[0].astype(jnp.float32),
    ]
    flat = jnp.concatenate([jnp.asarray(p, jnp.float32).reshape(-1) for p in parts])
    return jnp.pad(flat, (0, tr.VIEW_PARAMS - flat.shape[0]))


def ground_texels(
    ground: GroundTexture, palette: Float[Array, "classes 3"]
) -> Int[Array, " texels"]:
    """Packed int32 texels (rgb bytes, class in the top byte), plus one off-map texel last."""

    q = jnp.floor(jnp.clip(palette, 0.0, 1.0) * 255.0 + 0.5).astype(jnp.int32)
    packed_palette = q[:, 0] | (q[:, 1] << 8) | (q[:, 2] << 16)
    classes = jnp.concatenate(
        [ground.classes.reshape(-1), jnp.asarray([int(SemanticClass.OFF_MAP)], jnp.int32)]
    )
    return packed_palette[classes] | (classes << 24)
