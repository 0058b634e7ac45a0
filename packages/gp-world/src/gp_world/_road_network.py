"""Host-side road network description (`RoadNetwork`) and the toy ring road.

A generator (ring or town) produces a `RoadNetwork` of plain numpy lists; `_map_compile` turns it
into the fixed-size arrays worlds run on.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from gp_world.config import TownConfig


@dataclasses.dataclass
class Lane:
    """One directed lane centre line, points f64[n, 2] in driving order (metres)."""

    points: np.ndarray
    width: float
    speed_limit: float
    successors: list[int] = dataclasses.field(default_factory=list)
    left: int = -1  # same-direction neighbour on the left, -1 if none
    right: int = -1
    is_connector: bool = False  # inside an intersection
    stop_line: int = -1  # stop line at this lane's end (index into stop_lines), -1 if none


@dataclasses.dataclass
class RoadNetwork:
    """Everything a generator decides about one map, before resampling and indexing."""

    lanes: list[Lane]
    drivable_polygons: list[np.ndarray]  # convex polygons f64[k, 2], CCW; their union is drivable
    road_edges: list[np.ndarray]  # polylines f64[k, 2]
    stop_lines: list[np.ndarray]  # f64[2, 2] segments
    stop_line_intersection: list[int]
    stop_line_phase: list[int]  # 0 or 1: which half of the intersection's cycle is green
    crosswalks: list[np.ndarray]  # f64[4, 2] quads
    intersection_centres: list[np.ndarray]  # f64[2], signalised intersections only


def resample_polyline(points: np.ndarray, spacing: float) -> np.ndarray:
    """Points f64[n, 2] -> f64[m, 2] at (nearly) uniform arc-length `spacing`, ends kept."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    count = max(2, int(np.ceil(s[-1] / spacing)) + 1)
    t = np.linspace(0.0, s[-1], count)
    return np.stack([np.interp(t, s, points[:, 0]), np.interp(t, s, points[:, 1])], axis=1)


def ring_road(town: TownConfig) -> RoadNetwork:
    """A counter-clockwise ring road of `ring_lanes` lanes, each split into four quarter lanes."""
    radius, width, n_lanes = town.ring_radius, town.lane_width, town.ring_lanes
    lanes: list[Lane] = []
    for k in range(n_lanes):  # k = 0 is the innermost (left-most, driving CCW) lane
        r = radius + (k + 0.5) * width
        for q in range(4):
            theta = np.linspace(q * np.pi / 2, (q + 1) * np.pi / 2, 33)
            pts = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
            index = k * 4 + q
            lanes.append(
                Lane(
                    points=pts,
                    width=width,
                    speed_limit=town.speed_limits[-1],
                    successors=[k * 4 + (q + 1) % 4],
                    left=index - 4 if k > 0 else -1,
                    right=index + 4 if k < n_lanes - 1 else -1,
                )
            )
    r_in, r_out = radius, radius + n_lanes * width
    # Polygons slightly wider than the road so chords do not cut into the outer lane.
    outer = r_out / np.cos(np.pi / 64)
    theta = np.linspace(0, 2 * np.pi, 65)
    polygons = []
    for i in range(64):
        a, b = theta[i], theta[i + 1]
        polygons.append(
            np.array(
                [
                    [r_in * np.cos(a), r_in * np.sin(a)],
                    [outer * np.cos(a), outer * np.sin(a)],
                    [outer * np.cos(b), outer * np.sin(b)],
                    [r_in * np.cos(b), r_in * np.sin(b)],
                ]
            )
        )
    circle = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return RoadNetwork(
        lanes=lanes,
        drivable_polygons=polygons,
        road_edges=[circle * r_in, circle * outer],
        stop_lines=[],
        stop_line_intersection=[],
        stop_line_phase=[],
        crosswalks=[],
        intersection_centres=[],
    )
