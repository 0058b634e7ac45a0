"""Comfort checks: nuPlan/NAVSIM `ego_is_comfortable` (strict bounds, Savitzky-Golay signals),
NAVSIM v2 two-frame extended comfort (inclusive RMS bounds) and HUGSIM's finite-difference
comfort (inclusive bounds). METRICS.md §1.4 (C/HC, EC), §2.2 (comfort), §4.2 (COM).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.signal import savgol_filter

from gp_eval._geometry import wrap_angle

_DECIMALS = 8  # nuPlan rounds every comfort signal to 8 decimals before comparing


@dataclasses.dataclass(frozen=True)
class ComfortBounds:
    """nuPlan/NAVSIM comfort bounds (all compared strictly: min < x < max)."""

    min_lon_accel: float = -4.05
    max_lon_accel: float = 2.40
    max_abs_lat_accel: float = 4.89
    max_abs_jerk: float = 8.37
    max_abs_lon_jerk: float = 4.13
    max_abs_yaw_accel: float = 1.93
    max_abs_yaw_rate: float = 0.95


def _smoothed_accel(accel: np.ndarray) -> np.ndarray:
    window = min(8, accel.shape[-1])
    out = savgol_filter(accel, polyorder=2, window_length=window, axis=-1)
    return np.round(out, _DECIMALS)


def _derivative(signal: np.ndarray, dt: float, window: int, poly: int, deriv: int) -> np.ndarray:
    window = min(window, signal.shape[-1])
    if not poly < window:
        raise ValueError(f"comfort needs more than {poly} samples, got {signal.shape[-1]}")
    return savgol_filter(
        signal, polyorder=poly, window_length=window, deriv=deriv, delta=dt, axis=-1
    )


def comfort_signals(
    heading: np.ndarray,
    accel_x: np.ndarray,
    accel_y: np.ndarray,
    yaw_rate: np.ndarray,
    yaw_accel: np.ndarray,
    dt: float,
    rear_axle_to_center: float = 0.0,
) -> dict[str, np.ndarray]:
    """The six nuPlan comfort signals f64[..., T] from rear-axle states sampled every `dt` s.

    heading (rad), accel_x/accel_y (rear-axle, body frame, m/s²), yaw_rate (rad/s), yaw_accel
    (rad/s²). Longitudinal/lateral acceleration are shifted to the geometric centre
    (`rear_axle_to_center` m ahead) by rigid-body kinematics, as nuPlan's `center` state does.
    """
    heading, accel_x, accel_y, yaw_rate, yaw_accel = (
        np.asarray(v, np.float64) for v in (heading, accel_x, accel_y, yaw_rate, yaw_accel)
    )
    d = rear_axle_to_center
    center_ax = accel_x - yaw_rate**2 * d
    center_ay = accel_y + yaw_accel * d
    lon = _smoothed_accel(center_ax)
    lat = _smoothed_accel(center_ay)
    mag = _smoothed_accel(np.hypot(accel_x, accel_y))
    jerk = np.round(_derivative(mag, dt, 15, 2, 1), _DECIMALS)
    lon_jerk = np.round(_derivative(lon, dt, 15, 2, 1), _DECIMALS)
    unwrapped = np.unwrap(heading, axis=-1)
    # nuPlan passes no window to the yaw-rate derivative, so its default of 5 applies.
    rate = np.round(_derivative(unwrapped, dt, 5, 2, 1), _DECIMALS)
    yaw_acc = np.round(_derivative(unwrapped, dt, 5, 3, 2), _DECIMALS)
    return dict(
        lon_accel=lon, lat_accel=lat, jerk=jerk, lon_jerk=lon_jerk, yaw_rate=rate, yaw_accel=yaw_acc
    )


def is_comfortable(
    heading: np.ndarray,
    accel_x: np.ndarray,
    accel_y: np.ndarray,
    yaw_rate: np.ndarray,
    yaw_accel: np.ndarray,
    dt: float,
    rear_axle_to_center: float = 0.0,
    bounds: ComfortBounds = ComfortBounds(),
) -> np.ndarray:
    """nuPlan/NAVSIM `ego_is_comfortable`: bool[...], True iff all six signals are strictly within
    bounds at every one of the T samples (NAVSIM C/HC, nuPlan `ego_is_comfortable`)."""
    sig = comfort_signals(heading, accel_x, accel_y, yaw_rate, yaw_accel, dt, rear_axle_to_center)
    b = bounds
    ok = ((sig["lon_accel"] > b.min_lon_accel) & (sig["lon_accel"] < b.max_lon_accel)).all(-1)
    for name, bound in (
        ("lat_accel", b.max_abs_lat_accel),
        ("jerk", b.max_abs_jerk),
        ("lon_jerk", b.max_abs_lon_jerk),
        ("yaw_accel", b.max_abs_yaw_accel),
        ("yaw_rate", b.max_abs_yaw_rate),
    ):
        ok &= ((sig[name] > -bound) & (sig[name] < bound)).all(-1)
    return np.asarray(ok)


def _extended_features(heading, accel_x, accel_y, dt):
    mag = _smoothed_accel(np.hypot(accel_x, accel_y))
    jerk = np.round(_derivative(mag, dt, 15, 2, 1), _DECIMALS)
    unwrapped = np.unwrap(heading, axis=-1)
    rate = np.round(_derivative(unwrapped, dt, 5, 2, 1), _DECIMALS)
    # EC uses polyorder 2 for yaw acceleration (C/HC use 3).
    yaw_acc = np.round(_derivative(unwrapped, dt, 5, 2, 2), _DECIMALS)
    return mag, jerk, rate, yaw_acc


def is_extended_comfortable(
    current: tuple[np.ndarray, np.ndarray, np.ndarray],
    previous: tuple[np.ndarray, np.ndarray, np.ndarray],
    dt: float = 0.1,
    frame_interval: float = 0.5,
    max_rms_accel: float = 0.7,
    max_rms_jerk: float = 0.5,
    max_rms_yaw_rate: float = 0.1,
    max_rms_yaw_accel: float = 0.1,
) -> bool:
    """NAVSIM v2 two-frame extended comfort (EC).

    `current`/`previous` are (heading, accel_x, accel_y) f64[T] of the simulated trajectories
    planned at frame t and at t - `frame_interval`. The overlapping window (`cur[:-n]` vs
    `prev[n:]`, n = round(frame_interval/dt)) is compared by RMS of feature differences;
    EC = 1 iff every RMS is <= its bound (inclusive).
    """
    if not 0.0 < frame_interval < 0.55:
        raise ValueError(f"frame_interval must be in (0, 0.55) s, got {frame_interval}")
    n = round(frame_interval / dt)
    c_yaw, c_ax, c_ay = (np.asarray(v, np.float64)[:-n] for v in current)
    p_yaw, p_ax, p_ay = (np.asarray(v, np.float64)[n:] for v in previous)
    cur = _extended_features(c_yaw, c_ax, c_ay, dt)
    prev = _extended_features(p_yaw, p_ax, p_ay, dt)
    bounds = (max_rms_accel, max_rms_jerk, max_rms_yaw_rate, max_rms_yaw_accel)
    rms = [float(np.sqrt(np.mean((c - p) ** 2))) for c, p in zip(cur, prev, strict=True)]
    return all(r <= b for r, b in zip(rms, bounds, strict=True))


@dataclasses.dataclass(frozen=True)
class HugsimComfortBounds:
    """HUGSIM comfort bounds (inclusive, <=). `max_abs_lon_jerk` is 8.37, nuPlan's magnitude-jerk
    bound, as in the released code; lateral acceleration is never computed (identically 0)."""

    min_lon_accel: float = -4.05
    max_lon_accel: float = 2.40
    max_abs_lon_jerk: float = 8.37
    max_abs_yaw_accel: float = 1.93
    max_abs_yaw_rate: float = 0.95
    max_abs_lat_accel: float = 4.89


def hugsim_comfort(
    xy: np.ndarray,
    yaw: np.ndarray,
    dt: float = 0.5,
    bounds: HugsimComfortBounds = HugsimComfortBounds(),
) -> float:
    """HUGSIM COM ∈ {0, 1} of one plan: `xy` f64[N, 2], `yaw` f64[N] at `dt` s (current pose first).

    Finite differences with edge padding; plans with fewer than 4 poses score 1.
    """
    xy = np.asarray(xy, np.float64)
    yaw = np.asarray(yaw, np.float64)
    if xy.shape[0] < 4:
        return 1.0

    def diff(v):  # edge-padded finite difference keeps the length; the pad repeats a value
        d = np.diff(v) / dt
        return np.concatenate([d, d[-1:]])

    speed = np.concatenate([np.linalg.norm(np.diff(xy, axis=0), axis=-1) / dt, [0.0]])
    speed[-1] = speed[-2]
    lon_accel = diff(speed)
    lon_jerk = diff(lon_accel)
    yaw_rate = np.concatenate([wrap_angle(np.diff(yaw)) / dt, [0.0]])
    yaw_rate[-1] = yaw_rate[-2]
    yaw_accel = diff(yaw_rate)
    b = bounds
    ok = bool(
        np.all((lon_accel >= b.min_lon_accel) & (lon_accel <= b.max_lon_accel))
        and np.all(np.abs(lon_jerk) <= b.max_abs_lon_jerk)
        and np.all(np.abs(yaw_accel) <= b.max_abs_yaw_accel)
        and np.all(np.abs(yaw_rate) <= b.max_abs_yaw_rate)
    )
    return 1.0 if ok else 0.0
