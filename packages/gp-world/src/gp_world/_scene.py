"""Scene export for renderers: oriented 3D boxes (agents, light heads), ego poses, map geometry."""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from gp_world._agents import Agents
from gp_world._dynamics import KIND_HEIGHT
from gp_world._lights import GREEN, NO_LIGHT, RED, YELLOW, Lights, light_state
from gp_world._map_bank import MapBank
from gp_world.config import WorldConfig

# Box classes: agent kinds 0..3 (car, van, truck, cyclist), then light heads.
CLASS_LIGHT = 4
KIND_COLOURS = np.array(
    [[0.2, 0.4, 0.9], [0.9, 0.9, 0.9], [0.9, 0.5, 0.1], [0.2, 0.8, 0.3]], np.float32
)
LIGHT_COLOURS = np.zeros((4, 3), np.float32)
LIGHT_COLOURS[RED] = (1.0, 0.1, 0.1)
LIGHT_COLOURS[YELLOW] = (1.0, 0.8, 0.1)
LIGHT_COLOURS[GREEN] = (0.1, 0.9, 0.2)
LIGHT_COLOURS[NO_LIGHT] = (0.3, 0.3, 0.3)
LIGHT_HEAD_SIZE = (0.4, 0.4, 1.2)  # metres
LIGHT_HEAD_HEIGHT = 4.0  # metres, centre above ground
LIGHT_HEAD_OFFSET = 1.0  # metres beyond the road-side end of the stop line


class Scene(eqx.Module):
    """Boxes (A agents then S light heads) and per-agent ego poses of one world."""

    centre: Float[Array, "N 3"]
    size: Float[Array, "N 3"]  # length, width, height
    yaw: Float[Array, " N"]
    box_class: Int[Array, " N"]
    colour: Float[Array, "N 3"]  # RGB in [0, 1]
    valid: Bool[Array, " N"]
    ego_pose: Float[Array, "A 4"]  # x, y, z, yaw
    ego_valid: Bool[Array, " A"]


def scene(agents: Agents, lights: Lights, maps: MapBank, m: Array, cfg: WorldConfig) -> Scene:
    a = agents
    height = jnp.asarray(KIND_HEIGHT)[a.kind]
    agent_centre = jnp.stack([a.x, a.y, 0.5 * height], -1)
    agent_size = jnp.stack([a.length, a.width, height], -1)
    line = maps.stop_lines[m]  # [S, 4]: road centre end -> road side end
    d = line[:, 2:] - line[:, :2]
    d = d / jnp.maximum(jnp.linalg.norm(d, axis=-1, keepdims=True), 1e-6)
    head_xy = line[:, 2:] + LIGHT_HEAD_OFFSET * d
    n = line.shape[0]
    head_centre = jnp.concatenate([head_xy, jnp.full((n, 1), LIGHT_HEAD_HEIGHT)], -1)
    head_size = jnp.broadcast_to(jnp.asarray(LIGHT_HEAD_SIZE, jnp.float32), (n, 3))
    head_state = light_state(lights, maps.stop_line_intersection[m], maps.stop_line_phase[m], cfg)
    head_valid = maps.stop_lines_valid[m] & (head_state != NO_LIGHT)
    return Scene(
        centre=jnp.concatenate([agent_centre, head_centre]),
        size=jnp.concatenate([agent_size, head_size]),
        yaw=jnp.concatenate([a.yaw, jnp.arctan2(d[:, 1], d[:, 0])]),
        box_class=jnp.concatenate([a.kind, jnp.full((n,), CLASS_LIGHT, jnp.int32)]),
        colour=jnp.concatenate(
            [jnp.asarray(KIND_COLOURS)[a.kind], jnp.asarray(LIGHT_COLOURS)[head_state]]
        ),
        valid=jnp.concatenate([a.valid, head_valid]),
        ego_pose=jnp.stack([a.x, a.y, jnp.zeros_like(a.x), a.yaw], -1),
        ego_valid=a.valid,
    )


# Semantic classes of map geometry.
MAP_CLASSES = ("drivable", "crosswalk", "lane_centre", "road_edge", "stop_line")


@dataclasses.dataclass(frozen=True)
class MapGeometry:
    """One map's polygons and polylines (host numpy), each with a class from MAP_CLASSES."""

    polygons: list[np.ndarray]  # f32[k, 2]
    polygon_classes: list[int]
    polylines: list[np.ndarray]  # f32[k, 2]
    polyline_classes: list[int]
    stop_line_intersection: np.ndarray  # i32[S]
    stop_line_phase: np.ndarray  # i32[S]


def map_geometry(maps: MapBank, map_id: int) -> MapGeometry:
    """Polygons (drivable area pieces, crosswalks) and polylines (lane centres, road edges,
    stop lines) of one map, for ground textures and drawings."""
    if not 0 <= map_id < maps.num_maps:
        raise ValueError(f"unknown map id {map_id}; the bank holds {maps.num_maps} maps")
    g = lambda name: np.asarray(getattr(maps, name)[map_id])  # noqa: E731
    polygons, pclasses = [], []
    for poly, nv, ok in zip(
        g("drivable_polygons"), g("polygon_num_vertices"), g("polygons_valid"), strict=True
    ):
        if ok:
            polygons.append(poly[:nv])
            pclasses.append(0)
    for quad, ok in zip(g("crosswalks"), g("crosswalks_valid"), strict=True):
        if ok:
            polygons.append(quad)
            pclasses.append(1)
    lines, lclasses = [], []
    pts = g("lane_points")
    for first, count, ok in zip(
        g("lane_first_point"), g("lane_num_points"), g("lanes_valid"), strict=True
    ):
        if ok:
            lines.append(pts[first : first + count, :2])
            lclasses.append(2)
    for seg, ok in zip(g("road_edges"), g("road_edges_valid"), strict=True):
        if ok:
            lines.append(seg.reshape(2, 2))
            lclasses.append(3)
    stop_ok = g("stop_lines_valid")
    for seg, ok in zip(g("stop_lines"), stop_ok, strict=True):
        if ok:
            lines.append(seg.reshape(2, 2))
            lclasses.append(4)
    return MapGeometry(
        polygons,
        pclasses,
        lines,
        lclasses,
        g("stop_line_intersection")[stop_ok],
        g("stop_line_phase")[stop_ok],
    )
