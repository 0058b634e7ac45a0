"""The privileged teacher: permutation-invariant set encoders, an actor trunk to a latent, heads.

Every method takes ONE agent's observation (no agent or world axis) and callers may `vmap`; it
also takes a batch of observations with any leading axes (e.g. [worlds, agents]) and then runs
each layer as one 2-D matrix product over all of them, which is what the trainer does (`vmap`
over worlds and agents leaves XLA products with several free axes; together with the max-pool
below, the batched call doubled training throughput on a CPU: gp-agents' README, "Measured
speed").
"""

from __future__ import annotations

from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, PRNGKeyArray

from gp_agents._distributions import (
    ActionDistribution,
    action_head_layout,
    actor_distribution,
    each_row,
)
from gp_agents.config import TeacherConfig

SET_NAMES = ("route", "agents", "lane_points", "road_edges", "stop_lines")
# Named scopes of the policy's parts, as they appear in traced and compiled programs (profiles
# group op time by them: scripts/profile_teacher.py).
ENCODER_SCOPES = {name: f"{name}_encoder" for name in (*SET_NAMES, "ego")}
POLICY_SCOPES = (*ENCODER_SCOPES.values(), "actor_trunk", "critic_trunk")
"""Observation fields encoded as sets; each has a boolean `<name>_valid` mask beside it."""


def masked_max_pool(
    features: Float[Array, "*batch n f"], valid: Bool[Array, "*batch n"]
) -> Float[Array, "*batch f"]:
    """Max over the valid rows; zeros when no row is valid (an empty set has no evidence).

    Computed as a selection of each feature's first arg-max row, so the gradient is a select
    rather than `max`'s (part of what doubled training throughput on a CPU: gp-agents' README,
    "Measured speed"); the values are the max's, and so is the gradient except among exact
    ties, where it all goes to the first row. What invalid rows hold (even NaN) reaches neither
    the result nor the gradient: the arg-max never picks one while a valid row exists, and an
    empty set's pick is replaced by zeros.
    """
    first_max = jnp.argmax(jnp.where(valid[..., None], features, -jnp.inf), axis=-2)  # [*b, f]
    rows = jax.lax.broadcasted_iota(first_max.dtype, features.shape, features.ndim - 2)
    pooled = jnp.sum(jnp.where(rows == first_max[..., None, :], features, 0.0), axis=-2)
    return jnp.where(jnp.any(valid, axis=-1)[..., None], pooled, 0.0)


def symlog(x: Array) -> Array:
    """sign(x) log(1 + |x|): metres, speeds and unit features share one scale without stats."""
    return jnp.sign(x) * jnp.log1p(jnp.abs(x))


class SetEncoder(eqx.Module):
    """Shared MLP applied to every element, then a masked max-pool: invariant to element order."""

    element_mlp: eqx.nn.MLP

    def __init__(
        self, in_features: int, width: int, out_features: int, depth: int = 2, *, key: PRNGKeyArray
    ):
        self.element_mlp = eqx.nn.MLP(
            in_features, out_features, width, depth=depth, activation=jax.nn.relu, key=key
        )

    def __call__(
        self, elements: Float[Array, "*batch n f_in"], valid: Bool[Array, "*batch n"]
    ) -> Float[Array, "*batch f_out"]:
        return masked_max_pool(each_row(self.element_mlp, symlog(elements)), valid)


class _Trunk(eqx.Module):
    """LayerNorm on the fused features, then an MLP with a ReLU on its output."""

    norm: eqx.nn.LayerNorm
    mlp: eqx.nn.MLP

    def __init__(self, in_features: int, width: int, depth: int, out: int, *, key: PRNGKeyArray):
        self.norm = eqx.nn.LayerNorm(in_features)
        self.mlp = eqx.nn.MLP(
            in_features,
            out,
            width,
            depth=depth + 1,
            activation=jax.nn.relu,
            final_activation=jax.nn.relu,
            key=key,
        )

    def __call__(self, fused: Float[Array, "*batch f"]) -> Float[Array, "*batch out"]:
        return each_row(lambda row: self.mlp(self.norm(row)), fused)


