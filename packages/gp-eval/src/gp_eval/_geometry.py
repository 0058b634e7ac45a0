"""Planar box geometry shared by the metric suites (host-side numpy, float64 for exact thresholds).

Boxes are `(x, y, yaw, length, width)` with (x, y) the box centre; corners follow NAVSIM's
`BBCoordsIndex` order FRONT_LEFT, REAR_LEFT, REAR_RIGHT, FRONT_RIGHT.
"""

from __future__ import annotations

import numpy as np


def wrap_angle(angle: np.ndarray | float) -> np.ndarray:
    """Wrap radians to [-pi, pi)."""
    return (np.asarray(angle, np.float64) + np.pi) % (2.0 * np.pi) - np.pi


def box_corners(
    x: np.ndarray | float,
    y: np.ndarray | float,
    yaw: np.ndarray | float,
    length: np.ndarray | float,
    width: np.ndarray | float,
) -> np.ndarray:
    """Corners f64[..., 4, 2] (FL, RL, RR, FR) of boxes centred at (x, y), in metres."""
    x, y, yaw, length, width = np.broadcast_arrays(
        *(np.asarray(v, np.float64) for v in (x, y, yaw, length, width))
    )
    c, s = np.cos(yaw), np.sin(yaw)
    half_l, half_w = length / 2.0, width / 2.0
    local = np.stack(
        [
            np.stack([half_l, half_w], -1),
            np.stack([-half_l, half_w], -1),
            np.stack([-half_l, -half_w], -1),
            np.stack([half_l, -half_w], -1),
        ],
        -2,
    )  # [..., 4, 2]
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)  # [..., 2, 2]
    world = np.einsum("...ij,...kj->...ki", rot, local)
    return world + np.stack([x, y], -1)[..., None, :]


def boxes_overlap(corners_a: np.ndarray, corners_b: np.ndarray) -> np.ndarray:
    """Separating-axis overlap test of convex quads f64[..., 4, 2] (broadcast); bool[...].

    Touching boxes count as overlapping, as shapely's `intersects` does.
    """
    corners_a, corners_b = np.broadcast_arrays(corners_a, corners_b)
    overlap = np.ones(corners_a.shape[:-2], bool)
    for corners in (corners_a, corners_b):
        for i in range(2):  # two edge directions per rectangle
            edge = corners[..., i + 1, :] - corners[..., i, :]
            axis = np.stack([-edge[..., 1], edge[..., 0]], -1)[..., None, :]
            proj_a = np.sum(corners_a * axis, -1)
            proj_b = np.sum(corners_b * axis, -1)
            separated = (proj_a.max(-1) < proj_b.min(-1)) | (proj_b.max(-1) < proj_a.min(-1))
            overlap &= ~separated
    return overlap


def relative_bearing(
    ego_x: np.ndarray | float,
    ego_y: np.ndarray | float,
    ego_yaw: np.ndarray | float,
    point_x: np.ndarray | float,
    point_y: np.ndarray | float,
) -> np.ndarray:
    """Absolute angle (rad, in [0, pi]) between the ego heading and the ego->point vector."""
    bearing = np.arctan2(np.asarray(point_y) - ego_y, np.asarray(point_x) - ego_x)
    return np.abs(wrap_angle(bearing - np.asarray(ego_yaw, np.float64)))


def is_agent_ahead(ego_x, ego_y, ego_yaw, point_x, point_y, tolerance_deg: float = 30.0):
    """nuPlan `is_agent_ahead`: bearing from the rear axle within `tolerance_deg` of the heading."""
    return relative_bearing(ego_x, ego_y, ego_yaw, point_x, point_y) < np.deg2rad(tolerance_deg)


def is_agent_behind(ego_x, ego_y, ego_yaw, point_x, point_y, tolerance_deg: float = 150.0):
    """nuPlan `is_agent_behind`: bearing from the rear axle beyond `tolerance_deg`."""
    return relative_bearing(ego_x, ego_y, ego_yaw, point_x, point_y) > np.deg2rad(tolerance_deg)


def project_on_polyline(polyline: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Arc length (m) of the closest point on `polyline` f64[N, 2] to each of `points` [..., 2].

    Same as shapely's `LineString.project` (ties go to the earliest segment).
    """
    polyline = np.asarray(polyline, np.float64)
    points = np.asarray(points, np.float64)
    start, end = polyline[:-1], polyline[1:]
    seg = end - start
    seg_len = np.linalg.norm(seg, axis=-1)
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    rel = points[..., None, :] - start  # [..., S, 2]
    t = np.clip(np.sum(rel * seg, -1) / np.maximum(seg_len**2, 1e-12), 0.0, 1.0)
    closest = start + t[..., None] * seg
    dist = np.linalg.norm(points[..., None, :] - closest, axis=-1)
    best = np.argmin(dist, axis=-1)
    t_best = np.take_along_axis(t, best[..., None], -1)[..., 0]
    return cum[best] + t_best * seg_len[best]


def distance_to_polyline(polyline: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Unsigned distance (m) from each of `points` [..., 2] to `polyline` f64[N, 2]."""
    polyline = np.asarray(polyline, np.float64)
    points = np.asarray(points, np.float64)
    start, end = polyline[:-1], polyline[1:]
    seg = end - start
    rel = points[..., None, :] - start
    t = np.clip(np.sum(rel * seg, -1) / np.maximum(np.sum(seg * seg, -1), 1e-12), 0.0, 1.0)
    closest = start + t[..., None] * seg
    return np.linalg.norm(points[..., None, :] - closest, axis=-1).min(-1)
