"""Privileged observation in each agent's ego frame: fixed-size sets with masks.

Map queries read the 3x3 grid cells around the agent (fixed capacity each), so they cost the
same on a village and a city.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from gp_world._agents import Agents
from gp_world._events import track_route
from gp_world._geometry import to_ego
from gp_world._lights import NUM_LIGHT_STATES, Lights, light_state
from gp_world._map_bank import MapBank
from gp_world.config import AGENT_KINDS, WorldConfig

EGO_FEATURES = 16  # + num_reward_terms; see `ego_features`
ROUTE_FEATURES = 5  # x, y, cos, sin (relative heading), speed limit
AGENT_FEATURES = 8  # x, y, cos, sin (relative yaw), vx, vy (relative, ego frame), length, width
LANE_FEATURES = 5  # x, y, cos, sin (relative heading), speed limit
EDGE_FEATURES = 4  # x0, y0, x1, y1
STOP_FEATURES = 3 + NUM_LIGHT_STATES  # distance along route, x, y, light one-hot


class PrivilegedObservation(eqx.Module):
    """Per agent slot, in its ego frame (x forward, y left, metres)."""

    ego: Float[Array, "A E"]
    route: Float[Array, "A R 5"]
    route_valid: Bool[Array, "A R"]
    agents: Float[Array, "A K 8"]
    agents_valid: Bool[Array, "A K"]
    lane_points: Float[Array, "A L 5"]
    lane_points_valid: Bool[Array, "A L"]
    road_edges: Float[Array, "A B 4"]
    road_edges_valid: Bool[Array, "A B"]
    stop_lines: Float[Array, "A S 7"]
    stop_lines_valid: Bool[Array, "A S"]
    valid: Bool[Array, " A"]


def _nearest(d2: Array, valid: Array, k: int):
    """Indices of the k smallest d2 among valid entries (last axis) and their validity."""
    score = jnp.where(valid, -d2, -jnp.inf)
    top, idx = jax.lax.top_k(score, k)
    return idx, jnp.isfinite(top)


def _grid_candidates(grid: Array, agents: Agents, maps: MapBank, m: Array) -> Array:
    """Item ids int32[A, 9 * cap] from the 3x3 cells around each agent (-1 = none)."""
    cell = maps.grid_cell_size
    gh, gw = grid.shape[1:3]
    cx = jnp.floor((agents.x - maps.origin[m, 0]) / cell).astype(jnp.int32)
    cy = jnp.floor((agents.y - maps.origin[m, 1]) / cell).astype(jnp.int32)
    off = jnp.asarray([-1, 0, 1], jnp.int32)
    ix = jnp.clip(cx[:, None, None] + off[None, None, :], 0, gw - 1)  # [A, 1, 3]
    iy = jnp.clip(cy[:, None, None] + off[None, :, None], 0, gh - 1)  # [A, 3, 1]
    ids = grid[m, iy, ix]  # [A, 3, 3, cap]
    return ids.reshape(ids.shape[0], -1)


def observe(
    agents: Agents, lights: Lights, maps: MapBank, m: Array, cfg: WorldConfig
) -> PrivilegedObservation:
    a = agents
    frame = track_route(a, maps, m)
    rng2 = cfg.observation_range**2

    # Ego features and normalised reward weights (0 = low end of the range, 1 = high end).
    ranges = jnp.asarray(cfg.reward_ranges, jnp.float32)
    span = ranges[:, 1] - ranges[:, 0]
    weights = jnp.where(
        span[None, :] > 0,
        (a.reward_weights - ranges[None, :, 0]) / jnp.where(span > 0, span, 1.0)[None, :],
        0.0,
    )
    kind = jax.nn.one_hot(a.kind, len(AGENT_KINDS), dtype=jnp.float32)
    ego = jnp.concatenate(
        [
            jnp.stack(
                [
                    a.speed,
                    a.accel,
                    a.lat_accel,
                    a.steer,
                    a.length,
                    a.width,
                    frame.speed_limit,
                    frame.lateral,
                    jnp.cos(frame.heading_error),
                    jnp.sin(frame.heading_error),
                    (a.route_length - frame.s) / 100.0,
                    a.age.astype(jnp.float32) / cfg.max_episode_steps,
                ],
                -1,
            ),
            kind,
            weights,
        ],
        -1,
    )

    # Route waypoints ahead.
    last = maps.route_num_points[m, a.route] - 1
    ahead = frame.index[:, None] + cfg.route_point_stride * jnp.arange(
        1, cfg.num_route_points + 1, dtype=jnp.int32
    ).reshape(1, -1)
    route_valid = (ahead <= last[:, None]) & a.valid[:, None]
    rp = maps.route_points[m, a.route[:, None], jnp.minimum(ahead, last[:, None])]
    rx, ry = to_ego(rp[..., 0], rp[..., 1], a.x[:, None], a.y[:, None], a.yaw[:, None])
    rh = rp[..., 2] - a.yaw[:, None]
    route = jnp.stack([rx, ry, jnp.cos(rh), jnp.sin(rh), rp[..., 4]], -1)

    # K nearest other agents.
    dx = a.x[None, :] - a.x[:, None]
    dy = a.y[None, :] - a.y[:, None]
    d2 = dx * dx + dy * dy
    others = a.valid[None, :] & ~jnp.eye(a.x.shape[0], dtype=bool) & (d2 < rng2)
    idx, agents_valid = _nearest(d2, others, cfg.num_nearest_agents)
    ox, oy, oyaw = a.x[idx], a.y[idx], a.yaw[idx]
    ex, ey = to_ego(ox, oy, a.x[:, None], a.y[:, None], a.yaw[:, None])
    dyaw = oyaw - a.yaw[:, None]
    ovx = a.speed[idx] * jnp.cos(dyaw) - a.speed[:, None]
    ovy = a.speed[idx] * jnp.sin(dyaw)
    other = jnp.stack(
        [ex, ey, jnp.cos(dyaw), jnp.sin(dyaw), ovx, ovy, a.length[idx], a.width[idx]], -1
    )
    agents_valid = agents_valid & a.valid[:, None]

    # Nearest lane points from the grid.
    ids = _grid_candidates(maps.grid_lane_points, a, maps, m)
    lp = maps.lane_points[m, jnp.maximum(ids, 0)]  # [A, C, 4]
    ld2 = (lp[..., 0] - a.x[:, None]) ** 2 + (lp[..., 1] - a.y[:, None]) ** 2
    pick, lane_valid = _nearest(ld2, ids >= 0, cfg.num_lane_points)
    lp = jnp.take_along_axis(lp, pick[..., None], axis=1)
    lx, ly = to_ego(lp[..., 0], lp[..., 1], a.x[:, None], a.y[:, None], a.yaw[:, None])
    lh = lp[..., 2] - a.yaw[:, None]
    lane_points = jnp.stack([lx, ly, jnp.cos(lh), jnp.sin(lh), lp[..., 3]], -1)
    lane_valid = lane_valid & a.valid[:, None]

    # Nearest road-edge segments from the grid (by midpoint distance).
    eids = _grid_candidates(maps.grid_road_edges, a, maps, m)
    seg = maps.road_edges[m, jnp.maximum(eids, 0)]  # [A, C, 4]
    mx, my = 0.5 * (seg[..., 0] + seg[..., 2]), 0.5 * (seg[..., 1] + seg[..., 3])
    ed2 = (mx - a.x[:, None]) ** 2 + (my - a.y[:, None]) ** 2
    epick, edge_valid = _nearest(ed2, eids >= 0, cfg.num_road_edges)
    seg = jnp.take_along_axis(seg, epick[..., None], axis=1)
    x0, y0 = to_ego(seg[..., 0], seg[..., 1], a.x[:, None], a.y[:, None], a.yaw[:, None])
    x1, y1 = to_ego(seg[..., 2], seg[..., 3], a.x[:, None], a.y[:, None], a.yaw[:, None])
    road_edges = jnp.stack([x0, y0, x1, y1], -1)
    edge_valid = edge_valid & a.valid[:, None]

    # The next stop lines along the route, with their light state.
    stop_s = maps.route_stop_s[m, a.route]  # [A, RL] ascending, padded far away
    line = maps.route_stop_line[m, a.route]
    passed = (stop_s < frame.s[:, None]).sum(-1).astype(jnp.int32)
    k = jnp.minimum(
        passed[:, None] + jnp.arange(cfg.num_stop_lines, dtype=jnp.int32)[None, :],
        stop_s.shape[1] - 1,
    )
    k_s = jnp.take_along_axis(stop_s, k, axis=1)
    k_line = jnp.take_along_axis(line, k, axis=1)
    stop_valid = (k_line >= 0) & (k_s - frame.s[:, None] < cfg.observation_range)
    stop_valid = stop_valid & a.valid[:, None]
    sl = maps.stop_lines[m, jnp.maximum(k_line, 0)]
    sx, sy = to_ego(
        0.5 * (sl[..., 0] + sl[..., 2]),
        0.5 * (sl[..., 1] + sl[..., 3]),
        a.x[:, None],
        a.y[:, None],
        a.yaw[:, None],
    )
    state = light_state(
        lights,
        jnp.where(k_line >= 0, maps.stop_line_intersection[m, jnp.maximum(k_line, 0)], -1),
        maps.stop_line_phase[m, jnp.maximum(k_line, 0)],
        cfg,
    )
    stop_lines = jnp.concatenate(
        [
            jnp.stack([k_s - frame.s[:, None], sx, sy], -1),
            jax.nn.one_hot(state, NUM_LIGHT_STATES, dtype=jnp.float32),
        ],
        -1,
    )

    zero = lambda x, v: jnp.where(v[..., None], x, 0.0)  # noqa: E731
    return PrivilegedObservation(
        ego=zero(ego, a.valid),
        route=zero(route, route_valid),
        route_valid=route_valid,
        agents=zero(other, agents_valid),
        agents_valid=agents_valid,
        lane_points=zero(lane_points, lane_valid),
        lane_points_valid=lane_valid,
        road_edges=zero(road_edges, edge_valid),
        road_edges_valid=edge_valid,
        stop_lines=zero(stop_lines, stop_valid),
        stop_lines_valid=stop_valid,
        valid=a.valid,
    )
