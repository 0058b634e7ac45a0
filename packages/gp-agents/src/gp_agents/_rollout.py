"""Self-play rollouts: one policy drives every agent slot of every world; episode bookkeeping."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

EPISODE_OUTCOMES = ("goal_reached", "collision", "offroad", "red_light", "timeout")
"""Per-episode outcomes counted in the metrics (a red light counts if run at any time)."""


class EpisodeTally(eqx.Module):
    """Running statistics of the episode each slot is in, f32/bool [W, A]."""

    returns: Float[Array, "W A"]
    length: Int[Array, "W A"]
    ran_red_light: Bool[Array, "W A"]

    @staticmethod
    def zeros(num_worlds: int, num_agents: int) -> EpisodeTally:
        shape = (num_worlds, num_agents)
        return EpisodeTally(
            jnp.zeros(shape, jnp.float32), jnp.zeros(shape, jnp.int32), jnp.zeros(shape, bool)
        )


class Transitions(eqx.Module):
    """One rollout, time first: leaves are [T, W, A, ...]."""

    observation: Any
    action: Array
    log_prob: Float[Array, "T W A"]
    value: Float[Array, "T W A"]
    reward: Float[Array, "T W A"]
    done: Bool[Array, "T W A"]
    failed: Bool[Array, "T W A"]
    valid: Bool[Array, "T W A"]


def _per_agent(fn, *trees):
    """Apply an unbatched per-agent function over the (world, agent) axes."""
    return jax.vmap(jax.vmap(fn))(*trees)


def policy_act(policy: Any, observation: Any, key: PRNGKeyArray, greedy: bool = False):
    """Actions, log-probs and values for observations [W, A, ...]; one key per agent slot.

    A policy with `takes_batches` (a TeacherPolicy, or an ExpectedAction of one) takes the
    whole batch at once (one matrix product per layer); any other per-agent policy is vmapped
    over worlds and agents."""
    if getattr(policy, "takes_batches", False):
        dist, value = policy(observation)
    else:
        dist, value = _per_agent(policy, observation)
    num_worlds, num_agents = value.shape
    keys = jax.random.split(key, num_worlds * num_agents).reshape(num_worlds, num_agents)
    if greedy:
        action = _per_agent(lambda d: d.mode(), dist)
    else:
        action = _per_agent(lambda d, k: d.sample(k), dist, keys)
    log_prob = _per_agent(lambda d, a: d.log_prob(a), dist, action)
    return action, log_prob, value


def rollout(
    policy: Any,
    world: Any,
    world_state: Any,
    tally: EpisodeTally,
    key: PRNGKeyArray,
    num_steps: int,
    constrain=lambda tree, time_axis: tree,
    greedy: bool = False,
) -> tuple[Any, EpisodeTally, Transitions, dict[str, Array]]:
    """Step the batched worlds `num_steps` times with `policy` driving every slot.

    Returns the new world state and tally, the transitions, and episode sums over the rollout
    (`episodes` finished, `return_sum` of their returns, and a count per outcome).
    `constrain(tree, time_axis)` pins the world axis to its sharding.
    """
    observe = jax.vmap(world.observe)
    step = jax.vmap(world.step)

    def one_step(carry, step_key):
        world_state, tally = carry
        observation = constrain(observe(world_state), None)
        action, log_prob, value = policy_act(policy, observation, step_key, greedy)
        world_state, out = step(world_state, action)
        world_state = constrain(world_state, None)
        reward = jnp.where(out.valid, out.reward, 0.0)
        returns = tally.returns + reward
        ran_red = tally.ran_red_light | (out.events.red_light & out.valid)
        length = tally.length + out.valid.astype(jnp.int32)
        finished = out.done & out.valid
        f = finished.astype(jnp.float32)
        sums = {
            "episodes": jnp.sum(f),
            "return_sum": jnp.sum(returns * f),
            "length_sum": jnp.sum(length.astype(jnp.float32) * f),
            "agent_steps": jnp.sum(out.valid.astype(jnp.float32)),
            "reward_sum": jnp.sum(reward),
            "distance_sum": jnp.sum(jnp.where(out.valid, out.distance, 0.0)),
        }
        for name in EPISODE_OUTCOMES:
            hit = ran_red if name == "red_light" else getattr(out.events, name)
            sums[name] = jnp.sum((hit & finished).astype(jnp.float32))
        tally = EpisodeTally(
            jnp.where(finished, 0.0, returns),
            jnp.where(finished, 0, length),
            ran_red & ~finished,
        )
        transition = Transitions(
            observation, action, log_prob, value, reward, out.done, out.failed, out.valid
        )
        return (world_state, tally), (transition, sums)

    keys = jax.random.split(key, num_steps)
    (world_state, tally), (transitions, sums) = jax.lax.scan(one_step, (world_state, tally), keys)
    transitions = constrain(transitions, 1)
    return world_state, tally, transitions, jax.tree.map(jnp.sum, sums)


def episode_metrics(sums: dict[str, Array]) -> dict[str, Array]:
    """Rates per finished episode (NaN-free: 0 when no episode finished)."""
    episodes = jnp.maximum(sums["episodes"], 1.0)
    metrics = {
        "episodes": sums["episodes"],
        "episode_return": sums["return_sum"] / episodes,
        "episode_length": sums["length_sum"] / episodes,
        "reward_per_step": sums["reward_sum"] / jnp.maximum(sums["agent_steps"], 1.0),
        "distance_per_step": sums["distance_sum"] / jnp.maximum(sums["agent_steps"], 1.0),
    }
    rate_names = {
        "goal_reached": "goal_rate",
        "collision": "collision_rate",
        "offroad": "offroad_rate",
        "red_light": "red_light_rate",
        "timeout": "timeout_rate",
    }
    for name, metric in rate_names.items():
        metrics[metric] = sums[name] / episodes
    return metrics