class TeacherPolicy(eqx.Module):
    """Gigaflow-style privileged policy.

    Set encoders (route, agents, lane points, road edges, stop lines with light state) and an ego
    embedding (speed, size, ..., reward weights) are concatenated; an actor trunk maps them to
    `latent` f32[latent_size]; the actor head gives a categorical (discrete action spaces) or a
    scaled Beta (continuous); the critic has its own trunk on the same encodings.
    """

    encoders: dict[str, SetEncoder]
    ego_encoder: eqx.nn.MLP
    actor_trunk: _Trunk
    actor_head: eqx.nn.Linear
    critic_trunk: _Trunk
    critic_head: eqx.nn.Linear
    action_kind: str = eqx.field(static=True)
    action_low: tuple[float, ...] = eqx.field(static=True)
    action_high: tuple[float, ...] = eqx.field(static=True)
    beta_offset: float = eqx.field(static=True)
    # Called on a whole [worlds, agents, ...] batch at once by `policy_act` (one 2-D matrix
    # product per layer) instead of vmapped per agent.
    takes_batches: ClassVar[bool] = True

    def __init__(
        self, cfg: TeacherConfig, observation: Any, action_space: Any, *, key: PRNGKeyArray
    ):
        """`observation`: one agent's observation (arrays or ShapeDtypeStructs, no agent axis);
        `action_space`: gp-world's ActionSpace (kind, num_actions or low/high)."""
        keys = jax.random.split(key, len(SET_NAMES) + 5)
        ego_features = int(observation.ego.shape[-1])
        self.encoders = {
            name: SetEncoder(
                int(getattr(observation, name).shape[-1]),
                cfg.element_width,
                cfg.set_features,
                cfg.element_depth,
                key=k,
            )
            for name, k in zip(SET_NAMES, keys, strict=False)
        }
        self.ego_encoder = eqx.nn.MLP(
            ego_features,
            cfg.ego_width,
            cfg.ego_width,
            depth=1,
            activation=jax.nn.relu,
            final_activation=jax.nn.relu,
            key=keys[-5],
        )
        fused = cfg.ego_width + len(SET_NAMES) * cfg.set_features
        self.actor_trunk = _Trunk(
            fused, cfg.trunk_width, cfg.trunk_depth, cfg.latent_size, key=keys[-4]
        )
        self.critic_trunk = _Trunk(
            fused, cfg.trunk_width, cfg.trunk_depth, cfg.trunk_width, key=keys[-3]
        )
        self.action_kind, outputs, self.action_low, self.action_high = action_head_layout(
            action_space
        )
        self.beta_offset = float(cfg.beta_offset)
        head = eqx.nn.Linear(cfg.latent_size, outputs, key=keys[-2])
        # Small initial logits: the untrained policy is near uniform (PPO's usual 0.01 gain).
        self.actor_head = eqx.tree_at(lambda h: h.weight, head, head.weight * 0.01)
        self.critic_head = eqx.nn.Linear(cfg.trunk_width, 1, key=keys[-1])

    def check_observation(self, observation: Any) -> None:
        """Raise a ValueError naming the field when `observation` (any batch shape) has other
        feature sizes than this policy was built for: a world configured otherwise than the
        teacher's training world (reward terms, turn signals, another observation layout).
        Shapes are static, so every call checks this while tracing, at no cost when running."""
        expected = {"ego": self.ego_encoder.layers[0].in_features}
        for name in SET_NAMES:
            expected[name] = self.encoders[name].element_mlp.layers[0].in_features
        for name, size in expected.items():
            got = getattr(observation, name).shape[-1]
            if got != size:
                raise ValueError(
                    f"the policy was built for observations whose {name!r} rows have {size} "
                    f"features, this world's have {got}: its WorldConfig differs from the one "
                    "the policy was trained on (e.g. reward terms or turn_signal_distance); "
                    "build the world from the run's own config (TrainConfig.from_run)"
                )

    def _fused(self, observation: Any) -> Float[Array, "*batch f"]:
        self.check_observation(observation)
        sets = []
        for name in SET_NAMES:
            with jax.named_scope(ENCODER_SCOPES[name]):
                elements, valid = getattr(observation, name), getattr(observation, f"{name}_valid")
                sets.append(self.encoders[name](elements, valid))
        with jax.named_scope(ENCODER_SCOPES["ego"]):
            ego = each_row(self.ego_encoder, symlog(observation.ego))
        return jnp.concatenate([ego, *sets], axis=-1)

    def _actor(self, fused: Float[Array, "*batch f"]) -> Float[Array, "*batch latent"]:
        with jax.named_scope("actor_trunk"):
            return self.actor_trunk(fused)

    def _critic(self, fused: Float[Array, "*batch f"]) -> Float[Array, "*batch"]:
        with jax.named_scope("critic_trunk"):
            return each_row(self.critic_head, self.critic_trunk(fused))[..., 0]

    def latent(self, observation: Any) -> Float[Array, "*batch latent"]:
        """The actor's latent features f32[latent_size] (target of feature distillation)."""
        return self._actor(self._fused(observation))

    def action_distribution(self, observation: Any) -> ActionDistribution:
        return actor_distribution(self, self.latent(observation))

    def value(self, observation: Any) -> Float[Array, "*batch"]:
        """State value in (scaled) reward units."""
        return self._critic(self._fused(observation))

    def heads(
        self, observation: Any
    ) -> tuple[ActionDistribution, Float[Array, "*batch latent"], Float[Array, "*batch"]]:
        """Distribution, latent and value with the set encodings computed once (what a student
        distils from the teacher)."""
        fused = self._fused(observation)
        latent = self._actor(fused)
        value = self._critic(fused)
        return actor_distribution(self, latent), latent, value

    def __call__(self, observation: Any) -> tuple[ActionDistribution, Float[Array, "*batch"]]:
        """Distribution and value with the set encodings computed once."""
        dist, _, value = self.heads(observation)
        return dist, value
