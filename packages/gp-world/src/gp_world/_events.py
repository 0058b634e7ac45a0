"""Route tracking, events (collision, off-road, red light, wrong way, goal, timeout) and reward."""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from gp_world._agents import Agents
from gp_world._dynamics import _wrap
from gp_world._geometry import boxes_overlap
from gp_world._lights import RED, YELLOW, Lights, light_ahead, next_stop_line, stopping_speed
from gp_world._map_bank import MapBank, box_on_road
from gp_world.config import WorldConfig

ROUTE_WINDOW = (-2, 9)  # route points searched around the last one: fixed cost per step


class Events(eqx.Module):
    """What happened to each agent slot this step, bool[A]."""

    collision: Bool[Array, " A"]
    offroad: Bool[Array, " A"]
    red_light: Bool[Array, " A"]
    wrong_way: Bool[Array, " A"]
    goal_reached: Bool[Array, " A"]
    timeout: Bool[Array, " A"]


class RouteFrame(eqx.Module):
    """An agent relative to its route: nearest point, arc length, offsets; f32/i32[A]."""

    index: Int[Array, " A"]
    s: Float[Array, " A"]
    lateral: Float[Array, " A"]  # metres, left of the route positive
    heading_error: Float[Array, " A"]  # yaw - route heading, wrapped
    speed_limit: Float[Array, " A"]


def route_window(
    agents: Agents, maps: MapBank, m: Array, offsets: Array
) -> tuple[Int[Array, "A W"], Float[Array, "A W 7"]]:
    """Route point indices route_index + offsets (int32[W]), clipped to the route, and the
    points themselves (x, y, heading, arc length, speed limit, cos, sin)."""
    last = maps.route_num_points[m, agents.route] - 1
    index = jnp.clip(agents.route_index[:, None] + offsets[None, :], 0, last[:, None])
    return index, maps.route_points[m, agents.route[:, None], index]


def track_route(agents: Agents, maps: MapBank, m: Array) -> RouteFrame:
    """Project each agent on its route, searching a fixed window ahead of its last point."""
    cand, pts = route_window(agents, maps, m, jnp.arange(*ROUTE_WINDOW))  # [A, W], [A, W, 7]
    d2 = (pts[..., 0] - agents.x[:, None]) ** 2 + (pts[..., 1] - agents.y[:, None]) ** 2
    best = jnp.argmin(d2, axis=1)
    p = jnp.take_along_axis(pts, best[:, None, None], axis=1)[:, 0]
    index = jnp.take_along_axis(cand, best[:, None], axis=1)[:, 0]
    dx, dy = agents.x - p[:, 0], agents.y - p[:, 1]
    c, s = p[:, 5], p[:, 6]
    along = jnp.clip(p[:, 3] + dx * c + dy * s, 0.0, agents.route_length)
    return RouteFrame(
        index=index,
        s=along,
        lateral=-dx * s + dy * c,
        heading_error=_wrap(agents.yaw - p[:, 2]),
        speed_limit=p[:, 4],
    )


def offroad(agents: Agents, maps: MapBank, m: Array) -> Bool[Array, " A"]:
    """True when any box corner lies on a non-drivable texel (or outside the map)."""
    return ~box_on_road(maps, m, agents.x, agents.y, agents.yaw, agents.length, agents.width)


def collisions(agents: Agents) -> Bool[Array, " A"]:
    overlap = boxes_overlap(agents.x, agents.y, agents.yaw, agents.length, agents.width)
    live = agents.valid[:, None] & agents.valid[None, :]
    return (overlap & live).any(-1)


def red_light_crossings(
    agents: Agents, s_old, s_new, lights: Lights, maps: MapBank, m: Array, cfg: WorldConfig
) -> Bool[Array, " A"]:
    """Crossing one of the route's stop lines (s_old < stop_s <= s_new) while its light is red.

    Stop lines on a route lie tens of metres apart, so a step crosses at most the next one:
    only its light is evaluated.
    """
    next_s, line, state = next_stop_line(agents, s_old, True, lights, maps, m, cfg)
    crossed = (s_old < next_s) & (next_s <= s_new) & (line >= 0)
    return crossed & (state == RED)


