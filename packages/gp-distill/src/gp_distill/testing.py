"""A scripted privileged teacher with the TeacherPolicy interface, for tests and smoke runs.

It follows its route at a fixed target speed through the trajectory tracker: deterministic,
instant to build, and a function of what the student can also see (route command, ego
measurements), so distillation tests measure the pipeline, not the teacher's training.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

import gp_agents as ga
import gp_world as gw


class ScriptedTeacher(eqx.Module):
    """Route follower at `target_speed` with the teacher's methods (latent, action_distribution,
    value, __call__) on ONE agent's gp-world PrivilegedObservation."""

    projection: Float[Array, "latent features"]
    space: str = eqx.field(static=True)
    num_actions: int = eqx.field(static=True)
    target_speed: float = eqx.field(static=True)
    confidence: float = eqx.field(static=True)
    low: tuple[float, ...] = eqx.field(static=True)
    high: tuple[float, ...] = eqx.field(static=True)

    def __init__(
        self,
        space: str,
        observation: Any,
        latent_size: int,
        *,
        key: PRNGKeyArray,
        target_speed: float = 6.0,
        confidence: float = 4.0,
    ):
        """`space`: gp-world action space name; `observation`: one agent's privileged obs."""
        bounds = gw.action_space(space)
        self.space = space
        self.num_actions = int(bounds.num_actions)
        features = int(observation.ego.shape[-1]) + 2 * int(observation.route.shape[-2])
        self.projection = jax.random.normal(key, (latent_size, features)) / np.sqrt(features)
        self.target_speed = float(target_speed)
        self.confidence = float(confidence)
        self.low = tuple(float(v) for v in np.asarray(bounds.low))
        self.high = tuple(float(v) for v in np.asarray(bounds.high))

    def _plan(self, observation: Any) -> Float[Array, "8 3"]:
        """Poses every 0.5 s at the target speed along the route waypoints."""
        route = jnp.where(observation.route_valid[:, None], observation.route[:, :2], 0.0)
        last = jnp.maximum(jnp.sum(observation.route_valid.astype(jnp.int32)) - 1, 0)
        route = jnp.where(observation.route_valid[:, None], route, route[last][None, :])
        path = jnp.concatenate([jnp.zeros((1, 2), jnp.float32), route])
        times = ga.TRAJECTORY_DT * jnp.arange(1, ga.TRAJECTORY_POSES + 1, dtype=jnp.float32)
        points = jax.vmap(lambda s: ga.pursuit_point(path, s))(self.target_speed * times)
        return jnp.concatenate([points, jnp.zeros((ga.TRAJECTORY_POSES, 1))], -1)

    def _kinematics(self, observation: Any) -> gw.Kinematics:
        ego = observation.ego
        zero = jnp.zeros((), jnp.float32)
        return gw.Kinematics(
            x=zero,
            y=zero,
            yaw=zero,
            speed=ego[0],
            accel=ego[1],
            lat_accel=ego[2],
            steer=ego[3],
            wheelbase=jnp.maximum(0.6 * ego[4], 1.0),
            kind=jnp.zeros((), jnp.int32),
        )

    def latent(self, observation: Any) -> Float[Array, " latent"]:
        route = jnp.where(observation.route_valid[:, None], observation.route[:, :2], 0.0)
        features = jnp.concatenate([observation.ego, route.reshape(-1) / 20.0])
        return jnp.tanh(self.projection @ features)

    def action_distribution(self, observation: Any) -> ga.ActionDistribution:
        action = ga.tracking_action(
            self._plan(observation), self._kinematics(observation), self.space
        )
        if self.num_actions:
            logits = self.confidence * jax.nn.one_hot(action, self.num_actions)
            return ga.Categorical(logits.astype(jnp.float32))
        low, high = jnp.asarray(self.low), jnp.asarray(self.high)
        unit = jnp.clip((action - low) / (high - low), 0.05, 0.95)
        concentration = 10.0 * self.confidence
        return ga.ScaledBeta(concentration * unit, concentration * (1.0 - unit), low, high)

    def value(self, observation: Any) -> Float[Array, ""]:
        return observation.ego[0] / 10.0

    def __call__(self, observation: Any) -> tuple[ga.ActionDistribution, Array]:
        return self.action_distribution(observation), self.value(observation)


def scripted_teacher(world: Any, latent_size: int, key: PRNGKeyArray, **kwargs: Any):
    """A ScriptedTeacher for `world` (a gp-world World), latent size matching the student."""
    one_world = jax.eval_shape(world.observe, jax.eval_shape(world.reset, key))
    one_agent = jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape[1:], s.dtype), one_world)
    return ScriptedTeacher(world.config.action_space, one_agent, latent_size, key=key, **kwargs)
