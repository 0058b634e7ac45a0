"""The Pallas kernel (interpret mode on CPU) reproduces the XLA reference, and lowers for CUDA.

Exactness: both backends trace identical culled per-tile tables with the same jnp code, so
colour, class and instance must match bit for bit; depth to DEPTH_TOLERANCE (1e-5 m).
Images are tiny and not multiples of the 8-pixel tile: interpret mode is slow.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gp_render as gr
from gp_render import testing

WIDTH, HEIGHT = 20, 13  # neither a multiple of the tile
FAR = 40.0
SCENE_BOXES = 12
# Two chunks of 8 per tile, so the kernel's box loop runs more than once.
PLAIN = gr.RenderConfig(boxes_per_view=16, boxes_per_tile=16, boxes_per_chunk=8)
FANCY = gr.RenderConfig(boxes_per_view=16, boxes_per_tile=8, bilinear=True, fog_distance=25.0)


def _renderer(backend, config):
    def one(view, boxes, ground):
        return gr.render(
            view, boxes, ground, config=config, backend=backend,
            depth=True, class_id=True, instance_id=True,
        )  # fmt: skip

    return jax.jit(jax.vmap(one, in_axes=(0, 0, None)))


@pytest.fixture(scope="module")
def ground():
    return testing.sample_ground(0.5)


@pytest.fixture(scope="module")
def scenes():
    """Views and boxes: random scenes, the awkward cases, and a scene with every box invalid."""
    camera = gr.pinhole_camera(WIDTH, HEIGHT, 90.0, mount=(1.0, 0.0, 1.6, 0.0, 0.05), far=FAR)
    inside = gr.pinhole_camera(WIDTH, HEIGHT, 90.0, mount=(0.0, 0.0, 1.6, 0.0, 0.0), far=FAR)
    keys = jax.random.split(jax.random.key(7), 5)
    poses = jax.random.uniform(keys[0], (4, 3), jnp.float32, -4.0, 4.0)
    views = [gr.camera_view(camera, pose) for pose in poses]
    boxes = [testing.random_boxes(k, SCENE_BOXES, radius=20.0) for k in keys[1:]]
    views.append(gr.camera_view(inside, jnp.zeros(3)))
    boxes.append(testing.awkward_boxes(SCENE_BOXES, FAR))
    views.append(gr.camera_view(camera, poses[0]))
    dead = testing.random_boxes(keys[1], SCENE_BOXES, radius=10.0)
    boxes.append(gr.Boxes(**{**vars(dead), "valid": jnp.zeros(SCENE_BOXES, bool)}))
    stack = lambda xs: jax.tree.map(lambda *a: jnp.stack(a), *xs)  # noqa: E731
    return stack(views), stack(boxes)


@pytest.fixture(scope="module")
def plain_frames(scenes, ground):
    views, boxes = scenes
    return {b: _renderer(b, PLAIN)(views, boxes, ground) for b in ("xla", "pallas")}


def test_pallas_matches_xla_on_random_and_awkward_scenes(plain_frames):
    testing.assert_frames_agree(plain_frames["xla"], plain_frames["pallas"])


def test_scenes_exercise_the_awkward_cases(plain_frames):
    """Guards the test above against vacuity: boxes are seen, and culled ones are not."""
    instances = np.asarray(plain_frames["xla"].instance_id)
    assert (instances[:4] >= 100).any(), "random scenes show no box"
    seen = set(np.unique(instances[4]).tolist())
    assert 0 in seen, "the box straddling the camera plane is not drawn"
    assert 1 not in seen, "a box around the camera must not be drawn"
    assert 2 not in seen, "a box beyond the far range must not be drawn"
    assert (instances[5] == gr.NO_INSTANCE).all(), "invalid boxes were drawn"


def test_pallas_matches_xla_with_bilinear_fog_and_bev(ground):
    camera = gr.pinhole_camera(WIDTH, HEIGHT, 90.0, mount=(0.0, 0.0, 2.0, 0.0, 0.15), far=FAR)
    views = [
        gr.camera_view(camera, jnp.asarray([-8.0, -1.0, 0.1])),
        gr.bev_view((2.0, 0.0), WIDTH, HEIGHT, 1.7),
    ]
    views = jax.tree.map(lambda *a: jnp.stack(a), *views)
    boxes = jax.vmap(lambda k: testing.random_boxes(k, SCENE_BOXES, 12.0))(
        jax.random.split(jax.random.key(3), 2)
    )
    frames = [_renderer(b, FANCY)(views, boxes, ground) for b in ("xla", "pallas")]
    testing.assert_frames_agree(*frames)
    assert (np.asarray(frames[0].instance_id[1]) >= 100).any(), "BEV shows no box"


def test_pallas_matches_xla_with_zero_boxes(ground):
    camera = gr.pinhole_camera(WIDTH, HEIGHT, 90.0, mount=(0.0, 0.0, 1.6, 0.0, 0.1), far=FAR)
    views = jax.tree.map(lambda x: x[None], gr.camera_view(camera, jnp.asarray([0.0, 0.0, 0.3])))
    boxes = jax.tree.map(lambda x: x[None], gr.no_boxes())
    frames = [_renderer(b, PLAIN)(views, boxes, ground) for b in ("xla", "pallas")]
    testing.assert_frames_agree(*frames)
    assert (np.asarray(frames[0].class_id) == gr.SemanticClass.ROAD).any()


def test_kernel_lowers_for_cuda(ground):
    """Lowering runs the Triton lowering of the kernel, so GPU breakage shows on a CPU machine
    (JAX 0.10; JAX 0.11 lowers it only with a GPU present, where the compiled tests below run)."""
    config = gr.RenderConfig.gpu()
    config = gr.RenderConfig(**{**vars(config), "interpret": False})
    camera = gr.pinhole_camera(64, 64, 90.0)

    def frames(poses, boxes):
        def one(pose):
            view = gr.camera_view(camera, pose)
            return gr.render(view, boxes, ground, config=config, backend="pallas", depth=True).rgb

        return jax.vmap(one)(poses)

    boxes = testing.random_boxes(jax.random.key(0), 64)
    traced = jax.jit(frames).trace(jnp.zeros((4, 3)), boxes)
    try:
        lowered = traced.lower(lowering_platforms=("cuda",))
    except RuntimeError as err:
        # From JAX 0.11 the Triton lowering asks the GPU for its compute capability.
        if "No supported GPU devices found" not in str(err):
            raise
        pytest.skip("this JAX lowers Pallas' Triton kernels only with a GPU present")
    assert "triton" in lowered.as_text()


# Compiled Triton divides fp32 with a faster, not correctly rounded, instruction, so a ground
# hit on a texel border may land on the neighbour texel: allow 1 pixel in 1000 to differ.
GPU_MISMATCH_FRACTION = 1e-3


@pytest.mark.skipif(jax.default_backend() != "gpu", reason="needs a GPU to compile the kernel")
def test_compiled_kernel_matches_xla_on_gpu(scenes, ground):
    views, boxes = scenes
    compiled = gr.RenderConfig(**{**vars(PLAIN), "interpret": False})
    xla, kernel = (
        r(views, boxes, ground) for r in (_renderer("xla", PLAIN), _renderer("pallas", compiled))
    )
    for name in ("rgb", "class_id", "instance_id"):
        a, b = np.asarray(getattr(xla, name)), np.asarray(getattr(kernel, name))
        assert np.mean(a != b) <= GPU_MISMATCH_FRACTION, name
    np.testing.assert_allclose(np.asarray(kernel.depth), np.asarray(xla.depth), rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    "config", [PLAIN, FANCY, gr.RenderConfig.gpu()], ids=["plain", "fancy", "gpu"]
)
def test_pallas_matches_xla_on_larger_random_scenes(seed, config, ground):
    """The long matrix: 40 boxes, 37x29 images, perspective and BEV views, several configs."""
    keys = jax.random.split(jax.random.key(100 + seed), 4)
    camera = gr.pinhole_camera(37, 29, 100.0, mount=(1.0, 0.2, 1.8, 0.1, 0.1), far=FAR)
    poses = jax.random.uniform(keys[0], (2, 3), jnp.float32, -6.0, 6.0)
    views = [gr.camera_view(camera, p) for p in poses] + [gr.bev_view((0.0, 0.0), 37, 29, 1.3)]
    views = jax.tree.map(lambda *a: jnp.stack(a), *views)
    boxes = jax.vmap(lambda k: testing.random_boxes(k, 40, 15.0))(keys[1:])
    frames = [_renderer(b, config)(views, boxes, ground) for b in ("xla", "pallas")]
    testing.assert_frames_agree(*frames)
