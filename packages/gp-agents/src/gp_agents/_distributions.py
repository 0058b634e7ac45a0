"""Action distributions: categorical (discrete actions) and scaled Beta (continuous)."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray


class Categorical(eqx.Module):
    """Categorical over `n` discrete actions, from unnormalised logits f32[n]."""

    logits: Float[Array, " n"]

    @property
    def log_probs(self) -> Float[Array, " n"]:
        return jax.nn.log_softmax(self.logits)

    def sample(self, key: PRNGKeyArray) -> Int[Array, ""]:
        return jax.random.categorical(key, self.logits).astype(jnp.int32)

    def mode(self) -> Int[Array, ""]:
        return jnp.argmax(self.logits).astype(jnp.int32)

    def log_prob(self, action: Int[Array, ""]) -> Float[Array, ""]:
        return jnp.take(self.log_probs, action)

    def entropy(self) -> Float[Array, ""]:
        log_p = self.log_probs
        return -jnp.sum(jnp.exp(log_p) * log_p)

    def kl(self, other: Categorical) -> Float[Array, ""]:
        """KL(self || other)."""
        log_p = self.log_probs
        return jnp.sum(jnp.exp(log_p) * (log_p - other.log_probs))

    def marginal_entropies(self, grid: tuple[int, int]) -> Float[Array, "2"]:
        """Entropies of the two marginals of a grid action space, where action i is row
        i // grid[1] and column i % grid[1] (gp-world's `action_grid`): f32[2] = (rows, columns).
        They sum to the joint entropy when the two axes are independent, and exceed it otherwise."""
        log_p = self.log_probs.reshape(grid)
        marginals = (
            jax.nn.logsumexp(log_p, axis=1),  # rows: the longitudinal axis
            jax.nn.logsumexp(log_p, axis=0),  # columns: the lateral axis
        )
        return jnp.stack([-jnp.sum(jnp.exp(m) * m) for m in marginals])


def _beta_log_norm(alpha: Array, beta: Array) -> Array:
    return (
        jax.scipy.special.gammaln(alpha)
        + jax.scipy.special.gammaln(beta)
        - jax.scipy.special.gammaln(alpha + beta)
    )


class ScaledBeta(eqx.Module):
    """Independent Beta(alpha, beta) per action dimension, mapped affinely onto [low, high].

    Densities are those of the unit-interval variable: the affine Jacobian is a constant that
    cancels in PPO ratios and KLs.
    """

    alpha: Float[Array, " d"]
    beta: Float[Array, " d"]
    low: Float[Array, " d"]
    high: Float[Array, " d"]

    def _to_unit(self, action: Float[Array, " d"]) -> Float[Array, " d"]:
        unit = (action - self.low) / (self.high - self.low)
        # Samples can round onto the boundary in float32, where the density is 0 or infinite.
        return jnp.clip(unit, 1e-6, 1.0 - 1e-6)

    def sample(self, key: PRNGKeyArray) -> Float[Array, " d"]:
        unit = jax.random.beta(key, self.alpha, self.beta, dtype=jnp.float32)
        return self.low + unit * (self.high - self.low)

    def mode(self) -> Float[Array, " d"]:
        # The mean, not the arg-max: defined for every alpha, beta > 0 and stable to evaluate.
        unit = self.alpha / (self.alpha + self.beta)
        return self.low + unit * (self.high - self.low)

    def log_prob(self, action: Float[Array, " d"]) -> Float[Array, ""]:
        u = self._to_unit(action)
        per_dim = (
            (self.alpha - 1.0) * jnp.log(u)
            + (self.beta - 1.0) * jnp.log1p(-u)
            - _beta_log_norm(self.alpha, self.beta)
        )
        return jnp.sum(per_dim)

    def dim_entropies(self) -> Float[Array, " d"]:
        """Differential entropy of each dimension on the unit interval."""
        a, b = self.alpha, self.beta
        digamma = jax.scipy.special.digamma
        return (
            _beta_log_norm(a, b)
            - (a - 1.0) * digamma(a)
            - (b - 1.0) * digamma(b)
            + (a + b - 2.0) * digamma(a + b)
        )

    def entropy(self) -> Float[Array, ""]:
        return jnp.sum(self.dim_entropies())

    def kl(self, other: ScaledBeta) -> Float[Array, ""]:
        """KL(self || other), both on the same interval."""
        a1, b1, a2, b2 = self.alpha, self.beta, other.alpha, other.beta
        digamma = jax.scipy.special.digamma
        per_dim = (
            _beta_log_norm(a2, b2)
            - _beta_log_norm(a1, b1)
            + (a1 - a2) * digamma(a1)
            + (b1 - b2) * digamma(b1)
            + (a2 - a1 + b2 - b1) * digamma(a1 + b1)
        )
        return jnp.sum(per_dim)


ActionDistribution = Categorical | ScaledBeta


def axis_entropies(dist: ActionDistribution, grid: tuple[int, int] | None) -> Float[Array, "2"]:
    """(longitudinal, lateral) entropies of an action distribution: of the two marginals of a
    discrete grid (`grid` from gp-world's `action_grid`), or of the Beta's two dimensions
    (accel, steer; `grid` is None). A policy that brakes at rest while steering at random has a
    high joint entropy and a longitudinal entropy of zero: the two numbers tell them apart."""
    if isinstance(dist, Categorical):
        if grid is None:
            raise ValueError("a categorical needs its action grid for per-axis entropies")
        return dist.marginal_entropies(grid)
    return dist.dim_entropies()[:2]


def action_head_layout(
    action_space: Any,
) -> tuple[str, int, tuple[float, ...], tuple[float, ...]]:
    """(kind, head outputs, low, high) of an action head for a gp-world ActionSpace: one logit
    per discrete action, or two Beta concentrations per continuous dimension."""
    kind = str(action_space.kind)
    if kind == "discrete":
        return kind, int(action_space.num_actions), (), ()
    if kind == "continuous":
        low = np.asarray(action_space.low, np.float32).reshape(-1)
        high = np.asarray(action_space.high, np.float32).reshape(-1)
        if low.shape != high.shape or not np.all(high > low):
            raise ValueError(f"continuous action space needs low < high, got {low}, {high}")
        return kind, 2 * low.size, tuple(map(float, low)), tuple(map(float, high))
    raise ValueError(f"unknown action space kind {kind!r}")


def each_row(layer: Any, x: Float[Array, "*batch f_in"]) -> Array:
    """`layer` (unbatched: one feature vector in) applied to every row of `x`, with all leading
    axes flattened into one, so that each matrix product is a single 2-D one. Without leading
    axes this is `layer(x)`."""
    flat = x.reshape(-1, x.shape[-1])
    out = jax.vmap(layer)(flat)
    return out.reshape(*x.shape[:-1], *out.shape[1:])


def actor_distribution(policy: Any, latent: Float[Array, "*batch latent"]) -> ActionDistribution:
    """The action distribution of a policy's actor head at `latent` (one agent's, or a batch
    with any leading axes: the distribution's fields then carry them, and callers `vmap` its
    methods over them).

    `policy` carries `actor_head` (latent -> raw outputs, see `action_head_layout`) and the
    static `action_kind`, `action_low`, `action_high` and `beta_offset` (teacher and student
    alike): a categorical over the logits, or a Beta per dimension with concentrations
    `beta_offset + softplus`, mapped onto the action box.
    """
    out = each_row(policy.actor_head, latent)
    if policy.action_kind == "discrete":
        return Categorical(out)
    alpha, beta = jnp.split(jax.nn.softplus(out) + policy.beta_offset, 2, axis=-1)
    low = jnp.broadcast_to(jnp.asarray(policy.action_low, jnp.float32), alpha.shape)
    high = jnp.broadcast_to(jnp.asarray(policy.action_high, jnp.float32), alpha.shape)
    return ScaledBeta(alpha, beta, low, high)
