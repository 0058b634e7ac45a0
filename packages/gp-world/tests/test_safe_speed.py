"""The safe speed behind the agent ahead and before a red light; failures that end episodes."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gp_world as gw
from gp_world.testing import random_actions

TOY = gw.WorldConfig.toy()


def test_follows_the_agent_ahead_by_hand(key):
    world = gw.World(TOY, gw.build_map_bank(TOY))
    state = jax.jit(world.reset)(key)
    a = state.agents
    n = TOY.num_agents
    # Ego at the origin heading +x at 10 m/s; a car 20 m ahead, 0.3 m to the left, at 4 m/s;
    # a car beside the ego (outside its corridor) and one behind it: neither limits it.
    x = jnp.asarray([0.0, 20.0, 5.0, -15.0] + [500.0 + 50 * i for i in range(n - 4)])
    y = jnp.asarray([0.0, 0.3, 4.0, 0.0] + [500.0] * (n - 4))
    a = eqx.tree_at(
        lambda s: (s.x, s.y, s.yaw, s.speed, s.length, s.width, s.valid, s.route, s.route_s),
        a,
        (
            x,
            y,
            jnp.zeros(n),
            jnp.asarray([10.0, 4.0, 0.0, 20.0] + [0.0] * (n - 4)),
            jnp.full((n,), 4.5),
            jnp.full((n,), 1.8),
            jnp.ones((n,), bool),
            a.route,
            a.route_s,
        ),
    )
    v = np.asarray(gw.safe_speed(a, state.lights, world.maps, state.map_id, TOY))
    gap = 20.0 - 4.5
    expected = np.sqrt(4.0**2 + 2 * TOY.safe_decel * (gap - TOY.safe_margin))
    assert v[0] == pytest.approx(min(expected, float(a.speed_limit[0])), rel=1e-5)
    # The car ahead has nobody ahead of it (the ring has no stop lines): the speed limit.
    assert v[1] == pytest.approx(float(a.speed_limit[1]))


@pytest.fixture(scope="module")
def strict_village():
    """A village whose episodes end on red lights, with the overspeed term weighted."""
    cfg = gw.WorldConfig(
        num_maps=2,
        routes_per_map=64,
        num_agents=24,
        red_light_ends=True,
        reward_overspeed=(0.05, 0.05),
    )
    world = gw.World(cfg, gw.build_map_bank(cfg))

    @eqx.filter_jit
    def run(world, key):
        k_reset, k_act = jax.random.split(key)
        states = jax.vmap(world.reset)(jax.random.split(k_reset, 8))

        def body(s, k):
            obs = jax.vmap(world.observe)(s)
            v = jax.vmap(
                lambda st: gw.safe_speed(st.agents, st.lights, world.maps, st.map_id, cfg)
            )(s)
            s, out = jax.vmap(world.step)(s, random_actions(world, k, (8,)))
            return s, (obs, v, out)

        return jax.lax.scan(body, states, jax.random.split(k_act, 40))[1]

    return cfg, run(world, jax.random.key(5))


def test_safe_speed_stops_before_red_lights(strict_village):
    cfg, (obs, v, _) = strict_village
    v = np.asarray(v)
    valid = np.asarray(obs.valid)
    # The next stop line as the observation reports it (an independent code path).
    line_valid = np.asarray(obs.stop_lines_valid[..., 0])
    distance = np.asarray(obs.stop_lines[..., 0, 0])
    red = np.asarray(obs.stop_lines[..., 0, 3 + gw.RED]) > 0.5
    approaching_red = valid & line_valid & red & (distance > 0.0)
    assert approaching_red.sum() > 20
    # The bound measures from the front bumper (distance - length / 2); the shortest agents
    # (1.7 m cyclists) give the loosest bound, which must hold for every agent.
    bound = np.sqrt(2 * cfg.safe_decel * np.maximum(distance - 0.85 - cfg.safe_margin, 0.0))
    assert (v[approaching_red] <= bound[approaching_red] + 1e-4).all()
    assert (v[approaching_red] < 1.0).any()  # some must stop now
    assert np.isfinite(v[valid]).all() and (v[valid] >= 0).all()


def test_red_lights_end_episodes_as_failures(strict_village):
    _, (_, _, out) = strict_village
    ev = out.events
    red, done, failed = np.asarray(ev.red_light), np.asarray(out.done), np.asarray(out.failed)
    collision, offroad = np.asarray(ev.collision), np.asarray(ev.offroad)
    assert red.any()
    assert (done[red] & failed[red]).all()
    np.testing.assert_array_equal(failed, collision | offroad | red)
    assert not (failed & ~done).any()
    goal = np.asarray(ev.goal_reached)
    assert not failed[goal & ~(collision | offroad | red)].any()


def test_default_world_does_not_end_on_red(strict_village):
    cfg, _ = strict_village
    assert not gw.WorldConfig().red_light_ends
    assert dataclasses.replace(cfg, red_light_ends=False).reward_overspeed == (0.05, 0.05)


def test_idle_penalty_by_hand(key):
    """Standing still costs `idle_penalty` per step only where the road ahead is clear."""
    cfg = dataclasses.replace(TOY, action_space="continuous")
    penalised = dataclasses.replace(cfg, idle_penalty=0.25)
    world = gw.World(cfg, gw.build_map_bank(cfg))
    world_idle = gw.World(penalised, world.maps)
    state = jax.jit(world.reset)(key)
    n = cfg.num_agents
    # 0: at rest, nobody ahead; 1: at rest 0.5 m behind agent 2, which is at rest (safe speed 0);
    # 3: driving at 10 m/s; the rest at rest, 50 m apart in a row (a clear road ahead).
    x = jnp.asarray([0.0, 100.0, 105.0, -100.0] + [500.0 + 50 * i for i in range(n - 4)])
    y = jnp.asarray([0.0, 0.0, 0.0, 0.0] + [500.0] * (n - 4))
    agents = eqx.tree_at(
        lambda s: (s.x, s.y, s.yaw, s.speed, s.accel, s.steer, s.length, s.width, s.valid),
        state.agents,
        (
            x,
            y,
            jnp.zeros(n),
            jnp.asarray([0.0, 0.0, 0.0, 10.0] + [0.0] * (n - 4)),
            jnp.zeros(n),
            jnp.zeros(n),
            jnp.full((n,), 4.5),
            jnp.full((n,), 1.8),
            jnp.ones((n,), bool),
        ),
    )
    state = eqx.tree_at(lambda s: s.agents, state, agents)
    hold = jnp.zeros((n, 2))  # no acceleration, no steering: speeds stay as they are
    _, out = jax.jit(world.step)(state, hold)
    _, out_idle = jax.jit(world_idle.step)(state, hold)
    assert (np.asarray(agents.speed_limit) >= 3.0).all()
    expected = np.array([0.25, 0.0, 0.25, 0.0] + [0.25] * (n - 4))
    np.testing.assert_allclose(
        np.asarray(out.reward) - np.asarray(out_idle.reward), expected, rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match="idle_penalty"):
        dataclasses.replace(cfg, idle_penalty=-1.0)
