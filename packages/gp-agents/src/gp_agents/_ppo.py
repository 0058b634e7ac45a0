"""PPO arithmetic: generalised advantage estimation with per-agent episode ends, and the loss."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float


def gae(
    rewards: Float[Array, " time *slots"],
    values: Float[Array, " time *slots"],
    dones: Bool[Array, " time *slots"],
    last_value: Float[Array, " *slots"],
    gamma: float,
    lam: float,
) -> tuple[Float[Array, " time *slots"], Float[Array, " time *slots"]]:
    """Advantages and value targets over a rollout (time first).

    `dones[t]`: the episode in this slot ended at step t, so step t+1 starts a new episode and
    neither the value nor the advantage of t+1 flows back into t. Returns (advantages, targets).
    """
    next_values = jnp.concatenate([values[1:], last_value[None]], axis=0)
    continues = 1.0 - dones.astype(jnp.float32)
    deltas = rewards + gamma * next_values * continues - values

    def backward(carry: Array, step: tuple[Array, Array]) -> tuple[Array, Array]:
        delta, cont = step
        advantage = delta + gamma * lam * cont * carry
        return advantage, advantage

    _, advantages = jax.lax.scan(
        backward, jnp.zeros_like(last_value), (deltas, continues), reverse=True
    )
    return advantages, advantages + values


def masked_mean(x: Array, mask: Array) -> Array:
    """Mean of `x` over entries where `mask` is true (0 when none is)."""
    weights = mask.astype(x.dtype)
    return jnp.sum(x * weights) / jnp.maximum(jnp.sum(weights), 1.0)


class PPOLossTerms(eqx.Module):
    """The scalars of one minibatch loss; `total` is what is differentiated."""

    total: Float[Array, ""]
    policy: Float[Array, ""]
    value: Float[Array, ""]
    entropy: Float[Array, ""]
    axis_entropy: Float[Array, "2"]
    """Masked means of the (longitudinal, lateral) entropies (zeros when not given)."""
    floor_penalty: Float[Array, ""]
    """How far the mean longitudinal entropy fell below its floor (0 when above or no floor)."""
    approx_kl: Float[Array, ""]
    clip_fraction: Float[Array, ""]


def ppo_loss(
    log_prob: Float[Array, " n"],
    old_log_prob: Float[Array, " n"],
    advantages: Float[Array, " n"],
    value: Float[Array, " n"],
    targets: Float[Array, " n"],
    entropy: Float[Array, " n"],
    axis_entropy: Float[Array, "n 2"] | None,
    mask: Bool[Array, " n"],
    *,
    clip_eps: float,
    vf_coef: float,
    ent_coef: float | Array,
    entropy_floor: float = 0.0,
    entropy_floor_coef: float = 0.0,
) -> PPOLossTerms:
    """Clipped surrogate + vf_coef * 0.5 (V - target)^2 - ent_coef * entropy
    + entropy_floor_coef * max(0, entropy_floor - longitudinal entropy), masked means.

    `axis_entropy[:, 0]` is the entropy of the longitudinal action (accelerator or longitudinal
    jerk), `[:, 1]` the lateral one; None for an action space without the two axes (then the
    floor must be 0). The hinge acts on the minibatch mean, so single states may
    still be near certain (brake hard here) while the policy as a whole keeps trying speeds.
    `advantages` are used as given (normalise before if wanted); masked-out transitions (invalid
    slots, filtered advantages) contribute nothing.
    """
    log_ratio = log_prob - old_log_prob
    ratio = jnp.exp(log_ratio)
    unclipped = ratio * advantages
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages
    policy = -masked_mean(jnp.minimum(unclipped, clipped), mask)
    value_loss = 0.5 * masked_mean(jnp.square(value - targets), mask)
    ent = masked_mean(entropy, mask)
    if axis_entropy is None:
        if entropy_floor > 0.0:
            raise ValueError("an entropy floor needs the longitudinal entropy (axis_entropy)")
        axis_ent = jnp.zeros(2, ent.dtype)
    else:
        axis_ent = jnp.stack([masked_mean(axis_entropy[..., k], mask) for k in range(2)])
    # Off (floor 0) the term is not built at all: the axis entropies are then only logged, and a
    # Beta's differential entropies, which are negative, cannot leak into the loss.
    floor_penalty = jnp.zeros((), ent.dtype)
    if entropy_floor > 0.0:
        floor_penalty = jax.nn.relu(entropy_floor - axis_ent[0])
    # The low-variance estimator of KL(old || new) (Schulman's k3).
    approx_kl = masked_mean(ratio - 1.0 - log_ratio, mask)
    clip_fraction = masked_mean((jnp.abs(ratio - 1.0) > clip_eps).astype(jnp.float32), mask)
    total = policy + vf_coef * value_loss - ent_coef * ent + entropy_floor_coef * floor_penalty
    return PPOLossTerms(
        total, policy, value_loss, ent, axis_ent, floor_penalty, approx_kl, clip_fraction
    )
