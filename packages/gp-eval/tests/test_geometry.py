"""Box geometry against shapely (the reference NAVSIM and nuPlan use)."""

import numpy as np
import shapely

from gp_eval import box_corners, boxes_overlap
from gp_eval._geometry import distance_to_polyline, project_on_polyline


def test_boxes_overlap_matches_shapely():
    rng = np.random.default_rng(0)
    n = 400
    a = box_corners(*rng.uniform([-3, -3, -4, 1, 1], [3, 3, 4, 6, 3], (n, 5)).T)
    b = box_corners(*rng.uniform([-3, -3, -4, 1, 1], [3, 3, 4, 6, 3], (n, 5)).T)
    got = boxes_overlap(a, b)
    pairs = zip(a, b, strict=True)
    want = np.array([shapely.Polygon(p).intersects(shapely.Polygon(q)) for p, q in pairs])
    assert got.any() and not got.all()  # the sample covers both outcomes
    np.testing.assert_array_equal(got, want)


def test_corner_order_is_fl_rl_rr_fr():
    corners = box_corners(1.0, 2.0, np.pi / 2, 4.0, 2.0)
    # Heading north: front-left is north-west of the centre.
    np.testing.assert_allclose(corners, [[0, 4], [0, 0], [2, 0], [2, 4]], atol=1e-12)


def test_projection_matches_shapely():
    rng = np.random.default_rng(1)
    line = np.cumsum(rng.uniform(0.5, 2.0, (12, 2)), axis=0)
    points = rng.uniform(-2, 15, (50, 2))
    ref = shapely.LineString(line)
    want_s = [ref.project(shapely.Point(p)) for p in points]
    want_d = [ref.distance(shapely.Point(p)) for p in points]
    # 1e-9 m: both are closed-form float64 computations of the same quantity.
    np.testing.assert_allclose(project_on_polyline(line, points), want_s, atol=1e-9)
    np.testing.assert_allclose(distance_to_polyline(line, points), want_d, atol=1e-9)
