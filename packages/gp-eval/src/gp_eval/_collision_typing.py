"""At-fault collision typing shared by NAVSIM and nuPlan (METRICS.md §1.4 NC, §2.2).

`collision_type` follows `pdm_scorer_utils.get_collision_type`: the first matching rule wins.
"""

from __future__ import annotations

import enum

import numpy as np
import shapely

from gp_eval._geometry import is_agent_behind

STOPPED_SPEED_THRESHOLD = 0.05  # m/s: ego or track at or below this speed counts as stopped


class CollisionType(enum.IntEnum):
    STOPPED_EGO = 0
    STOPPED_TRACK = 1
    ACTIVE_FRONT = 2
    ACTIVE_REAR = 3
    ACTIVE_LATERAL = 4


def collision_type(
    ego_rear_axle: tuple[float, float, float],
    ego_speed: float,
    ego_corners: np.ndarray,
    track_corners: np.ndarray,
    track_speed: float,
    track_is_agent: bool = True,
) -> CollisionType:
    """Type of one ego/track contact.

    ego_rear_axle: (x, y, yaw) of the ego rear axle; ego_corners/track_corners f64[4, 2] in
    FL, RL, RR, FR order; speeds are magnitudes in m/s; `track_is_agent` False for static objects.
    """
    if ego_speed <= STOPPED_SPEED_THRESHOLD:
        return CollisionType.STOPPED_EGO
    if not track_is_agent or track_speed <= STOPPED_SPEED_THRESHOLD:
        return CollisionType.STOPPED_TRACK
    track_corners = np.asarray(track_corners, np.float64)
    centroid = track_corners.mean(0)
    x, y, yaw = ego_rear_axle
    if is_agent_behind(x, y, yaw, centroid[0], centroid[1]):
        return CollisionType.ACTIVE_REAR
    ego_corners = np.asarray(ego_corners, np.float64)
    bumper = shapely.LineString([ego_corners[0], ego_corners[3]])  # FL -> FR
    if shapely.Polygon(track_corners).intersects(bumper):
        return CollisionType.ACTIVE_FRONT
    return CollisionType.ACTIVE_LATERAL


def is_at_fault(kind: CollisionType, ego_between_lanes_or_offroad: bool) -> bool:
    """NAVSIM/nuPlan at-fault rule: front or stopped-track hits always; lateral hits only while the
    ego straddles lanes or is off the drivable area; rear hits and a stopped ego never."""
    if kind in (CollisionType.ACTIVE_FRONT, CollisionType.STOPPED_TRACK):
        return True
    return kind == CollisionType.ACTIVE_LATERAL and ego_between_lanes_or_offroad
