"""Town generator, lane graph, route tables, spatial index, map bank and its file format."""

import dataclasses
import itertools

import jax.numpy as jnp
import numpy as np
import pytest

import gp_world as gw

CFG = gw.WorldConfig(num_maps=3, routes_per_map=48)


@pytest.fixture(scope="module")
def bank():
    return gw.build_map_bank(CFG)


@pytest.fixture(scope="module")
def city_net():
    return gw.generate_town(gw.WorldConfig.city().town, seed=3)


def test_train_and_heldout_seeds_are_disjoint():
    train, held = gw.map_seeds(CFG, "train"), gw.map_seeds(CFG, "heldout")
    assert not set(train) & set(held)
    with pytest.raises(ValueError, match="overlaps"):
        gw.map_seeds(dataclasses.replace(CFG, heldout_seed_start=1), "train")
    with pytest.raises(ValueError, match="split"):
        gw.build_map_bank(CFG, split="test")  # type: ignore[arg-type]


def test_generator_is_seeded():
    a, b = gw.generate_town(CFG.town, 5), gw.generate_town(CFG.town, 5)
    c = gw.generate_town(CFG.town, 6)
    assert len(a.lanes) == len(b.lanes)
    np.testing.assert_array_equal(a.lanes[7].points, b.lanes[7].points)
    assert len(a.lanes) != len(c.lanes) or not np.array_equal(a.lanes[7].points, c.lanes[7].points)


def test_city_has_three_and_four_way_signalised_junctions(city_net):
    arms = np.bincount(city_net.stop_line_intersection)
    assert set(arms.tolist()) <= {3, 4} and {3, 4} <= set(arms.tolist())
    assert len(city_net.crosswalks) == len(city_net.stop_lines)
    # Both phases exist at every junction, and lanes per direction range over 1..3.
    phases = np.asarray(city_net.stop_line_phase)
    for i in range(len(arms)):
        assert set(phases[np.asarray(city_net.stop_line_intersection) == i]) == {0, 1}
    widths = {round(float(np.linalg.norm(s[1] - s[0])) / 3.5) for s in city_net.stop_lines}
    assert widths == {1, 2, 3}


def test_connectors_turn_left_straight_and_right(city_net):
    turns = set()
    for lane in city_net.lanes:
        if lane.is_connector:
            d0, d1 = lane.points[1] - lane.points[0], lane.points[-1] - lane.points[-2]
            turn = np.degrees(np.arctan2(d0[0] * d1[1] - d0[1] * d1[0], d0 @ d1))
            turns.add("left" if turn > 35 else "right" if turn < -35 else "straight")
    assert turns == {"left", "straight", "right"}


def _right_turn_radii(net) -> np.ndarray:
    """Smallest radius of curvature (m) along each right-turning connector."""
    radii = []
    for lane in net.lanes:
        d = np.diff(lane.points, axis=0)
        heading = np.unwrap(np.arctan2(d[:, 1], d[:, 0]))
        if lane.is_connector and heading[-1] - heading[0] < -np.radians(60):
            step = 0.5 * (np.linalg.norm(d[1:], axis=1) + np.linalg.norm(d[:-1], axis=1))
            radii.append(1.0 / (np.abs(np.diff(heading)) / step).max())
    return np.asarray(radii)


def test_corner_clearance_widens_the_right_turns():
    """The same regular town with the junction mouths 6 m further out: every right turn's
    tightest radius grows by most of that (a 90-degree turn between two alike roads has the
    clearance plus half a lane), none is left tighter than the longest car can turn at the
    grid's 0.5 rad (5.5 m), and every road keeps a lane of positive length."""
    regular = dataclasses.replace(CFG.town, irregular_prob=0.0)
    radii = {}
    for clearance in (2.0, 8.0):
        town = dataclasses.replace(regular, corner_clearance=clearance)
        net = gw.generate_town(town, seed=4)
        radii[clearance] = _right_turn_radii(net)
        for lane in net.lanes:
            if not lane.is_connector:
                assert np.linalg.norm(lane.points[-1] - lane.points[0]) > 5.0
    assert len(radii[2.0]) == len(radii[8.0]) > 10  # the same layout, lane for lane
    assert (radii[8.0] - radii[2.0] > 0.7 * 6.0).all()
    assert radii[2.0].min() < 3.0 < 7.0 < radii[8.0].min()
    with pytest.raises(ValueError, match="corner_clearance"):
        dataclasses.replace(regular, corner_clearance=-1.0)


