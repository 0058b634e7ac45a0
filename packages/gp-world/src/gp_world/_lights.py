"""Traffic lights: two signal groups (phases) per intersection, each green, yellow, all-red.

The cycle of intersection i is
  [phase 0 green g0][yellow][all red][phase 1 green g1][yellow][all red]
with g0, g1 sampled per world, a random start offset, and Gigaflow-style randomisation:
lights removed per intersection, or every light of a world frozen green.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from gp_world._random import uniform
from gp_world.config import WorldConfig

if TYPE_CHECKING:
    from gp_world._agents import Agents
    from gp_world._map_bank import MapBank

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
    return light_state_and_age(lights, intersection, phase, cfg)[0]


FROZEN_LIGHT_AGE = 1e3  # s: the age reported for a light frozen green


def light_state_and_age(
    lights: Lights, intersection: Int[Array, "..."], phase: Int[Array, "..."], cfg: WorldConfig
) -> tuple[Int[Array, "..."], Float[Array, "..."]]:
    """(state, seconds the group has shown that state) of signal groups, any shape: what a
    driver who saw the light change knows (a yellow shown for 2.5 s of the 3 turns red soon).
    A light frozen green reports `FROZEN_LIGHT_AGE`; no light, 0."""
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
    age = jnp.where(tt < g, tt, jnp.where(tt < g + y, tt - g, tt - g - y))
    state = jnp.where(lights.frozen_green, GREEN, state)
    age = jnp.where(lights.frozen_green, FROZEN_LIGHT_AGE, age)
    has = lights.has_light[i] & (intersection >= 0)
    return jnp.where(has, state, NO_LIGHT).astype(jnp.int32), jnp.where(has, age, 0.0)


def next_stop_line(
    agents: Agents,
    s: Array,
    at_s_is_passed: bool,
    lights: Lights,
    maps: MapBank,
    m: Array,
    cfg: WorldConfig,
) -> tuple[Array, Array, Array]:
    """(arc length, stop line index (-1: none), light state) of the next stop line on each
    agent's route beyond arc length `s` (a line exactly at `s` counts as passed if
    `at_s_is_passed`). Agents of any batch shape (...)."""
    stop_s = maps.route_stop_s[m, agents.route]  # [..., RL], ascending, padded far away
    passed = stop_s <= s[..., None] if at_s_is_passed else stop_s < s[..., None]
    k = jnp.minimum(passed.sum(-1), stop_s.shape[-1] - 1).astype(jnp.int32)
    next_s = jnp.take_along_axis(stop_s, k[..., None], axis=-1)[..., 0]
    line = maps.route_stop_line[m, agents.route, k]
    safe_line = jnp.maximum(line, 0)
    state = light_state(
        lights,
        jnp.where(line >= 0, maps.stop_line_intersection[m, safe_line], -1),
        maps.stop_line_phase[m, safe_line],
        cfg,
    )
    return next_s, line, state


def stopping_speed(distance: Array, decel: float) -> Array:
    """Highest speed from which braking at `decel` stops within `distance` (0 when <= 0)."""
    return jnp.sqrt(2.0 * decel * jnp.maximum(distance, 0.0))


def light_ahead(
    agents: Agents, lights: Lights, maps: MapBank, m: Array, cfg: WorldConfig
) -> tuple[Array, Array, Array, Array]:
    """The next stop line on each agent's route (any batch shape): (metres from the front
    bumper to it, its index (-1: none), its light state, whether the agent could still stop
    before it braking at twice `safe_decel`). The last is what makes a yellow binding for the
    safe speed, and what `spawn_can_stop` asks of a new agent."""
    next_s, line, state = next_stop_line(agents, agents.route_s, False, lights, maps, m, cfg)
    to_line = next_s - agents.route_s - 0.5 * agents.length
    can_stop = agents.speed <= stopping_speed(to_line, 2.0 * cfg.safe_decel)
    return to_line, line, state, can_stop


def can_stop_for_light(
    agents: Agents, lights: Lights, maps: MapBank, m: Array, cfg: WorldConfig
) -> Bool[Array, "..."]:
    """Agents (any batch shape) whose route's next stop line shows green or no light, or who
    could still stop before it (`light_ahead`)."""
    _, line, state, can_stop = light_ahead(agents, lights, maps, m, cfg)
    return (line < 0) | (state == GREEN) | (state == NO_LIGHT) | can_stop
