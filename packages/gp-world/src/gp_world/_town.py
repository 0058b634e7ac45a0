"""Procedural town generator: a (jittered) grid of blocks with two-way multi-lane roads.

Nodes sit on a grid of `blocks_x + 1` by `blocks_y + 1` points with random block sizes. On an
irregular map nodes are jittered and some interior roads removed (merging blocks, making 3-way
junctions), keeping every node at degree >= 2 and the network connected. Nodes of degree >= 3
are signalised intersections: two phases (the straightest pair of roads, then the rest), a stop
line per approach, crosswalks on every arm. Right-hand traffic.
"""

from __future__ import annotations

import numpy as np

from gp_world._road_network import Lane, RoadNetwork
from gp_world.config import TownConfig

STRAIGHT_ANGLE = np.deg2rad(35.0)  # turns sharper than this are left/right connectors
TURN_SPEED = 6.0  # m/s on turning connectors


def _convex_hull(points: np.ndarray) -> np.ndarray:
    """Indices of the convex hull, counter-clockwise (Andrew's monotone chain)."""
    order = np.lexsort((points[:, 1], points[:, 0]))

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[int] = []
    for i in order:
        while len(lower) >= 2 and cross(points[lower[-2]], points[lower[-1]], points[i]) <= 1e-9:
            lower.pop()
        lower.append(int(i))
    upper: list[int] = []
    for i in order[::-1]:
        while len(upper) >= 2 and cross(points[upper[-2]], points[upper[-1]], points[i]) <= 1e-9:
            upper.pop()
        upper.append(int(i))
    return np.asarray(lower[:-1] + upper[:-1])


def _bezier(p0, h0, p1, h1, n: int = 24) -> np.ndarray:
    """Cubic Bezier from p0 (heading vector h0) to p1 (heading vector h1)."""
    reach = 0.4 * np.linalg.norm(p1 - p0)
    c0, c1 = p0 + h0 * reach, p1 - h1 * reach
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * c0 + 3 * (1 - t) * t**2 * c1 + t**3 * p1


