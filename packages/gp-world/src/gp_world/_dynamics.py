"""Kinematic bicycle dynamics, the three action spaces, and the inverse model.

Every function is elementwise over any leading batch shape `(...)`: pass one agent, a world's
agents `(A,)` or `(worlds, A)` alike.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from gp_world.config import ActionSpaceKind

# Gigaflow's 12 jerk actions: longitudinal x lateral jerk, m/s^3.
JERK_LONGITUDINAL = (-15.0, -4.0, 0.0, 4.0)
JERK_LATERAL = (-4.0, 0.0, 4.0)
# The accel x steer grid: m/s^2 x rad.
GRID_ACCEL = (-6.0, -3.0, -1.0, 0.0, 1.0, 2.0, 3.0)
GRID_STEER = (-0.5, -0.2, -0.08, 0.0, 0.08, 0.2, 0.5)

# Per agent kind (car, van, truck, cyclist): sizes are sampled in [lo, hi].
KIND_LENGTH = np.array([[4.2, 5.0], [5.0, 6.0], [7.0, 10.0], [1.7, 1.9]], np.float32)
KIND_WIDTH = np.array([[1.75, 2.0], [2.0, 2.2], [2.4, 2.6], [0.6, 0.8]], np.float32)
KIND_HEIGHT = np.array([1.5, 2.2, 3.4, 1.7], np.float32)
KIND_WHEELBASE_FRACTION = np.array([0.6, 0.6, 0.65, 0.6], np.float32)
KIND_MAX_SPEED = np.array([30.0, 25.0, 22.0, 10.0], np.float32)
KIND_MAX_ACCEL = np.array([4.0, 3.0, 2.0, 2.0], np.float32)
KIND_MAX_DECEL = np.array([8.0, 7.0, 6.0, 5.0], np.float32)
KIND_MAX_STEER = np.array([0.6, 0.55, 0.5, 0.7], np.float32)
MAX_LATERAL_ACCEL = 5.0  # m/s^2, all kinds
MAX_JERK = 15.0  # m/s^3: accel rate limit for the grid and continuous spaces
MAX_STEER_RATE = 1.5  # rad/s
MIN_TURN_SPEED = 3.0  # m/s: lateral accel -> curvature uses at least this speed


class ActionSpace(eqx.Module):
    """kind "discrete" (num_actions) or "continuous" (low, high f32[2] = accel m/s^2, steer rad).

    `grid`: a discrete space's (longitudinal, lateral) sizes (see `action_grid`); () otherwise.
    """

    kind: str = eqx.field(static=True)
    num_actions: int = eqx.field(static=True)
    low: Float[Array, "2"]
    high: Float[Array, "2"]
    grid: tuple[int, ...] = eqx.field(static=True, default=())


def action_space(space: ActionSpaceKind) -> ActionSpace:
    low = jnp.asarray([-float(KIND_MAX_DECEL.max()), -float(KIND_MAX_STEER.max())], jnp.float32)
    high = jnp.asarray([float(KIND_MAX_ACCEL.max()), float(KIND_MAX_STEER.max())], jnp.float32)
    if space in ("jerk", "accel_steer_grid"):
        grid = action_grid(space)
        return ActionSpace("discrete", grid[0] * grid[1], low, high, grid)
    if space == "continuous":
        return ActionSpace("continuous", 0, low, high)
    raise ValueError(f"unknown action space {space!r}")


def action_table(space: ActionSpaceKind) -> np.ndarray:
    """f32[num_actions, 2] values of a discrete space: jerks (m/s^3) or (accel, steer)."""
    if space == "jerk":
        return JERK_TABLE
    if space == "accel_steer_grid":
        return GRID_TABLE
    raise ValueError(f"{space!r} is not a discrete action space")


def action_grid(space: ActionSpaceKind) -> tuple[int, int]:
    """(longitudinal, lateral) sizes of a discrete space's grid: action index i is longitudinal
    value i // lateral and lateral value i % lateral (accel x steer, or the two jerks)."""
    if space == "jerk":
        return len(JERK_LONGITUDINAL), len(JERK_LATERAL)
    if space == "accel_steer_grid":
        return len(GRID_ACCEL), len(GRID_STEER)
    raise ValueError(f"{space!r} is not a discrete action space")


def _table(first, second) -> np.ndarray:
    """Discrete action index i -> (first[i // len(second)], second[i % len(second)])."""
    return np.array([(a, b) for a in first for b in second], np.float32)


JERK_TABLE = _table(JERK_LONGITUDINAL, JERK_LATERAL)  # f32[12, 2]
GRID_TABLE = _table(GRID_ACCEL, GRID_STEER)  # f32[49, 2]


