"""The SYNTHETIC shifted domain inside the driving world, and the pairs collected there."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gp_adapt as gad
import gp_agents as ga
import gp_world as gw

SHIFT = gad.DomainShift(severity=4)


@pytest.fixture(scope="module")
def driving():
    cfg = dataclasses.replace(gw.WorldConfig.toy(), num_agents=4)
    world = gw.World(cfg, gw.build_map_bank(cfg, "train"))
    pixel_cfg = dataclasses.replace(
        ga.PixelConfig.toy(), cameras=2, width=32, height=24, backend="xla"
    )
    pixels = ga.make_pixel_pipeline(pixel_cfg, world.maps)
    one_world = jax.eval_shape(world.observe, world.reset(jax.random.key(0)))
    one_agent = jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape[1:], s.dtype), one_world)
    driver = ga.TeacherPolicy(
        ga.TeacherConfig.toy(), one_agent, world.action_space, key=jax.random.key(1)
    )
    return world, pixels, driver


def test_shifted_pixels_are_the_renderers_at_strength_zero_and_deterministic(driving):
    world, pixels, _ = driving
    state = world.reset(jax.random.key(3))
    clean = pixels.observe_world(world, state)
    observe = jax.jit(
        lambda s, strength: gad.shifted_pixels(pixels, SHIFT, strength).observe_world(world, s)
    )
    zero = observe(state, jnp.float32(0.0))
    np.testing.assert_array_equal(np.asarray(zero.images), np.asarray(clean.images))
    full = observe(state, jnp.float32(1.0))
    live = np.asarray(clean.valid)
    assert np.mean(np.asarray(full.images)[live] != np.asarray(clean.images)[live]) > 0.5
    # Only the images differ; the same state gives the same images; the next step new noise.
    for name in ("measurements", "route"):  # jitted vs eager: float rounding only
        np.testing.assert_allclose(getattr(full, name), getattr(clean, name), atol=1e-4)
    for name in ("route_valid", "valid"):
        np.testing.assert_array_equal(getattr(full, name), getattr(clean, name))
    np.testing.assert_array_equal(observe(state, jnp.float32(1.0)).images, full.images)
    moved, _ = world.step(state, jnp.zeros((world.config.num_agents,), jnp.int32))
    assert np.any(np.asarray(observe(moved, jnp.float32(1.0)).images) != np.asarray(full.images))


def test_mount_jitter_has_the_configured_spread():
    mounts = jnp.zeros((3, 5), jnp.float32)
    keys = jax.random.split(jax.random.key(0), 4000)
    moved = jax.vmap(lambda k: gad.jittered_mounts(k, SHIFT, mounts, jnp.float32(1.0)))(keys)
    std = np.asarray(moved).reshape(-1, 5).std(axis=0)
    np.testing.assert_allclose(std[:3], SHIFT.jitter_m, rtol=0.05)
    np.testing.assert_allclose(std[3:], np.deg2rad(SHIFT.jitter_deg), rtol=0.05)
    half = jax.vmap(lambda k: gad.jittered_mounts(k, SHIFT, mounts, jnp.float32(0.5)))(keys)
    np.testing.assert_allclose(np.asarray(half), 0.5 * np.asarray(moved), rtol=1e-5, atol=1e-7)


def test_driving_pairs_hold_live_agents_and_the_drivers_actions(driving):
    world, pixels, driver = driving
    shifted = gad.shifted_pixels(pixels, SHIFT)
    key = jax.random.key(5)
    pairs = gad.collect_driving_pairs(world, driver, pixels, shifted, key, 2, 6, 3, shuffle=False)
    # Two captures (steps 0 and 3) of every live agent of two worlds.
    k_reset, k_drive, _ = jax.random.split(key, 3)
    states = jax.vmap(world.reset)(jax.random.split(k_reset, 2))
    live = np.asarray(jax.vmap(world.observe)(states).valid).reshape(-1)
    assert len(pairs) > live.sum() >= 1
    assert bool(jnp.all(pairs.rendered.valid)) and bool(jnp.all(pairs.real.valid))
    # The first capture: the driver's greedy actions at the reset states, in slot order.
    first_key = jax.random.split(k_drive, 2)[0]
    action, _, _ = ga.policy_act(driver, jax.vmap(world.observe)(states), first_key, greedy=True)
    np.testing.assert_array_equal(
        np.asarray(pairs.action[: live.sum()]), np.asarray(action).reshape(-1)[live]
    )
    np.testing.assert_array_equal(pairs.real.route, pairs.rendered.route)
    assert np.mean(np.asarray(pairs.real.images) != np.asarray(pairs.rendered.images)) > 0.5
    assert len(pairs.take(3)) == 3
    with pytest.raises(ValueError, match="only"):
        pairs.take(len(pairs) + 1)
    with pytest.raises(ValueError, match="every"):
        gad.collect_driving_pairs(world, driver, pixels, shifted, key, 1, 2, 3)
