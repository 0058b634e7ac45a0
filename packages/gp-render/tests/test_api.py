"""Configuration checks, rigs and stitching, backend choice."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gp_render as gr


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tile_height": 6}, "power of two"),
        ({"boxes_per_view": 4, "boxes_per_tile": 8}, "boxes_per_view"),
        ({"boxes_per_tile": 4, "boxes_per_chunk": 8}, "boxes_per_tile"),
        ({"fog_distance": 0.0}, "fog_distance"),
    ],
)
def test_bad_config_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gr.RenderConfig(**kwargs)


def test_bad_camera_and_backend_are_rejected():
    with pytest.raises(ValueError, match="horizontal_fov_deg"):
        gr.pinhole_camera(8, 8, 180.0)
    with pytest.raises(ValueError, match="near < far"):
        gr.pinhole_camera(8, 8, 90.0, near=5.0, far=1.0)
    with pytest.raises(ValueError, match="backend"):
        gr.resolve_backend("cuda")  # type: ignore[arg-type]


def test_auto_backend_is_xla_on_cpu():
    assert gr.resolve_backend("auto") == ("pallas" if jax.default_backend() == "gpu" else "xla")


def test_forward_rig_stitches_left_to_right():
    """A box to the front-left shows in the left camera only; stitching keeps the order."""
    rig = gr.forward_rig(16, 12, cameras=3, horizontal_fov_deg=60.0, mount=(0, 0, 1.5, 0, 0))
    ground = gr.make_ground(np.full((4, 4), int(gr.SemanticClass.ROAD)), (-2.0, -2.0), 1.0)
    boxes = gr.make_boxes([(8.0, 8.0, 1.0)], [(2.0, 2.0, 2.0)], [0.0])

    @jax.jit
    def frames(pose):
        views = gr.rig_views(rig, pose)
        return jax.vmap(lambda v: gr.render(v, boxes, ground, instance_id=True).instance_id)(views)

    instances = np.asarray(frames(jnp.zeros(3)))
    assert instances.shape == (3, 12, 16)
    seen = (instances == 0).any(axis=(1, 2))
    np.testing.assert_array_equal(seen, [True, False, False])
    panorama = np.asarray(gr.stitch(jnp.asarray(instances)))
    assert panorama.shape == (12, 48)
    np.testing.assert_array_equal(panorama[:, :16], instances[0])


def test_bad_render_inputs_are_named():
    ground = gr.make_ground(np.full((4, 4), int(gr.SemanticClass.ROAD)), (-2.0, -2.0), 1.0)
    view = gr.camera_view(gr.pinhole_camera(8, 8), jnp.zeros(3))
    boxes = gr.make_boxes([(5.0, 0.0, 1.0)], [(2.0, 2.0, 2.0)], [0.0])
    with pytest.raises(ValueError, match="palette"):
        gr.render(view, boxes, ground, palette=jnp.zeros((3, 3)))
    with pytest.raises(ValueError, match="vmap"):
        gr.render(jax.tree.map(lambda x: x[None], view), boxes, ground)
    with pytest.raises(ValueError, match=r"boxes\.size"):
        gr.render(view, gr.Boxes(**{**vars(boxes), "size": jnp.ones((2, 3))}), ground)
