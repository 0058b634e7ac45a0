"""Closed-loop rollouts: step a gp-world with a policy on some agent slots and the baseline on the
rest, recording everything the metric suites need (one jitted scan per world, vmapped over seeds).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

import gp_world as gw

Policy = Callable[[Any, Array], Array]
"""(observation [A, ...], key) -> action [A, ...]. The observation is the world's privileged one,
or what the policy's own `observe(world, state)` returns when it defines one (pixels)."""


class RolloutRecord(eqx.Module):
    """Per step and agent slot, f32/i32/bool[T, A] (leading seed axis when batched).

    Poses `x, y, yaw` and `speed, accel, lat_accel` are *after* the step's motion and before any
    respawn (so a crash is recorded where it happened); `route_s_before` is the arc length along
    the route before the step. `partner` is the slot of the first agent whose box overlaps this
    one after the motion (-1: none). `live` is StepOutput.valid, `done` StepOutput.done.
    """

    x: Float[Array, "T A"]
    y: Float[Array, "T A"]
    yaw: Float[Array, "T A"]
    speed: Float[Array, "T A"]
    accel: Float[Array, "T A"]
    lat_accel: Float[Array, "T A"]
    length: Float[Array, "T A"]
    width: Float[Array, "T A"]
    kind: Int[Array, "T A"]
    route: Int[Array, "T A"]
    route_s_before: Float[Array, "T A"]
    route_length: Float[Array, "T A"]
    speed_limit: Float[Array, "T A"]
    lateral: Float[Array, "T A"]
    live: Bool[Array, "T A"]
    done: Bool[Array, "T A"]
    collision: Bool[Array, "T A"]
    offroad: Bool[Array, "T A"]
    red_light: Bool[Array, "T A"]
    wrong_way: Bool[Array, "T A"]
    goal_reached: Bool[Array, "T A"]
    timeout: Bool[Array, "T A"]
    distance: Float[Array, "T A"]
    progress: Float[Array, "T A"]
    reward: Float[Array, "T A"]
    partner: Int[Array, "T A"]
    stop_line_state: Int[Array, "T S"]  # light state (gw.RED...) of every stop line, pre-step
    observation: Any  # PrivilegedObservation [T, A, ...] before each step, or None
    world_state: Any  # WorldState before each step (key as raw key data), or None
    by_policy: Bool[Array, " A"]
    map_id: Int[Array, ""]


def _storable(state: gw.WorldState) -> gw.WorldState:
    """The state with its typed PRNG key as raw key data, so records convert to numpy."""
    return eqx.tree_at(lambda s: s.key, state, jax.random.key_data(state.key))


def restore_state(stored: Any, seed_index: int, step: int) -> gw.WorldState:
    """The world state before `step` of seed `seed_index` from a record's `world_state`."""
    one = jax.tree.map(lambda v: jnp.asarray(np.asarray(v)[seed_index, step]), stored)
    return eqx.tree_at(lambda s: s.key, one, jax.random.wrap_key_data(one.key))


def policy_slots(num_agents: int, policy_fraction: float) -> np.ndarray:
    """bool[A]: which slots the evaluated policy drives (the first round(fraction·A); >= 1)."""
    if not 0.0 < policy_fraction <= 1.0:
        raise ValueError(f"policy_fraction must be in (0, 1], got {policy_fraction}")
    count = max(1, round(policy_fraction * num_agents))
    return np.arange(num_agents) < count


def policy_observation(policy: Any, world: gw.World, state: Any, privileged: Any) -> Any:
    """What `policy` sees: its own `observe(world, state)` when it has one (a pixel student
    renders its cameras), else the world's privileged observation."""
    observe = getattr(policy, "observe", None)
    return privileged if observe is None else observe(world, state)


