"""Driving a grid policy by its expected action.

A policy over gp-world's `accel_steer_grid` (7 accelerations x 7 steering angles) is usually
driven by its most likely cell. Its expected action, the probability-weighted mean of the
cells' (accel, steer) values, is a point of the same box that moves smoothly as the
probabilities do: where the most likely cell flips between 0.08 and 0.2 rad of steering, the
expected action steers in between. gp-world's grid and continuous spaces share one motion
model (a grid index moves a vehicle exactly as its (accel, steer) value does as a continuous
target), so the expected action is played in the world's continuous twin, which is the same
world in every other respect.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

import gp_world as gw


class PointAction(eqx.Module):
    """An action distribution with all its mass on one continuous action per agent: what a
    policy driven by its expected action acts with (its mode and samples are that action)."""

    action: Float[Array, "*batch 2"]

    def mode(self) -> Float[Array, "*batch 2"]:
        return self.action

    def sample(self, key: PRNGKeyArray) -> Float[Array, "*batch 2"]:
        del key
        return self.action

    def log_prob(self, action: Float[Array, "*batch 2"]) -> Float[Array, "*batch"]:
        return jnp.zeros(jnp.shape(action)[:-1], jnp.float32)

    def entropy(self) -> Float[Array, "*batch"]:
        return jnp.zeros(self.action.shape[:-1], jnp.float32)


class ExpectedAction(eqx.Module):
    """`policy` (a teacher or student over `accel_steer_grid`) driven by its expected action:
    called like the policy (one agent's observation, or a batch), it returns a `PointAction`
    at sum_i p_i * (accel_i, steer_i), f32[*batch, 2] in (m/s^2, rad), and the policy's value.
    Drive it in `continuous_twin(world)`; the grid world itself rejects its float actions."""

    policy: Any
    values: Float[Array, "n 2"]

    def __init__(self, policy: Any):
        kind = getattr(policy, "action_kind", None)
        if kind != "discrete":
            raise ValueError(
                f"the expected action is taken over a discrete grid; this policy's actions "
                f"are {kind!r}"
            )
        values = gw.action_table("accel_steer_grid")
        outputs = int(policy.actor_head.out_features)
        if outputs != len(values):
            raise ValueError(
                f"the policy has {outputs} discrete actions; accel_steer_grid has {len(values)} "
                f"(a jerk policy's cells are jerks, which no continuous space plays)"
            )
        self.policy = policy
        self.values = jnp.asarray(values, jnp.float32)

    @property
    def takes_batches(self) -> bool:
        """Whether the wrapped policy takes a whole [worlds, agents] batch in one call."""
        return bool(getattr(self.policy, "takes_batches", False))

    def __call__(self, observation: Any) -> tuple[PointAction, Float[Array, "*batch"]]:
        dist, value = self.policy(observation)
        probabilities = jax.nn.softmax(dist.logits, axis=-1)
        # Full float32 precision: a GPU's default (TF32) would move a sure policy's action off
        # its cell's value.
        action = jnp.matmul(probabilities, self.values, precision=jax.lax.Precision.HIGHEST)
        return PointAction(action), value


def continuous_twin(world: gw.World) -> gw.World:
    """`world` with (accel, steer) targets for actions instead of grid indices; the same maps,
    rewards and motion model (gp-world's test of that is
    `test_grid_actions_played_as_continuous_targets_move_alike`). A plain gp-world World in,
    a plain World out: take the twin before wrapping it (e.g. in gp-distill's PixelWorld)."""
    space = world.config.action_space
    if space == "continuous":
        return world
    if space != "accel_steer_grid":
        raise ValueError(f"a {space!r} world has no continuous twin: its actions are not targets")
    cfg = dataclasses.replace(world.config, action_space="continuous")
    return gw.World(cfg, world.maps)


def drive_by_expected_action(policy: Any, world: gw.World) -> tuple[ExpectedAction, gw.World]:
    """`(ExpectedAction(policy), continuous_twin(world))`: the pair a script drives when asked
    for the expected action, with the ValueError of either naming what does not fit."""
    return ExpectedAction(policy), continuous_twin(world)
