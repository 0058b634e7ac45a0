"""Oriented-box collisions and off-road checks against shapely as the oracle."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

import gp_world as gw

# Pairs whose overlap or gap is below this (m^2 / m) are too close to call in float32.
AMBIGUOUS = 1e-3


def test_box_corners_match_analytic():
    c = gw.box_corners(*(jnp.asarray(v, jnp.float32) for v in (1.0, 2.0, np.pi / 2, 4.0, 2.0)))
    np.testing.assert_allclose(c, [[0.0, 4.0], [0.0, 0.0], [2.0, 0.0], [2.0, 4.0]], atol=1e-6)


def test_sat_matches_shapely_on_random_pairs():
    rng = np.random.default_rng(0)
    n = 4000
    x = rng.uniform(-6, 6, (n, 2)).astype(np.float32)
    y = rng.uniform(-6, 6, (n, 2)).astype(np.float32)
    yaw = rng.uniform(-np.pi, np.pi, (n, 2)).astype(np.float32)
    length = rng.uniform(1, 10, (n, 2)).astype(np.float32)
    width = rng.uniform(0.5, 3, (n, 2)).astype(np.float32)
    overlap = np.asarray(jax.jit(jax.vmap(gw.boxes_overlap))(x, y, yaw, length, width))
    corners = np.asarray(gw.box_corners(x, y, yaw, length, width), np.float64)
    checked = 0
    for i in range(n):
        a, b = Polygon(corners[i, 0]), Polygon(corners[i, 1])
        area = a.intersection(b).area
        if 0 < area < AMBIGUOUS or (area == 0 and a.distance(b) < AMBIGUOUS):
            continue
        assert overlap[i, 0, 1] == (area > 0), f"pair {i}: SAT {overlap[i, 0, 1]}, area {area}"
        assert overlap[i, 1, 0] == overlap[i, 0, 1]
        checked += 1
    assert checked > 0.95 * n
    assert 0.2 < overlap[:, 0, 1].mean() < 0.8  # both outcomes are well represented
    assert not overlap[:, [0, 1], [0, 1]].any()  # a box never collides with itself


@pytest.fixture(scope="module")
def village_bank():
    cfg = gw.WorldConfig(num_maps=2, routes_per_map=32)
    return cfg, gw.build_map_bank(cfg)


def test_drivable_raster_matches_polygon_union(village_bank):
    cfg, maps = village_bank
    rng = np.random.default_rng(1)
    for m in range(maps.num_maps):
        geom = gw.map_geometry(maps, m)
        union = shapely.union_all(
            [Polygon(p) for p, c in zip(geom.polygons, geom.polygon_classes, strict=True) if c == 0]
        )
        lo, hi = np.asarray(maps.origin[m]), np.asarray(union.bounds[2:])
        pts = rng.uniform(lo, hi + 10, (20000, 2)).astype(np.float32)
        got = np.asarray(gw.drivable_at(maps, jnp.int32(m), pts[:, 0], pts[:, 1]))
        want = shapely.contains_xy(union, pts[:, 0], pts[:, 1])
        # Points within one texel diagonal of the boundary may fall either way.
        margin = cfg.raster_resolution * np.sqrt(2)
        far = shapely.distance(union.boundary, shapely.points(pts)) > margin
        assert far.mean() > 0.8
        np.testing.assert_array_equal(got[far], want[far])
        assert 0.1 < want.mean() < 0.9
