"""Distillation losses (Roach): action KL(teacher || student), latent feature matching, value
regression, trajectory regression to the forked teacher rollout; each weighted and switchable."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from gp_distill.config import LossWeights

TERMS = ("action", "feature", "value", "trajectory")


class DistillSample(eqx.Module):
    """One labelled state (add leading axes for batches): what the student sees and the
    teacher's labels."""

    observation: Any
    """gp_agents.StudentObservation."""
    teacher_distribution: Any
    teacher_latent: Float[Array, " latent"]
    teacher_value: Float[Array, ""]
    trajectory: Float[Array, "8 3"]
    trajectory_valid: Bool[Array, " 8"]
    valid: Bool[Array, ""]


class LossTerms(eqx.Module):
    total: Float[Array, ""]
    action: Float[Array, ""]
    feature: Float[Array, ""]
    value: Float[Array, ""]
    trajectory: Float[Array, ""]
    agreement: Float[Array, ""]


def _masked_mean(x: Array, mask: Array) -> Array:
    # where, not a product: NaN labels of masked entries must not leak into the mean.
    total = jnp.sum(jnp.where(mask, x, 0.0))
    return total / jnp.maximum(jnp.sum(mask.astype(jnp.float32)), 1.0)


def sample_terms(student: Any, sample: DistillSample, heading_weight: float) -> dict[str, Array]:
    """Unweighted per-sample losses and the action agreement of ONE sample."""
    dist, value, latent, trajectory = student.heads(sample.observation)
    teacher = sample.teacher_distribution
    error = jnp.abs(trajectory - sample.trajectory)
    per_pose = error[:, 0] + error[:, 1] + heading_weight * error[:, 2]
    return {
        "action": teacher.kl(dist),
        "feature": jnp.mean(jnp.square(latent - sample.teacher_latent)),
        "value": jnp.square(value - sample.teacher_value),
        "trajectory": _masked_mean(per_pose, sample.trajectory_valid),
        "has_trajectory": jnp.any(sample.trajectory_valid),
        "agreement": actions_agree(teacher, dist),
    }


def actions_agree(teacher: Any, student: Any) -> Array:
    """1.0 when the student's most likely action is the teacher's: same index for discrete
    spaces; within 10% of the range in every dimension for continuous ones."""
    a, b = teacher.mode(), student.mode()
    if jnp.issubdtype(a.dtype, jnp.integer):
        return (a == b).astype(jnp.float32)
    close = jnp.abs(a - b) <= 0.1 * (teacher.high - teacher.low)
    return jnp.all(close).astype(jnp.float32)


def distill_loss(student: Any, batch: DistillSample, weights: LossWeights) -> LossTerms:
    """Weighted sum over the terms, each a masked mean over the batch (leading axis)."""
    terms = jax.vmap(lambda s: sample_terms(student, s, weights.heading_weight))(batch)
    mask = batch.valid
    mean = {name: _masked_mean(terms[name], mask) for name in ("action", "feature", "value")}
    mean["trajectory"] = _masked_mean(terms["trajectory"], mask & terms["has_trajectory"])
    total = sum(getattr(weights, name) * mean[name] for name in TERMS)
    return LossTerms(
        total=jnp.asarray(total, jnp.float32),
        agreement=_masked_mean(terms["agreement"], mask),
        **mean,
    )
