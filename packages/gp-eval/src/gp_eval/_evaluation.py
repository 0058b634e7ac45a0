"""Evaluate several policies on the selected suites into one table (rows of metrics), and load
trained teachers from their run folders."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

import gp_world as gw
from gp_eval._baseline import BaselinePlanner
from gp_eval._closed_loop import evaluate_closed_loop
from gp_eval._navsim_scene import Scene, cut_scenes
from gp_eval._open_loop import evaluate_open_loop, forked_planner, reference_planner
from gp_eval._rollout import Policy, run_rollouts
from gp_eval.config import CLOSED_LOOP_SUITES, EvaluationConfig


@dataclasses.dataclass(frozen=True)
class Entry:
    """A row of the table: a closed-loop policy (obs, key) -> action and/or an open-loop
    trajectory planner scene -> f64[8, 3]; a missing one gives n/a in its suites."""

    policy: Policy | None = None
    planner: Callable[[Scene], np.ndarray] | None = None


def policy_from_module(module: Any, greedy: bool = True) -> Policy:
    """A gp-agents policy module (per-agent obs -> (distribution, value)) as a harness policy:
    the distribution's mode (greedy) or a sample, for every agent slot."""

    def act(obs: Any, key: jax.Array) -> jax.Array:
        dist, _ = jax.vmap(module)(obs)
        if greedy:
            return jax.vmap(lambda d: d.mode())(dist)
        keys = jax.random.split(key, obs.valid.shape[0])
        return jax.vmap(lambda d, k: d.sample(k))(dist, keys)

    return act


def evaluation_world(world_cfg: gw.WorldConfig, spawn_clearance: float = 8.0) -> gw.World:
    """The held-out maps of a world config, with respawns kept `spawn_clearance` m clear (a car
    respawned just ahead of a moving one is a crash no driver can avoid)."""
    cfg = dataclasses.replace(world_cfg, spawn_clearance=spawn_clearance)
    return gw.World(cfg, gw.build_map_bank(cfg, "heldout"))


def run_evaluation(
    world: gw.World,
    entries: Mapping[str, Entry],
    cfg: EvaluationConfig,
    on_closed_loop: Callable[[str, Any], None] | None = None,
) -> dict[str, dict[str, float]]:
    """Metrics per entry name over the suites of `cfg` (closed-loop family on `world` with
    `cfg.seeds`; navsim on scenes from a baseline self-play log). `on_closed_loop(name,
    result)` sees every closed-loop result (for videos)."""
    rows: dict[str, dict[str, float]] = {name: {} for name in entries}
    if any(s in CLOSED_LOOP_SUITES for s in cfg.suites):
        for name, entry in entries.items():
            if entry.policy is None:
                continue
            result = evaluate_closed_loop(world, entry.policy, cfg.closed_loop)
            rows[name].update(result.metrics)
            if on_closed_loop is not None:
                on_closed_loop(name, result)
    if "navsim" in cfg.suites:
        baseline = BaselinePlanner(
            world.config.action_space, world.config.dt, plans_in=cfg.baseline_plans_in
        )
        log = run_rollouts(
            world,
            baseline,
            baseline,
            cfg.seeds[: cfg.navsim_log_seeds],
            cfg.navsim_log_steps,
            with_observations=True,
        )
        scenes = cut_scenes(log, world.maps, max_scenes=cfg.navsim_scenes)
        for name, entry in entries.items():
            planner = entry.planner
            if planner is None and entry.policy is not None and cfg.navsim_fork_policies:
                planner = forked_planner(world, entry.policy, log)
            if planner is None or not scenes:
                continue
            out = evaluate_open_loop(
                scenes,
                world.maps,
                planner,
                world.config.town.lane_width,
                world.config.raster_resolution,
            )
            rows[name].update(out["metrics"])
    return rows


def baseline_entry(world: gw.World, plans_in: str | None = None) -> Entry:
    """The rule-based baseline: closed-loop planner and, open loop, the reference planner.
    `plans_in`: the action space it chooses in when not the world's (`BaselinePlanner`)."""
    planner = BaselinePlanner(world.config.action_space, world.config.dt, plans_in=plans_in)
    return Entry(planner, reference_planner)
