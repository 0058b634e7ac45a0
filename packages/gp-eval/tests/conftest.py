"""Shared fixtures: one baseline closed-loop run on a small held-out town, compiled once."""

import dataclasses

import pytest

import gp_world as gw
from gp_eval import BaselinePlanner, ClosedLoopConfig, evaluate_closed_loop

SEEDS = (0, 1)
STEPS = 300  # 30 s: enough for most 60-120 m routes, red lights included


@pytest.fixture(scope="session")
def town_run():
    """(world, baseline planner, ClosedLoopResult with observations recorded) on a 3x3-block
    held-out village with 8 cars."""
    # A respawn right in front of a moving car (default clearance 1 m) is a crash no driver can
    # avoid; evaluation worlds keep respawns 8 m clear so collisions measure the driving.
    # Cars only: a 2.6 m truck keeps only ~0.4 m to the road edge of a 3.5 m lane on the 0.5 m
    # drivable raster, which is the map's resolution rather than the planner's driving.
    cfg = dataclasses.replace(
        gw.WorldConfig.village(),
        action_space="continuous",
        spawn_clearance=8.0,
        num_maps=1,
        num_agents=8,
        kind_probs=(1.0, 0.0, 0.0, 0.0),
        route_length=(60.0, 120.0),
        routes_per_map=64,
    )
    world = gw.World(cfg, gw.build_map_bank(cfg, "heldout"))
    planner = BaselinePlanner("continuous", cfg.dt)
    run = ClosedLoopConfig(seeds=SEEDS, num_steps=STEPS, with_observations=True)
    return world, planner, evaluate_closed_loop(world, planner, run)
