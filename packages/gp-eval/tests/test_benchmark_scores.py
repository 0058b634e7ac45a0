"""CARLA, HUGSIM, nuPlan, Waymax-style and robustness scores on hand-worked cases."""

import math

import numpy as np
import pytest

from gp_eval import carla, hugsim, nuplan, robustness, waymax


def test_carla_penalties_multiply_per_route_and_average_over_routes():
    a = carla.RouteResult(100.0, ("collision_vehicle", "collision_vehicle"), length_m=1000.0)
    b = carla.RouteResult(50.0, ("red_light",), length_m=1000.0)
    # Route a: 100·0.6² = 36; route b: 50·0.7 = 35; DS = (36 + 35)/2 = 35.5. The product of the
    # means, 75 · (0.36 + 0.7)/2 = 39.75, is not the leaderboard's number.
    assert carla.route_driving_score(a) == pytest.approx(36.0)
    got = carla.driving_score([a, b])
    assert got["driving_score"] == pytest.approx(35.5)
    assert got["route_completion"] == pytest.approx(75.0)
    assert got["infraction_penalty"] == pytest.approx(0.53)


def test_carla_scaled_penalties():
    # Pedestrian 0.5 × outside lanes 20 % (0.8) × one min-speed checkpoint at 50 %
    # (1 - 0.3·0.5 = 0.85) = 0.34 in 2.x; LB 1.0 has no min-speed term: 0.4.
    r = carla.RouteResult(80.0, ("collision_pedestrian",), 20.0, (50.0,))
    assert carla.infraction_penalty(r, "2.x") == pytest.approx(0.34)
    assert carla.infraction_penalty(r, "1.0") == pytest.approx(0.4)
    assert carla.route_driving_score(r, "2.x") == pytest.approx(27.2)
    with pytest.raises(ValueError, match="scenario_timeout"):
        carla.infraction_penalty(carla.RouteResult(10.0, ("scenario_timeout",)), "1.0")


def test_carla_infractions_per_km():
    a = carla.RouteResult(100.0, ("collision_vehicle",), length_m=1000.0)
    b = carla.RouteResult(50.0, ("collision_vehicle",), length_m=1000.0)
    # 2.x: 2 events / (1 km + 0.5 km) = 4/3; LB 1.0 sums route rates: 1/1 + 1/0.5 = 3.
    assert carla.infractions_per_km([a, b], "collision_vehicle", "2.x") == pytest.approx(4 / 3)
    assert carla.infractions_per_km([a, b], "collision_vehicle", "1.0") == pytest.approx(3.0)


def test_carla_collision_deduplication():
    time = np.array([0.0, 0.1, 3.0, 6.0, 7.0, 8.0])
    other = np.array([7, 7, 7, 7, 9, 9])
    loc = np.array([[0, 0], [0.5, 0], [10, 0], [20, 0], [22, 0], [40, 0]], float)
    speed = np.array([5.0, 5.0, 5.0, 5.0, 5.0, 0.05])
    # 0: counted. 1: same actor within 5 s. 2: same actor within 5 s (3 s later). 3: 6 s later and
    # 20 m away → counted. 4: other actor but 2 m from the last event → ignored. 5: ego stopped.
    np.testing.assert_array_equal(
        carla.count_collisions(time, other, loc, speed), [1, 0, 0, 1, 0, 0]
    )


def test_carla_route_completion():
    route = np.stack([np.arange(101.0), np.zeros(101)], -1)  # 100 m, 1 m spacing
    positions = np.stack([np.linspace(0.0, 50.5, 200), np.zeros(200)], -1)
    # Waypoint 50 (50 m) is the last one the ego passed: 50 %.
    assert carla.route_completion_percent(route, positions) == 50.0
    done = np.stack([np.linspace(0.0, 99.6, 400), np.zeros(400)], -1)
    # Waypoint 99 passed (99 % is not > 99 %), so no snap to 100.
    assert carla.route_completion_percent(route, done) == 99.0


def test_hugsim_hd_score():
    nc = np.array([1.0, 1.0, 0.0, 1.0])
    dac = np.array([1.0, 1.0, 1.0, 0.0])
    ttc = np.array([1.0, 0.0, 1.0, 1.0])
    com = np.array([1.0, 1.0, 1.0, 1.0])
    plan_length = np.array([9, 9, 9, 1])  # the last frame has no plan: skipped, not a zero
    rc = np.array([0.2, 0.5, 0.8, 0.9])
    out = hugsim.hd_score(nc, dac, ttc, com, plan_length, rc)
    # Frames: (5+2)/7 = 1, (0+2)/7 = 2/7, 0 → mean 3/7; Rc = min(1, max rc) = 0.9 (rc of the
    # skipped frame still counts toward the max) → 0.9·3/7.
    assert out["pdms"] == pytest.approx(3 / 7)
    assert out["rc"] == pytest.approx(0.9)
    assert out["hdscore"] == pytest.approx(0.9 * 3 / 7)
    assert hugsim.hd_score(nc, dac, ttc, com, plan_length, rc * 2)["rc"] == 1.0


