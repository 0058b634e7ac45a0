"""Driving a grid policy by its expected action: the probability-weighted (accel, steer) of the
grid's cells, played in the world's continuous twin."""

from __future__ import annotations

import dataclasses
import os
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gp_agents as ga
import gp_world as gw

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_teacher import _as_module, _observation, _Space

GRID = gw.action_table("accel_steer_grid")  # f32[49, 2]


def _grid_policy(key, num_actions=49, kind="discrete"):
    obs = _as_module(_observation(jax.random.fold_in(key, 1)))
    return ga.TeacherPolicy(ga.TeacherConfig.toy(), obs, _Space(kind, num_actions), key=key), obs


@pytest.fixture(scope="module")
def grid_world() -> gw.World:
    cfg = dataclasses.replace(gw.WorldConfig.toy(), action_space="accel_steer_grid")
    return gw.World(cfg, gw.build_map_bank(cfg))


def test_the_expected_action_is_the_probability_weighted_cell(key):
    policy, one = _grid_policy(key)
    # Logits of a few units (a fresh head's are near zero): every cell's weight matters.
    bias = 3.0 * jax.random.normal(jax.random.fold_in(key, 2), (len(GRID),))
    policy = eqx.tree_at(lambda p: p.actor_head.bias, policy, bias)
    driver = ga.ExpectedAction(policy)
    call = eqx.filter_jit(lambda module, o: module(o))  # one compile, not hundreds of small ops
    dist, value = call(policy, one)
    point, driver_value = call(driver, one)
    p = np.exp(np.asarray(dist.logits, np.float64))
    want = (p / p.sum()) @ GRID.astype(np.float64)
    np.testing.assert_allclose(point.action, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(driver_value, value, rtol=1e-6)
    # A point mass: its mode and its samples are the action, with log-probability 0.
    np.testing.assert_array_equal(point.mode(), point.action)
    np.testing.assert_array_equal(point.sample(jax.random.key(5)), point.action)
    assert point.log_prob(point.action).shape == () and float(point.entropy()) == 0.0
    # A whole [worlds, agents] batch gives what vmap gives.
    assert driver.takes_batches
    keys = jax.random.split(key, 6).reshape(2, 3)
    batch = jax.vmap(jax.vmap(lambda k: _as_module(_observation(k))))(keys)
    batched, _ = call(driver, batch)
    vmapped, _ = eqx.filter_jit(lambda d, o: jax.vmap(jax.vmap(d))(o))(driver, batch)
    assert batched.action.shape == (2, 3, 2)
    np.testing.assert_allclose(batched.action, vmapped.action, rtol=1e-5, atol=1e-6)


def test_what_has_no_expected_action_is_refused(key):
    with pytest.raises(ValueError, match="'continuous'"):
        ga.ExpectedAction(_grid_policy(key, kind="continuous")[0])
    with pytest.raises(ValueError, match="12 discrete actions; accel_steer_grid has 49"):
        ga.ExpectedAction(_grid_policy(key, num_actions=12)[0])


class _Recorder(eqx.Module):
    """A stand-in grid policy that records the observation shapes it is called on."""

    actor_head: eqx.nn.Linear
    takes_batches: bool = eqx.field(static=True)
    seen: list = eqx.field(static=True)
    action_kind: str = eqx.field(static=True, default="discrete")

    def __call__(self, observation):
        self.seen.append(observation.shape)
        batch = observation.shape[:-1]
        return ga.Categorical(jnp.zeros((*batch, len(GRID)))), jnp.zeros(batch)


@pytest.mark.parametrize("batched", [True, False])
def test_policy_act_gives_a_batched_policy_the_whole_batch(key, batched):
    """`policy_act` calls a wrapped policy that takes batches once on [worlds, agents, ...],
    and any other per agent (vmapped: the call sees one agent's observation)."""
    head = eqx.nn.Linear(4, len(GRID), key=key)
    recorder = _Recorder(head, batched, [])
    observation = jnp.zeros((2, 3, 5))
    action, log_prob, value = ga.policy_act(ga.ExpectedAction(recorder), observation, key, True)
    assert recorder.seen == [(2, 3, 5) if batched else (5,)]
    assert action.shape == (2, 3, 2) and log_prob.shape == value.shape == (2, 3)
    np.testing.assert_allclose(action, np.broadcast_to(GRID.mean(0), (2, 3, 2)), atol=1e-6)


def test_the_continuous_twin_differs_only_in_its_actions(grid_world):
    world = grid_world
    grid_cfg = world.config
    twin = ga.continuous_twin(world)
    assert twin.config.action_space == "continuous"
    assert world.config.differences(twin.config) == ["action_space"]
    assert twin.maps is world.maps
    assert ga.continuous_twin(twin) is twin
    jerk_cfg = dataclasses.replace(grid_cfg, action_space="jerk")
    with pytest.raises(ValueError, match="'jerk' world has no continuous twin"):
        ga.continuous_twin(gw.World(jerk_cfg, world.maps))


def test_scripts_get_the_driver_and_its_twin_at_once(key, grid_world):
    policy = _grid_policy(key)[0]
    driver, twin = ga.drive_by_expected_action(policy, grid_world)
    assert isinstance(driver, ga.ExpectedAction) and driver.policy is policy
    assert twin.config.action_space == "continuous" and twin.maps is grid_world.maps
    with pytest.raises(ValueError, match="'continuous'"):
        ga.drive_by_expected_action(_grid_policy(key, kind="continuous")[0], grid_world)


def test_a_sure_policy_drives_its_twin_as_it_drives_the_grid(key, grid_world):
    """A policy sure of one cell has that cell's value as its expected action: rollouts in the
    grid world (most likely cell) and in the twin (expected action) are the same, step by
    step, through collisions, off-road and respawns."""
    world = grid_world
    twin = ga.continuous_twin(world)
    one_world = jax.eval_shape(world.observe, jax.eval_shape(world.reset, key))
    one_agent = jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape[1:], s.dtype), one_world)
    policy = ga.TeacherPolicy(ga.TeacherConfig.toy(), one_agent, world.action_space, key=key)
    cell = 5 * 7 + 4  # accel 2 m/s^2, steer 0.08 rad: circles that leave the road
    policy = eqx.tree_at(
        lambda p: (p.actor_head.weight, p.actor_head.bias),
        policy,
        (jnp.zeros_like(policy.actor_head.weight), 60.0 * jax.nn.one_hot(cell, len(GRID))),
    )

    @eqx.filter_jit
    def drive(driver, w):
        states = jax.vmap(w.reset)(jax.random.split(key, 2))

        def step(states, k):
            action, _, _ = ga.policy_act(driver, jax.vmap(w.observe)(states), k, greedy=True)
            states, out = jax.vmap(w.step)(states, action)
            return states, (action, out.done, out.events)

        return jax.lax.scan(step, states, jax.random.split(key, 60))

    grid_end, (grid_actions, grid_done, grid_events) = drive(policy, world)
    twin_end, (twin_actions, twin_done, twin_events) = drive(ga.ExpectedAction(policy), twin)
    assert np.all(np.asarray(grid_actions) == cell)
    np.testing.assert_array_equal(twin_actions, np.broadcast_to(GRID[cell], twin_actions.shape))
    assert np.asarray(grid_done).any()  # the sure driver's episodes end, and slots respawn

    def plain(x):  # key arrays compared by their data
        return jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x

    jax.tree.map(
        lambda a, b: np.testing.assert_array_equal(plain(a), plain(b)),
        (grid_end, grid_done, grid_events),
        (twin_end, twin_done, twin_events),
    )
    with pytest.raises(ValueError, match="discrete action must have shape"):
        drive(ga.ExpectedAction(policy), world)