class Kinematics(eqx.Module):
    """Vehicle motion state, any batch shape (...). Pose at the box centre."""

    x: Float[Array, "..."]
    y: Float[Array, "..."]
    yaw: Float[Array, "..."]
    speed: Float[Array, "..."]  # m/s, >= 0
    accel: Float[Array, "..."]  # m/s^2, longitudinal
    lat_accel: Float[Array, "..."]  # m/s^2, commanded lateral acceleration
    steer: Float[Array, "..."]  # rad, front wheel angle
    wheelbase: Float[Array, "..."]
    kind: Int[Array, "..."]


def _limits(kind):
    take = lambda t: jnp.asarray(t)[kind]  # noqa: E731
    return take(KIND_MAX_SPEED), take(KIND_MAX_ACCEL), take(KIND_MAX_DECEL), take(KIND_MAX_STEER)


def forward(state: Kinematics, action: Array, space: ActionSpaceKind, dt: float) -> Kinematics:
    """One step of the kinematic bicycle.

    action: int32[...] for discrete spaces, float32[..., 2] (accel, steer) for continuous
    (clamped to the agent's limits: a documented clamp, not an error).
    """
    max_speed, max_accel, max_decel, max_steer = _limits(state.kind)
    v_turn = lambda v: jnp.maximum(v, MIN_TURN_SPEED)  # noqa: E731
    if space == "jerk":
        jerk = jnp.asarray(JERK_TABLE)[action]
        accel = jnp.clip(state.accel + jerk[..., 0] * dt, -max_decel, max_accel)
        lat_accel = jnp.clip(
            state.lat_accel + jerk[..., 1] * dt, -MAX_LATERAL_ACCEL, MAX_LATERAL_ACCEL
        )
        speed = jnp.clip(state.speed + accel * dt, 0.0, max_speed)
        steer = jnp.arctan(state.wheelbase * lat_accel / v_turn(speed) ** 2)
        steer = jnp.clip(steer, -max_steer, max_steer)
    else:
        if space == "accel_steer_grid":
            target = jnp.asarray(GRID_TABLE)[action]
        elif space == "continuous":
            target = action
        else:
            raise ValueError(f"unknown action space {space!r}")
        accel = state.accel + jnp.clip(target[..., 0] - state.accel, -MAX_JERK * dt, MAX_JERK * dt)
        accel = jnp.clip(accel, -max_decel, max_accel)
        steer = state.steer + jnp.clip(
            target[..., 1] - state.steer, -MAX_STEER_RATE * dt, MAX_STEER_RATE * dt
        )
        steer = jnp.clip(steer, -max_steer, max_steer)
        speed = jnp.clip(state.speed + accel * dt, 0.0, max_speed)
        lat_accel = v_turn(speed) ** 2 * jnp.tan(steer) / state.wheelbase
    yaw_rate = speed * jnp.tan(steer) / state.wheelbase
    mid_yaw = state.yaw + 0.5 * yaw_rate * dt  # midpoint heading for the position update
    yaw = _wrap(state.yaw + yaw_rate * dt)
    return Kinematics(
        x=state.x + speed * jnp.cos(mid_yaw) * dt,
        y=state.y + speed * jnp.sin(mid_yaw) * dt,
        yaw=yaw,
        speed=speed,
        accel=accel,
        lat_accel=lat_accel,
        steer=steer,
        wheelbase=state.wheelbase,
        kind=state.kind,
    )


def inverse(before: Kinematics, after: Kinematics, space: ActionSpaceKind, dt: float) -> Array:
    """The action that moved `before` to `after` (nearest discrete action; exact when no limit
    clipped it). Returns int32[...] or float32[..., 2]."""
    if space == "jerk":
        jerk = jnp.stack(
            [(after.accel - before.accel) / dt, (after.lat_accel - before.lat_accel) / dt], -1
        )
        return _nearest(jerk, JERK_TABLE)
    applied = jnp.stack([after.accel, after.steer], -1)
    if space == "accel_steer_grid":
        return _nearest(applied, GRID_TABLE)
    if space == "continuous":
        return applied
    raise ValueError(f"unknown action space {space!r}")


def _nearest(value: Array, table: np.ndarray) -> Array:
    scale = np.abs(table).max(0) + 1e-6  # compare the two channels on a common scale
    lead = (1,) * (value.ndim - 1)
    t = jnp.asarray(table / scale).reshape(*lead, *table.shape)
    d = ((value[..., None, :] / jnp.asarray(scale).reshape(*lead, 1, 2) - t) ** 2).sum(-1)
    return jnp.argmin(d, axis=-1).astype(jnp.int32)


def _wrap(angle: Array) -> Array:
    """Angle to [-pi, pi)."""
    shifted = angle + jnp.pi  # floor-based modulo: XLA's float remainder is slow on CPU
    return shifted - jnp.floor(shifted / (2 * jnp.pi)) * (2 * jnp.pi) - jnp.pi
