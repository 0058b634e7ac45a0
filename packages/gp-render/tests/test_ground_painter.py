"""The host ground painter agrees with shapely's geometry at texel centres."""

import numpy as np
import pytest
import shapely

import gp_render as gr

MPT = 0.25
ORIGIN = (-5.0, -3.0)


def _centres(painter):
    rows, cols = painter.classes.shape
    x = ORIGIN[0] + (np.arange(cols) + 0.5) * MPT
    y = ORIGIN[1] + (np.arange(rows) + 0.5) * MPT
    return np.meshgrid(x, y)


def test_concave_polygon_matches_shapely():
    polygon = [(-4.0, -2.0), (4.0, -2.5), (1.0, 0.3), (4.5, 3.0), (-3.0, 2.0), (-1.0, 0.1)]
    painter = gr.GroundPainter(ORIGIN, (10.0, 7.0), MPT).fill_polygon(
        polygon, gr.SemanticClass.ROAD
    )
    x, y = _centres(painter)
    expected = shapely.contains_xy(shapely.Polygon(polygon), x, y)
    painted = painter.classes == gr.SemanticClass.ROAD
    # Texel centres exactly on an edge may go either way: compare away from the boundary.
    clear = shapely.distance(shapely.Polygon(polygon).exterior, shapely.points(x, y)) > 1e-6
    np.testing.assert_array_equal(painted[clear], expected[clear])
    assert expected.sum() > 100


def test_polyline_matches_shapely_distance():
    line = [(-4.0, -2.0), (0.0, 1.0), (4.0, 1.5)]
    width = 0.6
    painter = gr.GroundPainter(ORIGIN, (10.0, 7.0), MPT).draw_polyline(
        line, gr.SemanticClass.LANE_SOLID, width
    )
    x, y = _centres(painter)
    points = shapely.points(x, y)
    distance = shapely.distance(shapely.LineString(line), points)
    # Ends are cut flat: keep texels whose projection falls within the line's extent.
    start, end = shapely.Point(line[0]), shapely.Point(line[-1])
    interior = (shapely.distance(start, points) > width) & (shapely.distance(end, points) > width)
    painted = painter.classes == gr.SemanticClass.LANE_SOLID
    band = np.abs(distance - width / 2) > 1e-6
    np.testing.assert_array_equal(
        painted[interior & band], (distance <= width / 2)[interior & band]
    )


def test_dashes_follow_the_pattern():
    painter = gr.GroundPainter((0.0, -1.0), (20.0, 2.0), MPT)
    painter.draw_polyline(
        [(0.0, 0.0), (20.0, 0.0)], gr.SemanticClass.LANE_DASHED, 0.3, dash=(3.0, 2.0)
    )
    row = painter.classes[4]  # texel centres at y = 0.125
    x = (np.arange(row.size) + 0.5) * MPT
    np.testing.assert_array_equal(row == gr.SemanticClass.LANE_DASHED, np.mod(x, 5.0) < 3.0)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="metres_per_texel"):
        gr.GroundPainter(ORIGIN, (10.0, 7.0), 0.0)
    with pytest.raises(ValueError, match="at least 3 points"):
        gr.GroundPainter(ORIGIN, (10.0, 7.0), MPT).fill_polygon([(0, 0), (1, 1)], 3)
    with pytest.raises(ValueError, match="rows, cols"):
        gr.make_ground(np.zeros(5), (0, 0), 1.0)


def test_build_ground_paints_every_marking():
    ground = gr.build_ground(
        (-20.0, -10.0), (40.0, 20.0), 0.2,
        roads=[[(-20, -5), (20, -5), (20, 5), (-20, 5)]],
        solid_lines=[[(-20, 4.8), (20, 4.8)]],
        dashed_lines=[[(-20, 0), (20, 0)]],
        stop_lines=[[(10, -4.8), (10, 0)]],
        crosswalks=[([(13, -5), (13, 5)], 3.0)],
    )  # fmt: skip
    present = set(np.unique(np.asarray(ground.classes)).tolist())
    wanted = {"OFFROAD", "ROAD", "LANE_SOLID", "LANE_DASHED", "STOP_LINE", "CROSSWALK"}
    assert {int(gr.SemanticClass[name]) for name in wanted} <= present