def rollout(
    world: gw.World,
    policy: Policy,
    baseline: Policy,
    by_policy: Bool[Array, " A"],
    key: Array,
    num_steps: int,
    map_id: int | Array | None = None,
    with_observations: bool = False,
) -> RolloutRecord:
    """Run one world for `num_steps` steps (pure; jit/vmap it). Slots with `by_policy` take the
    policy's action, the others the baseline's. `with_observations` also keeps every step's
    observation (for open-loop scenes)."""
    k_reset, k_run = jax.random.split(key)
    state = world.reset(k_reset, map_id)
    cfg = world.config

    def one_step(state, step_key):
        obs = world.observe(state)
        act_policy = policy(policy_observation(policy, world, state, obs), step_key)
        act_base = baseline(obs, step_key)
        mask = by_policy.reshape(by_policy.shape + (1,) * (act_policy.ndim - 1))
        action = jnp.where(mask, act_policy, act_base)
        before = state.agents
        moved = gw.forward(before.kinematics, action, cfg.action_space, cfg.dt)
        live = before.valid
        overlap = gw.boxes_overlap(moved.x, moved.y, moved.yaw, before.length, before.width)
        overlap = overlap & live[:, None] & live[None, :]
        partner = jnp.where(overlap.any(-1), jnp.argmax(overlap, -1), -1).astype(jnp.int32)
        new_state, out = world.step(state, action)
        maps, m = world.maps, state.map_id
        lights = gw.light_state(
            state.lights, maps.stop_line_intersection[m], maps.stop_line_phase[m], cfg
        )
        ev = out.events
        rec = RolloutRecord(
            x=moved.x,
            y=moved.y,
            yaw=moved.yaw,
            speed=moved.speed,
            accel=moved.accel,
            lat_accel=moved.lat_accel,
            length=before.length,
            width=before.width,
            kind=before.kind,
            route=before.route,
            route_s_before=before.route_s,
            route_length=before.route_length,
            speed_limit=obs.ego[:, 6],
            lateral=obs.ego[:, 7],
            live=out.valid,
            done=out.done,
            collision=ev.collision,
            offroad=ev.offroad,
            red_light=ev.red_light,
            wrong_way=ev.wrong_way,
            goal_reached=ev.goal_reached,
            timeout=ev.timeout,
            distance=out.distance,
            progress=out.progress,
            reward=out.reward,
            partner=partner,
            stop_line_state=lights,
            observation=obs if with_observations else None,
            world_state=_storable(state) if with_observations else None,
            by_policy=by_policy,
            map_id=state.map_id,
        )
        return new_state, rec

    _, rec = jax.lax.scan(one_step, state, jax.random.split(k_run, num_steps))
    # Per-rollout constants were stacked over time by the scan; keep one copy.
    return eqx.tree_at(lambda r: (r.by_policy, r.map_id), rec, (by_policy, rec.map_id[0]))


@eqx.filter_jit
def _batched_rollouts(
    world, policy, baseline, by_policy, keys, maps, num_steps: int, with_observations: bool
):
    # filter_jit keys its cache on the world config, the policy's structure and the shapes, so a
    # second evaluation of the same kind of policy on the same kind of world does not recompile.
    return jax.vmap(
        lambda k, m: rollout(
            world, policy, baseline, by_policy, k, num_steps, m, with_observations
        ),
    )(keys, maps)


def run_rollouts(
    world: gw.World,
    policy: Policy,
    baseline: Policy,
    seeds: tuple[int, ...],
    num_steps: int,
    policy_fraction: float = 1.0,
    with_observations: bool = False,
) -> RolloutRecord:
    """One world per seed (map `seed mod num_maps`), batched with vmap; host numpy record with a
    leading seed axis. Same seed and config give the same record."""
    by_policy = jnp.asarray(policy_slots(world.config.num_agents, policy_fraction))
    keys = jnp.stack([jax.random.key(s) for s in seeds])
    maps = jnp.asarray([s % world.maps.num_maps for s in seeds], jnp.int32)
    record = _batched_rollouts(
        world, policy, baseline, by_policy, keys, maps, int(num_steps), bool(with_observations)
    )
    return jax.tree.map(np.asarray, record)
