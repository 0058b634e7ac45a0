"""Comfort checks: strict bounds for nuPlan/NAVSIM, inclusive for HUGSIM and extended comfort."""

import numpy as np

from gp_eval import (
    ComfortBounds,
    HugsimComfortBounds,
    hugsim_comfort,
    is_comfortable,
    is_extended_comfortable,
)

T = 41
DT = 0.1


def _constant(accel_x, yaw_rate=0.0):
    heading = yaw_rate * DT * np.arange(T)
    zeros = np.zeros(T)
    return heading, np.full(T, accel_x), zeros, np.full(T, yaw_rate), zeros


def test_nuplan_bounds_are_strict():
    # A Savitzky-Golay fit of a constant is that constant (to 1e-16, then rounded to 8
    # decimals), so 2.40 m/s² sits exactly on the bound and fails the strict test.
    assert not is_comfortable(*_constant(2.40), DT)
    assert is_comfortable(*_constant(2.39), DT)
    assert is_comfortable(*_constant(-4.04), DT)
    assert not is_comfortable(*_constant(-4.05), DT)
    # Yaw rate 0.94 rad/s passes, 0.96 fails (|ψ̇| < 0.95).
    assert is_comfortable(*_constant(0.0, 0.94), DT)
    assert not is_comfortable(*_constant(0.0, 0.96), DT)


def test_nuplan_jerk_bound():
    # 9 samples of an accel ramp ending at 0. nuPlan smooths with an even 8-sample window, which
    # bends a line by up to ~9 % (so the derivative is not exactly the slope): 3.5 m/s³ stays
    # below |lon jerk| < 4.13, 4.8 m/s³ exceeds it (accels stay within (-4.05, 2.40)).
    n = 9
    zeros = np.zeros(n)
    ramp = lambda jerk: -jerk * DT * np.arange(n)[::-1]  # noqa: E731
    assert is_comfortable(zeros, ramp(3.5), zeros, zeros, zeros, DT)
    assert not is_comfortable(zeros, ramp(4.8), zeros, zeros, zeros, DT)


def test_hugsim_bounds_are_inclusive():
    # Distances 1, 1.5, 2 m per 0.5 s: speeds 2, 3, 4 m/s, accel exactly 2.0 m/s² (dyadic, so
    # exact in float). With the bound set to 2.0 the inclusive test passes, nuPlan's strict fails.
    xy = np.stack([np.array([0.0, 1.0, 2.5, 4.5]), np.zeros(4)], -1)
    yaw = np.zeros(4)
    assert hugsim_comfort(xy, yaw, bounds=HugsimComfortBounds(max_lon_accel=2.0)) == 1.0
    assert hugsim_comfort(xy, yaw, bounds=HugsimComfortBounds(max_lon_accel=1.9)) == 0.0
    assert not is_comfortable(*_constant(2.0), DT, bounds=ComfortBounds(max_lon_accel=2.0))
    # Fewer than 4 poses: always comfortable.
    assert hugsim_comfort(xy[:3] * 100.0, yaw[:3]) == 1.0


def test_hugsim_lon_jerk_bound_is_8_37():
    # Distances 1, 1, 2.5 m per 0.5 s: speeds 2, 2, 5 → accel 0, 6 m/s² fails the accel bound.
    # Distances 1, 1, 1.5 m: speeds 2, 2, 3 → accel 0, 2 (≤ 2.4) → jerk 4 m/s³ ≤ 8.37 passes.
    yaw = np.zeros(4)
    assert hugsim_comfort(np.stack([[0.0, 1.0, 2.0, 4.5], np.zeros(4)], -1), yaw) == 0.0
    assert hugsim_comfort(np.stack([[0.0, 1.0, 2.0, 3.5], np.zeros(4)], -1), yaw) == 1.0


def test_extended_comfort():
    heading = 0.05 * np.arange(T)
    accel = np.full(T, 0.5)
    cur = (heading, accel, np.zeros(T))
    # The same motion planned 0.5 s earlier (heading offset only): RMS 0 → comfortable.
    assert is_extended_comfortable(cur, (heading - 0.2, accel, np.zeros(T)))
    # The earlier plan turned at 0.7 rad/s instead of 0.5: yaw-rate RMS 0.2 > 0.1.
    assert not is_extended_comfortable(cur, (0.07 * np.arange(T), accel, np.zeros(T)))
    # Accel offset 0.6 m/s² (RMS 0.6 <= 0.7) passes; 0.8 fails.
    assert is_extended_comfortable(cur, (heading, accel + 0.6, np.zeros(T)))
    assert not is_extended_comfortable(cur, (heading, accel + 0.8, np.zeros(T)))
