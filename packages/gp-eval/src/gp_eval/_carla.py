"""CARLA leaderboard driving score (METRICS.md §3): per route RC × Π penalties, mean over routes."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

# Penalty per infraction *event*; every event multiplies once (LB 1.0 and 2.x share these).
PENALTIES = {
    "collision_pedestrian": 0.5,
    "collision_vehicle": 0.6,
    "collision_static": 0.65,
    "red_light": 0.7,
    "stop": 0.8,
    "scenario_timeout": 0.7,  # 2.x only
    "yield_emergency_vehicle": 0.7,  # 2.x only
}
_LB1_EVENTS = {"collision_pedestrian", "collision_vehicle", "collision_static", "red_light", "stop"}
COLLISION_RADIUS = 5.0  # m (2.x): a collision this close to the last counted one is the same
MAX_ID_TIME = 5.0  # s: the same other actor is forgotten after this long
EGO_STOPPED_SPEED = 0.1  # m/s (2.x): collisions of a (nearly) stopped ego are not counted


@dataclasses.dataclass(frozen=True)
class RouteResult:
    """One route's CARLA record. `route_completion` in percent [0, 100]; `events` names from
    `PENALTIES`; `outside_lanes_percent` of the completed route distance driven outside lanes or
    the wrong way; `min_speed_percents` one value per failed checkpoint (2.x); `length_m`."""

    route_completion: float
    events: tuple[str, ...] = ()
    outside_lanes_percent: float = 0.0
    min_speed_percents: tuple[float, ...] = ()
    length_m: float = 0.0


def infraction_penalty(route: RouteResult, version: str = "2.x") -> float:
    """IP = Π over events of their penalty (outside-lanes and min-speed scale as in §3.1)."""
    if version not in ("1.0", "2.x"):
        raise ValueError(f"CARLA leaderboard version must be '1.0' or '2.x', got {version!r}")
    ip = 1.0
    for event in route.events:
        if event not in PENALTIES or (version == "1.0" and event not in _LB1_EVENTS):
            raise ValueError(f"unknown CARLA {version} infraction {event!r}")
        ip *= PENALTIES[event]
    ip *= 1.0 - route.outside_lanes_percent / 100.0
    if version == "2.x":
        for pct in route.min_speed_percents:
            ip *= 1.0 - 0.3 * (1.0 - pct / 100.0)
    return ip


def route_driving_score(route: RouteResult, version: str = "2.x") -> float:
    """DS_i = max(RC_i · IP_i, 0) in [0, 100] (rounded to 6 decimals in 2.x)."""
    ds = max(route.route_completion * infraction_penalty(route, version), 0.0)
    return round(ds, 6) if version == "2.x" else ds


def driving_score(routes: Sequence[RouteResult], version: str = "2.x") -> dict[str, float]:
    """Global DS, RC, IP: plain means over routes of the per-route values (mean of products)."""
    if not routes:
        raise ValueError("driving_score needs at least one route")
    return {
        "driving_score": float(np.mean([route_driving_score(r, version) for r in routes])),
        "route_completion": float(np.mean([r.route_completion for r in routes])),
        "infraction_penalty": float(np.mean([infraction_penalty(r, version) for r in routes])),
    }


def infractions_per_km(routes: Sequence[RouteResult], event: str, version: str = "2.x") -> float:
    """2.x: total count / km driven (Σ length·RC, min 0.001 km). 1.0: *sum* over routes of
    per-route rates (routes with RC = 0 skipped), the leaderboard's quirk."""
    counts = [sum(e == event for e in r.events) for r in routes]
    if version == "2.x":
        km = sum(r.length_m / 1000.0 * r.route_completion / 100.0 for r in routes)
        return sum(counts) / max(km, 0.001)
    total = 0.0
    for r, n in zip(routes, counts, strict=True):
        if r.route_completion > 0:
            total += n / (r.route_completion / 100.0 * r.length_m / 1000.0)
    return total


def count_collisions(
    time: np.ndarray,
    other_id: np.ndarray,
    location: np.ndarray,
    ego_speed: np.ndarray,
) -> np.ndarray:
    """CollisionTest (2.x) de-duplication: bool[N] which raw contacts count as events.

    Contacts (time s, other actor id, location f64[N, 2], ego speed m/s) in time order. Ignored:
    ego speed < 0.1 m/s; the same actor as the last counted event within 5 s; within 5 m of the
    last counted event's location.
    """
    counted = np.zeros(len(time), bool)
    last_id, last_time, last_loc = None, -np.inf, None
    for i in range(len(time)):
        if ego_speed[i] < EGO_STOPPED_SPEED:
            continue
        if last_id is not None and other_id[i] == last_id and time[i] - last_time <= MAX_ID_TIME:
            continue
        if last_loc is not None and np.linalg.norm(location[i] - last_loc) <= COLLISION_RADIUS:
            continue
        counted[i] = True
        last_id, last_time, last_loc = other_id[i], time[i], np.asarray(location[i])
    return counted


def route_completion_percent(route_xy: np.ndarray, positions: np.ndarray) -> float:
    """RouteCompletionTest: percent of route length up to the last passed waypoint.

    route_xy f64[W, 2] dense waypoints; positions f64[T, 2] ego positions over time. A waypoint
    is passed when (ego - wp)·forward > 0, searching the current index and 2 ahead per tick;
    100 when > 99 % and within 10 m of the final waypoint.
    """
    route_xy = np.asarray(route_xy, np.float64)
    seg = np.linalg.norm(np.diff(route_xy, axis=0), axis=-1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    pct = 100.0 * cum / max(cum[-1], 1e-9)
    forward = np.diff(route_xy, axis=0, append=route_xy[-1:] + (route_xy[-1:] - route_xy[-2:-1]))
    index, best = 0, 0.0
    for p in np.asarray(positions, np.float64):
        for j in range(index, min(index + 3, len(route_xy))):  # current + WINDOWS_SIZE (2)
            if np.dot(p - route_xy[j], forward[j]) > 0:
                index = j
                best = pct[j]
        if best > 99.0 and np.linalg.norm(p - route_xy[-1]) < 10.0:
            best = 100.0
    return round(float(best), 2)
