"""Culling keeps what a view and a tile can see, nearest first, within fixed budgets."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gp_render as gr
from gp_render import _culling
from gp_render import _tracing as tr

CONFIG = gr.RenderConfig(tile_height=8, tile_width=8, boxes_per_view=8, boxes_per_tile=4)
CAMERA = gr.pinhole_camera(32, 16, 90.0, mount=(0.0, 0.0, 1.5, 0.0, 0.0), far=50.0)


@pytest.fixture(scope="module")
def cull():
    return jax.jit(lambda view, boxes: _culling.cull(view, boxes, CONFIG))


def _view():
    return gr.camera_view(CAMERA, jnp.zeros(3))


def test_only_tiles_near_a_box_list_it(cull):
    # A box ahead and to the left: it covers the left half of the image only.
    boxes = gr.make_boxes([(10.0, 5.0, 1.0)], [(2.0, 2.0, 2.0)], [0.0])
    tables = np.asarray(cull(_view(), boxes))
    counts = tables[:, tr.BOX_COUNT, 0].reshape(2, 4)
    assert (counts[:, :2] == 1).all() and (counts[:, 3] == 0).all()


def test_boxes_behind_beyond_or_invalid_are_culled(cull):
    centers = [(-10.0, 0.0, 1.0), (80.0, 0.0, 1.0), (10.0, 60.0, 1.0), (10.0, 0.0, 1.0)]
    valid = [True, True, True, False]
    boxes = gr.make_boxes(centers, [(2.0, 2.0, 2.0)] * 4, [0.0] * 4, valid=valid)
    tables = np.asarray(cull(_view(), boxes))
    assert (tables[:, tr.BOX_COUNT, 0] == 0).all()
    assert (tables[:, tr.BOX_VALID, :] == 0).all()


def test_tile_budget_keeps_the_nearest_boxes(cull):
    # Six boxes in a row straight ahead, listed far to near; the tile budget is four.
    distances = np.array([30.0, 25.0, 20.0, 15.0, 10.0, 5.0])
    centers = [(d, 0.0, 1.5) for d in distances]
    boxes = gr.make_boxes(centers, [(1.0, 1.0, 1.0)] * 6, [0.0] * 6)
    tables = np.asarray(cull(_view(), boxes))
    centre_tile = tables[1 * 4 + 1]  # tile row 1, col 1 holds the image centre
    assert centre_tile[tr.BOX_COUNT, 0] == 4
    np.testing.assert_allclose(centre_tile[tr.BOX_CX], distances[::-1][:4])


def test_frame_cost_does_not_depend_on_boxes_out_of_view():
    """Many boxes behind the camera render exactly like none at all."""
    ground = gr.make_ground(np.full((8, 8), int(gr.SemanticClass.ROAD)), (-4.0, -4.0), 1.0)
    render = jax.jit(
        lambda boxes: gr.render(_view(), boxes, ground, config=CONFIG, backend="xla").rgb
    )
    behind = gr.make_boxes(
        np.stack([-np.arange(5.0, 205.0), np.zeros(200), np.ones(200)], axis=1),
        np.ones((200, 3)),
        np.zeros(200),
    )
    np.testing.assert_array_equal(np.asarray(render(behind)), np.asarray(render(gr.no_boxes())))
