"""Rule-based baseline planner on gp-world's privileged observation: pure-pursuit lane following
along the route, IDM car following, stopping for red (and stoppable yellow) lights at stop lines,
and yielding to agents predicted to enter the path first.

It reads only the observation (no world internals), so it drives any agent slot of any world as
a policy, and its longitudinal law is the reference planner NAVSIM's ego progress normalises
against (`reference_speed_profile`).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

import gp_world as gw
from gp_eval.config import BaselineConfig

# Ego feature layout of gp-world's PrivilegedObservation (see gp_world._observation.observe).
EGO_SPEED, EGO_ACCEL, EGO_LAT_ACCEL, EGO_STEER, EGO_LENGTH, EGO_WIDTH, EGO_SPEED_LIMIT = range(7)
# Light states in the stop-line one-hot (gp_world RED, YELLOW, GREEN, NO_LIGHT).
LIGHT_RED, LIGHT_YELLOW = 0, 1
STOP_LIGHT_OFFSET = 3  # stop_lines features: distance along route, x, y, then the light one-hot
WHEELBASE_FRACTION = 0.6  # wheelbase / length of gp-world cars and vans
MIN_TURN_SPEED = 3.0  # m/s, as gp-world's jerk dynamics use for lateral accel -> steer
# gp-world's discrete action tables (gp_world._dynamics): lon x lat jerk, accel x steer grid.
JERK_LONGITUDINAL = (-15.0, -4.0, 0.0, 4.0)
JERK_LATERAL = (-4.0, 0.0, 4.0)
GRID_ACCEL = (-6.0, -3.0, -1.0, 0.0, 1.0, 2.0, 3.0)
GRID_STEER = (-0.5, -0.2, -0.08, 0.0, 0.08, 0.2, 0.5)


def _project(path: Array, path_valid: Array, point: Array) -> tuple[Array, Array]:
    """Arc length and unsigned distance of `point` f32[2] to the valid part of `path` f32[P, 2]."""
    start, end = path[:-1], path[1:]
    seg = end - start
    seg_ok = path_valid[1:]
    seg_len = jnp.linalg.norm(seg, axis=-1)
    cum = jnp.concatenate(
        [jnp.zeros((1,), jnp.float32), jnp.cumsum(jnp.where(seg_ok, seg_len, 0.0))]
    )
    t = jnp.clip(((point[None] - start) * seg).sum(-1) / jnp.maximum(seg_len**2, 1e-6), 0.0, 1.0)
    closest = start + t[:, None] * seg
    dist = jnp.where(seg_ok, jnp.linalg.norm(point[None] - closest, axis=-1), jnp.inf)
    best = jnp.argmin(dist)
    return cum[best] + t[best] * seg_len[best], dist[best]


def idm_accel(speed, desired_speed, gap, lead_speed, cfg: BaselineConfig):
    """IDM acceleration (m/s²) behind a leader `gap` m ahead moving at `lead_speed` (any shape)."""
    free = 1.0 - (speed / jnp.maximum(desired_speed, 0.1)) ** 4
    dynamic = speed * cfg.headway + speed * (speed - lead_speed) / (
        2.0 * jnp.sqrt(cfg.accel_max * cfg.decel_comfort)
    )
    s_star = cfg.min_gap + jnp.maximum(dynamic, 0.0)
    interaction = (s_star / jnp.maximum(gap, 0.1)) ** 2
    return cfg.accel_max * (free - interaction)


class BaselinePlanner(eqx.Module):
    """Rule-based policy: `planner(obs, key) -> action` for one world's PrivilegedObservation.

    `controls(obs)` gives the underlying (accel m/s², steer rad) f32[A] before conversion to the
    world's action space ("jerk" | "accel_steer_grid" | "continuous").

    `plans_in` names another action space to choose in: "accel_steer_grid" in a "continuous"
    world plays the chosen cell's (accel, steer) values, which move a car as the grid world
    does. A grid policy driven by its expected action runs in the grid world's continuous twin
    (gp-agents' `continuous_twin`); a baseline planning in the grid there drives exactly as in
    the grid world, so its row, its background traffic and its NAVSIM log stay those of the
    grid world.
    """

    action_space: str = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    cfg: BaselineConfig = eqx.field(static=True, default=BaselineConfig())
    plans_in: str | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        if self.action_space not in gw.ACTION_SPACES:
            raise ValueError(f"unknown action space {self.action_space!r}")
        # Its own space, or the grid's cells played as values in the grid world's twin.
        playable = (None, self.action_space) + (
            ("accel_steer_grid",) if self.action_space == "continuous" else ()
        )
        if self.plans_in not in playable:
            raise ValueError(
                f"the baseline can plan in {self.plans_in!r} only where that is the world's "
                f"action space ({self.action_space!r} here), or plan in 'accel_steer_grid' "
                "for a 'continuous' world (the grid world's twin)"
            )

    def _one(self, ego, route, route_valid, agents, agents_valid, stops, stops_valid):
        cfg = self.cfg
        v = ego[EGO_SPEED]
        length, width = ego[EGO_LENGTH], ego[EGO_WIDTH]
        path = jnp.concatenate([jnp.zeros((1, 2), jnp.float32), route[:, :2]])
        path_valid = jnp.concatenate([jnp.ones((1,), bool), route_valid])

        # Lateral: pure pursuit on the path point at the lookahead arc length (interpolated, so
        # the target slides smoothly instead of jumping from waypoint to waypoint).
        lookahead = jnp.clip(cfg.lookahead_time * v, cfg.lookahead_min, cfg.lookahead_max)
        seg = jnp.linalg.norm(jnp.diff(path, axis=0), axis=-1)
        seg = jnp.where(route_valid, seg, 0.0)
        s_along = jnp.cumsum(seg)  # arc length at each route point
        s_start = s_along - seg
        reach = jnp.minimum(lookahead, s_along[-1])
        inside = route_valid & (s_along >= reach)
        k = jnp.where(inside.any(), jnp.argmax(inside), 0)
        frac = jnp.clip((reach - s_start[k]) / jnp.maximum(seg[k], 1e-3), 0.0, 1.0)
        target = path[k] + frac * (path[k + 1] - path[k])
        d2 = jnp.maximum((target**2).sum(), 1.0)
        curvature = jnp.where(route_valid.any(), 2.0 * target[1] / d2, 0.0)
        wheelbase = WHEELBASE_FRACTION * length
        steer = jnp.arctan(wheelbase * curvature)

        # Curve speeds: v²·κ <= max_lat_accel at every route point, reached by braking at
        # decel_comfort at most; the IDM's free-road target is the speed limit.
        heading = jnp.arctan2(route[:, 3], route[:, 2])
        prev_heading = jnp.concatenate([jnp.zeros((1,), jnp.float32), heading[:-1]])
        kappa = jnp.abs(
            jnp.arctan2(jnp.sin(heading - prev_heading), jnp.cos(heading - prev_heading))
        )
        kappa = kappa / jnp.maximum(seg, 0.5)
        v_curve = jnp.sqrt(cfg.max_lat_accel / jnp.maximum(kappa, 1e-4))
        # The turn begins on the segment before the point whose heading changed.
        to_curve = jnp.maximum(s_start - 0.5 * length, 0.5)
        need = (v_curve**2 - v**2) / (2.0 * to_curve)
        curve_a = jnp.min(jnp.where(route_valid & (v_curve < v), need, jnp.inf))
        near_curve = jnp.min(jnp.where(route_valid & (s_start < 0.5 * length), v_curve, jnp.inf))
        desired = jnp.maximum(jnp.minimum(ego[EGO_SPEED_LIMIT], near_curve), 0.5)
        accel = idm_accel(v, desired, jnp.float32(1e3), v, cfg)  # free road
        accel = jnp.minimum(accel, jnp.maximum(curve_a, -cfg.decel_comfort))

        # Leaders and predicted conflicts among the K nearest agents.
        def obstacle(other, ok):
            xy = other[:2]
            cos_r, sin_r = other[2], other[3]
            vel = jnp.stack([other[4] + v, other[5]])  # absolute velocity in the ego frame
            half = 0.5 * (jnp.abs(cos_r) * other[6] + jnp.abs(sin_r) * other[7])
            half_across = 0.5 * (jnp.abs(sin_r) * other[6] + jnp.abs(cos_r) * other[7])
            corridor = 0.5 * width + half_across + cfg.corridor_margin
            s_now, d_now = _project(path, path_valid, xy)
            ahead = xy[0] > 0.5 * length
            lead = ok & ahead & (d_now < corridor)
            lead_gap = s_now - 0.5 * length - half
            lead_a = idm_accel(v, desired, lead_gap, jnp.maximum(vel[0], 0.0), cfg)

            def conflict(tau):
                p = xy + vel * tau
                s_c, d_c = _project(path, path_valid, p)
                ours = s_c / jnp.maximum(v, 1.0)  # when we would get there
                hit = (d_c < corridor) & (s_c > 0.5 * length) & (ours + cfg.yield_slack >= tau)
                return hit, s_c

            taus = jnp.asarray(cfg.yield_horizon, jnp.float32)
            hits, s_cs = jax.vmap(conflict)(taus)
            moving = jnp.linalg.norm(vel) > 0.5
            yield_now = ok & ~lead & moving & hits.any() & (xy[0] > -0.5 * length)
            s_first = jnp.min(jnp.where(hits, s_cs, jnp.inf))
            yield_a = idm_accel(v, desired, s_first - 0.5 * length - half, jnp.float32(0.0), cfg)
            return jnp.where(lead, lead_a, jnp.where(yield_now, yield_a, jnp.inf))

        agent_a = jax.vmap(obstacle)(agents, agents_valid)
        accel = jnp.minimum(accel, jnp.min(agent_a))

        # Stop lines: red always (unless already over the line), yellow when stoppable.
        gap = stops[:, 0] - 0.5 * length - cfg.stop_line_margin
        red = stops[:, STOP_LIGHT_OFFSET + LIGHT_RED] > 0.5
        yellow = stops[:, STOP_LIGHT_OFFSET + LIGHT_YELLOW] > 0.5
        stoppable = gap > v**2 / (2.0 * cfg.decel_comfort)
        must_stop = stops_valid & (stops[:, 0] > 0.5 * length - 0.5) & (red | (yellow & stoppable))
        stop_a = idm_accel(v, desired, gap + cfg.min_gap, jnp.float32(0.0), cfg)
        accel = jnp.minimum(accel, jnp.min(jnp.where(must_stop, stop_a, jnp.inf)))
        accel = jnp.clip(accel, -cfg.decel_max, cfg.accel_max)
        return accel, steer

    def targets(self, obs) -> tuple[Float[Array, " A"], Float[Array, " A"]]:
        """Unsmoothed target (accel m/s², steer rad) per agent slot from a PrivilegedObservation
        [A, ...]: what the discrete action spaces round to (the world limits their jerk)."""
        return jax.vmap(self._one)(
            obs.ego,
            obs.route,
            obs.route_valid,
            obs.agents,
            obs.agents_valid,
            obs.stop_lines,
            obs.stop_lines_valid,
        )

    def controls(self, obs) -> tuple[Float[Array, " A"], Float[Array, " A"]]:
        """Commanded (accel, steer): the targets with the acceleration changing at most
        comfort_jerk per second from the current one, except to brake harder than
        decel_comfort (continuous actions)."""
        accel, steer = self.targets(obs)
        rate = self.cfg.comfort_jerk * self.dt
        current = obs.ego[:, EGO_ACCEL]
        smooth = jnp.clip(accel, current - rate, current + rate)
        return jnp.where(accel < -self.cfg.decel_comfort, accel, smooth), steer

    def __call__(self, obs, key: Array | None = None) -> Array:
        """Action per agent slot in the configured action space (`key` is unused). Discrete
        spaces round the unsmoothed targets: rounding a jerk-limited command would never leave
        the current grid cell."""
        space = self.action_space if self.plans_in is None else self.plans_in
        if space == "continuous":
            accel, steer = self.controls(obs)
        else:
            accel, steer = self.targets(obs)
        action = to_action(accel, steer, obs.ego, space, self.dt)
        if space == self.action_space:
            return action
        # A grid cell played as its (accel, steer) values in the continuous twin.
        return jnp.asarray(gw.action_table(space))[action]


def _nearest_index(value: Array, table: tuple[float, ...]) -> Array:
    grid = jnp.asarray(table, jnp.float32).reshape((1,) * value.ndim + (len(table),))
    return jnp.argmin(jnp.abs(value[..., None] - grid), -1).astype(jnp.int32)


def to_action(
    accel: Float[Array, " A"],
    steer: Float[Array, " A"],
    ego: Float[Array, "A E"],
    action_space: str,
    dt: float,
) -> Array:
    """Convert target (accel, steer) to gp-world actions: f32[A, 2] for "continuous", the nearest
    grid cell for "accel_steer_grid", the nearest jerk pair for "jerk" (int32[A])."""
    if action_space == "continuous":
        return jnp.stack([accel, steer], -1).astype(jnp.float32)
    if action_space == "accel_steer_grid":
        i = _nearest_index(accel, GRID_ACCEL)
        j = _nearest_index(steer, GRID_STEER)
        return i * len(GRID_STEER) + j
    if action_space == "jerk":
        v_turn = jnp.maximum(ego[:, EGO_SPEED], MIN_TURN_SPEED)
        wheelbase = WHEELBASE_FRACTION * ego[:, EGO_LENGTH]
        lat_target = v_turn**2 * jnp.tan(steer) / jnp.maximum(wheelbase, 0.5)
        i = _nearest_index((accel - ego[:, EGO_ACCEL]) / dt, JERK_LONGITUDINAL)
        j = _nearest_index((lat_target - ego[:, EGO_LAT_ACCEL]) / dt, JERK_LATERAL)
        return i * len(JERK_LATERAL) + j
    raise ValueError(f"unknown action space {action_space!r}")


def reference_speed_profile(
    speed: float,
    desired_speed: float,
    path_length: float,
    lead_gap: Float[Array, " T"],
    lead_speed: Float[Array, " T"],
    dt: float = 0.1,
    cfg: BaselineConfig | None = None,
) -> Float[Array, " T"]:
    """Arc length s(t) f32[T+1] (m) of the baseline's IDM along a path of `path_length` m.

    lead_gap f32[T]: per step, the arc length from the ego's starting front bumper to the nearest
    obstacle on the path (leader's rear, or stop line; a large value if none); lead_speed f32[T]
    its speed. The reference planner NAVSIM ego progress normalises against (same IDM constants
    as the closed-loop baseline)."""

    cfg = BaselineConfig() if cfg is None else cfg

    def step(carry, inp):
        s, v = carry
        lead_s, lead_v = inp
        a = idm_accel(v, desired_speed, lead_s - s, lead_v, cfg)
        a = jnp.clip(a, -cfg.decel_max, cfg.accel_max)
        v_new = jnp.maximum(v + a * dt, 0.0)
        s_new = jnp.minimum(s + 0.5 * (v + v_new) * dt, path_length)
        return (s_new, v_new), s_new

    init = (jnp.float32(0.0), jnp.float32(speed))
    _, s = jax.lax.scan(step, init, (lead_gap.astype(jnp.float32), lead_speed.astype(jnp.float32)))
    return jnp.concatenate([jnp.zeros((1,), jnp.float32), s])
