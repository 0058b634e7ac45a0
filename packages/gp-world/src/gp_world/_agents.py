"""Agents of one world (padded slots with `valid`) and their respawn at free spots on routes."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from gp_world._dynamics import KIND_LENGTH, KIND_WHEELBASE_FRACTION, KIND_WIDTH, Kinematics
from gp_world._lights import Lights, can_stop_for_light
from gp_world._map_bank import MapBank, box_on_road
from gp_world._random import uniform
from gp_world.config import REWARD_TERMS, WorldConfig

PARKED = 1.0e5  # metres: where empty slots wait, far from every map and from each other


class Agents(eqx.Module):
    """A padded set of A agent slots; fields f32/i32/bool[A] unless noted."""

    x: Float[Array, " A"]
    y: Float[Array, " A"]
    yaw: Float[Array, " A"]
    speed: Float[Array, " A"]
    accel: Float[Array, " A"]
    lat_accel: Float[Array, " A"]
    steer: Float[Array, " A"]
    length: Float[Array, " A"]
    width: Float[Array, " A"]
    wheelbase: Float[Array, " A"]
    kind: Int[Array, " A"]  # index into config.AGENT_KINDS
    valid: Bool[Array, " A"]  # the slot holds a live agent
    removed: Bool[Array, " A"]  # collision_behaviour="remove": the slot stays empty
    route: Int[Array, " A"]  # index into the map's route table
    route_index: Int[Array, " A"]  # nearest route point
    route_s: Float[Array, " A"]  # arc length travelled along the route, metres
    route_length: Float[Array, " A"]  # arc length of the whole route, metres
    route_lateral: Float[Array, " A"]  # metres left of the route at the last step
    route_heading_error: Float[Array, " A"]  # yaw - route heading at the last step, rad
    speed_limit: Float[Array, " A"]  # m/s at the nearest route point
    goal_x: Float[Array, " A"]
    goal_y: Float[Array, " A"]
    age: Int[Array, " A"]  # steps since spawn
    reward_weights: Float[Array, "A T"]  # per term of config.REWARD_TERMS

    @property
    def kinematics(self) -> Kinematics:
        return Kinematics(
            self.x,
            self.y,
            self.yaw,
            self.speed,
            self.accel,
            self.lat_accel,
            self.steer,
            self.wheelbase,
            self.kind,
        )

    def with_kinematics(self, k: Kinematics) -> Agents:
        return eqx.tree_at(
            lambda a: (a.x, a.y, a.yaw, a.speed, a.accel, a.lat_accel, a.steer),
            self,
            (k.x, k.y, k.yaw, k.speed, k.accel, k.lat_accel, k.steer),
        )


def empty_agents(cfg: WorldConfig) -> Agents:
    a = cfg.num_agents
    z = jnp.zeros((a,), jnp.float32)
    zi = jnp.zeros((a,), jnp.int32)
    f = jnp.zeros((a,), bool)
    slot = jnp.arange(a, dtype=jnp.float32)
    return Agents(
        x=PARKED + 20.0 * slot,
        y=z + PARKED,
        yaw=z,
        speed=z,
        accel=z,
        lat_accel=z,
        steer=z,
        length=z + 4.5,
        width=z + 1.8,
        wheelbase=z + 2.7,
        kind=zi,
        valid=f,
        removed=f,
        route=zi,
        route_index=zi,
        route_s=z,
        route_length=z,
        route_lateral=z,
        route_heading_error=z,
        speed_limit=z,
        goal_x=z,
        goal_y=z,
        age=zi,
        reward_weights=jnp.zeros((a, cfg.num_reward_terms), jnp.float32),
    )


def _spawn_point(
    u: Array, spawn_points: Array, cfg: WorldConfig, spacing: float
) -> Int[Array, "..."]:
    """Route point index of a birth on the route's first lane (`spawn_points` of them) from
    one uniform draw: anywhere along the lane, or with `cfg.spawn_near_junction` on its last
    `spawn_near_junction_metres`. The one draw decides both, so the stream of draws (and every
    other field of the birth) is the same with the option as without."""

    def along(fraction: Array, points: Array) -> Array:
        return jnp.minimum((fraction * points.astype(jnp.float32)).astype(jnp.int32), points - 1)

    p = cfg.spawn_near_junction
    if p == 0.0:
        return along(u, spawn_points)
    near_points = jnp.clip(int(np.ceil(cfg.spawn_near_junction_metres / spacing)), 1, spawn_points)
    near = spawn_points - 1 - along(jnp.minimum(u / p, 1.0), near_points)
    if p == 1.0:
        return near
    anywhere = along(jnp.maximum(u - p, 0.0) / (1.0 - p), spawn_points)
    return jnp.where(u < p, near, anywhere)


def _candidates(u: Array, cfg: WorldConfig, maps: MapBank, m: Array) -> Agents:
    """Candidate agents on random routes from uniform draws u f32[T, A, 6 + terms]."""
    shape = u.shape[:2]
    num_routes = maps.num_routes[m]
    route = jnp.minimum(
        (u[..., 0] * num_routes.astype(jnp.float32)).astype(jnp.int32), num_routes - 1
    )
    spawn_points = maps.route_spawn_points[m, route]
    start = _spawn_point(u[..., 1], spawn_points, cfg, maps.lane_point_spacing)
    point = maps.route_points[m, route, start]  # [T, A, 5]
    cum = jnp.asarray(np.cumsum(cfg.kind_probs)[:-1], jnp.float32)
    kind = (u[..., 2, None] >= cum.reshape(1, 1, -1)).sum(-1).astype(jnp.int32)
    length_range = jnp.asarray(KIND_LENGTH)[kind]
    width_range = jnp.asarray(KIND_WIDTH)[kind]
    length = length_range[..., 0] + u[..., 3] * (length_range[..., 1] - length_range[..., 0])
    width = width_range[..., 0] + u[..., 4] * (width_range[..., 1] - width_range[..., 0])
    speed = u[..., 5] * cfg.spawn_speed_fraction * point[..., 4]
    ranges = jnp.asarray(cfg.reward_draw_ranges, jnp.float32)  # [terms, 2]
    lo, hi = ranges[None, None, :, 0], ranges[None, None, :, 1]
    quantile = u[..., 6:]
    for term, q in cfg.reward_condition:  # a chosen driving style: fixed for every agent
        quantile = quantile.at[..., REWARD_TERMS.index(term)].set(q)
    weights = lo + quantile * (hi - lo)
    last = maps.route_num_points[m, route] - 1
    goal = maps.route_points[m, route, last]
    z = jnp.zeros(shape, jnp.float32)
    zi = jnp.zeros(shape, jnp.int32)
    return Agents(
        x=point[..., 0],
        y=point[..., 1],
        yaw=point[..., 2],
        speed=speed,
        accel=z,
        lat_accel=z,
        steer=z,
        length=length,
        width=width,
        wheelbase=length * jnp.asarray(KIND_WHEELBASE_FRACTION)[kind],
        kind=kind,
        valid=jnp.ones(shape, bool),
        removed=jnp.zeros(shape, bool),
        route=route,
        route_index=start,
        route_s=point[..., 3],
        route_length=goal[..., 3],
        route_lateral=z,
        route_heading_error=z,
        speed_limit=point[..., 4],
        goal_x=goal[..., 0],
        goal_y=goal[..., 1],
        age=zi,
        reward_weights=weights,
    )


def respawn(
    key: Array,
    agents: Agents,
    need: Bool[Array, " A"],
    cfg: WorldConfig,
    maps: MapBank,
    m: Array,
    lights: Lights,
) -> Agents:
    """Put a new agent into every slot with `need` where a free spot is found.

    A spot is free when the new agent's box lies wholly on drivable texels (a long truck on a
    tight bend may not fit its lane) and its bounding circle (plus `spawn_clearance`) clears
    every staying agent and every lower-numbered slot's new spot, so spawns are never off-road
    and never overlap; with `cfg.spawn_can_stop`, also when the new agent could stop for a
    yellow or red light ahead under `lights`, the lights it will meet (`can_stop_for_light`).
    A slot that finds none stays empty (valid False) and tries again next step.
    """
    t, a = cfg.spawn_candidates, cfg.num_agents
    # One random draw for every field: a single PRNG call keeps the compiled step small.
    u = uniform(key, (t, a, 6 + cfg.num_reward_terms))
    cand = _candidates(u, cfg, maps, m)
    staying = agents.valid & ~need
    r_cand = 0.5 * jnp.hypot(cand.length, cand.width) + cfg.spawn_clearance  # [T, A]
    r_stay = 0.5 * jnp.hypot(agents.length, agents.width)
    dx = cand.x[:, :, None] - agents.x[None, None, :]
    dy = cand.y[:, :, None] - agents.y[None, None, :]
    clear = (dx * dx + dy * dy > (r_cand[:, :, None] + r_stay[None, None, :]) ** 2) | ~staying[
        None, None, :
    ]
    on_road = box_on_road(maps, m, cand.x, cand.y, cand.yaw, cand.length, cand.width)
    free = clear.all(-1) & on_road  # [T, A]
    if cfg.spawn_can_stop:
        free = free & can_stop_for_light(cand, lights, maps, m, cfg)
    found = free.any(0) & need
    if t == 1:
        chosen = jax.tree.map(lambda c: c[0], cand)
    else:
        # The first free candidate per slot, as a one-hot over T (a select, not a gather).
        earlier_free = jnp.cumsum(free.astype(jnp.int32), axis=0) - free.astype(jnp.int32)
        pick = free & (earlier_free == 0)  # [T, A]
        # Rebuild the chosen candidates from their draws: one selection, not one per field.
        u_chosen = jnp.where(pick[:, :, None], u, 0.0).sum(0)  # exact: one nonzero term
        chosen = jax.tree.map(lambda c: c[0], _candidates(u_chosen[None], cfg, maps, m))
    # Conflicts among new spots: a slot yields to any lower slot that also spawns.
    r_new = 0.5 * jnp.hypot(chosen.length, chosen.width) + cfg.spawn_clearance
    ddx = chosen.x[:, None] - chosen.x[None, :]
    ddy = chosen.y[:, None] - chosen.y[None, :]
    hit = ddx * ddx + ddy * ddy <= (r_new[:, None] + r_new[None, :]) ** 2
    lower = jnp.tril(jnp.ones((cfg.num_agents, cfg.num_agents), bool), k=-1)
    blocked = (hit & lower & found[None, :]).any(-1)
    accept = found & ~blocked
    new = jax.tree.map(
        lambda n, o: jnp.where(accept.reshape(accept.shape + (1,) * (n.ndim - 1)), n, o),
        chosen,
        agents,
    )
    # Slots that needed a spawn and found none stay empty (masked everywhere by `valid`).
    valid = jnp.where(need & ~accept, False, new.valid)
    return eqx.tree_at(lambda a: (a.valid, a.removed), new, (valid, agents.removed))
