"""Privileged observation in each agent's ego frame: fixed-size sets with masks.

Map queries read the agent's grid cell, which lists the lane points and road edges nearest its
centre (fixed capacity, precomputed per map), so they cost the same on a village and a city.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from gp_world._agents import Agents
from gp_world._events import RouteFrame, route_window
from gp_world._geometry import to_ego
from gp_world._lights import NO_LIGHT, NUM_LIGHT_STATES, Lights, light_state_and_age
from gp_world._map_bank import MapBank
from gp_world.config import AGENT_KINDS, WorldConfig

EGO_FEATURES = 16  # + num_reward_terms; see `ego_features`
ROUTE_FEATURES = 5  # x, y, cos, sin (relative heading), speed limit
AGENT_FEATURES = 8  # x, y, cos, sin (relative yaw), vx, vy (relative, ego frame), length, width
TURN_SIGNAL_ANGLE = 0.5  # radians the route turns within the signal distance to signal
LANE_FEATURES = 5  # x, y, cos, sin (relative heading), speed limit
EDGE_FEATURES = 4  # x0, y0, x1, y1
STOP_FEATURES = 3 + NUM_LIGHT_STATES  # distance along route, x, y, light one-hot (+ its age)
LIGHT_AGE_SCALE = 10.0  # s: the observed light age is seconds / this, capped at 1


class PrivilegedObservation(eqx.Module):
    """Per agent slot, in its ego frame (x forward, y left, metres)."""

    ego: Float[Array, "A E"]
    route: Float[Array, "A R 5"]
    route_valid: Bool[Array, "A R"]
    agents: Float[Array, "A K F"]  # F = 8, + 2 turn signals with `turn_signal_distance`
    agents_valid: Bool[Array, "A K"]
    lane_points: Float[Array, "A L 5"]
    lane_points_valid: Bool[Array, "A L"]
    road_edges: Float[Array, "A B 4"]
    road_edges_valid: Bool[Array, "A B"]
    stop_lines: Float[Array, "A S F"]  # F = 7, + the light's age with `observe_light_age`
    stop_lines_valid: Bool[Array, "A S"]
    valid: Bool[Array, " A"]


def _nearest(d2: Array, valid: Array, k: int):
    """Indices of the k smallest d2 among valid entries (last axis) and their validity."""
    score = jnp.where(valid, -d2, -jnp.inf)
    top, idx = jax.lax.top_k(score, k)
    return idx, jnp.isfinite(top)


def observed_agents(
    agents: Agents, cfg: WorldConfig
) -> tuple[Int[Array, "A K"], Bool[Array, "A K"]]:
    """Whom each agent observes: the slots of the `num_nearest_agents` nearest other valid
    agents within `observation_range`, nearest first, and which of the K entries hold one
    (none for an invalid agent). The `agents` rows of the observation, in this order."""
    dx = agents.x[None, :] - agents.x[:, None]
    dy = agents.y[None, :] - agents.y[:, None]
    d2 = dx * dx + dy * dy
    others = (
        agents.valid[None, :]
        & ~jnp.eye(agents.x.shape[0], dtype=bool)
        & (d2 < cfg.observation_range**2)
    )
    idx, ok = _nearest(d2, others, cfg.num_nearest_agents)
    return idx, ok & agents.valid[:, None]


def _relative(c: Array, s: Array, c_ref: Array, s_ref: Array) -> tuple[Array, Array]:
    """cos and sin of (angle - reference angle) from their cosines and sines: no trig."""
    return c * c_ref + s * s_ref, s * c_ref - c * s_ref


def _grid_lists(grid: Array, agents: Agents, maps: MapBank, m: Array, k: int) -> Array:
    """Ids int32[A, k] listed for each agent's grid cell: the items nearest that cell's centre
    (precomputed on the host), so a query is one gather whatever the map size."""
    cell = maps.grid_cell_size
    gh, gw = grid.shape[1:3]
    cx = jnp.floor((agents.x - maps.origin[m, 0]) / cell).astype(jnp.int32)
    cy = jnp.floor((agents.y - maps.origin[m, 1]) / cell).astype(jnp.int32)
    inside = (cx >= 0) & (cx < gw) & (cy >= 0) & (cy < gh)
    ids = grid[m, jnp.clip(cy, 0, gh - 1), jnp.clip(cx, 0, gw - 1), :k]
    return jnp.where(inside[:, None], ids, -1)


def turn_signals(agents: Agents, maps: MapBank, m: Array, distance: float) -> Float[Array, "A 2"]:
    """(left, right) indicator of each agent, 1.0 when on: its route turns by more than
    TURN_SIGNAL_ANGLE between where the agent is and `distance` metres further on (the route's
    end when nearer), as a driver signals the turn of the next junction. Gentle bends stay
    below the angle; once the agent is through most of a turn the signal goes off."""
    step = max(1, round(distance / maps.lane_point_spacing))
    _, pts = route_window(agents, maps, m, jnp.array([0, step]))  # here and there [A, 2, 7]
    cos_turn, sin_turn = _relative(pts[:, 1, 5], pts[:, 1, 6], pts[:, 0, 5], pts[:, 0, 6])
    turning = agents.valid & (cos_turn < math.cos(TURN_SIGNAL_ANGLE))  # no trigonometry
    return jnp.stack([turning & (sin_turn > 0), turning & (sin_turn < 0)], -1).astype(jnp.float32)


def observe(
    agents: Agents, lights: Lights, maps: MapBank, m: Array, cfg: WorldConfig
) -> PrivilegedObservation:
    a = agents
    # The route frame cached by the last step (or the spawn): no second route search.
    frame = RouteFrame(
        a.route_index, a.route_s, a.route_lateral, a.route_heading_error, a.speed_limit
    )
    c_yaw, s_yaw = jnp.cos(a.yaw), jnp.sin(a.yaw)
    cy, sy = c_yaw[:, None], s_yaw[:, None]

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
    rc, rs = _relative(rp[..., 5], rp[..., 6], cy, sy)
    route = jnp.stack([rx, ry, rc, rs, rp[..., 4]], -1)

    # K nearest other agents.
    idx, agents_valid = observed_agents(a, cfg)
    ex, ey = to_ego(a.x[idx], a.y[idx], a.x[:, None], a.y[:, None], a.yaw[:, None])
    dc, ds = _relative(c_yaw[idx], s_yaw[idx], cy, sy)
    ovx = a.speed[idx] * dc - a.speed[:, None]
    ovy = a.speed[idx] * ds
    other = jnp.stack([ex, ey, dc, ds, ovx, ovy, a.length[idx], a.width[idx]], -1)
    if cfg.turn_signal_distance > 0:
        signals = turn_signals(a, maps, m, cfg.turn_signal_distance)
        other = jnp.concatenate([other, signals[idx]], -1)

    # Lane points and road-edge segments listed for the agent's grid cell.
    ids = _grid_lists(maps.grid_lane_points, a, maps, m, cfg.num_lane_points)
    lp = maps.lane_points[m, jnp.maximum(ids, 0)]  # [A, L, 6]
    lane_valid = (ids >= 0) & a.valid[:, None]
    lx, ly = to_ego(lp[..., 0], lp[..., 1], a.x[:, None], a.y[:, None], a.yaw[:, None])
    lc, ls = _relative(lp[..., 4], lp[..., 5], cy, sy)
    lane_points = jnp.stack([lx, ly, lc, ls, lp[..., 3]], -1)

    eids = _grid_lists(maps.grid_road_edges, a, maps, m, cfg.num_road_edges)
    seg = maps.road_edges[m, jnp.maximum(eids, 0)]  # [A, B, 4]
    edge_valid = (eids >= 0) & a.valid[:, None]
    x0, y0 = to_ego(seg[..., 0], seg[..., 1], a.x[:, None], a.y[:, None], a.yaw[:, None])
    x1, y1 = to_ego(seg[..., 2], seg[..., 3], a.x[:, None], a.y[:, None], a.yaw[:, None])
    road_edges = jnp.stack([x0, y0, x1, y1], -1)

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
    # Every signal group's state once per world, then one gather per observed stop line.
    n_inter = lights.timer.shape[0]
    groups, ages = light_state_and_age(
        lights,
        jnp.arange(n_inter, dtype=jnp.int32)[:, None],
        jnp.arange(2, dtype=jnp.int32)[None, :],
        cfg,
    )  # [I, 2]
    inter = maps.stop_line_intersection[m, jnp.maximum(k_line, 0)]
    phase = maps.stop_line_phase[m, jnp.maximum(k_line, 0)]
    lit = (k_line >= 0) & (inter >= 0)
    state = jnp.where(lit, groups[jnp.maximum(inter, 0), phase], NO_LIGHT)
    stop_features = [
        jnp.stack([k_s - frame.s[:, None], sx, sy], -1),
        jax.nn.one_hot(state, NUM_LIGHT_STATES, dtype=jnp.float32),
    ]
    if cfg.observe_light_age:
        age = jnp.where(lit, ages[jnp.maximum(inter, 0), phase], 0.0)
        stop_features.append(jnp.minimum(age / LIGHT_AGE_SCALE, 1.0)[..., None])
    stop_lines = jnp.concatenate(stop_features, -1)

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
