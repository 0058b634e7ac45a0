"""Closed-loop evaluation of a policy in self-play: route completion and incident rates."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
from jaxtyping import Array, PRNGKeyArray

from gp_agents._rollout import EpisodeTally, episode_metrics, rollout


@eqx.filter_jit
def _evaluate(
    policy: Any, world: Any, key: PRNGKeyArray, num_worlds: int, num_steps: int, greedy: bool
) -> dict[str, Array]:
    k_reset, k_roll = jax.random.split(key)
    world_state = jax.vmap(world.reset)(jax.random.split(k_reset, num_worlds))
    num_agents = int(world.config.num_agents)
    _, _, _, sums = rollout(
        policy,
        world,
        world_state,
        EpisodeTally.zeros(num_worlds, num_agents),
        k_roll,
        num_steps,
        greedy=greedy,
    )
    return episode_metrics(sums)


def evaluate_policy(
    policy: Any,
    world: Any,
    key: PRNGKeyArray,
    num_worlds: int = 8,
    num_steps: int = 300,
    greedy: bool = True,
) -> dict[str, float]:
    """Drive every slot of `num_worlds` fresh worlds with `policy` for `num_steps` steps.

    Rates are per episode that ended within the horizon (`goal_rate` is route completion;
    `collision_rate`, `offroad_rate`, ... the share of episodes that ended with that event).
    Episodes still running at the end are not counted. `greedy`: most likely action (discrete)
    or the Beta mean (continuous) instead of sampling.
    """
    metrics = _evaluate(policy, world, key, num_worlds, num_steps, greedy)
    return {name: float(value) for name, value in metrics.items()}
