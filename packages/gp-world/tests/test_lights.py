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
