"""The pixel student: shapes for every action space, the teacher's interface, learnability."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gp_agents as ga
import gp_world as gw

VIEWS, HEIGHT, WIDTH, ROUTE = 2, 16, 24, 5
# Tiny sizes: conv compiles dominate on a CPU; the structure is the same as the presets'.
TINY = ga.StudentConfig(
    channels=(4, 8),
    view_features=16,
    measurement_width=8,
    route_width=8,
    trunk_width=32,
    latent_size=16,
    head_width=16,
)


def observation(key, batch=()):
    k1, k2, k3 = jax.random.split(key, 3)
    return ga.StudentObservation(
        images=jax.random.randint(k1, (*batch, VIEWS, HEIGHT, WIDTH, 3), 0, 256).astype(jnp.uint8),
        measurements=jax.random.normal(k2, (*batch, 3)),
        route=10.0 * jax.random.normal(k3, (*batch, ROUTE, 2)),
        route_valid=jnp.ones((*batch, ROUTE), bool).at[..., -1].set(False),
        valid=jnp.ones(batch, bool),
    )


@pytest.mark.parametrize("space", ["jerk", "accel_steer_grid", "continuous"])
def test_heads_shapes_and_teacher_interface(space, key):
    cfg = TINY
    action_space = gw.action_space(space)
    student = ga.StudentPolicy(cfg, observation(key), action_space, key=key)
    obs = observation(jax.random.key(1), (2, 3))  # (worlds, agents)
    # The teacher's rollout helper drives the student unchanged (shapes traced, not compiled).
    action, log_prob, value = eqx.filter_eval_shape(ga.policy_act, student, obs, key)
    if action_space.kind == "discrete":
        assert action.shape == (2, 3) and action.dtype == jnp.int32
    else:
        assert action.shape == (2, 3, 2) and action.dtype == jnp.float32
    assert log_prob.shape == value.shape == (2, 3)
    if space == "accel_steer_grid":  # ... and by its expected action (per agent, vmapped)
        driver = ga.ExpectedAction(student)
        assert not driver.takes_batches
        action, _, _ = eqx.filter_eval_shape(ga.policy_act, driver, obs, key)
        assert action.shape == (2, 3, 2) and action.dtype == jnp.float32
    _, value, latent, trajectory = eqx.filter_eval_shape(
        jax.vmap(jax.vmap(lambda o: student.heads(o))), obs
    )
    assert latent.shape == (2, 3, cfg.latent_size)
    assert trajectory.shape == (2, 3, ga.TRAJECTORY_POSES, 3)


def test_presets_match_the_teacher_latent():
    """Feature matching needs equal latent sizes for every preset pair."""
    for name in ("toy", "demo", "full"):
        student = getattr(ga.StudentConfig, name)()
        assert student.latent_size == getattr(ga.TeacherConfig, name)().latent_size


def test_every_view_matters(key):
    """Changing any one camera's pixels changes the latent (no view is ignored)."""
    student = ga.StudentPolicy(TINY, observation(key), gw.action_space("jerk"), key=key)
    obs = observation(jax.random.key(3))
    blanked = [
        eqx.tree_at(lambda o: o.images, obs, obs.images.at[view].set(0)) for view in range(VIEWS)
    ]
    batch = jax.tree.map(lambda *x: jnp.stack(x), obs, *blanked)
    latents = eqx.filter_jit(jax.vmap(lambda o: student.latent(o)))(batch)
    assert np.isfinite(np.asarray(latents)).all()
    for view in range(VIEWS):
        assert float(jnp.max(jnp.abs(latents[1 + view] - latents[0]))) > 1e-6


def test_rejects_non_rgb_images(key):
    bad = eqx.tree_at(lambda o: o.images, observation(key), jnp.zeros((1, 8, 8, 1), jnp.uint8))
    with pytest.raises(ValueError, match="images"):
        ga.StudentPolicy(TINY, bad, gw.action_space("jerk"), key=key)


def test_fits_a_pixel_dependent_target(key):
    """A few Adam steps on 32 samples cut the trajectory error: gradients reach the encoder."""
    student = ga.StudentPolicy(TINY, observation(key), gw.action_space("continuous"), key=key)
    obs = observation(jax.random.key(5), (32,))
    dim = jax.random.uniform(jax.random.key(6), (32, 1, 1, 1, 1))
    obs = eqx.tree_at(
        lambda o: o.images, obs, (obs.images.astype(jnp.float32) * dim).astype(jnp.uint8)
    )
    # The target depends only on the images' mean brightness, so only the encoder can explain it.
    brightness = jnp.mean(obs.images.astype(jnp.float32), axis=(1, 2, 3, 4)) / 255.0
    target = jnp.zeros((32, ga.TRAJECTORY_POSES, 3)).at[..., 0].set(40.0 * brightness[:, None])
    # The best constant prediction (the median, for an L1 error) is the bar to beat.
    constant = float(jnp.mean(jnp.abs(target - jnp.median(target, axis=0, keepdims=True))))

    def loss(model):
        return jnp.mean(jnp.abs(jax.vmap(model.trajectory)(obs) - target))

    opt = optax.adam(1e-3)
    state = opt.init(eqx.filter(student, eqx.is_array))

    @eqx.filter_jit
    def step(model, state):
        value, grads = eqx.filter_value_and_grad(loss)(model)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes float and int32 step counts
            updates, state = opt.update(grads, state, model)
        return eqx.apply_updates(model, updates), state, value

    for _ in range(80):
        student, state, _ = step(student, state)
    # Half the best constant's error: only reachable by reading the pixels.
    assert float(loss(student)) < 0.5 * constant


@pytest.mark.parametrize("height, width", [(8, 12), (7, 9)])
def test_strided_conv_equals_xla_convolution(height, width, key):
    k_conv, k_x = jax.random.split(key)
    conv = ga.StridedConv(3, 5, key=k_conv)
    x = jax.random.normal(k_x, (height, width, 3))
    reference = (
        jax.lax.conv_general_dilated(
            x[None],
            conv.weight,
            (2, 2),
            ((1, 1), (1, 1)),
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )[0]
        + conv.bias[None, None, :]
    )
    out = conv(x)
    assert out.shape == ((height + 1) // 2, (width + 1) // 2, 5)
    np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-5)
