"""The synthetic shifted domain: identity at severity 0, graded, deterministic."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gp_adapt as ga
import gp_render as gr


def test_shifted_scenes_differ_from_their_renders(toy_pairs):
    scenes, shifted = toy_pairs["scenes"], toy_pairs["shifted"]
    # The strongest shift moves pixels by tens of grey levels on average.
    moved = np.abs(np.asarray(shifted, np.int32) - np.asarray(scenes.image, np.int32)).mean()
    assert moved > 20.0


@pytest.fixture(scope="module")
def photometry():
    """(key, strength, rgb) -> shifted rgb; strength is traced, so one compile serves all."""
    shift = ga.DomainShift.at(4, seed=3)
    return jax.jit(
        lambda k, strength, rgb: ga.shift_photometry(k, shift, ga.domain_look(shift, strength), rgb)
    )


def test_photometric_effects_grow_with_severity(toy_pairs, photometry):
    image = toy_pairs["scenes"].image[0, 0]
    distances = []
    for severity in range(ga.MAX_SEVERITY + 1):
        strength = jnp.float32(severity / ga.MAX_SEVERITY)
        out = photometry(jax.random.key(7), strength, image)
        moved = jnp.abs(out.astype(jnp.float32) - image.astype(jnp.float32))
        distances.append(float(jnp.mean(moved)))
        # Deterministic per key, different across keys.
        again = photometry(jax.random.key(7), strength, image)
        np.testing.assert_array_equal(np.asarray(again), np.asarray(out))
        if severity > 0:
            other = photometry(jax.random.key(8), strength, image)
            assert (np.asarray(other) != np.asarray(out)).mean() > 0.3
    # Strength 0 is the rendered image itself, bit for bit, even on the traced path.
    assert distances[0] == 0.0
    assert all(a < b for a, b in itertools.pairwise(distances)), distances
    # Severity 0 known at trace time returns the very image.
    plain = ga.DomainShift.at(0)
    assert ga.shift_photometry(jax.random.key(0), plain, ga.domain_look(plain), image) is image


def test_domain_look_depends_on_seed_only():
    a, b = ga.domain_look(ga.DomainShift.at(3, seed=1)), ga.domain_look(ga.DomainShift.at(3, 1))
    c = ga.domain_look(ga.DomainShift.at(3, seed=2))
    np.testing.assert_array_equal(np.asarray(a.palette), np.asarray(b.palette))
    assert not np.array_equal(np.asarray(a.palette), np.asarray(c.palette))
    plain = ga.domain_look(ga.DomainShift.at(0))
    np.testing.assert_array_equal(np.asarray(plain.colour_gain), np.ones(3, np.float32))
    # Severity 0 draws with the renderer's own palette.
    np.testing.assert_array_equal(np.asarray(plain.palette), np.asarray(gr.default_palette()))


def test_camera_jitter_is_a_small_rigid_motion():
    poses = jnp.broadcast_to(jnp.eye(4, dtype=jnp.float32), (3, 4, 4))
    shift = ga.DomainShift.at(4)
    moved = np.asarray(ga.jittered_poses(jax.random.key(0), shift, poses))
    rotation = moved[:, :3, :3]
    # Rotations stay orthonormal (float32 rounding) and within ~5 std of the jitter.
    np.testing.assert_allclose(
        rotation @ rotation.transpose(0, 2, 1), np.eye(3)[None].repeat(3, 0), atol=1e-5
    )
    angle = np.arccos(np.clip((np.trace(rotation, axis1=1, axis2=2) - 1) / 2, -1, 1))
    assert np.all(angle < np.deg2rad(5 * np.sqrt(3) * shift.jitter_deg))
    assert np.all(np.abs(moved[:, :3, 3]) < 5 * shift.jitter_m)
    same = ga.jittered_poses(jax.random.key(0), ga.DomainShift.at(0), poses)
    np.testing.assert_array_equal(np.asarray(same), np.asarray(poses))


def test_severity_out_of_range_is_refused():
    with pytest.raises(ValueError, match="severity"):
        ga.DomainShift.at(5)
