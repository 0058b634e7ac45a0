"""Trajectory tracking: pure pursuit for steering, a proportional speed loop for acceleration.

Turns a planned trajectory (NAVSIM format: 8 ego-frame poses over 4 s) into an action of any
gp-world action space, so a student can drive by its trajectory head. Functions are unbatched
(one vehicle); `vmap` over agents and worlds.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from jaxtyping import Array, Float

import gp_world as gw
from gp_agents._student import TRAJECTORY_DT

MIN_TURN_SPEED = 3.0
"""m/s: gp-world's bicycle model maps lateral acceleration to curvature at least at this speed."""


@dataclasses.dataclass(frozen=True)
class TrackingConfig:
    """Gains of the pure-pursuit + speed controller (SI units)."""

    lookahead_time: float = 0.8
    """Pure-pursuit lookahead distance = lookahead_time * speed, clipped to the bounds below."""
    min_lookahead: float = 3.0
    max_lookahead: float = 15.0
    target_time: float = 1.0
    """The target speed is the trajectory's speed over the segment ending at this time."""
    speed_gain: float = 1.5
    """1/s: commanded acceleration = speed_gain * (target speed - speed)."""
    jerk_time_constant: float = 0.4
    """s: jerk action spaces close the acceleration gap over this time, not in one step."""
    stop_length: float = 0.5
    """m: trajectories shorter than this mean 'stand still'."""

    def __post_init__(self) -> None:
        if not 0 < self.min_lookahead <= self.max_lookahead:
            raise ValueError("TrackingConfig needs 0 < min_lookahead <= max_lookahead")
        if self.target_time < TRAJECTORY_DT or self.speed_gain <= 0:
            raise ValueError("TrackingConfig needs target_time >= 0.5 s and speed_gain > 0")
        if self.jerk_time_constant <= 0 or self.lookahead_time < 0:
            raise ValueError("TrackingConfig needs jerk_time_constant > 0, lookahead_time >= 0")


def pursuit_point(path: Float[Array, "n 2"], distance: Float[Array, ""]) -> Float[Array, "2"]:
    """The point at arc length `distance` along the polyline `path` (its end when shorter)."""
    seg = path[1:] - path[:-1]
    seg_len = jnp.linalg.norm(seg, axis=-1)
    start = jnp.concatenate([jnp.zeros((1,), jnp.float32), jnp.cumsum(seg_len)[:-1]])
    inside = (distance >= start) & (distance < start + seg_len)
    # The last segment takes any distance beyond the end (its point is clipped to the end).
    idx = jnp.where(jnp.any(inside), jnp.argmax(inside), seg.shape[0] - 1)
    frac = jnp.clip((distance - start[idx]) / jnp.maximum(seg_len[idx], 1e-6), 0.0, 1.0)
    return path[idx] + frac * seg[idx]


def track(
    trajectory: Float[Array, "8 3"],
    kinematics: gw.Kinematics,
    cfg: TrackingConfig = TrackingConfig(),
) -> Float[Array, "2"]:
    """(acceleration m/s^2, front steer rad) that follow `trajectory` (ego-frame poses at
    0.5, 1.0, ..., 4.0 s) from the vehicle state `kinematics` (one vehicle, scalar fields)."""
    poses = trajectory[:, :2]
    path = jnp.concatenate([jnp.zeros((1, 2), jnp.float32), poses])
    length = jnp.sum(jnp.linalg.norm(path[1:] - path[:-1], axis=-1))
    speed = kinematics.speed
    lookahead = jnp.clip(cfg.lookahead_time * speed, cfg.min_lookahead, cfg.max_lookahead)
    point = pursuit_point(path, jnp.minimum(lookahead, length))
    d2 = jnp.maximum(jnp.sum(point * point), 1e-6)
    curvature = 2.0 * point[1] / d2  # pure pursuit: the arc through the origin and the point
    steer = jnp.arctan(kinematics.wheelbase * curvature)
    j = round(cfg.target_time / TRAJECTORY_DT)
    target_speed = jnp.linalg.norm(path[j] - path[j - 1]) / TRAJECTORY_DT
    standstill = length < cfg.stop_length
    target_speed = jnp.where(standstill, 0.0, target_speed)
    steer = jnp.where(standstill, kinematics.steer, steer)
    accel = cfg.speed_gain * (target_speed - speed)
    return jnp.stack([accel, steer])


def tracking_action(
    trajectory: Float[Array, "8 3"],
    kinematics: gw.Kinematics,
    space: str,
    cfg: TrackingConfig = TrackingConfig(),
) -> Array:
    """The action of gp-world action space `space` ("jerk", "accel_steer_grid", "continuous")
    that best follows `trajectory`: int32[] for discrete spaces (the nearest action to the
    controller's command), f32[2] (accel, steer) clipped to the space's bounds for continuous."""
    accel, steer = track(trajectory, kinematics, cfg)
    bounds = gw.action_space(space)
    if space == "continuous":
        return jnp.clip(jnp.stack([accel, steer]), bounds.low, bounds.high)
    if space not in ("jerk", "accel_steer_grid"):
        raise ValueError(f"unknown action space {space!r}")
    # gp-world's inverse model picks the nearest discrete action to a commanded change.
    v_turn = jnp.maximum(kinematics.speed, MIN_TURN_SPEED)
    wanted = gw.Kinematics(
        x=kinematics.x,
        y=kinematics.y,
        yaw=kinematics.yaw,
        speed=kinematics.speed,
        accel=accel,
        lat_accel=v_turn**2 * jnp.tan(steer) / kinematics.wheelbase,
        steer=steer,
        wheelbase=kinematics.wheelbase,
        kind=kinematics.kind,
    )
    # Jerk spaces: close the gap over a time constant (one-step jerks would always saturate).
    dt = cfg.jerk_time_constant if space == "jerk" else 1.0
    return gw.inverse(kinematics, wanted, space, dt)
