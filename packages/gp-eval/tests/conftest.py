"""Shared fixtures: one baseline closed-loop run on the toy world, compiled once per session."""

import dataclasses

import pytest

import gp_world as gw
from gp_eval import BaselinePlanner, ClosedLoopConfig, evaluate_closed_loop

SEEDS = (0, 1)
STEPS = 200  # 20 s: every toy route (40-150 m) can be finished at the 8 m/s ring limit


@pytest.fixture(scope="session")
def toy_run():
    """(world, baseline planner, ClosedLoopResult with observations recorded)."""
    # A respawn right in front of a moving car (default clearance 1 m) is a crash no driver can
    # avoid; evaluation worlds keep respawns 8 m clear so collisions measure the driving.
    cfg = dataclasses.replace(gw.WorldConfig.toy(), action_space="continuous", spawn_clearance=8.0)
    world = gw.World(cfg, gw.build_map_bank(cfg, "heldout"))
    planner = BaselinePlanner("continuous", cfg.dt)
    run = ClosedLoopConfig(seeds=SEEDS, num_steps=STEPS, with_observations=True)
    return world, planner, evaluate_closed_loop(world, planner, run)