def test_hugsim_dac_and_route_completion():
    assert hugsim.hugsim_dac(np.array([4, 2, 4])) == 1.0  # 2/4 = 0.5 is not < 0.5
    assert hugsim.hugsim_dac(np.array([4, 1, 4])) == 0.0  # 1/4 = 0.25 < 0.3
    assert hugsim.hugsim_route_completion(8, 10) == pytest.approx(1.0)  # 9/(0.9·10)
    assert hugsim.hugsim_route_completion(3, 10) == pytest.approx(4 / 9)


def test_nuplan_collision_product_vs_navsim_min():
    assert nuplan.collision_score(0, 0, 1) == 0.5  # one object: 1 - 1/2
    assert nuplan.collision_score(0, 0, 2) == 0.0  # two objects: NAVSIM would give min = 0.5
    assert nuplan.collision_score(0, 1, 0) == 0.0
    assert nuplan.collision_score(0, 0, 0) == 1.0


def test_nuplan_progress_and_cls():
    # max(1, 2)/max(10, 2) = 0.2: exactly the making-progress threshold (>= 0.2 passes).
    assert nuplan.progress_ratio(1.0, 10.0) == pytest.approx(0.2)
    assert nuplan.progress_ratio(-3.0, 10.0) == 0.0  # < -2 m
    assert nuplan.progress_ratio(1.5, 1.0) == 1.0  # both floored at 2 m
    assert nuplan.progress_ratio(5.0, None) == 1.0
    # Multipliers pass; (5·0.5 + 5·0 + 4·1 + 2·1)/16 = 8.5/16.
    assert nuplan.cls_scenario(1, 1, 1, 0.5, 0, 1, 1) == pytest.approx(8.5 / 16)
    # Progress ratio 0.1 < 0.2 fails ego_is_making_progress → 0.
    assert nuplan.cls_scenario(1, 1, 1, 0.1, 1, 1, 1) == 0.0


def test_nuplan_speed_limit_and_direction():
    # 10 steps at 12 m/s on a 10 m/s road: Σ overspeed·dt = 2·10·0.1 = 2; T = 1 s →
    # 1 - 2/(2.23·1).
    got = nuplan.speed_limit_score(np.full(10, 12.0), np.full(10, 10.0), 0.1)
    assert got == pytest.approx(1 - 2 / 2.23)
    assert nuplan.speed_limit_score(np.full(10, 9.0), np.full(10, 10.0), 0.1) == 1.0
    # Reversing 0.3 m per step for 20 steps: worst 1 s window = 11·0.3 = 3.3 m → 0.5.
    assert nuplan.driving_direction_score(np.full(20, -0.3)) == 0.5
    assert nuplan.driving_direction_score(np.full(20, 0.3)) == 1.0
    assert nuplan.ttc_within_bound(np.array([np.inf, 0.96])) == 1.0
    assert nuplan.ttc_within_bound(np.array([np.inf, 0.95])) == 0.0  # needs 0.95 < TTC


def test_waymax_metrics():
    # Speed 0 → 2 m/s in 0.1 s: accel 20 m/s² > 10.4 → infeasible.
    x = np.array([0.0, 0.1, 0.3])
    speed = np.array([0.0, 2.0, 2.0])
    np.testing.assert_array_equal(
        waymax.kinematic_infeasibility(x, np.zeros(3), np.zeros(3), speed), [True, False]
    )
    np.testing.assert_allclose(waymax.wrong_way(np.array([1.0, 3.5, 4.0])), [0.0, 3.5, 4.0])
    np.testing.assert_allclose(
        waymax.off_route(np.array([1.0, 6.0, 4.0]), np.array([0.5, 6.0, 1.5])), [0.0, 6.0, 4.0]
    )
    assert waymax.progression(5.0, 0.0, 10.0) == 0.5
    event = np.array([[0, 1, 0], [0, 0, 0], [1, 0, 0]], bool)
    valid = np.array([[1, 1, 1], [1, 1, 1], [0, 1, 1]], bool)
    assert waymax.episode_rate(event, valid) == pytest.approx(1 / 3)  # row 2's event is invalid


def test_distance_between_incidents():
    out = robustness.distance_between_incidents(10_000.0, {"collision": 2, "offroad": 1})
    assert out == {"km_between_incidents": pytest.approx(10 / 3), "lower_bound": False}
    clean = robustness.distance_between_incidents(10_000.0, {"collision": 0})
    assert clean == {"km_between_incidents": 10.0, "lower_bound": True}
    assert math.isnan(robustness.per_km(0.0, 3))
