"""Paired samples: a real camera image and the annotated scene the renderer redraws.

World frame of a sample: the source's global frame shifted horizontally so the ego stands at
(0, 0) (float32 keeps centimetres near the ego), z up from the ground plane z = 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, UInt8

from gp_adapt._calibration import Calibration, calibrated_view
from gp_render import (
    Backend,
    Boxes,
    Frame,
    GroundTexture,
    RenderConfig,
    SemanticClass,
    default_palette,
    make_ground,
    render,
)


class AnnotatedBoxes(eqx.Module):
    """Padded 3D box annotations in the sample's world frame.

    center: (n, 3) metres; size: (n, 3) = (length along heading, width, height) metres;
    yaw: (n,) radians CCW from +x; class_id: (n,) `gp_render.SemanticClass`; valid: (n,).
    """

    center: Float[Array, "*batch boxes 3"]
    size: Float[Array, "*batch boxes 3"]
    yaw: Float[Array, "*batch boxes"]
    class_id: Int[Array, "*batch boxes"]
    valid: Bool[Array, "*batch boxes"]

    @property
    def count(self) -> int:
        return self.yaw.shape[-1]


class PairedSample(eqx.Module):
    """One annotated moment of a real (or synthetic "real") camera rig.

    image: (cams, height, width, 3) uint8 RGB; ego_pose: (4, 4) world-from-ego;
    ground: a semantic raster of the map when the source has one, else None (flat road).
    Stack samples with `stack_samples` for a leading batch axis.
    """

    image: UInt8[Array, "*batch cams height width 3"]
    calibration: Calibration
    ego_pose: Float[Array, "*batch 4 4"]
    boxes: AnnotatedBoxes
    ground: GroundTexture | None = None

    def __check_init__(self) -> None:
        shape = self.image.shape
        cal = self.calibration
        if shape[-1] != 3 or shape[-3:-1] != (cal.height, cal.width):
            raise ValueError(
                f"image shape {shape} does not match the calibration's "
                f"(cams, {cal.height}, {cal.width}, 3)"
            )
        if shape[-4] != cal.cameras:
            raise ValueError(f"{shape[-4]} images for {cal.cameras} calibrated cameras")


def make_annotated_boxes(
    center: np.ndarray,
    size: np.ndarray,
    yaw: np.ndarray,
    class_id: np.ndarray,
    max_boxes: int,
) -> AnnotatedBoxes:
    """Pad `n` annotated boxes to `max_boxes` slots (refusing more); the order is the caller's."""
    n = len(yaw)
    if n > max_boxes:
        raise ValueError(f"{n} annotated boxes exceed the budget of {max_boxes}: raise max_boxes")
    pad = lambda x, shape, dtype: np.concatenate(  # noqa: E731
        [np.asarray(x, dtype).reshape(n, *shape), np.zeros((max_boxes - n, *shape), dtype)]
    )
    return AnnotatedBoxes(
        center=jnp.asarray(pad(center, (3,), np.float32)),
        size=jnp.asarray(pad(size, (3,), np.float32)),
        yaw=jnp.asarray(pad(yaw, (), np.float32)),
        class_id=jnp.asarray(pad(class_id, (), np.int32)),
        valid=jnp.asarray(np.arange(max_boxes) < n),
    )


def flat_road(radius: float = 100.0, metres_per_texel: float = 2.0) -> GroundTexture:
    """A uniform road surface around the ego, for sources without map geometry."""
    texels = max(1, round(2 * radius / metres_per_texel))
    classes = np.full((texels, texels), int(SemanticClass.ROAD), np.int32)
    return make_ground(classes, np.array([-radius, -radius]), metres_per_texel)


def stack_samples(samples: Sequence[PairedSample]) -> PairedSample:
    """Stack samples of one rig, image size and box budget along a new leading axis."""
    if not samples:
        raise ValueError("no samples to stack")
    first = samples[0]
    for i, s in enumerate(samples):
        if s.image.shape != first.image.shape or s.boxes.count != first.boxes.count:
            raise ValueError(
                f"sample {i} has image {s.image.shape} and {s.boxes.count} box slots; "
                f"sample 0 has {first.image.shape} and {first.boxes.count}"
            )
        if (s.ground is None) != (first.ground is None):
            raise ValueError(f"sample {i} and sample 0 disagree on having map geometry")
    return jax.tree.map(lambda *xs: jnp.stack(xs), *samples)


