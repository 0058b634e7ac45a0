"""Workloads for `scripts/bench.py world`: agent-steps/s of the batched world step.

Two measurements per (map size, worlds, agents): `step+events` (dynamics, route tracking,
collisions, off-road, lights, reward, respawn) and `step+events+obs` (the same plus the full
privileged observation of every agent, reduced to a checksum so nothing is dead code).
Each call runs `STEPS_PER_CALL` steps in one jitted scan, vmapped over worlds.
Village worlds are also timed with the safe speed on (`step+events`, `safe_speed`): "corridor"
weights the overspeed term (red lights and the agent ahead, as the `demo` teacher preset does),
"crossing" adds crossing traffic (`conflict_horizon` 3 s).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import equinox as eqx
import jax
import jax.numpy as jnp
from bench_harness import Workload

import gp_world as gw

STEPS_PER_CALL = 10

SIZES = {
    "cpu": [(1, 32), (64, 32), (256, 64)],
    "gpu": [(256, 64), (4096, 64)],
}


SAFE_SPEED = {
    "off": {},
    "corridor": {"reward_overspeed": (0.01, 0.01)},
    "crossing": {"reward_overspeed": (0.01, 0.01), "conflict_horizon": 3.0},
}


def _config(town: str, agents: int, safe_speed: str = "off") -> gw.WorldConfig:
    base = gw.WorldConfig.village() if town == "village" else gw.WorldConfig.city()
    return dataclasses.replace(
        base, num_maps=2, routes_per_map=256, num_agents=agents, **SAFE_SPEED[safe_speed]
    )


def _workload(
    world: gw.World, town: str, worlds: int, observe: bool, safe_speed: str = "off"
) -> Workload:
    cfg = world.config
    key = jax.random.key(0)
    states = eqx.filter_jit(lambda w, k: jax.vmap(w.reset)(jax.random.split(k, worlds)))(world, key)
    # Random discrete actions, drawn once: the benchmark times the world, not the sampler.
    actions = jax.random.randint(jax.random.key(1), (STEPS_PER_CALL, worlds, cfg.num_agents), 0, 12)

    @eqx.filter_jit
    def rollout(world: gw.World, states: gw.WorldState, actions: jax.Array):
        def body(carry, action):
            states, checksum = carry
            states, out = jax.vmap(world.step)(states, action)
            checksum = checksum + out.reward.sum()
            if observe:
                obs = jax.vmap(world.observe)(states)
                for leaf in jax.tree.leaves(obs):
                    checksum = checksum + leaf.sum().astype(jnp.float32)
            return (states, checksum), None

        (states, checksum), _ = jax.lax.scan(body, (states, jnp.float32(0)), actions)
        return states, checksum

    items = STEPS_PER_CALL * worlds * cfg.num_agents
    flops = bytes_accessed = None
    try:
        lowered = rollout.lower(world, states, actions)  # type: ignore[attr-defined]  # jitted
        compiled = lowered.compile()
        compiled = getattr(compiled, "compiled", compiled)  # equinox wraps jax's Compiled
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        flops = float(cost.get("flops", 0.0)) / items or None
        bytes_accessed = float(cost.get("bytes accessed", 0.0)) / items or None
    except Exception:  # cost analysis is best effort and backend dependent
        pass
    holder = {"states": states}

    def run():
        holder["states"], checksum = rollout(world, holder["states"], actions)
        return checksum

    return Workload(
        benchmark="world",
        config={
            "town": town,
            "worlds": worlds,
            "agents": cfg.num_agents,
            "observation": observe,
            "safe_speed": safe_speed,
            "steps_per_call": STEPS_PER_CALL,
        },
        backend="xla",
        item="agent_step",
        items_per_call=items,
        run=run,
        flops_per_item=flops,
        bytes_per_item=bytes_accessed,
    )


def workloads(preset: str) -> Iterator[Workload]:
    """step+events and step+events+obs for village and city maps at the preset's sizes."""
    if preset not in SIZES:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(SIZES)}")
    for town in ("village", "city"):
        bank = gw.build_map_bank(_config(town, 1))  # maps do not depend on the agent count
        for worlds, agents in SIZES[preset]:
            world = gw.World(_config(town, agents), bank)
            for observe in (False, True):
                yield _workload(world, town, worlds, observe)
            if town == "village":
                for safe_speed in ("corridor", "crossing"):
                    hazard_world = gw.World(_config(town, agents, safe_speed), bank)
                    yield _workload(hazard_world, town, worlds, False, safe_speed)