CONFLICT_ROUTE_POINTS = 12  # route points (2 m apart) ahead searched for crossing traffic
CROSSING_ANGLE = math.radians(30.0)  # others heading further from the route than this cross it
CONFLICT_TIME_GAP = 1.0  # s: the ego keeps its way only when it passes this long before the other


def crossing_speed(
    agents: Agents,
    points: Float[Array, "A K 2"],
    heading: Float[Array, "A K"],
    to_point: Float[Array, "A K"],
    horizon: float,
    decel: float,
    margin: float,
) -> Float[Array, " A"]:
    """The speed each ego may drive at and still stop before crossing traffic, inf if none.

    `points` are route points ahead of each ego with the route `heading` there and `to_point`,
    the distance from the front bumper along the route. Another agent conflicts at a point when
    - it crosses or meets the route there: its heading differs from the route's by more than
      CROSSING_ANGLE (agents going the ego's way are the agent-ahead term's);
    - at constant velocity it comes within half the ego's width plus its own half extent across
      the route of the point, starting within `horizon` seconds (or it is there now);
    - and it gets there before the ego (at its present speed) has passed by CONFLICT_TIME_GAP.
    The ego must be able to stop `margin` short of its first such point: sqrt(2 a (d - margin)).
    Whoever would arrive clearly first keeps its way; the other yields.
    """
    a = agents
    n = a.x.shape[0]
    vx = (a.speed * jnp.cos(a.yaw))[None, None, :]  # [1, 1, A (other)]
    vy = (a.speed * jnp.sin(a.yaw))[None, None, :]
    rx = points[:, :, None, 0] - a.x[None, None, :]  # [A (ego), K, A (other)]
    ry = points[:, :, None, 1] - a.y[None, None, :]
    rv = rx * vx + ry * vy
    rr = rx * rx + ry * ry
    vv = jnp.maximum(jnp.square(a.speed), 1e-6)[None, None, :]
    # cos and sin of (other's yaw - route heading) without per-pair transcendentals.
    cy, sy = jnp.cos(a.yaw)[None, None, :], jnp.sin(a.yaw)[None, None, :]
    ch, sh = jnp.cos(heading)[..., None], jnp.sin(heading)[..., None]
    cos_phi, sin_phi = cy * ch + sy * sh, sy * ch - cy * sh
    reach = 0.5 * a.width[:, None, None] + 0.5 * (
        a.width[None, None, :] * jnp.abs(cos_phi) + a.length[None, None, :] * jnp.abs(sin_phi)
    )
    # The other is within `reach` of the point between the roots t = (rv -+ root) / vv of
    # |r - v t| = reach; the time tests are multiplied through by vv > 0 (no divisions). An
    # agent there now (rr < reach^2) has roots either side of 0, so it passes too.
    disc = jnp.square(rv) - vv * (rr - jnp.square(reach))
    root = jnp.sqrt(jnp.maximum(disc, 0.0))
    ego_arrives = to_point / jnp.maximum(a.speed, 0.1)[:, None]  # [A, K]
    before_ego = jnp.minimum(ego_arrives[..., None] + CONFLICT_TIME_GAP, horizon)
    passes = (disc >= 0.0) & (rv + root >= 0.0) & (rv - root < before_ego * vv)
    others = a.valid[None, :] & ~jnp.eye(n, dtype=bool)  # [A (ego), A (other)]
    conflict = (
        others[:, None, :]
        & (cos_phi < math.cos(CROSSING_ANGLE))
        & passes
        & (to_point > 0.0)[..., None]
    ).any(-1)
    v_stop = stopping_speed(to_point - margin, decel)
    return jnp.min(jnp.where(conflict, v_stop, jnp.inf), axis=1)


