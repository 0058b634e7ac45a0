"""Pixel observations: ground texture against gp-world's drivable raster, boxes seen where the
geometry puts them, the ego's own box left out, measurements and route passed through."""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gp_agents as ga
import gp_render as gr
import gp_world as gw


@pytest.fixture(scope="module")
def toy():
    cfg = gw.WorldConfig.toy()
    maps = gw.build_map_bank(cfg, "train")
    world = gw.World(cfg, maps)
    pixels = dataclasses.replace(ga.PixelConfig.toy(), cameras=3, backend="xla")
    return world, ga.make_pixel_pipeline(pixels, maps)


def test_ground_matches_the_drivable_raster(toy):
    """Texels on road or markings agree with gp-world's drivable raster at its texel centres."""
    world, pipeline = toy
    maps = world.maps
    texture = pipeline.grounds.texture(jnp.asarray(0))
    drivable = np.asarray(maps.drivable[0])
    res = float(maps.raster_resolution)
    iy, ix = np.meshgrid(np.arange(drivable.shape[0]), np.arange(drivable.shape[1]), indexing="ij")
    x = float(maps.origin[0, 0]) + (ix + 0.5) * res
    y = float(maps.origin[0, 1]) + (iy + 0.5) * res
    mpt = float(texture.metres_per_texel)
    tx = np.floor((x - float(texture.origin[0])) / mpt).astype(int)
    ty = np.floor((y - float(texture.origin[1])) / mpt).astype(int)
    classes = np.asarray(texture.classes)[ty, tx]
    painted_road = classes != int(gr.SemanticClass.OFFROAD)
    # Both rasters sample the same polygons at different texel centres: only boundary texels
    # may disagree (under 5% of the road's texels on the ring).
    disagree = np.sum(painted_road != drivable) / np.sum(drivable)
    assert disagree < 0.05, disagree
    assert np.any(classes == int(gr.SemanticClass.LANE_DASHED))
    assert np.any(classes == int(gr.SemanticClass.LANE_SOLID))


def _two_car_scene(ahead: float) -> gw.Scene:
    """Agent 0 at the origin heading +x, agent 1 `ahead` metres in front, same heading."""
    centre = jnp.asarray([[0.0, 0.0, 0.75], [ahead, 0.0, 0.75]], jnp.float32)
    size = jnp.asarray([[4.5, 1.8, 1.5], [4.5, 1.8, 1.5]], jnp.float32)
    return gw.Scene(
        centre=centre,
        size=size,
        yaw=jnp.zeros((2,)),
        box_class=jnp.zeros((2,), jnp.int32),
        colour=jnp.asarray([[0.2, 0.4, 0.9]] * 2, jnp.float32),
        valid=jnp.ones((2,), bool),
        ego_pose=jnp.stack([centre[:, 0], centre[:, 1], jnp.zeros(2), jnp.zeros(2)], -1),
        ego_valid=jnp.ones((2,), bool),
    )


def test_sees_the_car_ahead_not_its_own(toy):
    _, pipeline = toy
    images = np.asarray(eqx.filter_jit(pipeline.render)(_two_car_scene(12.0), jnp.asarray(0)))
    cams, h, w = images.shape[1:4]
    assert images.shape == (2, cams, h, w, 3) and images.dtype == np.uint8
    # The car colour (0.2, 0.4, 0.9) under any face shading; sky, road and grass are not this blue.
    blue = lambda px: int(px[2]) > 2 * int(px[0]) and int(px[2]) > 1.8 * int(px[1])  # noqa: E731
    centre = cams // 2
    # The centre camera's optical axis (pitched 0.08 rad down from 1.6 m) meets the lead car's
    # rear face at about 0.9 m height: its centre pixel shows the car.
    assert blue(images[0, centre, h // 2, w // 2])
    # Agent 1 looks away from agent 0: nothing blue straight ahead.
    assert not blue(images[1, centre, h // 2, w // 2])
    # Agent 0's cameras sit inside its own box: were it drawn, the top row would not be sky.
    sky = np.round(np.asarray(gr.default_palette()[gr.SemanticClass.SKY]) * 255)
    np.testing.assert_allclose(images[0, :, 0, :, :], np.broadcast_to(sky, (cams, w, 3)), atol=1)


def test_observation_passes_measurements_and_route(toy, key):
    world, pipeline = toy
    state = eqx.filter_jit(world.reset)(key)
    privileged = eqx.filter_jit(world.observe)(state)
    obs = eqx.filter_jit(pipeline.observe)(world.scene(state), privileged, state.map_id)
    a = world.config.num_agents
    cfg = pipeline.config
    assert obs.images.shape == (a, cfg.cameras, cfg.height, cfg.width, 3)
    valid = state.agents.valid
    np.testing.assert_array_equal(obs.measurements[:, 0], jnp.where(valid, state.agents.speed, 0))
    np.testing.assert_array_equal(obs.measurements[:, 1], jnp.where(valid, state.agents.accel, 0))
    np.testing.assert_array_equal(obs.measurements[:, 2], jnp.where(valid, state.agents.steer, 0))
    np.testing.assert_array_equal(obs.route, privileged.route[..., :2])
    np.testing.assert_array_equal(obs.route_valid, privileged.route_valid)
    # The spec (no maps needed) describes one agent's slice of it exactly.
    spec = ga.student_observation_spec(cfg, world.config.num_route_points)
    one = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype), obs)
    assert jax.tree.map(lambda x: (x.shape, x.dtype), spec) == jax.tree.map(
        lambda x: (x.shape, x.dtype), one
    )
