"""Closed-loop harness with the baseline driving every agent (one shared compiled rollout)."""

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

import gp_world as gw
from gp_eval import (
    BaselinePlanner,
    ClosedLoopConfig,
    carla,
    evaluate_closed_loop,
    policy_slots,
    run_rollouts,
)

from .conftest import SEEDS, STEPS


@pytest.fixture(scope="module")
def baseline_run(town_run):
    _, planner, result = town_run
    return planner, result


@pytest.fixture(scope="module")
def town_world(town_run):
    return town_run[0]


def test_baseline_completes_routes_without_incidents(baseline_run):
    _, result = baseline_run
    m = result.metrics
    assert m["routes"] == len(SEEDS) * 8  # every slot's first route is scored
    assert m["collisions_per_km"] == 0.0
    assert m["offroad_per_km"] == 0.0
    assert m["red_lights_per_km"] == 0.0
    # Routes can still be running at the horizon; the finished ones reached their goals.
    assert m["goal_rate"] >= 0.8
    assert m["route_completion"] >= 0.9
    assert m["km_between_incidents_lower_bound"] == 1.0


def test_route_scores_follow_their_definitions(baseline_run):
    _, result = baseline_run
    routes = result.routes
    # CARLA: the global DS is the mean over routes of RC × IP, recomputed from the episodes.
    firsts = [e for e in result.episodes if e.first and e.by_policy]
    want = np.mean([100.0 * e.route_completion for e in firsts])  # no infractions: IP = 1
    assert result.metrics["carla_driving_score"] == pytest.approx(want)
    assert result.metrics["carla_driving_score"] == pytest.approx(
        np.mean([r["carla_ds"] for r in routes])
    )
    for r in routes:
        # HUGSIM: frame score means times Rc; nuPlan: multipliers × weighted sum / 16.
        assert r["hugsim_hdscore"] == pytest.approx(r["hugsim_pdms"] * r["hugsim_rc"])
        weighted = (
            5 * r["nuplan_ep"] + 5 * r["nuplan_ttc"] + 4 * r["nuplan_slc"] + 2 * r["nuplan_c"]
        )
        mult = r["nuplan_nc"] * r["nuplan_dac"] * r["nuplan_ddc"] * (r["nuplan_ep"] >= 0.2)
        assert r["nuplan_cls"] == pytest.approx(mult * weighted / 16)


def test_rollouts_are_deterministic(town_world, baseline_run):
    planner, result = baseline_run
    again = run_rollouts(town_world, planner, planner, SEEDS, STEPS, with_observations=True)
    np.testing.assert_array_equal(again.x, result.record.x)
    np.testing.assert_array_equal(again.collision, result.record.collision)


def test_policy_slots():
    np.testing.assert_array_equal(policy_slots(4, 0.5), [True, True, False, False])
    assert policy_slots(4, 0.01).sum() == 1  # at least one slot is the policy's
    with pytest.raises(ValueError, match="policy_fraction"):
        policy_slots(4, 0.0)


def test_carla_route_record_from_episode(baseline_run):
    _, result = baseline_run
    ep = next(e for e in result.episodes if e.first)
    route = carla.RouteResult(100.0 * ep.route_completion, length_m=ep.route_length)
    assert carla.route_driving_score(route) == pytest.approx(100.0 * ep.route_completion)


def test_baseline_waits_at_red_lights(baseline_run):
    _, result = baseline_run
    obs = result.record.observation
    stops = np.asarray(obs.stop_lines)[..., 0, :]  # nearest stop line on the route
    valid = np.asarray(obs.stop_lines_valid)[..., 0]
    red_close = valid & (stops[..., 3] > 0.5) & (stops[..., 0] < 8.0)
    waiting = red_close & (np.asarray(result.record.speed) < 0.5)
    # Agents met red lights within 8 m and stood still there, and none was run.
    assert waiting.sum() > 10
    assert result.metrics["red_lights_per_km"] == 0.0


@pytest.mark.slow
def test_policy_on_a_subset_baseline_on_the_rest(town_world):
    # A policy that brakes to a stop drives half the slots; the baseline drives the others.
    def stand_still(obs, key):
        return jnp.broadcast_to(jnp.asarray([-3.0, 0.0], jnp.float32), (obs.valid.shape[0], 2))

    cfg = ClosedLoopConfig(seeds=(0,), num_steps=100, policy_fraction=0.5)
    result = evaluate_closed_loop(town_world, stand_still, cfg)
    np.testing.assert_array_equal(result.record.by_policy[0], policy_slots(8, 0.5))
    assert result.metrics["routes"] == 4  # only the policy's slots are scored
    assert result.metrics["route_completion"] < 0.2


class _ObservingPolicy:
    """A policy with its own observation: it 'sees' a constant braking command and obeys it."""

    def observe(self, world, state):
        return jnp.tile(jnp.asarray([[-3.0, 0.0]]), (world.config.num_agents, 1))

    def __call__(self, observation, key):
        return observation


def test_policies_with_their_own_observation(town_world):
    # The harness feeds a policy's `observe(world, state)` to it instead of the privileged
    # observation (how a pixel student sees its cameras): equal to a constant brake.
    def brake(observation, key):
        return jnp.tile(jnp.asarray([[-3.0, 0.0]]), (observation.valid.shape[0], 1))

    seeds = SEEDS[:1]
    own = run_rollouts(town_world, _ObservingPolicy(), brake, seeds, 20)
    plain = run_rollouts(town_world, brake, brake, seeds, 20)
    np.testing.assert_array_equal(own.x, plain.x)
    np.testing.assert_array_equal(own.speed, plain.speed)


def test_baseline_planning_in_the_grid_drives_the_twin_as_the_grid_world(town_world, baseline_run):
    # A grid policy driven by its expected action runs in its grid world's continuous twin. A
    # baseline choosing grid cells there plays their (accel, steer) values, which move every car
    # bit for bit as the grid world does: its row, its background traffic and its NAVSIM log
    # stay the grid world's.
    grid_cfg = dataclasses.replace(town_world.config, action_space="accel_steer_grid")
    grid = gw.World(grid_cfg, town_world.maps)
    in_grid = BaselinePlanner("accel_steer_grid", grid_cfg.dt)
    in_twin = BaselinePlanner("continuous", grid_cfg.dt, plans_in="accel_steer_grid")
    steps = 150
    by_grid = run_rollouts(grid, in_grid, in_grid, SEEDS[:1], steps)
    by_twin = run_rollouts(town_world, in_twin, in_twin, SEEDS[:1], steps)
    for field in ("x", "y", "yaw", "speed", "accel", "collision", "done", "route"):
        np.testing.assert_array_equal(getattr(by_twin, field), getattr(by_grid, field), field)
    # The continuous baseline, in the same world from the same seed, drives otherwise.
    _, continuous = baseline_run
    assert not np.array_equal(continuous.record.x[:1, :steps], by_twin.x)
