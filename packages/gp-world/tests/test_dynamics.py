"""Bicycle dynamics: inverse(forward(a)) == a in every action space, analytic motion cases."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gp_world as gw
from gp_world._dynamics import GRID_TABLE, JERK_TABLE, MAX_JERK, MAX_STEER_RATE

DT = 0.1
_forward = jax.jit(gw.forward, static_argnums=(2, 3))
_inverse = jax.jit(gw.inverse, static_argnums=(2, 3))
# Float32 arithmetic in the rate-limit clip (a + (target - a)) loses a few ulps.
CONTINUOUS_TOL = 1e-5


def _state(key, shape, accel, steer):
    k = jax.random.split(key, 4)
    return gw.Kinematics(
        x=jax.random.uniform(k[0], shape, minval=-50, maxval=50),
        y=jax.random.uniform(k[1], shape, minval=-50, maxval=50),
        yaw=jax.random.uniform(k[2], shape, minval=-3, maxval=3),
        speed=jax.random.uniform(k[3], shape, minval=5, maxval=15),
        accel=accel,
        lat_accel=jnp.zeros(shape) + 0.5,
        steer=steer,
        wheelbase=jnp.full(shape, 2.8),
        kind=jnp.zeros(shape, jnp.int32),  # cars: limits wide enough that nothing clips
    )


@pytest.mark.parametrize("batch", [(), (2, 1)])
@pytest.mark.parametrize("space", ["jerk", "accel_steer_grid", "continuous"])
def test_inverse_recovers_action(space, batch, key):
    k_state, k_act, k_off = jax.random.split(key, 3)
    if space == "continuous":
        scale = jnp.asarray([5.0, 1.0]).reshape((1,) * len(batch) + (2,))
        action = jax.random.uniform(k_act, (*batch, 2), minval=-0.4, maxval=0.4) * scale
        target = action
    else:
        table = JERK_TABLE if space == "jerk" else GRID_TABLE
        action = jax.random.randint(k_act, batch, 0, len(table))
        target = jnp.asarray(table)[action]
    if space == "jerk":
        accel, steer = jnp.full(batch, 0.3), jnp.zeros(batch)
    else:
        # Start within one step's rate limit of the target so no limit clips the action.
        off = jax.random.uniform(k_off, (*batch, 2), minval=-0.9, maxval=0.9)
        accel = target[..., 0] + off[..., 0] * MAX_JERK * DT
        steer = target[..., 1] + off[..., 1] * MAX_STEER_RATE * DT
    before = _state(k_state, batch, accel, steer)
    after = _forward(before, action, space, DT)
    recovered = _inverse(before, after, space, DT)
    assert recovered.shape == action.shape
    if space == "continuous":
        np.testing.assert_allclose(recovered, action, atol=CONTINUOUS_TOL)
    else:
        np.testing.assert_array_equal(recovered, action)


def test_straight_line_at_constant_speed():
    # No steer, no accel: the pose advances speed * dt along the heading.
    s = gw.Kinematics(
        *(jnp.asarray(v, jnp.float32) for v in (1.0, 2.0, 0.7, 10.0, 0.0, 0.0, 0.0, 2.8)),
        kind=jnp.asarray(0, jnp.int32),
    )
    out = gw.forward(s, jnp.asarray([0.0, 0.0]), "continuous", DT)
    np.testing.assert_allclose([out.x, out.y], [1 + np.cos(0.7), 2 + np.sin(0.7)], rtol=1e-6)
    np.testing.assert_allclose(out.yaw, 0.7, rtol=1e-6)


def test_constant_steer_turns_at_bicycle_yaw_rate():
    # Kinematic bicycle: yaw rate = v tan(steer) / wheelbase.
    steer, v, wb = 0.1, 8.0, 2.8
    s = gw.Kinematics(
        *(jnp.asarray(x, jnp.float32) for x in (0.0, 0.0, 0.0, v, 0.0, 0.0, steer, wb)),
        kind=jnp.asarray(0, jnp.int32),
    )
    out = gw.forward(s, jnp.asarray([0.0, steer]), "continuous", DT)
    np.testing.assert_allclose(out.yaw, v * np.tan(steer) / wb * DT, rtol=1e-5)


def test_limits_clamp_speed_and_steer():
    s = gw.Kinematics(
        *(jnp.asarray(x, jnp.float32) for x in (0.0, 0.0, 0.0, 0.1, -7.0, 0.0, 0.55, 2.8)),
        kind=jnp.asarray(0, jnp.int32),
    )
    out = gw.forward(s, jnp.asarray([-100.0, 5.0]), "continuous", DT)
    assert float(out.speed) == 0.0  # no reversing
    assert float(out.steer) <= 0.6 + 1e-7  # the car's steering limit
    assert float(out.accel) >= -8.0 - 1e-6


def test_action_space_sizes():
    assert gw.action_space("jerk").num_actions == 12
    assert gw.action_space("accel_steer_grid").num_actions == 49
    assert gw.action_space("continuous").kind == "continuous"
    lon = sorted(set(JERK_TABLE[:, 0].tolist()))
    lat = sorted(set(JERK_TABLE[:, 1].tolist()))
    assert lon == [-15.0, -4.0, 0.0, 4.0] and lat == [-4.0, 0.0, 4.0]


@pytest.mark.parametrize("space", ["jerk", "accel_steer_grid"])
def test_action_grid_indexes_the_table(space):
    """Index i of a discrete space is (longitudinal i // lateral, lateral i % lateral)."""
    table = gw.action_table(space)
    n_lon, n_lat = gw.action_grid(space)
    assert n_lon * n_lat == gw.action_space(space).num_actions == len(table)
    grid = table.reshape(n_lon, n_lat, 2)
    # The longitudinal value is constant along a row, the lateral value along a column.
    np.testing.assert_array_equal(grid[:, :, 0], np.repeat(grid[:, :1, 0], n_lat, axis=1))
    np.testing.assert_array_equal(grid[:, :, 1], np.repeat(grid[:1, :, 1], n_lon, axis=0))
    assert len(set(grid[:, 0, 0].tolist())) == n_lon and len(set(grid[0, :, 1].tolist())) == n_lat
    with pytest.raises(ValueError, match="not a discrete"):
        gw.action_grid("continuous")


def test_grid_actions_played_as_continuous_targets_move_alike(key):
    """The grid space and the continuous space share one motion model: index i of the grid
    moves a vehicle exactly as the continuous target GRID_TABLE[i] does (a grid policy can
    therefore be driven by any point of the grid's box, e.g. its expected action, in the world
    configured as continuous, and gives the same rollouts when it plays grid values)."""
    n = len(GRID_TABLE)
    k_state, k_accel, k_steer = jax.random.split(key, 3)
    accel = jax.random.uniform(k_accel, (n,), minval=-4, maxval=2)
    steer = jax.random.uniform(k_steer, (n,), minval=-0.4, maxval=0.4)
    state = _state(k_state, (n,), accel, steer)
    state = gw.Kinematics(**{**vars(state), "kind": jnp.arange(n, dtype=jnp.int32) % 4})
    for _ in range(3):  # several steps, so rate limits and clamps of every kind are crossed
        grid = _forward(state, jnp.arange(n, dtype=jnp.int32), "accel_steer_grid", DT)
        cont = _forward(state, jnp.asarray(GRID_TABLE), "continuous", DT)
        jax.tree.map(np.testing.assert_array_equal, grid, cont)
        state = grid
