"""Distillation losses against numpy references; masks and switchable terms."""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gp_agents as ga
import gp_distill as gd
import gp_world as gw

BATCH, LATENT, ROUTE = 6, 8, 4
LOSS = eqx.filter_jit(gd.distill_loss)  # weights are a frozen dataclass: static, hashable
TINY = ga.StudentConfig(
    channels=(4,),
    view_features=8,
    measurement_width=8,
    route_width=8,
    trunk_width=16,
    latent_size=LATENT,
    head_width=8,
)


def make_batch(key, space):
    ks = jax.random.split(key, 8)
    observation = ga.StudentObservation(
        images=jax.random.randint(ks[0], (BATCH, 1, 8, 8, 3), 0, 256).astype(jnp.uint8),
        measurements=jax.random.normal(ks[1], (BATCH, 3)),
        route=jax.random.normal(ks[2], (BATCH, ROUTE, 2)),
        route_valid=jnp.ones((BATCH, ROUTE), bool),
        valid=jnp.ones((BATCH,), bool),
    )
    bounds = gw.action_space(space)
    if bounds.kind == "discrete":
        teacher = ga.Categorical(jax.random.normal(ks[3], (BATCH, bounds.num_actions)))
    else:
        teacher = ga.ScaledBeta(
            1.0 + jax.random.uniform(ks[3], (BATCH, 2)) * 5,
            1.0 + jax.random.uniform(ks[4], (BATCH, 2)) * 5,
            jnp.broadcast_to(bounds.low, (BATCH, 2)),
            jnp.broadcast_to(bounds.high, (BATCH, 2)),
        )
    trajectory_valid = jnp.ones((BATCH, ga.TRAJECTORY_POSES), bool).at[0, 4:].set(False)
    batch = gd.DistillSample(
        observation=observation,
        teacher_distribution=teacher,
        teacher_latent=jax.random.normal(ks[5], (BATCH, LATENT)),
        teacher_value=jax.random.normal(ks[6], (BATCH,)),
        trajectory=jax.random.normal(ks[7], (BATCH, ga.TRAJECTORY_POSES, 3)) * 5,
        trajectory_valid=trajectory_valid.at[1].set(False),  # sample 1: no fork at this step
        valid=jnp.ones((BATCH,), bool).at[2].set(False),  # sample 2: empty slot
    )
    student = ga.StudentPolicy(
        TINY, jax.tree.map(lambda x: x[0], observation), bounds, key=jax.random.key(9)
    )
    return student, batch


def test_terms_match_numpy_reference_discrete(key):
    student, batch = make_batch(key, "accel_steer_grid")
    weights = gd.LossWeights(action=1.0, feature=0.5, value=0.25, trajectory=0.125)
    terms = LOSS(student, batch, weights)
    dist, value, latent, trajectory = eqx.filter_jit(jax.vmap(lambda o: student.heads(o)))(
        batch.observation
    )
    valid = np.asarray(batch.valid)
    p = jax.nn.softmax(batch.teacher_distribution.logits, -1)
    log_q = jax.nn.log_softmax(dist.logits, -1)
    kl = np.sum(np.asarray(p * (jnp.log(p) - log_q)), -1)
    np.testing.assert_allclose(terms.action, kl[valid].mean(), rtol=1e-5)
    feature = np.mean((np.asarray(latent) - np.asarray(batch.teacher_latent)) ** 2, -1)
    np.testing.assert_allclose(terms.feature, feature[valid].mean(), rtol=1e-5)
    value_error = (np.asarray(value) - np.asarray(batch.teacher_value)) ** 2
    np.testing.assert_allclose(terms.value, value_error[valid].mean(), rtol=1e-5)
    error = np.abs(np.asarray(trajectory) - np.asarray(batch.trajectory))
    per_pose = error[..., 0] + error[..., 1] + weights.heading_weight * error[..., 2]
    pose_valid = np.asarray(batch.trajectory_valid)
    per_sample = [per_pose[i][pose_valid[i]].mean() for i in range(BATCH) if pose_valid[i].any()]
    has = [i for i in range(BATCH) if pose_valid[i].any() and valid[i]]
    np.testing.assert_allclose(
        terms.trajectory,
        np.mean([per_pose[i][pose_valid[i]].mean() for i in has]),
        rtol=1e-5,
    )
    assert len(per_sample) == BATCH - 1
    total = 1.0 * kl[valid].mean() + 0.5 * feature[valid].mean() + 0.25 * value_error[valid].mean()
    np.testing.assert_allclose(terms.total, total + 0.125 * float(terms.trajectory), rtol=1e-5)
    agree = np.asarray(jnp.argmax(dist.logits, -1) == jnp.argmax(p, -1), np.float32)
    np.testing.assert_allclose(terms.agreement, agree[valid].mean(), rtol=1e-6)


def test_beta_kl_is_zero_on_itself_and_positive_otherwise(key):
    student, batch = make_batch(key, "continuous")
    teacher = batch.teacher_distribution
    own = jax.jit(jax.vmap(lambda d: d.kl(d)))(teacher)
    np.testing.assert_allclose(own, 0.0, atol=1e-5)  # float32 digamma/gammaln cancellation
    assert float(LOSS(student, batch, gd.LossWeights()).action) > 0.0


def test_invalid_samples_and_switched_off_terms_have_no_effect(key):
    student, batch = make_batch(key, "jerk")
    only_action = gd.LossWeights(action=1.0, feature=0.0, value=0.0, trajectory=0.0)
    changed = eqx.tree_at(
        lambda b: (b.teacher_latent, b.teacher_value),
        batch,
        (batch.teacher_latent + 100.0, batch.teacher_value - 50.0),
    )
    a = LOSS(student, batch, only_action)
    b = LOSS(student, changed, only_action)
    assert float(a.total) == float(b.total)  # feature and value switched off
    # Labels of the invalid sample 2 do not matter at all.
    poisoned = eqx.tree_at(lambda b: b.teacher_value, batch, batch.teacher_value.at[2].set(jnp.nan))
    full = gd.distill_loss(student, batch, gd.LossWeights())
    np.testing.assert_allclose(
        gd.distill_loss(student, poisoned, gd.LossWeights()).total, full.total
    )


def test_weights_must_be_non_negative():
    with pytest.raises(ValueError, match="feature"):
        gd.LossWeights(feature=-1.0)
    with pytest.raises(ValueError, match="latent_size"):
        gd.DistillConfig(student=dataclasses.replace(TINY, latent_size=3))
    with pytest.raises(ValueError, match="max_minutes must be >= 0"):
        gd.DistillConfig(max_minutes=-5.0)
