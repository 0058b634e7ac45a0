"""A reusable "does not smoke" harness: any config and map bank, any action space."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from gp_world._world import StepOutput, World, WorldState


def random_actions(world: World, key: Array, batch: tuple[int, ...] = ()) -> Array:
    """Uniformly random valid actions of shape (*batch, A) or (*batch, A, 2)."""
    space = world.action_space
    shape = (*batch, world.config.num_agents)
    if space.kind == "discrete":
        return jax.random.randint(key, shape, 0, space.num_actions)
    u = jax.random.uniform(key, (*shape, 2))
    low = space.low.reshape((1,) * len(shape) + (2,))
    high = space.high.reshape((1,) * len(shape) + (2,))
    return low + u * (high - low)


def smoke_test_world(world: World, key: Array, num_worlds: int = 2, steps: int = 5):
    """Reset a batch, step it with random actions under jit and check shapes and finiteness.

    Returns the final states, the stacked step outputs and the last observation.
    """
    a = world.config.num_agents

    @eqx.filter_jit
    def rollout(world: World, key: Array):
        k_reset, k_act = jax.random.split(key)
        states = jax.vmap(world.reset)(jax.random.split(k_reset, num_worlds))

        def body(states: WorldState, k: Array) -> tuple[WorldState, StepOutput]:
            return jax.vmap(world.step)(states, random_actions(world, k, (num_worlds,)))

        states, outs = jax.lax.scan(body, states, jax.random.split(k_act, steps))
        return states, outs, jax.vmap(world.observe)(states)

    states, outs, obs = rollout(world, key)
    assert outs.reward.shape == (steps, num_worlds, a)
    for name, leaf in jax.tree_util.tree_leaves_with_path((outs, obs)):
        array = np.asarray(leaf)
        if np.issubdtype(array.dtype, np.floating):
            assert np.isfinite(array).all(), f"non-finite values in {jax.tree_util.keystr(name)}"
    assert obs.ego.shape[:2] == (num_worlds, a)
    assert bool(jnp.all(outs.valid | ~outs.done))
    return states, outs, obs