def _connected(n_nodes: int, edges: list[tuple[int, int]]) -> bool:
    adj: list[list[int]] = [[] for _ in range(n_nodes)]
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    seen, stack = {0}, [0]
    while stack:
        for nxt in adj[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return len(seen) == n_nodes


def _layout(town: TownConfig, rng: np.random.Generator):
    nbx = int(rng.integers(town.blocks_x[0], town.blocks_x[1] + 1))
    nby = int(rng.integers(town.blocks_y[0], town.blocks_y[1] + 1))
    irregular = bool(rng.random() < town.irregular_prob)
    xs = np.concatenate([[0.0], np.cumsum(rng.uniform(*town.block_size, size=nbx))])
    ys = np.concatenate([[0.0], np.cumsum(rng.uniform(*town.block_size, size=nby))])
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    nodes = np.stack([gx.ravel(), gy.ravel()], axis=1)  # node (i, j) -> i * (nby + 1) + j
    if irregular:
        nodes = nodes + rng.uniform(-town.node_jitter, town.node_jitter, size=nodes.shape)
    node = lambda i, j: i * (nby + 1) + j  # noqa: E731
    edges = [(node(i, j), node(i + 1, j)) for i in range(nbx) for j in range(nby + 1)]
    edges += [(node(i, j), node(i, j + 1)) for i in range(nbx + 1) for j in range(nby)]
    if irregular:
        degree = np.zeros(len(nodes), int)
        for a, b in edges:
            degree[a] += 1
            degree[b] += 1
        for a, b in [edges[e] for e in rng.permutation(len(edges))]:
            if rng.random() >= town.remove_road_prob or degree[a] <= 2 or degree[b] <= 2:
                continue
            trial = [x for x in edges if x != (a, b)]
            if _connected(len(nodes), trial):
                edges = trial
                degree[a] -= 1
                degree[b] -= 1
    return nodes, edges


def generate_town(town: TownConfig, seed: int) -> RoadNetwork:
    """One seeded town map."""
    rng = np.random.default_rng(seed)
    nodes, edges = _layout(town, rng)
    w = town.lane_width
    n_edges = len(edges)
    n_lanes = rng.integers(town.lanes_per_direction[0], town.lanes_per_direction[1] + 1, n_edges)
    limits = np.asarray(town.speed_limits)
    speed = limits[np.minimum(n_lanes - 1 + rng.integers(0, 2, n_edges), len(limits) - 1)]
    half_width = n_lanes * w

    incident: list[list[int]] = [[] for _ in range(len(nodes))]
    for e, (a, b) in enumerate(edges):
        incident[a].append(e)
        incident[b].append(e)

    def away(e: int, v: int) -> np.ndarray:
        """Unit direction of road e leaving node v."""
        a, b = edges[e]
        d = nodes[b] - nodes[a] if a == v else nodes[a] - nodes[b]
        return d / np.linalg.norm(d)

    # Clearance: how far from a node its roads' lanes end (the intersection mouth).
    clearance = np.zeros(len(nodes))
    for v, es in enumerate(incident):
        ang = np.sort([np.arctan2(*away(e, v)[::-1]) for e in es])
        gaps = np.diff(np.concatenate([ang, ang[:1] + 2 * np.pi]))
        min_gap = min(float(gaps.min()), np.pi / 2)
        clearance[v] = max(half_width[e] for e in es) / np.sin(min_gap) + town.corner_clearance

    lanes: list[Lane] = []
    # road_lanes[(e, v)]: lane ids on road e driving towards node v, innermost first.
    road_lanes: dict[tuple[int, int], list[int]] = {}
    road_edges: list[np.ndarray] = []
    polygons: list[np.ndarray] = []
    for e, (a, b) in enumerate(edges):
        u = away(e, a)
        left = np.array([-u[1], u[0]])
        start, end = nodes[a] + u * clearance[a], nodes[b] - u * clearance[b]
        hw = half_width[e]
        overlap = 0.05 * u  # a sliver into the junction: no raster seam at the mouth
        polygons.append(
            np.array(
                [
                    start - overlap - left * hw,
                    end + overlap - left * hw,
                    end + overlap + left * hw,
                    start - overlap + left * hw,
                ]
            )
        )
        road_edges += [np.array([start + left * hw, end + left * hw])]
        road_edges += [np.array([start - left * hw, end - left * hw])]
        for frm, to, p0, p1, d in ((a, b, start, end, u), (b, a, end, start, -u)):
            right = np.array([d[1], -d[0]])
            ids = []
            for k in range(int(n_lanes[e])):
                off = right * (k + 0.5) * w
                ids.append(len(lanes))
                lanes.append(Lane(np.array([p0 + off, p1 + off]), w, float(speed[e])))
            for k, i in enumerate(ids):
                lanes[i].left = ids[k - 1] if k > 0 else -1
                lanes[i].right = ids[k + 1] if k + 1 < len(ids) else -1
            road_lanes[(e, to)] = ids
            del frm

    stop_lines: list[np.ndarray] = []
    stop_line_intersection: list[int] = []
    stop_line_phase: list[int] = []
    crosswalks: list[np.ndarray] = []
    centres: list[np.ndarray] = []
    for v, es in enumerate(incident):
        signalised = len(es) >= 3
        phase = {e: 1 for e in es}
        if signalised:
            # Phase 0: the straightest pair of roads; phase 1: the rest.
            best = min(
                ((e1, e2) for i, e1 in enumerate(es) for e2 in es[i + 1 :]),
                key=lambda p: float(away(p[0], v) @ away(p[1], v)),
            )
            phase.update({best[0]: 0, best[1]: 0})
            index = len(centres)
            centres.append(nodes[v].copy())
        hull_pts, hull_tags = [], []
        for e in es:
            d = away(e, v)
            left = np.array([-d[1], d[0]])  # looking out of the junction along road e
            mouth = nodes[v] + d * clearance[v]
            hw = half_width[e]
            hull_pts += [mouth + left * hw, mouth - left * hw]
            hull_tags += [e, e]
            if signalised:
                # Incoming lanes are on the left when looking out of the junction.
                stop_c = nodes[v] + d * (clearance[v] + town.stop_line_setback)
                for i in road_lanes[(e, v)]:
                    lanes[i].stop_line = len(stop_lines)
                stop_lines.append(np.array([stop_c, stop_c + left * hw]))
                stop_line_intersection.append(index)
                stop_line_phase.append(phase[e])
                near = nodes[v] + d * (clearance[v] + 0.5)
                far = near + d * town.crosswalk_width
                crosswalks.append(
                    np.array([near - left * hw, far - left * hw, far + left * hw, near + left * hw])
                )

        def connect(lane_in, d_in, lane_out, d_out, limit, hull_pts=hull_pts, hull_tags=hull_tags):
            curve = _bezier(lanes[lane_in].points[-1], d_in, lanes[lane_out].points[0], d_out)
            lanes[lane_in].successors.append(len(lanes))
            lanes.append(Lane(curve, w, float(limit), [lane_out], is_connector=True))
            hull_pts.extend(curve)
            hull_tags.extend([-1] * len(curve))

        # Connectors from every incoming lane set to every other road.
        for e_in in es:
            d_in = -away(e_in, v)  # driving direction arriving at v
            ins = road_lanes[(e_in, v)]
            options = []
            for e_out in es:
                if e_out == e_in:
                    continue
                d_out = away(e_out, v)
                other = edges[e_out][0] if edges[e_out][1] == v else edges[e_out][1]
                outs = road_lanes[(e_out, other)]
                turn = np.arctan2(d_in[0] * d_out[1] - d_in[1] * d_out[0], d_in @ d_out)
                if abs(turn) < STRAIGHT_ANGLE or len(es) == 2:
                    pairs = [(k, min(k, len(outs) - 1)) for k in range(len(ins))]
                    limit = min(lanes[ins[0]].speed_limit, lanes[outs[0]].speed_limit)
                elif turn > 0:
                    pairs = [(0, 0)]
                    limit = TURN_SPEED
                else:
                    pairs = [(len(ins) - 1, len(outs) - 1)]
                    limit = TURN_SPEED
                if len(es) == 2 and abs(turn) >= STRAIGHT_ANGLE:
                    limit = TURN_SPEED
                options.append((abs(turn), d_out, outs, limit))
                for k_in, k_out in pairs:
                    connect(ins[k_in], d_in, outs[k_out], d_out, limit)
            # A middle lane with no turn of its own (e.g. on the stem of a T) takes the
            # straightest way out, so no lane is a dead end.
            _, d_out, outs, limit = min(options, key=lambda o: o[0])
            for k, lane_id in enumerate(ins):
                if not lanes[lane_id].successors:
                    connect(lane_id, d_in, outs[min(k, len(outs) - 1)], d_out, TURN_SPEED)
        pts = np.asarray(hull_pts)
        hull = _convex_hull(pts)
        polygons.append(pts[hull])
        for i, j in zip(hull, np.roll(hull, -1), strict=True):
            tag_i, tag_j = hull_tags[i], hull_tags[j]
            if tag_i >= 0 and tag_i == tag_j:
                continue  # the mouth of a road: open, not an edge
            road_edges.append(np.array([pts[i], pts[j]]))

    return RoadNetwork(
        lanes=lanes,
        drivable_polygons=polygons,
        road_edges=road_edges,
        stop_lines=stop_lines,
        stop_line_intersection=stop_line_intersection,
        stop_line_phase=stop_line_phase,
        crosswalks=crosswalks,
        intersection_centres=centres,
    )
