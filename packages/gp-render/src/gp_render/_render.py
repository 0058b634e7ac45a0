"""`render`: one view of boxes on a textured ground, by either backend."""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, UInt8

from gp_render import _culling
from gp_render._camera import View
from gp_render._classes import NUM_CLASSES, default_palette
from gp_render._pallas import trace_tiles_pallas
from gp_render._scene import Boxes, GroundTexture
from gp_render._xla import trace_tiles_xla
from gp_render.config import RenderConfig

Backend = Literal["xla", "pallas", "auto"]


class Frame(eqx.Module):
    """One rendered view. Optional outputs are None unless requested.

    depth: metres along the ray parameter (z-depth for pinhole cameras), inf on sky;
    class_id: `SemanticClass` of sky / ground / the box hit; instance_id: box instance or -1.
    """

    rgb: UInt8[Array, "*batch height width 3"]
    depth: Float[Array, "*batch height width"] | None = None
    class_id: Int[Array, "*batch height width"] | None = None
    instance_id: Int[Array, "*batch height width"] | None = None


def resolve_backend(backend: Backend) -> Literal["xla", "pallas"]:
    """`auto`: the Pallas kernel on GPU, the XLA path elsewhere."""
    if backend == "auto":
        return "pallas" if jax.default_backend() == "gpu" else "xla"
    if backend not in ("xla", "pallas"):
        raise ValueError(f"backend must be 'xla', 'pallas' or 'auto', got {backend!r}")
    return backend


def _untile(x: jax.Array, view: View, config: RenderConfig) -> jax.Array:
    tile_rows, tile_cols = _culling.tile_grid(view, config)
    th, tw = config.tile_height, config.tile_width
    image = x.reshape(tile_rows, tile_cols, th, tw).transpose(0, 2, 1, 3)
    return image.reshape(tile_rows * th, tile_cols * tw)[: view.height, : view.width]


def _check_inputs(view: View, boxes: Boxes, ground: GroundTexture, palette: jax.Array) -> None:
    """Shape checks (static, so they work under jit and vmap)."""
    if view.origin.shape != (3,):
        raise ValueError(
            f"render takes one view (origin shape (3,)), got {view.origin.shape}: vmap it"
        )
    n = boxes.yaw.shape
    if len(n) != 1:
        raise ValueError(f"render takes one set of boxes (yaw shape (n,)), got {n}: vmap it")
    for name in ("center", "size", "color"):
        if getattr(boxes, name).shape != (*n, 3):
            raise ValueError(
                f"boxes.{name} must have shape {(*n, 3)}, got {getattr(boxes, name).shape}"
            )
    for name in ("class_id", "instance_id", "valid"):
        if getattr(boxes, name).shape != n:
            raise ValueError(f"boxes.{name} must have shape {n}, got {getattr(boxes, name).shape}")
    if ground.classes.ndim != 2:
        raise ValueError(f"ground.classes must be (rows, cols), got {ground.classes.shape}")
    if palette.ndim != 2 or palette.shape[1] != 3 or palette.shape[0] < NUM_CLASSES:
        raise ValueError(f"palette must be (classes >= {NUM_CLASSES}, 3) RGB, got {palette.shape}")


def render(
    view: View,
    boxes: Boxes,
    ground: GroundTexture,
    palette: Float[Array, "classes 3"] | None = None,
    config: RenderConfig = RenderConfig(),  # noqa: B008 (frozen, hashable)
    *,
    backend: Backend = "auto",
    depth: bool = False,
    class_id: bool = False,
    instance_id: bool = False,
) -> Frame:
    """Render one unbatched view; `jax.vmap` over views, boxes or both for batches.

    Shapes: boxes (n,) for any n (padded to the view budget inside), ground (rows, cols),
    palette (classes, 3) RGB in [0, 1] indexed by class id (row 0 is the sky).
    """
    palette = default_palette() if palette is None else jnp.asarray(palette, jnp.float32)
    _check_inputs(view, boxes, ground, palette)
    tiles = _culling.cull(view, boxes, config)
    params = _culling.view_params(view, ground, palette, config)
    texels = _culling.ground_texels(ground, palette)
    _, tile_cols = _culling.tile_grid(view, config)
    trace = trace_tiles_pallas if resolve_backend(backend) == "pallas" else trace_tiles_xla
    packed, t, cls, inst = trace(params, tiles, texels, tile_cols, config)
    packed = _untile(packed, view, config)
    # Bytes of the little-endian int32 (r, g, b, 0): a bitcast, so XLA does not recompute
    # the fused tracer once per channel as a shift-and-mask per channel would make it.
    rgb = jax.lax.bitcast_convert_type(packed, jnp.uint8)[..., :3]
    return Frame(
        rgb=rgb,
        depth=_untile(t, view, config) if depth else None,
        class_id=_untile(cls, view, config) if class_id else None,
        instance_id=_untile(inst, view, config) if instance_id else None,
    )
