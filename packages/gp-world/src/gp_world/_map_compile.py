"""`RoadNetwork` -> fixed-layout numpy arrays: resampled lanes, raster, grid index, route table.

Everything here runs once per map on the host; the result (a dict of numpy arrays, unpadded) is
padded and stacked by `_map_bank`.
"""

from __future__ import annotations

import heapq

import numpy as np

from gp_world._road_network import RoadNetwork, resample_polyline
from gp_world.config import WorldConfig

MAX_SUCCESSORS = 4
NO_STOP = 1e9  # route_stop_s padding: a stop line never reached


def _headings(points: np.ndarray) -> np.ndarray:
    d = np.diff(points, axis=0)
    h = np.arctan2(d[:, 1], d[:, 0])
    return np.concatenate([h, h[-1:]])


def _rasterise(polygons: list[np.ndarray], origin: np.ndarray, shape: tuple[int, int], res: float):
    """Union of convex polygons -> bool[H, W]; a texel is drivable if its centre is inside one."""
    raster = np.zeros(shape, dtype=bool)
    for poly in polygons:
        lo = np.floor((poly.min(0) - origin) / res).astype(int)
        hi = np.ceil((poly.max(0) - origin) / res).astype(int)
        lo = np.clip(lo, 0, [shape[1], shape[0]])
        hi = np.clip(hi, 0, [shape[1], shape[0]])
        xs = origin[0] + (np.arange(lo[0], hi[0]) + 0.5) * res
        ys = origin[1] + (np.arange(lo[1], hi[1]) + 0.5) * res
        px, py = np.meshgrid(xs, ys)
        a = poly
        b = np.roll(poly, -1, axis=0)
        cross = (b[:, 0, None, None] - a[:, 0, None, None]) * (py[None] - a[:, 1, None, None]) - (
            b[:, 1, None, None] - a[:, 1, None, None]
        ) * (px[None] - a[:, 0, None, None])
        inside = np.all(cross >= 0, axis=0) | np.all(cross <= 0, axis=0)
        raster[lo[1] : hi[1], lo[0] : hi[0]] |= inside
    return raster


