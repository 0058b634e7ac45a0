"""NAVSIM-style open-loop scoring on a hand-built straight road, and on scenes cut from a log."""

import dataclasses

import numpy as np
import pytest

from gp_eval._navsim_scene import HISTORY, HORIZON, OBSERVATION_STEPS, NavsimMap, Scene, cut_scenes
from gp_eval._open_loop import (
    constant_velocity_planner,
    evaluate_open_loop,
    forked_planner,
    logged_planner,
    reference_planner,
    score_frame,
)


def _road() -> NavsimMap:
    """Two-lane straight road along +x: our lane centred on y = 0, the oncoming one on y = 3.5."""
    xs = np.arange(-40.0, 250.0, 2.0)
    ours = np.stack([xs, np.zeros_like(xs), np.zeros_like(xs), np.full_like(xs, 10.0)], -1)
    theirs = np.stack([xs, np.full_like(xs, 3.5), np.full_like(xs, np.pi), ours[:, 3]], -1)
    ys = -10.0 + 0.5 * (np.arange(40) + 0.5)  # texel centres
    drivable = np.broadcast_to(((ys >= -1.75) & (ys <= 5.25))[:, None], (40, 600)).copy()
    return NavsimMap(
        lane_points=np.concatenate([ours, theirs]),
        lane_point_lane=np.repeat(np.array([0, 1]), xs.size),
        lane_is_connector=np.array([False, False]),
        lane_width=3.5,
        drivable=drivable,
        origin=np.array([-50.0, -10.0]),
        resolution=0.5,
    )


def _scene(obstacle_x=None, speed=8.0) -> Scene:
    t_hist = -0.1 * np.arange(HISTORY, 0, -1)
    t_fut = 0.1 * np.arange(HORIZON + 1)
    zeros = np.zeros(HORIZON + 1)
    valid = np.full((OBSERVATION_STEPS, 1), obstacle_x is not None)
    return Scene(
        seed=0,
        slot=0,
        step=HISTORY + 1,
        map_id=0,
        length=4.5,
        width=1.8,
        state=np.array([0.0, 0.0, 0.0, speed, 0.0, 0.0]),
        history=np.stack([speed * t_hist, 0 * t_hist, 0 * t_hist, 0 * t_hist], -1),
        human=np.stack([speed * t_fut, zeros, zeros, np.full(HORIZON + 1, speed)], -1),
        centerline=np.stack([np.linspace(-20, 240, 131), np.zeros(131)], -1),
        objects_xy=np.tile([[[obstacle_x or 0.0, 0.0]]], (OBSERVATION_STEPS, 1, 1)),
        objects_yaw=np.zeros((OBSERVATION_STEPS, 1)),
        objects_speed=np.zeros((OBSERVATION_STEPS, 1)),
        objects_size=np.array([[4.5, 1.8]]),
        objects_valid=valid,
        red_stops=np.zeros((0, 2)),
        red_state=np.zeros((OBSERVATION_STEPS, 0), bool),
        observation=None,
    )


def test_free_road_progress_against_reference():
    scene = _scene()
    out, _ = score_frame(scene, _road(), constant_velocity_planner(scene))
    # 4 s at 8 m/s = 32 m; the reference accelerates toward the 10 m/s limit and goes further,
    # so EP = 32/(reference progress) < 1, and PDMS = (5·TTC + 5·EP + 2·C)/12.
    assert out["v1_raw_progress"] == pytest.approx(32.0, abs=0.5)
    assert 0.8 < out["v1_ep"] < 1.0
    assert (out["v1_nc"], out["v1_dac"], out["v1_ttc"]) == (1.0, 1.0, 1.0)
    want = (5 * out["v1_ttc"] + 5 * out["v1_ep"] + 2 * out["v1_c"]) / 12
    assert out["pdms"] == pytest.approx(want)
    assert np.isnan(out["v2_ec"])  # no previous frame: EC's weight drops (denominator 14)
    want_v2 = (5 * out["v2_ep"] + 5 * out["v2_ttc"] + 2 * out["v2_lk"] + 2 * out["v2_hc"]) / 14
    assert out["epdms"] == pytest.approx(want_v2)


