"""Analytic checks of the XLA reference: coverage, horizon, texel placement, depth, handedness.

All use one compiled 64x64 renderer (views, boxes and ground are arguments) to keep the suite fast.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gp_render as gr

SIZE = 64
FOCAL = 32.0  # 90 degree horizontal field of view on 64 pixels
CENTRE = 32.0
SLOTS = 4  # boxes per scene, padded with invalid ones
# Float32 tracing of rays a few metres long: 1e-5 relative covers rounding with a wide margin.
DEPTH_RTOL = 1e-5


@pytest.fixture(scope="module")
def render64():
    def one(view, boxes, ground):
        return gr.render(
            view, boxes, ground, backend="xla", depth=True, class_id=True, instance_id=True
        )

    return jax.jit(one)


def _camera(mount, far=200.0):
    return gr.pinhole_camera(SIZE, SIZE, 90.0, mount=mount, far=far)


def _ground(cls=gr.SemanticClass.OFFROAD, origin=(-32.0, -32.0), metres_per_texel=1.0):
    return gr.make_ground(np.full((64, 64), int(cls)), origin, metres_per_texel)


def _boxes(centers, sizes, yaws=None):
    n = len(centers)
    centers = np.concatenate(
        [np.asarray(centers, np.float32).reshape(n, 3), np.zeros((SLOTS - n, 3))]
    )
    sizes = np.concatenate([np.asarray(sizes, np.float32).reshape(n, 3), np.ones((SLOTS - n, 3))])
    yaws = np.zeros(SLOTS) if yaws is None else np.concatenate([yaws, np.zeros(SLOTS - n)])
    valid = np.arange(SLOTS) < n
    return gr.make_boxes(centers, sizes, yaws, valid=valid)


def _pixel_centres():
    return np.arange(SIZE) + 0.5


def test_box_ahead_covers_the_predicted_rows_and_columns(render64):
    height, distance, width, box_height = 1.0, 10.0, 4.0, 3.0
    # Front face at x = distance, taller than the camera so no ray sees the top face.
    boxes = _boxes([(distance + 2.0, 0.0, box_height / 2)], [(4.0, width, box_height)])
    frame = render64(gr.camera_view(_camera((0, 0, height, 0, 0)), jnp.zeros(3)), boxes, _ground())
    u = _pixel_centres()
    cols = np.abs(u - CENTRE) <= FOCAL * width / (2 * distance)
    # Rows between the box top and where the ground, nearer than the box, takes over.
    rows = (u >= CENTRE - (box_height - height) * FOCAL / distance) & (
        u <= CENTRE + height * FOCAL / distance
    )
    expected = rows[:, None] & cols[None, :]
    np.testing.assert_array_equal(np.asarray(frame.instance_id) == 0, expected)
    depth = np.asarray(frame.depth)[expected]
    np.testing.assert_allclose(depth, distance, rtol=DEPTH_RTOL)


def test_box_on_the_left_appears_on_the_left(render64):
    """World y is left of an ego heading +x; image columns grow to the right."""
    boxes = _boxes([(12.0, 4.0, 1.0)], [(4.0, 2.0, 2.0)])
    frame = render64(gr.camera_view(_camera((0, 0, 1.5, 0, 0)), jnp.zeros(3)), boxes, _ground())
    cols = np.nonzero((np.asarray(frame.instance_id) == 0).any(axis=0))[0]
    assert cols.size > 0 and cols.max() < CENTRE


@pytest.mark.parametrize("pitch", [0.0, 0.12, -0.08])
def test_horizon_sits_on_the_predicted_row(render64, pitch):
    frame = render64(
        gr.camera_view(_camera((0, 0, 1.6, 0, pitch), far=1e4), jnp.zeros(3)),
        _boxes([], []),
        _ground(),
    )
    horizon = CENTRE - FOCAL * np.tan(pitch)  # pitch down moves the horizon up the image
    sky = (np.asarray(frame.class_id) == gr.SemanticClass.SKY).all(axis=1)
    ground = (np.asarray(frame.class_id) != gr.SemanticClass.SKY).all(axis=1)
    v = _pixel_centres()
    # Half a pixel of slack: ground meets the far range a hair below the true horizon.
    assert sky[v < horizon - 0.5].all() and ground[v > horizon + 0.5].all()
    assert not sky[v > horizon + 0.5].any()


def _project(point, pose, mount):
    """Independent pinhole projection built from elementary rotations (ego x fwd, y left, z up)."""

    def rot_z(a):
        return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])

    def rot_y(a):
        return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])

    x, y, z, yaw, pitch = mount
    origin = np.array([pose[0], pose[1], 0.0]) + rot_z(pose[2]) @ np.array([x, y, z])
    world_from_mount = rot_z(pose[2]) @ rot_z(yaw) @ rot_y(pitch)
    forward, left, up = world_from_mount.T @ (np.asarray(point) - origin)
    return CENTRE + FOCAL * (-left) / forward, CENTRE + FOCAL * (-up) / forward, forward


def test_texel_appears_at_its_projected_pixel(render64):
    classes = np.full((64, 64), int(gr.SemanticClass.ROAD))
    ix, iy = 9, 34
    classes[iy, ix] = gr.SemanticClass.CROSSWALK
    ground = gr.make_ground(classes, (0.0, -32.0), 1.0)
    texel_centre = (ix + 0.5, -32.0 + iy + 0.5, 0.0)
    pose, mount = (1.0, 0.5, 0.2), (0.5, 0.3, 6.0, -0.1, 0.6)
    frame = render64(gr.camera_view(_camera(mount), jnp.asarray(pose)), _boxes([], []), ground)
    u, v, _ = _project(texel_centre, pose, mount)
    assert 0 <= u < SIZE and 0 <= v < SIZE
    assert frame.class_id[int(v), int(u)] == gr.SemanticClass.CROSSWALK
    # And only near there: every crosswalk pixel lies within 3 pixels of the projection.
    rows, cols = np.nonzero(np.asarray(frame.class_id) == gr.SemanticClass.CROSSWALK)
    assert np.abs(rows + 0.5 - v).max() < 3 and np.abs(cols + 0.5 - u).max() < 3


def test_ground_depth_equals_analytic_distance(render64):
    height, pitch = 1.6, 0.2
    frame = render64(
        gr.camera_view(_camera((0, 0, height, 0, pitch)), jnp.zeros(3)), _boxes([], []), _ground()
    )
    v = _pixel_centres()
    # Ray (.., (v - cy) / f, 1) in camera axes drops cos(pitch) (v - cy) / f + sin(pitch) per metre.
    expected = height / (np.cos(pitch) * (v - CENTRE) / FOCAL + np.sin(pitch))
    rows = expected > 0
    rows &= expected < 150.0
    depth = np.asarray(frame.depth)[rows]
    np.testing.assert_allclose(
        depth, np.broadcast_to(expected[rows, None], depth.shape), rtol=DEPTH_RTOL
    )


def test_bev_is_north_up_with_east_right(render64):
    view = gr.bev_view((0.0, 0.0), SIZE, SIZE, 0.5)
    boxes = _boxes([(3.0, 5.0, 1.0)], [(4.0, 2.0, 2.0)])
    frame = render64(view, boxes, _ground())
    u = _pixel_centres()
    cols = np.abs(u - (CENTRE + 3.0 / 0.5)) <= 2.0 / 0.5
    rows = np.abs(u - (CENTRE - 5.0 / 0.5)) <= 1.0 / 0.5
    np.testing.assert_array_equal(np.asarray(frame.instance_id) == 0, rows[:, None] & cols[None, :])
    # Depth is the drop from the view's altitude (100 m) to the box top at 2 m.
    np.testing.assert_allclose(np.asarray(frame.depth)[rows][:, cols], 98.0, rtol=DEPTH_RTOL)


def test_top_face_is_lit_brighter_than_the_sides(render64):
    boxes = _boxes([(8.0, 0.0, 0.5)], [(2.0, 2.0, 1.0)], yaws=np.array([0.6]))
    camera = _camera((0, 0, 3.0, 0, 0.35))
    frame = render64(gr.camera_view(camera, jnp.zeros(3)), boxes, _ground())
    rgb = np.asarray(frame.rgb).astype(int).sum(-1)[np.asarray(frame.instance_id) == 0]
    assert len(np.unique(rgb)) >= 2, "faces are not shaded apart"


def test_colours_come_from_the_palette_in_rgb_order(render64):
    """Sky and ground pixels carry their palette colours, channels in R, G, B order."""
    palette = np.asarray(gr.default_palette())
    frame = render64(
        gr.camera_view(_camera((0, 0, 1.6, 0, 0.0)), jnp.zeros(3)),
        _boxes([], []),
        _ground(gr.SemanticClass.ROAD, origin=(-1.0, -32.0)),
    )
    rgb = np.asarray(frame.rgb)
    expected = lambda cls: np.floor(palette[cls] * 255 + 0.5).astype(np.uint8)  # noqa: E731
    np.testing.assert_array_equal(rgb[0, 0], expected(gr.SemanticClass.SKY))
    np.testing.assert_array_equal(rgb[-1, SIZE // 2], expected(gr.SemanticClass.ROAD))
