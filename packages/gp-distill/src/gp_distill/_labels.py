"""Teacher labels of visited states: action distribution, latent, value, and a future
trajectory from a forked teacher rollout (all agents driven by the teacher in the fork)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

import gp_agents as ga
import gp_world as gw


def teacher_outputs(teacher: Any, privileged: Any) -> tuple[Any, Array, Array]:
    """(distribution, latent, value) of every agent from privileged observations with leading
    axes [A] (one world) or [W, A] (a batch of worlds); the outputs carry the same axes.

    A TeacherPolicy takes the whole batch at once (one matrix product per layer); any other
    per-agent teacher (a scripted one) is vmapped over the leading axes."""
    if isinstance(teacher, ga.TeacherPolicy):
        return teacher.heads(privileged)

    def one(observation: Any) -> tuple[Any, Array, Array]:
        latent = teacher.latent(observation)
        return teacher.action_distribution(observation), latent, teacher.value(observation)

    fn = one
    for _ in range(privileged.valid.ndim):
        fn = jax.vmap(fn)
    return fn(privileged)


def teacher_action(distribution: Any, key: Array, greedy: bool) -> Array:
    """One action per agent from distributions with leading axis A."""
    if greedy:
        return jax.vmap(lambda d: d.mode())(distribution)
    keys = jax.random.split(key, jax.tree.leaves(distribution)[0].shape[0])
    return jax.vmap(lambda d, k: d.sample(k))(distribution, keys)


def fork_trajectories(
    teacher: Any, world: Any, state: Any, horizon: int = 40
) -> tuple[Float[Array, "A 8 3"], Bool[Array, "A 8"]]:
    """Fork ONE world at `state`, let the teacher drive every agent greedily for `horizon`
    steps, and return each agent's 8 evenly spaced future poses in its ego frame at the fork.

    Poses after an agent's episode ended in the fork (its slot respawned) are invalid.
    """
    poses_every = horizon // ga.TRAJECTORY_POSES
    start = state.agents

    def step(carry: Any, _: Any) -> tuple[Any, tuple[Array, Array, Array, Array]]:
        world_state, alive = carry
        distribution, _, _ = teacher_outputs(teacher, world.observe(world_state))
        action = jax.vmap(lambda d: d.mode())(distribution)
        world_state, out = world.step(world_state, action)
        alive = alive & ~out.done & out.valid
        a = world_state.agents
        return (world_state, alive), (a.x, a.y, a.yaw, alive)

    _, (x, y, yaw, alive) = jax.lax.scan(step, (state, start.valid), None, horizon)
    pick = jnp.arange(1, ga.TRAJECTORY_POSES + 1) * poses_every - 1
    x, y, yaw, alive = x[pick].T, y[pick].T, yaw[pick].T, alive[pick].T  # [A, 8]
    ex, ey = gw.to_ego(x, y, start.x[:, None], start.y[:, None], start.yaw[:, None])
    turn = yaw - start.yaw[:, None]
    heading = jnp.arctan2(jnp.sin(turn), jnp.cos(turn))
    trajectory = jnp.stack([ex, ey, heading], -1)
    return jnp.where(alive[..., None], trajectory, 0.0), alive
