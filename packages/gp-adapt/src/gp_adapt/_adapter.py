"""The perception adapter: which parameters of a student move, and the loss that moves them.

A student is any Equinox module with `latent(observation) -> f32[latent]` and
`distribution_from_latent(latent)` (an action distribution with `.kl(other)`), whose
observations carry their camera views in `.images`; gp-agents' `StudentPolicy` is one. Only the
perception part (the module `encoder_where` selects, its normalisation layers, or a new image
adapter in front of it) is trained; everything the planner computes from the latent is frozen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from gp_adapt.config import AdaptConfig

NORM_LAYERS = (eqx.nn.LayerNorm, eqx.nn.GroupNorm, eqx.nn.RMSNorm, eqx.nn.BatchNorm)


def default_encoder_where(student: Any) -> Any:
    """gp-agents' student keeps its per-view perception encoder in `view_encoder`."""
    return student.view_encoder


class ImageAdapter(eqx.Module):
    """A small residual image-space adapter, the identity at initialisation.

    Per-channel gain and offset (colour cast, exposure) plus a 3x3 -> 1x1 conv residual (local
    contrast, blur, noise) whose output layer starts at zero. Images are RGB in [0, 255].
    """

    gain: Float[Array, "3"]
    offset: Float[Array, "3"]
    hidden: eqx.nn.Conv2d
    out: eqx.nn.Conv2d

    def __init__(self, width: int = 8, *, key: PRNGKeyArray):
        k1, k2 = jax.random.split(key)
        self.gain = jnp.ones((3,), jnp.float32)
        self.offset = jnp.zeros((3,), jnp.float32)
        self.hidden = eqx.nn.Conv2d(3, width, 3, padding=1, key=k1)
        out = eqx.nn.Conv2d(width, 3, 1, key=k2)
        zeros = (jnp.zeros_like(out.weight), jnp.zeros((3, 1, 1), jnp.float32))
        self.out = eqx.tree_at(lambda c: (c.weight, c.bias), out, zeros)

    def __call__(self, image: Float[Array, "h w 3"]) -> Float[Array, "h w 3"]:
        x = jnp.transpose(image / 255.0 - 0.5, (2, 0, 1))
        residual = self.out(jax.nn.relu(self.hidden(x)))
        y = x * self.gain[:, None, None] + self.offset[:, None, None] + residual
        return jnp.transpose(y + 0.5, (1, 2, 0)) * 255.0


class AdaptedEncoder(eqx.Module):
    """An image adapter in front of a (frozen) perception encoder; takes uint8 or float RGB."""

    adapter: ImageAdapter
    encoder: Any

    def __call__(self, image: Array) -> Array:
        return self.encoder(self.adapter(image.astype(jnp.float32)))


def prepare_student(
    student: Any,
    config: AdaptConfig,
    encoder_where: Callable = default_encoder_where,
    *,
    key: PRNGKeyArray,
) -> Any:
    """The student to fine-tune: unchanged, or with an `ImageAdapter` in front of its encoder."""
    if config.trainable != "adapter":
        return student
    wrap = AdaptedEncoder(ImageAdapter(config.adapter_width, key=key), encoder_where(student))
    return eqx.tree_at(encoder_where, student, wrap)


def trainable_mask(
    student: Any, config: AdaptConfig, encoder_where: Callable = default_encoder_where
) -> PyTree[bool]:
    """True on the float array leaves that adaptation may change, False elsewhere."""
    frozen = jax.tree.map(lambda _: False, student)
    if config.trainable == "encoder":
        part = jax.tree.map(eqx.is_inexact_array, encoder_where(student))
        return eqx.tree_at(encoder_where, frozen, part)
    if config.trainable == "adapter":
        encoder = encoder_where(student)
        if not isinstance(encoder, AdaptedEncoder):
            raise ValueError("trainable='adapter' needs prepare_student(...) first")
        part = jax.tree.map(lambda _: False, encoder)
        part = eqx.tree_at(
            lambda e: e.adapter, part, jax.tree.map(eqx.is_inexact_array, encoder.adapter)
        )
        return eqx.tree_at(encoder_where, frozen, part)
    # "norm": every normalisation layer of the model (gp-agents' heads have none).
    is_norm = lambda x: isinstance(x, NORM_LAYERS)  # noqa: E731
    mask = jax.tree.map(
        lambda x: jax.tree.map(eqx.is_inexact_array, x) if is_norm(x) else False,
        student,
        is_leaf=is_norm,
    )
    if not any(jax.tree.leaves(mask)):
        raise ValueError("trainable='norm' but the student has no normalisation layer")
    return mask


def feature_loss(
    latent: Float[Array, "batch d"], target: Float[Array, "batch d"], kind: str
) -> Float[Array, ""]:
    """Mean squared distance (l2) or mean (1 - cosine similarity) between latents."""
    if kind == "l2":
        return jnp.mean(jnp.sum((latent - target) ** 2, axis=-1))
    cos = jnp.sum(latent * target, -1) / (
        jnp.linalg.norm(latent, axis=-1) * jnp.linalg.norm(target, axis=-1) + 1e-6
    )
    return jnp.mean(1.0 - cos)


def adaptation_loss(
    student: Any,
    reference: Any,
    real: Any,
    rendered: Any,
    config: AdaptConfig,
) -> tuple[Float[Array, ""], dict[str, Array]]:
    """Loss of a batch (leading axis) of observation pairs; `reference` is the frozen student.

    Feature term: the student's latent on the real images against the reference latent on the
    rendered views. Action term: KL(reference policy on rendered || student policy on real).
    """
    target = jax.lax.stop_gradient(jax.vmap(reference.latent)(rendered))
    latent = jax.vmap(student.latent)(real)
    features = feature_loss(latent, target, config.feature_loss)
    terms = {"feature": features}
    loss = features
    if config.action_kl > 0:
        teacher = jax.vmap(reference.distribution_from_latent)(target)
        ours = jax.vmap(student.distribution_from_latent)(latent)
        kl = jnp.mean(jax.vmap(lambda a, b: a.kl(b))(teacher, ours))
        terms["action_kl"] = kl
        loss = loss + config.action_kl * kl
    return loss, terms


def feature_gap(student: Any, reference: Any, real: Any, rendered: Any) -> Float[Array, ""]:
    """Mean relative latent distance ||z(real) - z_ref(rendered)|| / ||z_ref(rendered)||."""
    target = jax.vmap(reference.latent)(rendered)
    latent = jax.vmap(student.latent)(real)
    gap = jnp.linalg.norm(latent - target, axis=-1)
    return jnp.mean(gap / (jnp.linalg.norm(target, axis=-1) + 1e-6))


def action_agreement(student: Any, reference: Any, real: Any, rendered: Any) -> Float[Array, ""]:
    """Fraction of pairs where the student's mode action on the real image equals the
    reference's on the rendered view (discrete), or 1 - mean |difference| / range (continuous)."""
    ours = jax.vmap(lambda o: student.distribution_from_latent(student.latent(o)).mode())(real)
    theirs = jax.vmap(lambda o: reference.distribution_from_latent(reference.latent(o)).mode())(
        rendered
    )
    if jnp.issubdtype(ours.dtype, jnp.integer):
        return jnp.mean((ours == theirs).astype(jnp.float32))
    return 1.0 - jnp.mean(jnp.abs(ours - theirs))
