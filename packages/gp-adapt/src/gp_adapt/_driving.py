"""The SYNTHETIC shifted domain inside the driving world, and paired samples collected there.

`ShiftedPixels` wraps gp-agents' pixel pipeline: every agent's rig draws the same world, but with
the domain's class colours and a jittered camera mount, and its images then go through the
domain's photometry (see `_shift`). It has the pipeline's `observe_world(world, state)`, so a
pixel student drives closed loop through it exactly as through the renderer's own images.

`collect_driving_pairs` drives worlds with a privileged policy (the teacher) and records, for
every live agent at every `every`-th step, the pair (shifted images, rendered images) of the same
state plus the driver's action there: what adaptation trains on and what agreement is measured on.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

import gp_agents as ga
from gp_adapt._shift import ShiftedLook, domain_look, shift_photometry
from gp_adapt.config import DomainShift

_STREAM = 0x5EED  # folded into a world's key: the shifted domain's own random stream


def jittered_mounts(
    key: PRNGKeyArray,
    shift: DomainShift,
    mounts: Float[Array, "cams 5"],
    strength: Float[Array, ""],
) -> Float[Array, "cams 5"]:
    """A rig's mounts (x, y, z, yaw, pitch) moved by the domain's camera jitter: std `jitter_m`
    per axis and `jitter_deg` on yaw and pitch at full strength (a loose or recalibrated mount;
    the rig's mount has no roll)."""
    k_offset, k_angle = jax.random.split(key)
    offsets = shift.jitter_m * strength * jax.random.normal(k_offset, (mounts.shape[0], 3))
    angles = (
        jnp.deg2rad(shift.jitter_deg) * strength * jax.random.normal(k_angle, (mounts.shape[0], 2))
    )
    return mounts + jnp.concatenate([offsets, angles], axis=-1)


class ShiftedPixels(eqx.Module):
    """A pixel pipeline seen through a SYNTHETIC shifted domain (build with `shifted_pixels`).

    Deterministic in the world state: the per-image effects (noise, flicker, jitter) are drawn
    from the world's own key, each agent's from its slot. At strength 0 the images are the
    pipeline's own, bit for bit.
    """

    pixels: ga.PixelPipeline
    look: ShiftedLook
    shift: DomainShift = eqx.field(static=True)

    def render(self, scene: Any, map_id: Int[Array, ""], key: PRNGKeyArray) -> Array:
        """Every agent's shifted views of one world: uint8 [A, cameras, height, width, 3]."""
        pipeline, look, shift = self.pixels, self.look, self.shift
        if look.unshifted:
            return pipeline.render(scene, map_id)

        def render_agent(boxes: Any, ground: Any, agent: Array, pose: Array) -> Array:
            k_pose, k_photo = jax.random.split(jax.random.fold_in(key, agent))
            mounts = jittered_mounts(k_pose, shift, pipeline.rig.mount, look.strength)
            jittered = eqx.tree_at(
                lambda p: (p.rig.mount, p.palette), pipeline, (mounts, look.palette)
            )
            rgb = jittered.render_agent(boxes, ground, agent, pose)
            keys = jax.random.split(k_photo, rgb.shape[0])
            return jax.vmap(lambda k, view: shift_photometry(k, shift, look, view))(keys, rgb)

        return pipeline.render(scene, map_id, render_agent)

    def observe(
        self, scene: Any, privileged: Any, map_id: Int[Array, ""], key: PRNGKeyArray
    ) -> ga.StudentObservation:
        return ga.student_observation(self.render(scene, map_id, key), privileged)

    def observe_world(self, world: Any, state: Any) -> ga.StudentObservation:
        """The student's observation of one gp-world world, through the shifted domain."""
        key = jax.random.fold_in(state.key, _STREAM)
        return self.observe(world.scene(state), world.observe(state), state.map_id, key)


def shifted_pixels(
    pixels: ga.PixelPipeline, shift: DomainShift, strength: Float[Array, ""] | None = None
) -> ShiftedPixels:
    """`pixels` through `shift` (at its severity, or at `strength` in [0, 1]: traced, so one
    compile serves every severity)."""
    return ShiftedPixels(pixels, domain_look(shift, strength), shift)


@dataclasses.dataclass
class DrivingPairs:
    """N paired observations of live agents: the same states seen by the SYNTHETIC shifted
    domain (`real`) and by the renderer (`rendered`), with the driver's action at each."""

    real: ga.StudentObservation
    rendered: ga.StudentObservation
    action: Array

    def __len__(self) -> int:
        return int(self.action.shape[0])

    def take(self, count: int) -> DrivingPairs:
        """The first `count` pairs (they come in collection order: several steps, worlds)."""
        if count > len(self):
            raise ValueError(f"{count} pairs requested but only {len(self)} were collected")
        head = lambda tree: jax.tree.map(lambda x: x[:count], tree)  # noqa: E731
        return DrivingPairs(head(self.real), head(self.rendered), self.action[:count])


@eqx.filter_jit
def _capture_and_drive(
    world: Any,
    driver: Any,
    pixels: ga.PixelPipeline,
    shifted: ShiftedPixels,
    states: Any,
    key: PRNGKeyArray,
    every: int,
) -> tuple[Any, Array, Any, Any]:
    """The driver's actions and both views of every agent now, then `every` steps driven (the
    first with the captured actions). Module level, so one compile serves every call
    (strengths are traced)."""

    def act(states: Any, k: PRNGKeyArray) -> Array:
        return ga.policy_act(driver, jax.vmap(world.observe)(states), k, greedy=True)[0]

    def one_step(states: Any, k: PRNGKeyArray) -> tuple[Any, None]:
        return jax.vmap(world.step)(states, act(states, k))[0], None

    k_now, k_later = jax.random.split(key)
    action = act(states, k_now)
    rendered = jax.vmap(pixels.observe_world, in_axes=(None, 0))(world, states)
    real = jax.vmap(shifted.observe_world, in_axes=(None, 0))(world, states)
    states = jax.vmap(world.step)(states, action)[0]
    states, _ = jax.lax.scan(one_step, states, jax.random.split(k_later, every - 1))
    return states, action, real, rendered


def collect_driving_pairs(
    world: Any,
    driver: Any,
    pixels: ga.PixelPipeline,
    shifted: ShiftedPixels,
    key: PRNGKeyArray,
    num_worlds: int,
    num_steps: int,
    every: int,
    shuffle: bool = True,
) -> DrivingPairs:
    """Drive `num_worlds` fresh worlds for `num_steps` steps with `driver` (a privileged
    gp-agents policy, greedy) and record, every `every` steps, every live agent's pair of views
    and the driver's action. `shuffle` mixes the pairs (so `take(n)` spans all the states)."""
    if every < 1 or num_steps < every:
        raise ValueError(f"need 1 <= every <= num_steps, got every={every}, steps={num_steps}")

    def live_only(tree: Any, live: np.ndarray) -> Any:
        """[W, A, ...] -> [live agents, ...] on the host."""
        return jax.tree.map(lambda x: np.asarray(x).reshape(-1, *x.shape[2:])[live], tree)

    k_reset, k_drive, k_shuffle = jax.random.split(key, 3)
    states = jax.vmap(world.reset)(jax.random.split(k_reset, num_worlds))
    parts = []
    for k in jax.random.split(k_drive, num_steps // every):
        states, action, real, rendered = _capture_and_drive(
            world, driver, pixels, shifted, states, k, every
        )
        live = np.asarray(rendered.valid).reshape(-1)
        parts.append(live_only((real, rendered, action), live))
    real, rendered, action = jax.tree.map(lambda *xs: np.concatenate(xs), *parts)
    order = np.arange(action.shape[0])
    if shuffle:
        order = np.asarray(jax.random.permutation(k_shuffle, action.shape[0]))
    real, rendered, action = jax.tree.map(lambda x: jnp.asarray(x[order]), (real, rendered, action))
    return DrivingPairs(real, rendered, action)


@eqx.filter_jit
def _modes(student: Any, observations: Any) -> Array:
    return jax.vmap(lambda o: student.distribution_from_latent(student.latent(o)).mode())(
        observations
    )


def driving_agreement(student: Any, observations: Any, actions: Array, chunk: int = 256) -> float:
    """Share of observations where the student's most likely action is `actions` (the teacher's
    greedy action at that state), in chunks to bound memory."""
    n = int(actions.shape[0])
    hits = 0
    for start in range(0, n, chunk):
        part = jax.tree.map(lambda x, s=start: x[s : s + chunk], observations)
        hits += int(jnp.sum(_modes(student, part) == actions[start : start + chunk]))
    return hits / max(n, 1)
