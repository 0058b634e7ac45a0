"""Baseline planner decisions on hand-built observations (no world needed)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gp_world as gw
from gp_eval import (
    BaselineConfig,
    BaselinePlanner,
    ClosedLoopConfig,
    EvaluationConfig,
    idm_accel,
    reference_speed_profile,
    to_action,
)
from gp_eval._baseline import GRID_ACCEL, GRID_STEER

NUM_ROUTE = 10


def _obs(speed=8.0, accel=0.0, stop=None, light=gw.RED, lead=None, crossing=None, route_y=0.0):
    """One agent driving +x on a straight route (waypoints every 4 m), speed limit 10 m/s."""
    ego = np.zeros((1, 26), np.float32)
    ego[0, :7] = [speed, accel, 0.0, 0.0, 4.5, 1.8, 10.0]
    route = np.zeros((1, NUM_ROUTE, 5), np.float32)
    route[0, :, 0] = 4.0 * np.arange(1, NUM_ROUTE + 1)
    route[0, :, 1] = route_y
    route[0, :, 2] = 1.0
    route[0, :, 4] = 10.0
    agents = np.zeros((1, 3, 8), np.float32)
    agents_valid = np.zeros((1, 3), bool)
    for k, other in enumerate(x for x in (lead, crossing) if x is not None):
        agents[0, k] = other
        agents_valid[0, k] = True
    stops = np.zeros((1, 4, 7), np.float32)
    stops_valid = np.zeros((1, 4), bool)
    if stop is not None:
        stops[0, 0, :3] = [stop, stop, 0.0]
        stops[0, 0, 3 + light] = 1.0
        stops_valid[0, 0] = True
    z = lambda *s: jnp.zeros(s, jnp.float32)  # noqa: E731
    return gw.PrivilegedObservation(
        ego=jnp.asarray(ego),
        route=jnp.asarray(route),
        route_valid=jnp.ones((1, NUM_ROUTE), bool),
        agents=jnp.asarray(agents),
        agents_valid=jnp.asarray(agents_valid),
        lane_points=z(1, 4, 5),
        lane_points_valid=jnp.zeros((1, 4), bool),
        road_edges=z(1, 4, 4),
        road_edges_valid=jnp.zeros((1, 4), bool),
        stop_lines=jnp.asarray(stops),
        stop_lines_valid=jnp.asarray(stops_valid),
        valid=jnp.ones((1,), bool),
    )


@pytest.fixture(scope="module")
def controls():
    return jax.jit(BaselinePlanner("continuous", 0.1).controls)


def test_free_road_accelerates_toward_limit(controls):
    # IDM free term 1.5·(1 - (5/10)^4) ≈ 1.41 m/s², but from a = 0 the command may change by
    # only comfort_jerk·dt = 3·0.1 = 0.3 m/s² per step.
    accel, steer = controls(_obs(speed=5.0))
    assert float(accel[0]) == pytest.approx(0.3, abs=1e-5)
    accel, _ = controls(_obs(speed=5.0, accel=1.3))
    assert float(accel[0]) == pytest.approx(1.41, abs=0.01)
    assert abs(float(steer[0])) < 1e-6


def test_red_light_stops_green_goes(controls):
    red, _ = controls(_obs(speed=8.0, stop=20.0, light=gw.RED))
    green, _ = controls(_obs(speed=8.0, stop=20.0, light=gw.GREEN))
    assert float(red[0]) < -0.2
    assert float(green[0]) > 0.0
    # Yellow: stoppable at 30 m (8²/6 ≈ 10.7 m < 30 - 2.25 - 1), not at 4 m (already committed).
    far, _ = controls(_obs(speed=8.0, stop=30.0, light=gw.YELLOW))
    near, _ = controls(_obs(speed=8.0, stop=4.0, light=gw.YELLOW))
    assert float(far[0]) < 0.0 < float(near[0])


def test_follows_leader_and_yields_to_crossing(controls):
    # Leader 12 m ahead, 3 m/s slower (relative vx = -3): brake.
    lead = [12.0, 0.0, 1.0, 0.0, -3.0, 0.0, 4.5, 1.8]
    follow, _ = controls(_obs(speed=8.0, lead=lead))
    assert float(follow[0]) < -0.2
    # A car 15 m ahead and 12 m to the right, heading left at 8 m/s, reaches our path in 1.5 s,
    # before we get there (15/8 ≈ 1.9 s): yield. The same car heading away is ignored.
    crossing = [15.0, -12.0, 0.0, 1.0, -8.0, 8.0, 4.5, 1.8]
    leaving = [15.0, -12.0, 0.0, -1.0, -8.0, -8.0, 4.5, 1.8]
    yielding, _ = controls(_obs(speed=8.0, crossing=crossing))
    ignoring, _ = controls(_obs(speed=8.0, crossing=leaving))
    assert float(yielding[0]) < -0.2
    assert float(ignoring[0]) > 0.0


def test_steers_toward_route(controls):
    _, left = controls(_obs(route_y=1.0))
    _, right = controls(_obs(route_y=-1.0))
    assert float(left[0]) > 0.0 > float(right[0])


@pytest.mark.parametrize("space", ["continuous", "accel_steer_grid", "jerk"])
def test_action_spaces(controls, space):
    obs = _obs(speed=5.0)
    accel, steer = controls(obs)
    action = jax.jit(to_action, static_argnums=(3, 4))(accel, steer, obs.ego, space, 0.1)
    if space == "continuous":
        assert action.shape == (1, 2) and action.dtype == jnp.float32
    else:
        assert action.shape == (1,) and action.dtype == jnp.int32
        assert 0 <= int(action[0]) < gw.action_space(space).num_actions


def test_idm_and_reference_profile():
    cfg = BaselineConfig()
    # Equilibrium: at the desired speed with no leader the IDM accel is 0.
    assert float(idm_accel(jnp.float32(10.0), 10.0, jnp.float32(1e6), 10.0, cfg)) == pytest.approx(
        0.0, abs=1e-6
    )
    # Behind a stopped obstacle 30 m ahead, the profile stops short of it and never reverses.
    s = reference_speed_profile(8.0, 10.0, 200.0, jnp.full(100, 30.0), jnp.zeros(100))
    s = np.asarray(s)
    assert s[-1] < 30.0 - cfg.min_gap + 0.5 and np.all(np.diff(s) >= 0.0)
    free = np.asarray(reference_speed_profile(8.0, 10.0, 200.0, jnp.full(40, 1e4), jnp.zeros(40)))
    assert 32.0 < free[-1] < 40.0  # 4 s from 8 m/s accelerating gently toward 10 m/s


def test_grid_actions_round_the_unsmoothed_target():
    # From rest (a = 0) the IDM wants ≈ 1.41 m/s²: the grid action must be the 1 m/s² cell, not
    # the 0 cell a jerk-limited command (0.3 m/s²) would round to forever.
    action = jax.jit(BaselinePlanner("accel_steer_grid", 0.1))(_obs(speed=5.0))
    assert int(action[0]) // len(GRID_STEER) == GRID_ACCEL.index(1.0)


def test_planning_in_the_grid_plays_the_cell_values_in_a_continuous_world():
    # The cell the grid baseline picks, played as its (accel, steer) values.
    obs = _obs(speed=5.0)
    cell = int(jax.jit(BaselinePlanner("accel_steer_grid", 0.1))(obs)[0])
    played = jax.jit(BaselinePlanner("continuous", 0.1, plans_in="accel_steer_grid"))(obs)
    assert played.dtype == jnp.float32 and played.shape == (1, 2)
    expected = (GRID_ACCEL[cell // len(GRID_STEER)], GRID_STEER[cell % len(GRID_STEER)])
    np.testing.assert_array_equal(np.asarray(played[0]), np.float32(expected))


@pytest.mark.parametrize(
    ("world_space", "plans_in"),
    [("accel_steer_grid", "continuous"), ("jerk", "accel_steer_grid"), ("continuous", "jerk")],
)
def test_a_plan_the_world_cannot_play_is_refused(world_space, plans_in):
    with pytest.raises(ValueError, match="can plan in"):
        BaselinePlanner(world_space, 0.1, plans_in=plans_in)


def test_an_unknown_action_space_to_plan_in_is_refused():
    for make in (ClosedLoopConfig, EvaluationConfig):
        with pytest.raises(ValueError, match="unknown action space 'grid'"):
            make(baseline_plans_in="grid")
