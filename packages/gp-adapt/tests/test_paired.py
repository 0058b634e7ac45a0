"""Paired samples: calibrated views against gp-render's own cameras, box projections."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gp_adapt as ga
import gp_render as gr
from gp_render import testing as render_testing

# Depth agrees to float32 rounding of a ray parameter of tens of metres.
DEPTH_TOLERANCE = 1e-3


def test_rig_calibration_renders_like_gp_render_cameras():
    rig = gr.forward_rig(32, 24, cameras=3, mount=(1.5, 0.2, 1.6, 0.1, 0.05))
    calibration = ga.calibration_from_rig(rig)
    ego = jnp.asarray([-5.0, 1.0, 0.2])
    ground = render_testing.sample_ground()
    boxes = render_testing.random_boxes(jax.random.key(1), 12, radius=20.0)
    config = gr.RenderConfig.cpu()
    poses = jnp.einsum(
        "ij,cjk->cik",
        jnp.asarray(ga.ego_matrix(-5.0, 1.0, 0.2), jnp.float32),
        calibration.camera_to_ego,
    )

    @jax.jit
    def both(rig, intrinsics, poses):
        # One program for both paths: the render compiles once per program on CPU.
        def one(camera, k, pose):
            ours = ga.calibrated_view(k, pose, 32, 24, 0.1, 200.0)
            reference = gr.camera_view(camera, ego)

            def draw(v):
                return gr.render(v, boxes, ground, config=config, backend="xla", depth=True)

            return draw(ours), draw(reference)

        return jax.vmap(one)(rig, intrinsics, poses)

    ours, reference = both(rig, calibration.intrinsics, poses)
    np.testing.assert_array_equal(np.asarray(ours.rgb), np.asarray(reference.rgb))
    finite = np.isfinite(np.asarray(reference.depth))
    np.testing.assert_allclose(
        np.asarray(ours.depth)[finite], np.asarray(reference.depth)[finite], atol=DEPTH_TOLERANCE
    )


def test_quaternion_matches_axis_angle():
    angle = 0.7
    wxyz = (np.cos(angle / 2), 0.0, 0.0, np.sin(angle / 2))  # about +z
    expected = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    np.testing.assert_allclose(ga.quaternion_matrix(wxyz), expected, atol=1e-12)
    assert ga.yaw_of(expected) == pytest.approx(angle)
    with pytest.raises(ValueError, match="non-zero"):
        ga.quaternion_matrix((0, 0, 0, 0))


def test_rescaled_intrinsics_map_pixel_edges():
    k = np.array([[100.0, 0.0, 49.5], [0.0, 90.0, 29.5], [0.0, 0.0, 1.0]])
    half = ga.rescale_intrinsics(k, 0.5, 0.25)
    # A ray through the image centre (the edge between the middle pixels) stays at the centre.
    point = np.array([0.0, 0.0, 1.0])
    u, v, w = half @ point
    assert (u / w + 0.5, v / w + 0.5) == pytest.approx((25.0, 7.5))


def _sample_with_boxes() -> ga.PairedSample:
    rig = gr.pinhole_camera(48, 32, 80.0, mount=(1.0, 0.0, 1.5, 0.0, 0.02))
    calibration = ga.calibration_from_rig(jax.tree.map(lambda x: x[None], rig))
    boxes = ga.make_annotated_boxes(
        center=np.array([[12.0, 2.0, 0.8], [20.0, -4.0, 1.0], [-10.0, 0.0, 1.0]]),
        size=np.array([[4.5, 1.9, 1.6], [6.0, 2.5, 2.0], [4.0, 2.0, 2.0]]),
        yaw=np.array([0.3, -0.2, 0.0]),
        class_id=np.array([8, 8, 10]),
        max_boxes=5,
    )
    image = jnp.zeros((1, 32, 48, 3), jnp.uint8)
    ego = jnp.asarray(ga.ego_matrix(0.0, 0.0, 0.0), jnp.float32)
    return ga.PairedSample(image, calibration, ego, boxes, None)


def test_rendered_boxes_lie_in_their_projected_rectangles():
    sample = _sample_with_boxes()
    frame = jax.jit(lambda s: ga.render_paired_view(s, backend="xla", instance_id=True))(sample)
    rect, in_front = ga.box_image_regions(sample)
    instance = np.asarray(frame.instance_id[0])
    assert not bool(in_front[0, 2]), "the box behind the ego must not count as in front"
    assert not bool(in_front[0, 3]), "padding slots are never in front"
    rows, cols = np.mgrid[0:32, 0:48]
    for b in (0, 1):
        assert bool(in_front[0, b])
        hit = instance == b
        assert hit.sum() > 10, f"box {b} should cover pixels"
        u0, u1, v0, v1 = np.asarray(rect[0, b])
        # Pixel centres (OpenCV integers) of hits lie inside the rectangle, within half a pixel.
        assert cols[hit].min() >= u0 - 0.5 and cols[hit].max() <= u1 + 0.5
        assert rows[hit].min() >= v0 - 0.5 and rows[hit].max() <= v1 + 0.5
    assert not (instance == 2).any()


def test_sample_checks_image_against_calibration():
    sample = _sample_with_boxes()
    with pytest.raises(ValueError, match="does not match the calibration"):
        ga.PairedSample(
            jnp.zeros((1, 16, 48, 3), jnp.uint8),
            sample.calibration,
            sample.ego_pose,
            sample.boxes,
        )
    with pytest.raises(ValueError, match="exceed the budget"):
        ga.make_annotated_boxes(np.zeros((3, 3)), np.ones((3, 3)), np.zeros(3), np.zeros(3), 2)


def test_stack_samples_adds_a_leading_axis():
    sample = _sample_with_boxes()
    batch = ga.stack_samples([sample, sample])
    assert batch.image.shape == (2, 1, 32, 48, 3)
    np.testing.assert_array_equal(
        np.asarray(batch.boxes.center[1]), np.asarray(sample.boxes.center)
    )
    with pytest.raises(ValueError, match="box slots"):
        ga.stack_samples(
            [
                sample,
                eqx.tree_at(lambda s: s.boxes, sample, jax.tree.map(lambda x: x[:2], sample.boxes)),
            ]
        )
