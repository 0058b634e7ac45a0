"""The Pallas backend: one program per tile of pixels, looping over that tile's boxes only.

On a GPU it compiles through Triton with explicit compiler params; elsewhere it runs in
interpret mode, where it must reproduce the XLA backend exactly.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plgpu

from gp_render import _tracing as tr
from gp_render._xla import tile_pixels
from gp_render.config import RenderConfig


def _kernel(
    view_ref,
    tiles_ref,
    texels_ref,
    rgb_ref,
    depth_ref,
    class_ref,
    instance_ref,
    *,
    tile_cols: int,
    config: RenderConfig,
):
    read_view = lambda i: view_ref[i]  # noqa: E731
    rows, cols = tile_pixels(pl.program_id(0), tile_cols, config)
    rays = tr.pixel_rays(read_view, rows, cols)
    near, far = read_view(tr.V_NEAR), read_view(tr.V_FAR)
    chunk = config.chunk
    count = tiles_ref[0, tr.BOX_COUNT, 0].astype(jnp.int32)

    slots = tiles_ref.shape[2]

    def nearest_in_chunk(i, key):
        start = pl.multiple_of(i * chunk, chunk)
        table = lambda j: tiles_ref[0, j, pl.ds(start, chunk)]  # noqa: E731
        return jnp.minimum(key, tr.nearest_key(rays, table, start, slots, near, far))

    # Only the chunks holding this tile's boxes: cost follows what is visible near the tile.
    no_key = jnp.full(rows.shape, tr.NO_KEY, jnp.int32)
    key = jax.lax.fori_loop(0, (count + chunk - 1) // chunk, nearest_in_chunk, no_key)
    chosen = key & (slots - 1)
    surface = tr.box_surface(rays, key, lambda j: tiles_ref[0, j, chosen], near, far)
    fog = config.fog_distance is not None
    read_texel = lambda index: texels_ref[index]  # noqa: E731
    rgb, depth, class_id, instance_id = tr.shade_pixels(
        rays, surface, read_view, read_texel, config.bilinear, fog
    )
    rgb_ref[0, :] = rgb
    depth_ref[0, :] = depth
    class_ref[0, :] = class_id
    instance_ref[0, :] = instance_id


def trace_tiles_pallas(
    view: jax.Array, tiles: jax.Array, texels: jax.Array, tile_cols: int, config: RenderConfig
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Same contract as `trace_tiles_xla`; `vmap` over views adds a batch grid axis."""
    tiles_count, params, per_tile = tiles.shape
    pixels = config.tile_pixels
    interpret = config.interpret
    if interpret is None:
        interpret = jax.default_backend() != "gpu"
    out_block = pl.BlockSpec((1, pixels), lambda t: (t, 0))
    call = pl.pallas_call(
        functools.partial(_kernel, tile_cols=tile_cols, config=config),
        out_shape=(
            jax.ShapeDtypeStruct((tiles_count, pixels), jnp.int32),
            jax.ShapeDtypeStruct((tiles_count, pixels), jnp.float32),
            jax.ShapeDtypeStruct((tiles_count, pixels), jnp.int32),
            jax.ShapeDtypeStruct((tiles_count, pixels), jnp.int32),
        ),
        grid=(tiles_count,),
        in_specs=[
            pl.BlockSpec((tr.VIEW_PARAMS,), lambda t: (0,)),
            pl.BlockSpec((1, params, per_tile), lambda t: (t, 0, 0)),
            pl.BlockSpec(texels.shape, lambda t: (0,)),
        ],
        out_specs=(out_block, out_block, out_block, out_block),
        compiler_params=plgpu.CompilerParams(
            num_warps=config.num_warps, num_stages=config.num_stages
        ),
        interpret=interpret,
        name="gp_render_tiles",
    )
    return call(view, tiles, texels)
