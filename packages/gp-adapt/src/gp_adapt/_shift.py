"""A SYNTHETIC shifted domain: the same annotated scenes, drawn the way another camera might see
them. It stands in for real images in tests and demos; it is not real data.

A shifted domain has a systematic part fixed by its seed (class colours, colour cast, exposure,
gamma, lens blur: one "camera and place") and a per-image part drawn from each image's key
(sensor noise, surface grain, light gradient, exposure flicker, camera jitter). Severity 0 is the
renderer's own image, bit for bit; every effect grows linearly up to severity 4.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, UInt8

from gp_adapt._paired import PairedSample, camera_poses, render_paired_view
from gp_adapt.config import DomainShift
from gp_render import NUM_CLASSES, Backend, RenderConfig, default_palette

_BLUR_RADIUS = 4  # pixels: a fixed kernel size, so every severity compiles alike


class ShiftedLook(eqx.Module):
    """The systematic part of a shifted domain (what a perception adapter can learn)."""

    palette: Float[Array, "classes 3"]
    colour_gain: Float[Array, "3"]
    exposure_stops: Float[Array, ""]
    gamma: Float[Array, ""]
    blur_sigma: Float[Array, ""]
    strength: Float[Array, ""]
    """Fraction of the strongest shift; scales the per-image effects too."""
    unshifted: bool = eqx.field(static=True, default=False)
    """Known to be severity 0 at trace time: images pass through untouched, bit for bit."""


def domain_look(shift: DomainShift, strength: Float[Array, ""] | None = None) -> ShiftedLook:
    """The domain's systematic look, a pure function of (seed, severity); `strength` (a traced
    fraction of the strongest shift) overrides the severity, so one compile serves them all."""
    s = shift.strength if strength is None else strength
    k = jax.random.split(jax.random.key(shift.seed), 4)
    palette = default_palette() + shift.palette_jitter * s * jax.random.uniform(
        k[0], (NUM_CLASSES, 3), jnp.float32, -1.0, 1.0
    )
    return ShiftedLook(
        palette=jnp.clip(palette, 0.0, 1.0),
        colour_gain=jnp.exp(shift.colour_cast * s * jax.random.normal(k[1], (3,), jnp.float32)),
        exposure_stops=shift.exposure_stops * s * jnp.sign(jax.random.normal(k[2], ())),
        gamma=jnp.asarray(1.0 + shift.gamma_change * s, jnp.float32)
        ** jnp.sign(jax.random.normal(k[3], ())),
        blur_sigma=jnp.asarray(shift.blur_pixels * s, jnp.float32),
        strength=jnp.asarray(s, jnp.float32),
        unshifted=strength is None and shift.strength == 0.0,
    )


def _rotation(angles: Float[Array, "3"]) -> Float[Array, "3 3"]:
    """Small rotation about camera x (pitch), y (yaw) and z (roll)."""
    cx, cy, cz = jnp.cos(angles)
    sx, sy, sz = jnp.sin(angles)
    one, zero = jnp.ones_like(cx), jnp.zeros_like(cx)
    rx = jnp.stack(
        [jnp.stack([one, zero, zero]), jnp.stack([zero, cx, -sx]), jnp.stack([zero, sx, cx])]
    )
    ry = jnp.stack(
        [jnp.stack([cy, zero, sy]), jnp.stack([zero, one, zero]), jnp.stack([-sy, zero, cy])]
    )
    rz = jnp.stack(
        [jnp.stack([cz, -sz, zero]), jnp.stack([sz, cz, zero]), jnp.stack([zero, zero, one])]
    )
    return rz @ ry @ rx


def jittered_poses(
    key: PRNGKeyArray,
    shift: DomainShift,
    world_from_camera: Float[Array, "cams 4 4"],
    strength: Float[Array, ""] | None = None,
) -> Float[Array, "cams 4 4"]:
    """Camera poses perturbed by a small random rotation and offset (a loose or recalibrated
    mount): std `jitter_deg` degrees per axis and `jitter_m` metres per axis at severity 4."""
    if strength is None:
        if shift.strength == 0.0:
            return world_from_camera
        strength = jnp.asarray(shift.strength, jnp.float32)
    cams = world_from_camera.shape[0]
    ka, kt = jax.random.split(key)
    angles = jnp.deg2rad(shift.jitter_deg * strength) * jax.random.normal(ka, (cams, 3))
    offsets = shift.jitter_m * strength * jax.random.normal(kt, (cams, 3))
    delta = jnp.zeros((cams, 4, 4), jnp.float32).at[:, 3, 3].set(1.0)
    delta = delta.at[:, :3, :3].set(jax.vmap(_rotation)(angles)).at[:, :3, 3].set(offsets)
    return jnp.einsum("cij,cjk->cik", world_from_camera, delta)


def _blur(image: Float[Array, "h w 3"], sigma: Float[Array, ""]) -> Float[Array, "h w 3"]:
    """Separable Gaussian blur, edges clamped; sigma ~ 0 leaves the image unchanged."""
    taps = jnp.arange(-_BLUR_RADIUS, _BLUR_RADIUS + 1, dtype=jnp.float32)
    weights = jnp.exp(-0.5 * (taps / jnp.maximum(sigma, 1e-3)) ** 2)
    weights = weights / weights.sum()
    r = _BLUR_RADIUS
    for axis in (0, 1):
        padded = jnp.pad(image, [(r, r) if a == axis else (0, 0) for a in range(3)], mode="edge")
        n = image.shape[axis]
        blurred = jnp.zeros_like(image)
        for i in range(2 * r + 1):
            blurred = blurred + weights[i] * jax.lax.slice_in_dim(padded, i, i + n, axis=axis)
        image = blurred
    return image


def shift_photometry(
    key: PRNGKeyArray, shift: DomainShift, look: ShiftedLook, rgb: UInt8[Array, "h w 3"]
) -> UInt8[Array, "h w 3"]:
    """Lighting, exposure, colour cast, gamma, blur, surface grain and sensor noise on one view."""
    if look.unshifted:
        return rgb
    s = look.strength
    h, w, _ = rgb.shape
    k = jax.random.split(key, 5)
    x = rgb.astype(jnp.float32) / 255.0
    x = _blur(x, look.blur_sigma)
    # Surface grain: smooth multiplicative blotches (weathered paint, dirt), 1/4 resolution.
    grain = jax.random.normal(k[0], ((h + 3) // 4, (w + 3) // 4, 1), jnp.float32)
    grain = jax.image.resize(grain, (h, w, 1), "linear")
    x = x * (1.0 + shift.grain * s * grain)
    # Light gradient across the image in a random direction (low sun, shade).
    direction = jax.random.normal(k[1], (2,), jnp.float32)
    direction = direction / jnp.maximum(jnp.linalg.norm(direction), 1e-6)
    rows = (jnp.arange(h, dtype=jnp.float32)[:, None] + 0.5) / h - 0.5
    cols = (jnp.arange(w, dtype=jnp.float32)[None, :] + 0.5) / w - 0.5
    gradient = 1.0 + shift.light_gradient * s * (direction[0] * rows + direction[1] * cols)
    flicker = shift.exposure_flicker * s * jax.random.normal(k[2], ())
    x = (
        x
        * gradient[..., None]
        * jnp.exp2(look.exposure_stops + flicker)
        * look.colour_gain[None, None, :]
    )
    x = jnp.clip(x, 0.0, 1.0) ** look.gamma
    # Sensor noise: read noise plus photon (shot) noise growing with the signal.
    read = shift.read_noise * s * jax.random.normal(k[3], x.shape, jnp.float32)
    shot = shift.shot_noise * s * jnp.sqrt(x) * jax.random.normal(k[4], x.shape, jnp.float32)
    x = jnp.clip(x + read + shot, 0.0, 1.0)
    return jnp.round(x * 255.0).astype(jnp.uint8)


def shifted_view(
    key: PRNGKeyArray,
    sample: PairedSample,
    shift: DomainShift,
    config: RenderConfig = RenderConfig.cpu(),  # noqa: B008 (frozen, hashable)
    *,
    backend: Backend = "auto",
    strength: Float[Array, ""] | None = None,
) -> UInt8[Array, "cams h w 3"]:
    """SYNTHETIC "real" images (cams, h, w, 3) of one sample's scene in the shifted domain.

    Deterministic in (key, sample, shift); the same `shift.seed` gives the same systematic look.
    `strength` in [0, 1] (traced) overrides `shift.severity` / 4 without recompiling.
    """
    look = domain_look(shift, strength)
    k_pose, k_photo = jax.random.split(key)
    world_from_camera = camera_poses(sample.calibration, sample.ego_pose)
    poses = jittered_poses(
        k_pose, shift, world_from_camera, None if strength is None else look.strength
    )
    frame = render_paired_view(
        sample, config, look.palette, backend=backend, world_from_camera=poses
    )
    keys = jax.random.split(k_photo, sample.calibration.cameras)
    return jax.vmap(lambda k, rgb: shift_photometry(k, shift, look, rgb))(keys, frame.rgb)


def shifted_sample(
    key: PRNGKeyArray,
    sample: PairedSample,
    shift: DomainShift,
    config: RenderConfig = RenderConfig.cpu(),  # noqa: B008 (frozen, hashable)
    *,
    backend: Backend = "auto",
) -> PairedSample:
    """The sample with its image replaced by the SYNTHETIC shifted view of its annotations."""
    image = shifted_view(key, sample, shift, config, backend=backend)
    return eqx.tree_at(lambda s: s.image, sample, image)
