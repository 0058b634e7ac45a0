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
    crossing = dataclasses.replace(cfg, conflict_horizon=3.0)

    @eqx.filter_jit
    def run(world, key):
        k_reset, k_act = jax.random.split(key)
        states = jax.vmap(world.reset)(jax.random.split(k_reset, 8))

        def body(s, k):
            obs = jax.vmap(world.observe)(s)
            v = jax.vmap(
                lambda st: gw.safe_speed(st.agents, st.lights, world.maps, st.map_id, cfg)
            )(s)
            v_crossing = jax.vmap(
                lambda st: gw.safe_speed(st.agents, st.lights, world.maps, st.map_id, crossing)
            )(s)
            s, out = jax.vmap(world.step)(s, random_actions(world, k, (8,)))
            return s, (obs, v, out, v_crossing)

        return jax.lax.scan(body, states, jax.random.split(k_act, 40))[1]

    return cfg, run(world, jax.random.key(5))


def test_safe_speed_stops_before_red_lights(strict_village):
    cfg, (obs, v, _, _) = strict_village
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
    _, (_, _, out, _) = strict_village
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


def _two_agents(state, ego_speed, other_xy, other_yaw, other_speed):
    """The toy state's slots 0 (ego at the origin heading +x) and 1 (the other); the rest off."""
    n = TOY.num_agents
    pad = [0.0] * (n - 2)
    return eqx.tree_at(
        lambda s: (s.x, s.y, s.yaw, s.speed, s.length, s.width, s.valid),
        state.agents,
        (
            jnp.asarray([0.0, other_xy[0], *pad]),
            jnp.asarray([0.0, other_xy[1], *pad]),
            jnp.asarray([0.0, other_yaw, *pad]),
            jnp.asarray([ego_speed, other_speed, *pad]),
            jnp.full((n,), 4.5),
            jnp.full((n,), 1.8),
            jnp.asarray([True, True] + [False] * (n - 2)),
        ),
    )


@pytest.mark.parametrize(
    ("ego_speed", "other_xy", "other_yaw", "other_speed", "yields"),
    [
        (8.0, (12.0, -10.0), np.pi / 2, 10.0, True),  # crosses 12 m ahead in 0.76 s
        (8.0, (12.0, -40.0), np.pi / 2, 10.0, False),  # reaches the route after the horizon
        (8.0, (12.0, 5.0), np.pi / 2, 10.0, False),  # has already crossed, driving away
        (8.0, (12.0, 0.0), np.pi / 2, 0.0, True),  # stands across the route
        (8.0, (12.0, 0.0), 0.0, 0.0, False),  # stands on the route going the ego's way
        (8.0, (5.0, 3.5), 0.0, 12.0, False),  # overtakes in the next lane
        (11.0, (12.0, -30.0), np.pi / 2, 10.0, False),  # the ego passes 1.1 s before it arrives
        (4.0, (12.0, -30.0), np.pi / 2, 10.0, True),  # ... but not when the ego is slow
    ],
)
def test_crossing_speed_by_hand(key, ego_speed, other_xy, other_yaw, other_speed, yields):
    """A straight route along +x, points every 2 m. A crossing car's path covers the points
    within 0.9 + 4.5 / 2 = 3.15 m of x = 12: 10, 12 and 14. The first is 10 - 2.25 = 7.75 m from
    the ego's front bumper, so the ego must keep to sqrt(2 * 3 * (7.75 - 2)) = 5.87 m/s."""
    state = jax.jit(gw.World(TOY, gw.build_map_bank(TOY)).reset)(key)
    agents = _two_agents(state, ego_speed, other_xy, other_yaw, other_speed)
    k = 12  # 24 m of route ahead, as the world searches
    x = 2.0 * jnp.arange(1, k + 1, dtype=jnp.float32)
    points = jnp.broadcast_to(jnp.stack([x, jnp.zeros_like(x)], -1), (TOY.num_agents, k, 2))
    heading = jnp.zeros((TOY.num_agents, k))
    to_point = jnp.broadcast_to(x - 2.25, (TOY.num_agents, k))
    v = np.asarray(gw.crossing_speed(agents, points, heading, to_point, 3.0, 3.0, 2.0))
    expected = np.sqrt(2 * 3.0 * (7.75 - 2.0)) if yields else np.inf
    assert v[0] == pytest.approx(expected, rel=1e-5)


def test_crossing_traffic_only_lowers_the_safe_speed(strict_village):
    """With a conflict horizon the safe speed is the same minimum with one more term: never
    higher, and lower for some agents of a village driven at random (32 of its 7674 agent-steps
    by more than 0.5 m/s with key 5)."""
    _, (obs, v, _, v_crossing) = strict_village
    valid = np.asarray(obs.valid)
    v, v_crossing = np.asarray(v)[valid], np.asarray(v_crossing)[valid]
    assert (v_crossing <= v + 1e-6).all()
    assert (v_crossing < v - 0.5).sum() >= 10
    assert np.isfinite(v_crossing).all() and (v_crossing >= 0).all()
    with pytest.raises(ValueError, match="conflict_horizon"):
        gw.WorldConfig(conflict_horizon=-1.0)
