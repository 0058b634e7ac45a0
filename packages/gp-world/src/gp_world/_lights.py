"""Traffic lights: two signal groups (phases) per intersection, each green, yellow, all-red.

The cycle of intersection i is
  [phase 0 green g0][yellow][all red][phase 1 green g1][yellow][all red]
with g0, g1 sampled per world, a random start offset, and Gigaflow-style randomisation:
lights removed per intersection, or every light of a world frozen green.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from gp_world._random import uniform
from gp_world.config import WorldConfig

RED, YELLOW, GREEN, NO_LIGHT = 0, 1, 2, 3


def fmod_positive(x: Array, period: Array | float) -> Array:
    """x modulo period in [0, period); floor-based because XLA's float remainder is ~20x slower
    on CPU."""
    return x - jnp.floor(x / period) * period


NUM_LIGHT_STATES = 4


class Lights(eqx.Module):
    """Per world: timer f32[I] (s into the cycle), green durations f32[I, 2], masks."""

    timer: Float[Array, " I"]
    green: Float[Array, "I 2"]
    has_light: Bool[Array, " I"]
    frozen_green: Bool[Array, ""]


def reset_lights(key: Array, cfg: WorldConfig, intersections_valid: Bool[Array, " I"]) -> Lights:
    n = intersections_valid.shape[0]
    u = uniform(key, (n + 1, 4))  # one PRNG call: small compiled graph
    lo, hi = cfg.light_green
    green = lo + u[:n, :2] * (hi - lo)
    cycle = green.sum(-1) + 2 * (cfg.light_yellow + cfg.light_all_red)
    timer = u[:n, 2] * cycle
    removed = u[:n, 3] < cfg.remove_light_prob
    frozen = u[n, 0] < cfg.freeze_green_prob
    return Lights(timer, green, intersections_valid & ~removed, frozen)


def step_lights(lights: Lights, cfg: WorldConfig) -> Lights:
    cycle = lights.green.sum(-1) + 2 * (cfg.light_yellow + cfg.light_all_red)
    return eqx.tree_at(lambda s: s.timer, lights, fmod_positive(lights.timer + cfg.dt, cycle))


def light_state(
    lights: Lights, intersection: Int[Array, "..."], phase: Int[Array, "..."], cfg: WorldConfig
) -> Int[Array, "..."]:
    """State (RED, YELLOW, GREEN, NO_LIGHT) of signal groups (intersection, phase), any shape."""
    i = jnp.maximum(intersection, 0)
    t = lights.timer[i]
    g0, g1 = lights.green[i, 0], lights.green[i, 1]
    y, r = cfg.light_yellow, cfg.light_all_red
    # Time since this phase's green began, modulo the cycle.
    start = jnp.where(phase == 0, 0.0, g0 + y + r)
    cycle = g0 + g1 + 2 * (y + r)
    tt = fmod_positive(t - start, cycle)
    g = jnp.where(phase == 0, g0, g1)
    state = jnp.where(tt < g, GREEN, jnp.where(tt < g + y, YELLOW, RED))
    state = jnp.where(lights.frozen_green, GREEN, state)
    has = lights.has_light[i] & (intersection >= 0)
    return jnp.where(has, state, NO_LIGHT).astype(jnp.int32)
