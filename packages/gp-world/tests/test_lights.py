"""Signal groups: conflicting phases are never green together; removal and freezing."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

import gp_world as gw
from gp_world._lights import reset_lights, step_lights

CFG = gw.WorldConfig(light_green=(3.0, 9.0), light_yellow=2.0, light_all_red=1.0)


def _run(cfg, key, steps=400, n=16):
    lights = reset_lights(key, cfg, jnp.ones((n,), bool))
    inter = jnp.repeat(jnp.arange(n, dtype=jnp.int32), 2)
    phase = jnp.tile(jnp.asarray([0, 1], jnp.int32), n)

    def body(lights, _):
        return step_lights(lights, cfg), gw.light_state(lights, inter, phase, cfg)

    _, states = jax.lax.scan(body, lights, None, steps)
    return np.asarray(states).reshape(steps, n, 2)


def test_conflicting_groups_never_green_together(key):
    states = _run(CFG, key)
    live = states != gw.RED
    assert not (live[..., 0] & live[..., 1]).any()  # green or yellow never overlap
    for s in (gw.RED, gw.YELLOW, gw.GREEN):
        assert (states == s).any()
    # An all-red interval separates the phases.
    assert ((states[..., 0] == gw.RED) & (states[..., 1] == gw.RED)).any()


def test_yellow_follows_green(key):
    states = _run(CFG, key)[:, :, 0]
    prev, nxt = states[:-1], states[1:]
    assert not ((prev == gw.GREEN) & (nxt == gw.RED)).any()
    assert not ((prev == gw.RED) & (nxt == gw.YELLOW)).any()


def test_removed_and_frozen_lights(key):
    removed = _run(dataclasses.replace(CFG, remove_light_prob=1.0), key, steps=5)
    assert (removed == gw.NO_LIGHT).all()
    frozen = _run(dataclasses.replace(CFG, freeze_green_prob=1.0), key, steps=50)
    assert (frozen == gw.GREEN).all()


def test_red_light_event_only_when_crossing_on_red():
    from gp_world._agents import empty_agents
    from gp_world._events import red_light_crossings
    from gp_world._lights import Lights

    cfg = gw.WorldConfig(num_maps=1, routes_per_map=64, num_agents=2)
    maps = gw.build_map_bank(cfg)
    stops = np.asarray(maps.route_stop_line[0, :, 0])
    r = int(np.nonzero(stops >= 0)[0][0])  # a route that crosses a stop line
    line = int(stops[r])
    phase = int(maps.stop_line_phase[0, line])
    stop_s = float(maps.route_stop_s[0, r, 0])
    agents = empty_agents(cfg)
    agents = dataclasses.replace(agents, route=jnp.full((2,), r, jnp.int32))
    n = maps.intersection_centres.shape[1]
    green = jnp.full((n, 2), 10.0)
    # Timer 1 s into the cycle: phase 0 is green, phase 1 red.
    lights = Lights(jnp.full((n,), 1.0), green, jnp.ones((n,), bool), jnp.asarray(False))
    s_old = jnp.asarray([stop_s - 0.5, stop_s - 3.0])
    s_new = jnp.asarray([stop_s + 0.5, stop_s - 1.0])  # agent 1 stops short of the line
    events = np.asarray(red_light_crossings(agents, s_old, s_new, lights, maps, jnp.int32(0), cfg))
    assert not events[1]
    assert events[0] == (phase == 1)  # red only for phase 1 at this time
    other = dataclasses.replace(lights, timer=lights.timer + 14.0)  # phase 1 green, phase 0 red
    events = np.asarray(red_light_crossings(agents, s_old, s_new, other, maps, jnp.int32(0), cfg))
    assert events[0] == (phase == 0) and not events[1]


def test_light_age_counts_from_the_last_change(key):
    """Ages against the cycle worked by hand: green g0 = 10 s, g1 = 6 s, yellow 2, all-red 1."""
    from gp_world._lights import FROZEN_LIGHT_AGE, Lights

    green = jnp.asarray([[10.0, 6.0]])
    inter, phases = jnp.zeros((2,), jnp.int32), jnp.asarray([0, 1], jnp.int32)
    # Cycle 22 s: phase 0 green [0, 10), yellow [10, 12), red [12, 22); phase 1 green
    # [13, 19), yellow [19, 21), red [21, 22) and [0, 13) of the next cycle.
    cases = {  # timer: ((state, age) of phase 0, (state, age) of phase 1)
        4.0: ((gw.GREEN, 4.0), (gw.RED, 1.0 + 4.0)),
        11.5: ((gw.YELLOW, 1.5), (gw.RED, 1.0 + 11.5)),
        13.5: ((gw.RED, 1.5), (gw.GREEN, 0.5)),
        19.5: ((gw.RED, 7.5), (gw.YELLOW, 0.5)),
        21.5: ((gw.RED, 9.5), (gw.RED, 0.5)),
    }
    for timer, expected in cases.items():
        lights = Lights(jnp.asarray([timer]), green, jnp.ones((1,), bool), jnp.asarray(False))
        state, age = gw.light_state_and_age(lights, inter, phases, CFG)
        np.testing.assert_array_equal(state, gw.light_state(lights, inter, phases, CFG))
        np.testing.assert_array_equal(state, [e[0] for e in expected])
        np.testing.assert_allclose(age, [e[1] for e in expected], atol=1e-5)
    frozen = Lights(jnp.asarray([4.0]), green, jnp.ones((1,), bool), jnp.asarray(True))
    np.testing.assert_array_equal(
        gw.light_state_and_age(frozen, inter, phases, CFG)[1], 2 * [FROZEN_LIGHT_AGE]
    )
    gone = Lights(jnp.asarray([4.0]), green, jnp.zeros((1,), bool), jnp.asarray(False))
    np.testing.assert_array_equal(gw.light_state_and_age(gone, inter, phases, CFG)[1], [0.0, 0.0])