def safe_speed(
    agents: Agents, lights: Lights, maps: MapBank, m: Array, cfg: WorldConfig
) -> Float[Array, " A"]:
    """The speed (m/s) each agent may drive at without being unable to stop in time.

    The speed limit, lowered (as Roach's hazard-aware target speed) by
    - the next stop line of the route when its light is red, or yellow while the agent can still
      stop before it at `safe_decel`: sqrt(2 a (d - margin));
    - the nearest agent ahead in the ego's corridor (ahead, laterally overlapping):
      sqrt(v_lead^2 + 2 a (gap - margin)), v_lead its speed along the ego's heading;
    - with `conflict_horizon` > 0, crossing and oncoming traffic on the route ahead
      (`crossing_speed`).
    """
    a = agents
    decel = cfg.safe_decel
    to_line, line, state, can_stop = light_ahead(a, lights, maps, m, cfg)
    must_stop = (line >= 0) & ((state == RED) | ((state == YELLOW) & can_stop))
    v_line = jnp.where(must_stop, stopping_speed(to_line - cfg.safe_margin, decel), jnp.inf)

    # The agent ahead: relative positions in each ego frame, [A (ego), A (other)].
    c, s_ = jnp.cos(a.yaw)[:, None], jnp.sin(a.yaw)[:, None]
    dx, dy = a.x[None, :] - a.x[:, None], a.y[None, :] - a.y[:, None]
    ahead = dx * c + dy * s_
    lateral = -dx * s_ + dy * c
    half_widths = 0.5 * (a.width[:, None] + a.width[None, :])
    gap = ahead - 0.5 * (a.length[:, None] + a.length[None, :])
    others = a.valid[None, :] & ~jnp.eye(a.x.shape[0], dtype=bool)
    in_corridor = others & (ahead > 0.0) & (jnp.abs(lateral) < half_widths)
    lead_speed = jnp.maximum(a.speed[None, :] * jnp.cos(a.yaw[None, :] - a.yaw[:, None]), 0.0)
    v_follow = jnp.sqrt(
        jnp.square(lead_speed) + 2.0 * decel * jnp.maximum(gap - cfg.safe_margin, 0.0)
    )
    v_lead = jnp.min(jnp.where(in_corridor, v_follow, jnp.inf), axis=1)
    v_safe = jnp.minimum(a.speed_limit, jnp.minimum(v_line, v_lead))
    if cfg.conflict_horizon > 0.0:
        _, pts = route_window(a, maps, m, jnp.arange(1, CONFLICT_ROUTE_POINTS + 1))
        to_point = pts[..., 3] - a.route_s[:, None] - 0.5 * a.length[:, None]
        v_cross = crossing_speed(
            a, pts[..., :2], pts[..., 2], to_point, cfg.conflict_horizon, decel, cfg.safe_margin
        )
        v_safe = jnp.minimum(v_safe, v_cross)
    return v_safe


IDLE_SPEED = 1.0  # m/s: an agent slower than this stands still
IDLE_CLEAR_SPEED = 3.0  # m/s: a safe speed at least this means nothing ahead asks it to wait


def idling(agents: Agents, v_safe: Float[Array, " A"]) -> Bool[Array, " A"]:
    """Standing still (below IDLE_SPEED) with the road clear: the safe speed, which drops to 0
    before a red light and behind a stopped agent, is at least IDLE_CLEAR_SPEED."""
    return (agents.speed < IDLE_SPEED) & (v_safe >= IDLE_CLEAR_SPEED)


def reward_terms(
    agents_before: Agents,
    agents: Agents,
    events: Events,
    frame: RouteFrame,
    progress: Float[Array, " A"],
    v_safe: Float[Array, " A"],
    cfg: WorldConfig,
) -> Float[Array, "A T"]:
    """Signed per-term rewards (before weighting), in the order of config.REWARD_TERMS."""
    f = lambda b: b.astype(jnp.float32)  # noqa: E731
    jerk = (agents.accel - agents_before.accel) / cfg.dt
    uncomfortable = (jnp.abs(agents.accel) > cfg.comfort_accel) | (jnp.abs(jerk) > cfg.comfort_jerk)
    speed_along = agents.speed * jnp.cos(frame.heading_error)
    terms = [
        f(events.goal_reached),
        -f(events.collision),
        -f(events.offroad),
        -f(uncomfortable),
        -(1.0 - jnp.cos(frame.heading_error)),
        -jnp.abs(frame.lateral),
        jnp.clip(speed_along, 0.0, frame.speed_limit),
        -f(events.red_light),
        -jnp.ones_like(progress),
        progress,
        -jnp.maximum(speed_along - v_safe, 0.0),
    ]
    return jnp.stack(terms, axis=-1)
