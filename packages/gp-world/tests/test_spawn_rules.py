"""Where new agents may be born: able to stop for a light (`spawn_can_stop`), and near the end
of their route's first lane (`spawn_near_junction`)."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gp_world as gw
from gp_world.testing import random_actions


@pytest.fixture(scope="module")
def village_world():
    cfg = gw.WorldConfig(num_maps=2, routes_per_map=64, num_agents=24)
    return gw.World(cfg, gw.build_map_bank(cfg))


def test_spawns_can_stop_for_the_lights(village_world):
    """With `spawn_can_stop` no agent is born unable to stop for a yellow or red light on its
    route (at reset and at respawns during 20 steps); without it some are (28 of 1024 at reset
    here, 5 of 99 respawns)."""
    base = dataclasses.replace(village_world.config, num_agents=32)
    maps = village_world.maps

    @eqx.filter_jit
    def unable(world, key):
        k_reset, k_act = jax.random.split(key)
        states = jax.vmap(world.reset)(jax.random.split(k_reset, 32))

        def stuck(s, born):
            ok = jax.vmap(lambda s: gw.can_stop_for_light(s.agents, s.lights, maps, s.map_id, base))
            return jnp.stack(
                [(born & s.agents.valid & ~ok(s)).sum(), (born & s.agents.valid).sum()]
            )

        def body(s, k):
            s, _ = jax.vmap(world.step)(s, random_actions(world, k, (32,)))
            return s, stuck(s, s.agents.age == 0)

        at_reset = stuck(states, jnp.ones_like(states.agents.valid))
        _, later = jax.lax.scan(body, states, jax.random.split(k_act, 20))
        return at_reset, later.sum(0)  # (unable, born)

    default = unable(gw.World(base, maps), jax.random.key(0))
    careful = unable(
        gw.World(dataclasses.replace(base, spawn_can_stop=True), maps), jax.random.key(0)
    )
    assert int(default[0][0]) > 0
    assert int(careful[0][0]) == 0 and int(careful[1][0]) == 0
    assert int(careful[0][1]) > 900 and int(careful[1][1]) > 50  # it still spawns


def _metres_to_first_lane_end(world, key, fraction):
    """Metres from every agent born at reset (64 worlds) to the end of its route's first lane,
    with `spawn_near_junction=fraction`."""
    cfg = dataclasses.replace(world.config, spawn_near_junction=fraction)
    maps = world.maps

    @jax.jit
    def born(key):
        states = jax.vmap(gw.World(cfg, maps).reset)(jax.random.split(key, 64))
        m, a = states.map_id[:, None], states.agents
        # The first lane's points are the spawn points and the two after them.
        end = maps.route_spawn_points[m, a.route] + 1
        lane_end_s = maps.route_points[m, a.route, end, 3]
        return lane_end_s - a.route_s, a.valid

    gap, valid = born(key)
    return np.asarray(gap)[np.asarray(valid)]


def test_births_near_the_junction(village_world, key):
    """With `spawn_near_junction=1` every agent is born on the last `spawn_near_junction_metres`
    (30) of its route's first lane, before the junction; by default a good part is born
    farther back; with 0.5, half of them, and the other half spread as by default. A fraction
    outside [0, 1] is refused."""
    window = (
        village_world.config.spawn_near_junction_metres + 2 * village_world.maps.lane_point_spacing
    )
    uniform = _metres_to_first_lane_end(village_world, key, 0.0)
    near = _metres_to_first_lane_end(village_world, key, 1.0)
    half = _metres_to_first_lane_end(village_world, key, 0.5)
    assert min(len(uniform), len(near), len(half)) > 1000  # 64 worlds x 24 slots, nearly full
    assert near.min() >= 0.0 and near.max() <= window
    assert near.mean() < 0.6 * uniform.mean()
    share = lambda gaps: float((gaps <= window).mean())  # noqa: E731
    assert share(uniform) < 0.7 and share(near) == 1.0
    # Half the births in the window, the other half spread as without the option.
    assert abs(share(half) - (0.5 + 0.5 * share(uniform))) < 0.05
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="spawn_near_junction"):
            dataclasses.replace(village_world.config, spawn_near_junction=bad)
    with pytest.raises(ValueError, match="spawn_near_junction_metres"):
        dataclasses.replace(village_world.config, spawn_near_junction_metres=0.0)
