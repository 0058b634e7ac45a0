"""Rollout videos: a top-down (BEV) view beside one agent's forward camera, both drawn by
gp-render from a recorded rollout, with events marked.

Marks: a frame border and a square around each agent with an event this step, coloured by the
event (collision red, red-light running orange, off-road magenta, wrong way yellow); the
followed agent has a white square.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import equinox as eqx
import imageio.v2 as imageio
import jax.numpy as jnp
import numpy as np

import gp_render as gr
from gp_agents import ground_texture
from gp_eval.config import VideoConfig

EVENT_COLOURS = {
    "collision": (230, 30, 30),
    "red_light": (255, 140, 0),
    "offroad": (220, 0, 220),
    "wrong_way": (240, 220, 0),
}
_KIND_COLOURS = np.array(
    [[0.2, 0.4, 0.9], [0.9, 0.9, 0.9], [0.9, 0.5, 0.1], [0.2, 0.8, 0.3]], np.float32
)  # car, van, truck, cyclist (as gp-world's scene export)
_KIND_HEIGHT = np.array([1.5, 2.2, 3.4, 1.7], np.float32)
_LIGHT_COLOURS = np.array(
    [[1.0, 0.1, 0.1], [1.0, 0.8, 0.1], [0.1, 0.9, 0.2], [0.3, 0.3, 0.3]], np.float32
)  # gp-world RED, YELLOW, GREEN, NO_LIGHT
_LIGHT_HEAD = (0.4, 0.4, 1.2, 4.0, 1.0)  # size x, y, z, centre height, offset past the line end


def _boxes(rec: dict[str, np.ndarray], t: int, stop_lines: np.ndarray) -> gr.Boxes:
    """Agent boxes then light heads coloured by their state at step t."""
    kind = rec["kind"][t]
    height = _KIND_HEIGHT[kind]
    agents_c = np.stack([rec["x"][t], rec["y"][t], 0.5 * height], -1)
    agents_s = np.stack([rec["length"][t], rec["width"][t], height], -1)
    d = stop_lines[:, 2:] - stop_lines[:, :2]
    d = d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-6)
    head_xy = stop_lines[:, 2:] + _LIGHT_HEAD[4] * d
    n = stop_lines.shape[0]
    state = rec["stop_line_state"][t][:n]
    heads_c = np.concatenate([head_xy, np.full((n, 1), _LIGHT_HEAD[3])], -1)
    return gr.make_boxes(
        center=np.concatenate([agents_c, heads_c]).astype(np.float32),
        size=np.concatenate([agents_s, np.tile(_LIGHT_HEAD[:3], (n, 1))]).astype(np.float32),
        yaw=np.concatenate([rec["yaw"][t], np.arctan2(d[:, 1], d[:, 0])]),
        color=np.concatenate([_KIND_COLOURS[kind], _LIGHT_COLOURS[state]]),
        class_id=np.concatenate(
            [
                np.full(kind.shape, int(gr.SemanticClass.VEHICLE)),
                np.full((n,), int(gr.SemanticClass.TRAFFIC_LIGHT)),
            ]
        ),
        valid=np.concatenate([rec["live"][t], state != 3]),
    )


def _mark(image: np.ndarray, row: float, col: float, half: int, colour) -> None:
    r0, r1 = int(row) - half, int(row) + half
    c0, c1 = int(col) - half, int(col) + half
    h, w = image.shape[:2]
    for r in (r0, r1):
        if 0 <= r < h:
            image[r, max(c0, 0) : min(c1 + 1, w)] = colour
    for c in (c0, c1):
        if 0 <= c < w:
            image[max(r0, 0) : min(r1 + 1, h), c] = colour


def render_rollout(
    record: Any,
    maps: Any,
    seed_index: int = 0,
    follow: int = 0,
    steps: range | None = None,
    cfg: VideoConfig | None = None,
) -> np.ndarray:
    """uint8 [T, H, W, 3] frames of seed `seed_index` of a RolloutRecord, following slot
    `follow` (BEV centred on it, camera on its roof)."""
    cfg = VideoConfig() if cfg is None else cfg
    rec = {
        f.name: np.asarray(getattr(record, f.name))[seed_index]
        for f in dataclasses.fields(record)
        if f.name not in ("observation", "world_state")
    }
    m = int(rec["map_id"])
    ground = ground_texture(maps, m, cfg.metres_per_texel)
    ok = np.asarray(maps.stop_lines_valid[m])
    stop_lines = np.asarray(maps.stop_lines[m])[ok]
    camera = gr.pinhole_camera(
        cfg.camera_width,
        cfg.camera_height,
        horizontal_fov_deg=cfg.horizontal_fov_deg,
        mount=(1.0, 0.0, 1.6, 0.0, 0.08),
    )
    size = cfg.bev_pixels

    @eqx.filter_jit
    def draw(centre, pose, boxes, own):
        top = gr.render(gr.bev_view(centre, size, size, cfg.metres_per_pixel), boxes, ground).rgb
        if not cfg.with_camera:
            return top, top
        hidden = eqx.tree_at(lambda b: b.valid, boxes, boxes.valid & ~own)
        cam = gr.render(gr.camera_view(camera, pose), hidden, ground).rgb
        return top, cam

    steps = range(rec["x"].shape[0]) if steps is None else steps
    frames = []
    num_agents = rec["x"].shape[1]
    for t in steps:
        boxes = _boxes(rec, t, stop_lines)
        centre = (float(rec["x"][t, follow]), float(rec["y"][t, follow]))
        pose = jnp.asarray([rec["x"][t, follow], rec["y"][t, follow], rec["yaw"][t, follow]])
        own = jnp.arange(boxes.valid.shape[0]) == follow
        top, cam = (np.array(v) for v in draw(jnp.asarray(centre), pose, boxes, own))
        for a in range(num_agents):
            row = size / 2 - (rec["y"][t, a] - centre[1]) / cfg.metres_per_pixel
            col = size / 2 + (rec["x"][t, a] - centre[0]) / cfg.metres_per_pixel
            half = int(0.6 * rec["length"][t, a] / cfg.metres_per_pixel) + 2
            if a == follow:
                _mark(top, row, col, half, (255, 255, 255))
            for name, colour in EVENT_COLOURS.items():
                if rec[name][t, a]:
                    _mark(top, row, col, half + 2, colour)
                    top[:4], top[-4:], top[:, :4], top[:, -4:] = colour, colour, colour, colour
        frames.append(np.concatenate([top, cam], axis=1) if cfg.with_camera else top)
    return np.stack(frames)


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: int = 10) -> None:
    """Write uint8 [T, H, W, 3] frames as MP4 (or GIF by extension) with imageio."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [T, H, W, 3], got {frames.dtype} {frames.shape}")
    path = os.fspath(path)
    if path.endswith(".gif"):
        imageio.mimsave(path, list(frames), duration=1.0 / fps)
        return
    with imageio.get_writer(path, fps=fps, macro_block_size=1) as writer:
        for frame in frames:
            writer.append_data(frame)  # type: ignore[attr-defined]