def test_lane_graph_is_continuous(bank):
    for m in range(bank.num_maps):
        pts = np.asarray(bank.lane_points[m])
        first, count = np.asarray(bank.lane_first_point[m]), np.asarray(bank.lane_num_points[m])
        succ = np.asarray(bank.lane_successors[m])
        for lane in np.nonzero(np.asarray(bank.lanes_valid[m]))[0]:
            assert (succ[lane] >= 0).any(), f"lane {lane} is a dead end"
            end = pts[first[lane] + count[lane] - 1, :2]
            for s in succ[lane][succ[lane] >= 0]:
                np.testing.assert_allclose(pts[first[s], :2], end, atol=1e-3)


def test_routes_are_connected_lane_sequences(bank):
    spacing = CFG.town.lane_point_spacing
    route_lanes, route_points = np.asarray(bank.route_lanes), np.asarray(bank.route_points)
    for m in range(bank.num_maps):
        succ = np.asarray(bank.lane_successors[m])
        n_routes = int(bank.num_routes[m])
        assert n_routes == CFG.routes_per_map
        for r in range(n_routes):
            lanes = route_lanes[m, r]
            lanes = lanes[lanes >= 0]
            for a, b in itertools.pairwise(lanes):
                assert b in succ[a], f"map {m} route {r}: lane {b} does not follow {a}"
            n = int(bank.route_num_points[m, r])
            pts = route_points[m, r, :n]
            gaps = np.linalg.norm(np.diff(pts[:, :2], axis=0), axis=1)
            assert gaps.max() <= spacing * 1.01 + 1e-3  # no jumps along the route
            np.testing.assert_allclose(np.diff(pts[:, 3]), gaps, atol=1e-3)
            lo, hi = CFG.route_length
            assert lo - 1e-3 <= pts[-1, 3] <= hi + 1e-3


def test_grid_lists_nearest_lane_points_of_each_cell(bank):
    # Reference: brute-force nearest-k over all lane points of the map, per cell centre.
    m = 0
    cell = bank.grid_cell_size
    origin = np.asarray(bank.origin[m])
    grid = np.asarray(bank.grid_lane_points[m])
    pts = np.asarray(bank.lane_points[m])[np.asarray(bank.lane_points_valid[m]), :2]
    k = grid.shape[-1]
    checked = 0
    rng = np.random.default_rng(0)
    cells = np.argwhere(grid[..., 0] >= 0)
    for iy, ix in cells[rng.choice(len(cells), 200, replace=False)]:
        centre = origin + (np.array([ix, iy]) + 0.5) * cell
        d = np.linalg.norm(pts - centre, axis=1)
        order = np.argsort(d, kind="stable")
        if d[order[k - 1]] >= 1.5 * cell:
            continue  # beyond the 3x3 neighbourhood the list may legitimately stop short
        listed = grid[iy, ix]
        assert (listed >= 0).all()
        # Same distances as the brute-force k nearest (ids may differ only on exact ties).
        np.testing.assert_allclose(np.sort(d[listed]), d[order[:k]], atol=1e-4)
        checked += 1
    assert checked > 100


def test_bank_pads_with_invalid_entries(bank):
    n_lanes = bank.lanes_valid.sum(-1)
    assert bank.lanes_valid.shape[1] == int(n_lanes.max())
    assert (np.asarray(bank.lane_successors)[~np.asarray(bank.lanes_valid)] == -1).all()


def test_save_load_round_trip(bank, tmp_path):
    path = tmp_path / "maps.npz"
    gw.save_map_bank(bank, path)
    loaded = gw.load_map_bank(path)
    for name in ("lane_points", "drivable", "route_points", "grid_lane_points", "stop_lines"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(bank, name))
    assert loaded.grid_cell_size == bank.grid_cell_size


def test_load_rejects_wrong_version_and_shape(bank, tmp_path):
    path = tmp_path / "maps.npz"
    gw.save_map_bank(bank, path)
    with np.load(path) as f:
        arrays = dict(f)
    np.savez(tmp_path / "v0.npz", **{**arrays, "format_version": np.int32(0)})
    with pytest.raises(ValueError, match="version 0"):
        gw.load_map_bank(tmp_path / "v0.npz")
    np.savez(tmp_path / "bad.npz", **{**arrays, "lane_points": arrays["lane_points"][0]})
    with pytest.raises(ValueError, match="lane_points"):
        gw.load_map_bank(tmp_path / "bad.npz")
    np.savez(tmp_path / "foreign.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a gp-world map"):
        gw.load_map_bank(tmp_path / "foreign.npz")


def test_map_geometry_classes(bank):
    geom = gw.map_geometry(bank, 1)
    assert set(geom.polygon_classes) == {0, 1}
    assert set(geom.polyline_classes) == {2, 3, 4}
    with pytest.raises(ValueError, match="unknown map id"):
        gw.map_geometry(bank, 7)
    assert jnp.asarray(geom.stop_line_phase).shape == geom.stop_line_intersection.shape
