"""The XLA backend: the reference tracer, vectorised over tiles, pixels and a tile's boxes."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gp_render import _tracing as tr
from gp_render.config import RenderConfig


def tile_pixels(
    tile: jax.Array, tile_cols: int, config: RenderConfig
) -> tuple[jax.Array, jax.Array]:
    """Float32 (row, col) of the pixels of tile number `tile` (row-major within the tile)."""
    p = jax.lax.broadcasted_iota(jnp.int32, (config.tile_pixels,), 0)
    rows = (tile // tile_cols) * config.tile_height + p // config.tile_width
    cols = (tile % tile_cols) * config.tile_width + p % config.tile_width
    return rows.astype(jnp.float32), cols.astype(jnp.float32)


def trace_tiles_xla(
    view: jax.Array, tiles: jax.Array, texels: jax.Array, tile_cols: int, config: RenderConfig
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """(rgb packed, depth, class, instance), each (tiles, tile_pixels), for one view."""
    read_view = lambda i: view[i]  # noqa: E731
    read_texel = lambda index: texels.at[index].get(mode="promise_in_bounds")  # noqa: E731

    def one_tile(tile: jax.Array, table: jax.Array):
        rows, cols = tile_pixels(tile, tile_cols, config)
        rays = tr.pixel_rays(read_view, rows, cols)
        near, far = view[tr.V_NEAR], view[tr.V_FAR]
        slots = table.shape[1]
        key = tr.nearest_key(rays, lambda j: table[j], 0, slots, near, far)
        chosen = key & (slots - 1)

        def chosen_row(j: int) -> jax.Array:
            # A chain of selects instead of a gather: it vectorises and fuses on CPU.
            picked = jnp.broadcast_to(table[j, slots - 1], chosen.shape)
            for k in range(slots - 1):
                picked = jnp.where(chosen == k, table[j, k], picked)
            return picked

        surface = tr.box_surface(rays, key, chosen_row, near, far)
        fog = config.fog_distance is not None
        return tr.shade_pixels(rays, surface, read_view, read_texel, config.bilinear, fog)

    tiles_count = tiles.shape[0]
    return jax.vmap(one_tile)(jnp.arange(tiles_count, dtype=jnp.int32), tiles)