def renderer_boxes(
    boxes: AnnotatedBoxes, palette: Float[Array, "classes 3"] | None = None
) -> Boxes:
    """gp-render boxes coloured by class; instance id = annotation index."""
    palette = default_palette() if palette is None else palette
    return Boxes(
        center=boxes.center,
        size=boxes.size,
        yaw=boxes.yaw,
        color=palette[boxes.class_id],
        class_id=boxes.class_id,
        instance_id=jnp.arange(boxes.count, dtype=jnp.int32),
        valid=boxes.valid,
    )


def camera_poses(calibration: Calibration, ego_pose: Float[Array, "4 4"]) -> Array:
    """World-from-camera transforms (cams, 4, 4)."""
    return jnp.einsum("ij,cjk->cik", ego_pose, calibration.camera_to_ego)


def render_paired_view(
    sample: PairedSample,
    config: RenderConfig = RenderConfig.cpu(),  # noqa: B008 (frozen, hashable)
    palette: Float[Array, "classes 3"] | None = None,
    *,
    backend: Backend = "auto",
    instance_id: bool = False,
    world_from_camera: Float[Array, "cams 4 4"] | None = None,
) -> Frame:
    """The simulated view (cams, H, W, ...) of one unbatched sample's annotated scene.

    `world_from_camera` overrides the calibrated camera poses (the shifted domain jitters them).
    """
    cal = sample.calibration
    poses = camera_poses(cal, sample.ego_pose) if world_from_camera is None else world_from_camera
    ground = flat_road() if sample.ground is None else sample.ground
    boxes = renderer_boxes(sample.boxes, palette)

    def one(intrinsics: Array, pose: Array) -> Frame:
        view = calibrated_view(intrinsics, pose, cal.width, cal.height, cal.near, cal.far)
        return render(
            view, boxes, ground, palette, config, backend=backend, instance_id=instance_id
        )

    return jax.vmap(one)(cal.intrinsics, poses)


def box_image_regions(
    sample: PairedSample,
) -> tuple[Float[Array, "cams boxes 4"], Bool[Array, "cams boxes"]]:
    """Per camera and box: the pixel rectangle (u_min, u_max, v_min, v_max) of its projected
    corners (OpenCV convention), and whether all corners lie in front of the camera."""
    cal = sample.calibration
    b = sample.boxes
    signs = jnp.asarray(
        [[sx, sy, sz] for sx in (-0.5, 0.5) for sy in (-0.5, 0.5) for sz in (-0.5, 0.5)],
        jnp.float32,
    )
    local = signs[None] * b.size[:, None, :]
    c, s = jnp.cos(b.yaw)[:, None], jnp.sin(b.yaw)[:, None]
    corners = (
        jnp.stack(
            [
                c * local[..., 0] - s * local[..., 1],
                s * local[..., 0] + c * local[..., 1],
                local[..., 2],
            ],
            -1,
        )
        + b.center[:, None, :]
    )
    world_from_camera = camera_poses(cal, sample.ego_pose)
    camera_from_world = jnp.linalg.inv(world_from_camera)
    homogeneous = jnp.concatenate([corners, jnp.ones((*corners.shape[:2], 1), jnp.float32)], -1)
    in_camera = jnp.einsum("cij,bkj->cbki", camera_from_world, homogeneous)[..., :3]
    pixels = jnp.einsum("cij,cbkj->cbki", cal.intrinsics, in_camera)
    depth = pixels[..., 2]
    in_front = jnp.all(depth > cal.near, axis=-1) & b.valid[None]
    safe = jnp.where(depth > cal.near, depth, 1.0)
    u, v = pixels[..., 0] / safe, pixels[..., 1] / safe
    rect = jnp.stack([u.min(-1), u.max(-1), v.min(-1), v.max(-1)], -1)
    return rect, in_front


def sample_from_cameras(
    images: list[Any],
    intrinsics: list[Any],
    camera_to_ego: list[Any],
    width: int,
    height: int,
    near: float,
    far: float,
    ego_pose: Any,
    boxes: Any,
    ground: Any = None,
) -> PairedSample:
    """A PairedSample from per-camera lists as readers collect them (images uint8 [H, W, 3],
    intrinsics [3, 3], camera-to-ego [4, 4]) and the ego pose [4, 4] in the local frame."""
    return PairedSample(
        image=jnp.asarray(np.stack(images)),
        calibration=Calibration(
            width=width,
            height=height,
            intrinsics=jnp.asarray(np.stack(intrinsics), jnp.float32),
            camera_to_ego=jnp.asarray(np.stack(camera_to_ego), jnp.float32),
            near=near,
            far=far,
        ),
        ego_pose=jnp.asarray(ego_pose, jnp.float32),
        boxes=boxes,
        ground=ground,
    )