def _bucket(cells: np.ndarray, shape: tuple[int, int], capacity: int) -> np.ndarray:
    """Item cell indices int[n, 2] (ix, iy) -> int32[GH, GW, capacity] item lists, -1 padded.

    An overfull cell keeps an evenly spaced subset so coverage stays spread along the lanes.
    """
    grid = np.full((shape[0], shape[1], capacity), -1, dtype=np.int32)
    flat = cells[:, 1] * shape[1] + cells[:, 0]
    order = np.argsort(flat, kind="stable")
    flat_sorted = flat[order]
    starts = np.searchsorted(flat_sorted, np.arange(shape[0] * shape[1]))
    ends = np.searchsorted(flat_sorted, np.arange(shape[0] * shape[1]), side="right")
    for cell in np.nonzero(ends > starts)[0]:
        items = order[starts[cell] : ends[cell]]
        if len(items) > capacity:
            items = items[np.linspace(0, len(items) - 1, capacity).round().astype(int)]
        grid[cell // shape[1], cell % shape[1], : len(items)] = items
    return grid


MEMBERSHIP_CAPACITY = 256  # items kept per cell while building the nearest lists


def _nearest_lists(
    xy: np.ndarray, origin: np.ndarray, cell: float, shape: tuple[int, int], k: int
) -> np.ndarray:
    """Per grid cell, the ids of the k items (points f[n, 2]) nearest the cell centre among
    those in its 3x3 cell neighbourhood, nearest first: int32[GH, GW, k], -1 padded.

    Any item within 1.5 cells of a centre is in the neighbourhood, so the lists are exact
    nearest-k whenever the k-th nearest item is that close (and no cell overflows).
    """
    gh, gw = shape
    cells = np.floor((xy - origin) / cell).astype(int)
    members = _bucket(cells, shape, MEMBERSHIP_CAPACITY)  # [GH, GW, cap]
    padded = np.pad(members, ((1, 1), (1, 1), (0, 0)), constant_values=-1)
    out = np.full((gh, gw, k), -1, np.int32)
    xs = origin[0] + (np.arange(gw) + 0.5) * cell
    for iy in range(gh):
        window = np.concatenate(
            [padded[iy + dy, dx : dx + gw] for dy in range(3) for dx in range(3)], axis=-1
        )  # [GW, 9 * cap]
        if (window < 0).all():
            continue
        cy = origin[1] + (iy + 0.5) * cell
        ids = np.maximum(window, 0)
        d2 = (xy[ids, 0] - xs[:, None]) ** 2 + (xy[ids, 1] - cy) ** 2
        d2 = np.where(window >= 0, d2, np.inf)
        kk = min(k, d2.shape[1])
        part = np.argpartition(d2, kk - 1, axis=1)[:, :kk]
        order = np.take_along_axis(d2, part, 1).argsort(1, kind="stable")
        pick = np.take_along_axis(part, order, 1)
        chosen = np.take_along_axis(window, pick, 1)
        chosen = np.where(np.isfinite(np.take_along_axis(d2, pick, 1)), chosen, -1)
        out[iy, :, :kk] = chosen
    return out


def _shortest_paths(start: int, lane_length: np.ndarray, successors: list[list[int]]):
    """Dijkstra over the lane graph from `start`; cost = length of every lane entered."""
    dist = {start: float(lane_length[start])}
    parent = {start: -1}
    heap = [(dist[start], start)]
    while heap:
        d, lane = heapq.heappop(heap)
        if d > dist[lane]:
            continue
        for nxt in successors[lane]:
            nd = d + float(lane_length[nxt])
            if nd < dist.get(nxt, np.inf):
                dist[nxt] = nd
                parent[nxt] = lane
                heapq.heappush(heap, (nd, nxt))
    return dist, parent


def compile_network(net: RoadNetwork, cfg: WorldConfig, seed: int) -> dict[str, np.ndarray]:
    """Resample, index and tabulate one map. Returns unpadded numpy arrays (see MapBank)."""
    rng = np.random.default_rng(seed + 7919)
    spacing = cfg.town.lane_point_spacing
    lanes = net.lanes
    n_lanes = len(lanes)

    # Lanes resampled at fixed spacing; consecutive lanes share their end/start point.
    pts, first, count, lengths = [], [], [], []
    for lane in lanes:
        p = resample_polyline(np.asarray(lane.points, np.float64), spacing)
        first.append(sum(len(q) for q in pts))
        count.append(len(p))
        lengths.append(float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum()))
        pts.append(p)
    lane_xy = [np.concatenate([p, _headings(p)[:, None]], axis=1) for p in pts]
    # x, y, heading, speed limit, cos and sin of heading (saves trig on the device).
    lane_points = np.concatenate(
        [
            np.concatenate(
                [
                    q,
                    np.full((len(q), 1), lane.speed_limit),
                    np.cos(q[:, 2:3]),
                    np.sin(q[:, 2:3]),
                ],
                axis=1,
            )
            for q, lane in zip(lane_xy, lanes, strict=True)
        ]
    ).astype(np.float32)
    lane_point_lane = np.concatenate(
        [np.full(len(q), i, np.int32) for i, q in enumerate(pts)]
    ).astype(np.int32)
    successors = np.full((n_lanes, MAX_SUCCESSORS), -1, np.int32)
    for i, lane in enumerate(lanes):
        if len(lane.successors) > MAX_SUCCESSORS:
            raise ValueError(f"lane {i} has {len(lane.successors)} successors > {MAX_SUCCESSORS}")
        successors[i, : len(lane.successors)] = lane.successors

    # Road edges cut into short segments so each sits in one grid cell.
    edge_segments = []
    for edge in net.road_edges:
        e = resample_polyline(np.asarray(edge, np.float64), spacing * 2)
        edge_segments.append(np.concatenate([e[:-1], e[1:]], axis=1))
    road_edges = (
        np.concatenate(edge_segments).astype(np.float32)
        if edge_segments
        else np.zeros((0, 4), np.float32)
    )

    # Extent, raster and grid share one origin.
    all_xy = np.concatenate([lane_points[:, :2]] + [np.asarray(p) for p in net.drivable_polygons])
    margin = cfg.grid_cell_size
    origin = all_xy.min(0) - margin
    size = all_xy.max(0) + margin - origin
    res = cfg.raster_resolution
    raster_shape = (int(np.ceil(size[1] / res)), int(np.ceil(size[0] / res)))
    drivable = _rasterise(
        [np.asarray(p, np.float64) for p in net.drivable_polygons], origin, raster_shape, res
    )
    cell = cfg.grid_cell_size
    grid_shape = (int(np.ceil(size[1] / cell)), int(np.ceil(size[0] / cell)))
    grid_lane_points = _nearest_lists(
        lane_points[:, :2].astype(np.float64), origin, cell, grid_shape, cfg.num_lane_points
    )
    mid = 0.5 * (road_edges[:, :2] + road_edges[:, 2:]).astype(np.float64)
    grid_road_edges = _nearest_lists(mid, origin, cell, grid_shape, cfg.num_road_edges)

    # Route table: shortest paths from random road lanes to goals at a sampled distance.
    starts = [i for i, lane in enumerate(lanes) if not lane.is_connector]
    succ_lists = [lane.successors for lane in lanes]
    lengths_arr = np.asarray(lengths)
    nr, rl, rp = cfg.routes_per_map, cfg.route_max_lanes, cfg.route_max_points
    route_points = np.zeros((nr, rp, 7), np.float32)
    route_num_points = np.zeros(nr, np.int32)
    route_lanes = np.full((nr, rl), -1, np.int32)
    route_spawn_points = np.zeros(nr, np.int32)
    route_stop_s = np.full((nr, rl), NO_STOP, np.float32)
    route_stop_line = np.full((nr, rl), -1, np.int32)
    routes_valid = np.zeros(nr, bool)
    lo, hi = cfg.route_length
    made, attempts = 0, 0
    while made < nr and attempts < nr * 20:
        attempts += 1
        start = int(rng.choice(starts))
        dist, parent = _shortest_paths(start, lengths_arr, succ_lists)
        paths = {}
        for goal, d in dist.items():
            if lanes[goal].is_connector or goal == start or not lo <= d <= hi:
                continue
            path = [goal]
            while parent[path[-1]] != -1:
                path.append(parent[path[-1]])
            path = path[::-1]
            n_pts = sum(count[i] for i in path) - (len(path) - 1)
            if len(path) <= rl and n_pts <= rp:
                paths[goal] = path
        if not paths:
            continue
        goal = sorted(paths)[int(rng.integers(len(paths)))]
        path = paths[goal]
        seq = [lane_points[first[path[0]] : first[path[0]] + count[path[0]]]]
        for lane in path[1:]:
            seq.append(lane_points[first[lane] + 1 : first[lane] + count[lane]])
        rpts = np.concatenate(seq)
        s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(rpts[:, :2], axis=0), axis=1))])
        route_points[made, : len(rpts), :3] = rpts[:, :3]
        route_points[made, : len(rpts), 3] = s
        route_points[made, : len(rpts), 4] = rpts[:, 3]
        route_points[made, : len(rpts), 5:7] = rpts[:, 4:6]
        route_points[made, len(rpts) :] = route_points[made, len(rpts) - 1]  # pad with the goal
        route_num_points[made] = len(rpts)
        route_lanes[made, : len(path)] = path
        route_spawn_points[made] = max(1, count[path[0]] - 2)
        lane_end_s = 0.0
        k = 0
        for lane in path:
            lane_end_s += lengths[lane]
            if lanes[lane].stop_line >= 0:
                route_stop_s[made, k] = lane_end_s - cfg.town.stop_line_setback
                route_stop_line[made, k] = lanes[lane].stop_line
                k += 1
        routes_valid[made] = True
        made += 1
    if made == 0:
        raise ValueError("map has no route within cfg.route_length; widen it")

    polys = net.drivable_polygons
    vmax = max(len(p) for p in polys)
    drivable_polygons = np.zeros((len(polys), vmax, 2), np.float32)
    for i, p in enumerate(polys):
        drivable_polygons[i, : len(p)] = p
        drivable_polygons[i, len(p) :] = p[-1]  # repeat the last vertex: zero-length edges
    n_stop = len(net.stop_lines)
    return {
        "lane_points": lane_points,
        "lane_point_lane": lane_point_lane,
        "lane_first_point": np.asarray(first, np.int32),
        "lane_num_points": np.asarray(count, np.int32),
        "lane_length": np.asarray(lengths, np.float32),
        "lane_width": np.asarray([lane.width for lane in lanes], np.float32),
        "lane_speed_limit": np.asarray([lane.speed_limit for lane in lanes], np.float32),
        "lane_successors": successors,
        "lane_left": np.asarray([lane.left for lane in lanes], np.int32),
        "lane_right": np.asarray([lane.right for lane in lanes], np.int32),
        "lane_is_connector": np.asarray([lane.is_connector for lane in lanes], bool),
        "lane_stop_line": np.asarray([lane.stop_line for lane in lanes], np.int32),
        "road_edges": road_edges,
        "stop_lines": np.asarray(net.stop_lines, np.float32).reshape(n_stop, 4),
        "stop_line_intersection": np.asarray(net.stop_line_intersection, np.int32).reshape(n_stop),
        "stop_line_phase": np.asarray(net.stop_line_phase, np.int32).reshape(n_stop),
        "crosswalks": np.asarray(net.crosswalks, np.float32).reshape(len(net.crosswalks), 4, 2),
        "drivable_polygons": drivable_polygons,
        "polygon_num_vertices": np.asarray([len(p) for p in polys], np.int32),
        "intersection_centres": np.asarray(net.intersection_centres, np.float32).reshape(-1, 2),
        "origin": origin.astype(np.float32),
        "drivable": drivable,
        "grid_lane_points": grid_lane_points,
        "grid_road_edges": grid_road_edges,
        "route_points": route_points,
        "route_num_points": route_num_points,
        "route_lanes": route_lanes,
        "route_spawn_points": route_spawn_points,
        "route_stop_s": route_stop_s,
        "route_stop_line": route_stop_line,
        "routes_valid": routes_valid,
    }
