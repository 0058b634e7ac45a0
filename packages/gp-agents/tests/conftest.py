"""Fixtures: a tiny world that follows the gp-world API, so trainer tests compile in seconds."""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest


@dataclasses.dataclass(frozen=True)
class LaneConfig:
    num_agents: int = 4
    max_episode_steps: int = 40
    action_space: str = "discrete"


class LaneActionSpace(eqx.Module):
    kind: str = eqx.field(static=True)
    num_actions: int = eqx.field(static=True, default=3)
    low: tuple = eqx.field(static=True, default=(-0.3,))
    high: tuple = eqx.field(static=True, default=(0.3,))
    grid: tuple = eqx.field(static=True, default=())  # three steering values: no grid


class LaneEvents(eqx.Module):
    collision: jax.Array
    offroad: jax.Array
    red_light: jax.Array
    wrong_way: jax.Array
    goal_reached: jax.Array
    timeout: jax.Array


class LaneOutput(eqx.Module):
    reward: jax.Array
    done: jax.Array
    failed: jax.Array
    valid: jax.Array
    events: LaneEvents
    distance: jax.Array
    progress: jax.Array


class LaneObservation(eqx.Module):
    ego: jax.Array
    route: jax.Array
    route_valid: jax.Array
    agents: jax.Array
    agents_valid: jax.Array
    lane_points: jax.Array
    lane_points_valid: jax.Array
    road_edges: jax.Array
    road_edges_valid: jax.Array
    stop_lines: jax.Array
    stop_lines_valid: jax.Array
    valid: jax.Array


class LaneState(eqx.Module):
    offset: jax.Array  # f32[A] lateral offset from the lane centre, m
    weight: jax.Array  # f32[A] per-episode reward weight
    t: jax.Array  # int32[A] steps in episode
    valid: jax.Array  # bool[A], slot 3 stays empty to exercise masking
    key: jax.Array


class LaneWorld(eqx.Module):
    """Agents drift sideways; steering back toward the centre earns reward, leaving ends it."""

    config: LaneConfig = eqx.field(static=True)

    @property
    def action_space(self) -> LaneActionSpace:
        kind = "discrete" if self.config.action_space == "discrete" else "continuous"
        return LaneActionSpace(kind)

    def _spawn(self, key, shape):
        k1, k2 = jax.random.split(key)
        return (
            jax.random.uniform(k1, shape, minval=-1.5, maxval=1.5),
            jax.random.uniform(k2, shape, minval=0.5, maxval=1.5),
        )

    def reset(self, key):
        a = self.config.num_agents
        k_spawn, k_state = jax.random.split(key)
        offset, weight = self._spawn(k_spawn, (a,))
        valid = jnp.arange(a) < a - 1
        return LaneState(offset, weight, jnp.zeros(a, jnp.int32), valid, k_state)

    def step(self, state, action):
        if self.config.action_space == "discrete":
            steer = (action.astype(jnp.float32) - 1.0) * 0.3
        else:
            steer = action[:, 0]
        key, k_drift, k_spawn = jax.random.split(state.key, 3)
        drift = 0.2 * jax.random.normal(k_drift, state.offset.shape)
        offset = state.offset + steer + drift
        t = state.t + 1
        offroad = jnp.abs(offset) > 2.0
        timeout = t >= self.config.max_episode_steps
        done = (offroad | timeout) & state.valid
        reward = state.weight * (0.1 - 0.05 * jnp.abs(offset)) - 1.0 * offroad.astype(jnp.float32)
        new_offset, new_weight = self._spawn(k_spawn, offset.shape)
        zeros = jnp.zeros_like(done)
        off, out_of_time = offroad & state.valid, timeout & state.valid
        events = LaneEvents(zeros, off, zeros, zeros, zeros, out_of_time)
        out = LaneOutput(
            jnp.where(state.valid, reward, 0.0),
            done,
            off,
            state.valid,
            events,
            jnp.ones_like(offset),
            jnp.ones_like(offset),
        )
        state = LaneState(
            jnp.where(done, new_offset, offset),
            jnp.where(done, new_weight, state.weight),
            jnp.where(done, 0, t),
            state.valid,
            key,
        )
        return state, out

    def observe(self, state):
        a = self.config.num_agents
        ego = jnp.stack([state.offset, state.weight, state.t.astype(jnp.float32) / 40.0], -1)
        lane = jnp.stack([jnp.linspace(0.0, 10.0, 4)] * a)[..., None] * jnp.ones((1, 1, 2))
        lane = lane.at[..., 1].set(-state.offset[:, None])

        def empty(n, f):
            return jnp.zeros((a, n, f)), jnp.zeros((a, n), bool)

        agents, agents_valid = empty(2, 3)
        stops, stops_valid = empty(1, 4)
        return LaneObservation(
            ego,
            lane,
            jnp.ones((a, 4), bool),
            agents,
            agents_valid,
            lane,
            jnp.ones((a, 4), bool),
            lane,
            jnp.ones((a, 4), bool),
            stops,
            stops_valid,
            state.valid,
        )


@pytest.fixture(scope="session")
def lane_world() -> LaneWorld:
    return LaneWorld(LaneConfig())
