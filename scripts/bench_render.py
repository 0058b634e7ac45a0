"""Workloads for `scripts/bench.py render`: agent-frames/s per resolution and backend.

A world holds 64 boxes (cars on a 120 m x 120 m patch); each of the world's first `agents` boxes
carries the camera(s), so every agent sees the other cars of its world. One item is one agent's
frame: one view, or three views for the forward rig.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_harness import Workload

import gp_render as gr
from gp_render import testing

BOXES = 64
# Flops the method implies, counted from the tracer: per pixel and box slot of its tile, the
# nearest-box search (rotate the ray into the box frame 12, three slabs 21, entry/exit and
# range tests 8, selection key 3); per pixel, its ray (12), the chosen box's surface again with
# its face normal and shading (~60), the ground hit and texel address (~25), sky/fog/packing.
PAIR_FLOPS = 44
PIXEL_FLOPS = 120
# Per-view culling: 8 corners projected (3x4 matvec) and compared, per box.
CULL_FLOPS_PER_BOX = 8 * 24 + 16


def _world(key: jax.Array, worlds: int) -> gr.Boxes:
    """Cars on a 120 m square, heading along the road axes, agent i sitting on box i."""
    k_xy, k_yaw, k_col = jax.random.split(key, 3)
    xy = jax.random.uniform(k_xy, (worlds, BOXES, 2), jnp.float32, -60.0, 60.0)
    yaw = jax.random.randint(k_yaw, (worlds, BOXES), 0, 4).astype(jnp.float32) * (np.pi / 2)
    size = jnp.broadcast_to(jnp.asarray([4.6, 1.9, 1.5], jnp.float32), (worlds, BOXES, 3))
    center = jnp.concatenate([xy, jnp.full((worlds, BOXES, 1), 0.75, jnp.float32)], -1)
    return gr.Boxes(
        center=center,
        size=size,
        yaw=yaw,
        color=jax.random.uniform(k_col, (worlds, BOXES, 3), jnp.float32),
        class_id=jnp.full((worlds, BOXES), int(gr.SemanticClass.VEHICLE), jnp.int32),
        instance_id=jnp.broadcast_to(jnp.arange(BOXES, dtype=jnp.int32), (worlds, BOXES)),
        valid=jnp.ones((worlds, BOXES), bool),
    )


def _workload(size: int, cameras: int, worlds: int, agents: int, backend: str, config):
    ground = testing.sample_ground(0.25)
    boxes = _world(jax.random.key(0), worlds)
    poses = jnp.concatenate([boxes.center[:, :agents, :2], boxes.yaw[:, :agents, None]], -1)
    if cameras == 1:
        rig = jax.tree.map(
            lambda x: x[None], gr.pinhole_camera(size, size, 90.0, mount=(2.4, 0, 1.5, 0, 0.05))
        )
    else:
        rig = gr.forward_rig(size, size, cameras, 60.0, mount=(2.4, 0, 1.5, 0, 0.05))

    def agent_frames(pose, world_boxes):
        views = gr.rig_views(rig, pose)
        return jax.vmap(
            lambda v: gr.render(v, world_boxes, ground, config=config, backend=backend).rgb
        )(views)

    per_world = jax.vmap(agent_frames, in_axes=(0, None))
    run_batch = jax.jit(jax.vmap(per_world))
    pixels = size * size * cameras
    flops = (
        pixels * (config.boxes_per_tile * PAIR_FLOPS + PIXEL_FLOPS)
        + cameras * BOXES * CULL_FLOPS_PER_BOX
    )
    return Workload(
        benchmark="render",
        config={
            "resolution": f"{size}x{size}",
            "cameras": cameras,
            "boxes": BOXES,
            "views_per_call": worlds * agents * cameras,
            "boxes_per_tile": config.boxes_per_tile,
        },
        backend=backend,
        item="agent-frame",
        items_per_call=worlds * agents,
        run=lambda: run_batch(poses, boxes),
        flops_per_item=float(flops),
    )


def workloads(preset: str):
    """CPU: the XLA path (interpret-mode Pallas is no speed measurement). GPU: both backends."""
    if preset == "cpu":
        config = gr.RenderConfig.cpu()
        # (size, cameras, worlds, agents): batches XLA runs on one thread. On a 2-core machine
        # shared with other jobs, batches XLA splits across threads ran 2-3x slower.
        sizes = [(64, 1, 2, 32), (128, 1, 1, 16), (256, 1, 1, 2), (64, 3, 1, 16)]
        backends = ["xla"]
    else:
        config = gr.RenderConfig.gpu()
        sizes = [(64, 1, 256, 64), (128, 1, 128, 32), (256, 1, 32, 32), (64, 3, 128, 32)]
        backends = ["pallas", "xla"]
    for backend in backends:
        for size, cameras, worlds, agents in sizes:
            yield _workload(size, cameras, worlds, agents, backend, config)
