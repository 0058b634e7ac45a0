"""Waymax-style per-step metrics (METRICS.md §5) and their episode rates.

Waymax defines only per-step, per-object values; the rates here are the common paper
convention: an episode counts once if the event happens at any valid step.
"""

from __future__ import annotations

import numpy as np

from gp_eval._geometry import wrap_angle

MAX_ACCEL = 10.4  # m/s²
MAX_CURVATURE = 0.3  # 1/m
KINEMATIC_TOLERANCE = 1e-3
MIN_SPEED_FOR_STEERING = 0.6  # m/s
WRONG_WAY_DISTANCE = 3.5  # m
OFF_ROUTE_DISTANCE = 5.0  # m
OFF_ROUTE_MARGIN = 2.0  # m


def kinematic_infeasibility(
    x: np.ndarray, y: np.ndarray, yaw: np.ndarray, speed: np.ndarray, dt: float = 0.1
) -> np.ndarray:
    """bool[T-1]: the inverse bicycle model between consecutive steps needs |accel| > 10.4 m/s² or
    |curvature| > 0.3 1/m (with 1e-3 tolerance). Inputs f64[T]."""
    x, y, yaw, speed = (np.asarray(v, np.float64) for v in (x, y, yaw, speed))
    accel = np.diff(speed) / dt
    moving = (speed[1:] > MIN_SPEED_FOR_STEERING) & (speed[:-1] > MIN_SPEED_FOR_STEERING)
    heading_new = np.where(moving, np.arctan2(np.diff(y), np.diff(x)), yaw[1:])
    arc = speed[:-1] * dt + 0.5 * accel * dt**2
    safe_arc = np.where(np.abs(arc) > 1e-9, arc, 1.0)
    curvature = np.where(moving, wrap_angle(heading_new - yaw[:-1]) / safe_arc, 0.0)
    return (np.abs(accel) > MAX_ACCEL + KINEMATIC_TOLERANCE) | (
        np.abs(curvature) > MAX_CURVATURE + KINEMATIC_TOLERANCE
    )


def wrong_way(distance_to_valid_path: np.ndarray) -> np.ndarray:
    """sdc_wrongway: the distance (m) when >= 3.5 m from every valid SDC path, else 0."""
    d = np.asarray(distance_to_valid_path, np.float64)
    return np.where(d < WRONG_WAY_DISTANCE, 0.0, d)


def off_route(distance_on_route: np.ndarray, distance_off_route: np.ndarray) -> np.ndarray:
    """sdc_off_route: d_on when d_on > 5 m or d_on - d_off > 2 m, else 0."""
    d_on = np.asarray(distance_on_route, np.float64)
    d_off = np.asarray(distance_off_route, np.float64)
    off = (d_on > OFF_ROUTE_DISTANCE) | (d_on - d_off > OFF_ROUTE_MARGIN)
    return np.where(off, d_on, 0.0)


def progression(s_current: float, s_start: float, s_end: float) -> float:
    """sdc_progression = (s_cur - s_start)/(s_end - s_start); 1 when the logged path is empty."""
    if s_end == s_start:
        return 1.0
    return (s_current - s_start) / (s_end - s_start)


def episode_rate(event: np.ndarray, valid: np.ndarray) -> float:
    """Fraction of episodes (axis 0) with the event at any valid step (axis 1): bool[N, T]."""
    event = np.asarray(event, bool) & np.asarray(valid, bool)
    counted = np.asarray(valid, bool).any(-1)
    if not counted.any():
        return float("nan")
    return float(np.asarray(event.any(-1))[counted].mean())