def test_hitting_a_parked_car_and_leaving_the_road():
    scene = _scene(obstacle_x=20.0)
    out, _ = score_frame(scene, _road(), constant_velocity_planner(scene))
    # Driving at 8 m/s into a stopped car 20 m ahead: an at-fault STOPPED_TRACK hit → NC 0.
    assert out["v1_nc"] == 0.0 and out["pdms"] == 0.0
    # The logged human of this scene drove into it as well, so v2's false-positive filter sets
    # the agent's NC to 1 (the human scored exactly 0).
    assert out["v2_nc"] == 1.0 and out["epdms"] > 0.0
    # A human that stopped 8 m short: no forgiveness.
    stop_x = np.minimum(8.0 * 0.1 * np.arange(HORIZON + 1), 8.0)
    human = np.stack([stop_x, 0 * stop_x, 0 * stop_x, np.gradient(stop_x, 0.1)], -1)
    out, _ = score_frame(
        dataclasses.replace(scene, human=human), _road(), constant_velocity_planner(scene)
    )
    assert out["v2_nc"] == 0.0 and out["epdms"] == 0.0
    free = _scene()
    swerve = np.stack([4.0 * np.arange(1, 9), -0.9 * np.arange(1, 9) ** 1.2, np.zeros(8)], -1)
    out, _ = score_frame(free, _road(), swerve)
    assert out["v1_dac"] == 0.0 and out["pdms"] == 0.0  # right corners leave y >= -1.75


def test_wrong_way_in_the_oncoming_lane():
    scene = _scene()
    plan = np.stack(
        [4.0 * np.arange(1, 9), np.minimum(1.2 * np.arange(1, 9), 3.5), np.zeros(8)], -1
    )
    out, _ = score_frame(scene, _road(), plan)
    # Several metres per second with the centre in the oncoming lane: DDC 0 in v2 (a multiplier)
    # while v1 ignores DDC (weight 0).
    assert out["v2_ddc"] == 0.0 and out["epdms"] == 0.0
    assert out["pdms"] > 0.0


def test_plan_shape_is_checked():
    with pytest.raises(ValueError, match="plan"):
        score_frame(_scene(), _road(), np.zeros((6, 3)))


def test_scenes_from_a_log(town_run):
    world, _, result = town_run
    scenes = cut_scenes(result.record, world.maps, max_scenes=3)
    assert len(scenes) == 3
    cfg = world.config
    args = (cfg.town.lane_width, cfg.raster_resolution)
    ref = evaluate_open_loop(scenes, world.maps, reference_planner, *args)["metrics"]
    log = evaluate_open_loop(scenes, world.maps, logged_planner, *args)["metrics"]
    # The reference planner scored against itself makes the most progress (EP ≈ 1); the
    # baseline's own log drove those scenes without incident.
    assert ref["v2_ep"] > 0.95
    assert log["v1_nc"] == 1.0 and log["v1_dac"] == 1.0
    assert 0.0 <= log["pdms"] <= 1.0 and 0.0 <= log["epdms"] <= 1.0
    # Scenes come in consecutive pairs, so extended comfort is scored on some frames.
    assert np.isfinite(log["v2_ec"])


def test_forked_baseline_replays_its_own_log(town_run):
    # Forking the recorded world at a scene and letting the (deterministic) baseline drive
    # everyone again reproduces the logged future: the fork restores the exact world state.
    world, planner, result = town_run
    scene = cut_scenes(result.record, world.maps, max_scenes=1)[0]
    plan = forked_planner(world, planner, result.record)(scene)
    # 1 cm: the same program, compiled unbatched instead of vmapped over seeds.
    np.testing.assert_allclose(plan, logged_planner(scene), atol=1e-2)
