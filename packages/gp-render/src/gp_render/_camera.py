"""Cameras and views: how each pixel's ray is formed.

A `View` is an affine ray model: pixel (row, col) casts the ray
    origin = origin_0 + col * origin_per_col + row * origin_per_row
    dir    = dir_0 + col * dir_per_col + row * dir_per_row
so a pinhole camera (fixed origin, direction affine in the pixel) and the top-down BEV view
(parallel rays, origin affine in the pixel) share one tracer. Pinhole directions have unit
component along the optical axis, so the ray parameter t is the camera z-depth in metres.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float


class Camera(eqx.Module):
    """A pinhole camera mounted on the ego vehicle; array fields may carry a leading rig axis.

    Intrinsics in pixels (the centre of pixel (row, col) sits at u = col + 0.5, v = row + 0.5);
    `mount` = (x forward, y left, z up, yaw CCW, pitch down-positive) relative to the ego,
    metres and radians; `near`/`far` bound the z-depth of what is drawn.
    """

    width: int = eqx.field(static=True)
    height: int = eqx.field(static=True)
    fx: Float[Array, "*rig"]
    fy: Float[Array, "*rig"]
    cx: Float[Array, "*rig"]
    cy: Float[Array, "*rig"]
    mount: Float[Array, "*rig 5"]
    near: Float[Array, "*rig"]
    far: Float[Array, "*rig"]


class View(eqx.Module):
    """One image's rays in the world frame, plus the projection used for culling.

    `projection` maps a homogeneous world point to (u * w, v * w, w) in continuous pixel
    coordinates; w is the z-depth for a pinhole camera and 1 for the orthographic BEV view.
    """

    width: int = eqx.field(static=True)
    height: int = eqx.field(static=True)
    origin: Float[Array, "3"]
    origin_per_col: Float[Array, "3"]
    origin_per_row: Float[Array, "3"]
    direction: Float[Array, "3"]
    direction_per_col: Float[Array, "3"]
    direction_per_row: Float[Array, "3"]
    projection: Float[Array, "3 4"]
    near: Float[Array, ""]
    far: Float[Array, ""]


def pinhole_camera(
    width: int,
    height: int,
    horizontal_fov_deg: float = 90.0,
    mount: ArrayLike | Sequence[float] = (1.5, 0.0, 1.6, 0.0, 0.0),
    near: float = 0.1,
    far: float = 200.0,
) -> Camera:
    """A camera with square pixels and the principal point at the image centre."""
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if not 0.0 < horizontal_fov_deg < 180.0:
        raise ValueError(f"horizontal_fov_deg must lie in (0, 180), got {horizontal_fov_deg}")
    if not 0.0 < near < far:
        raise ValueError(f"need 0 < near < far, got near={near}, far={far}")
    focal = 0.5 * width / float(jnp.tan(jnp.deg2rad(horizontal_fov_deg) / 2))
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return Camera(
        width=width,
        height=height,
        fx=f32(focal),
        fy=f32(focal),
        cx=f32(width / 2),
        cy=f32(height / 2),
        mount=f32(mount).reshape(5),
        near=f32(near),
        far=f32(far),
    )


def forward_rig(
    width: int,
    height: int,
    cameras: int = 3,
    horizontal_fov_deg: float = 60.0,
    mount: ArrayLike | Sequence[float] = (1.5, 0.0, 1.6, 0.0, 0.0),
    near: float = 0.1,
    far: float = 200.0,
) -> Camera:
    """`cameras` forward cameras side by side, left to right, edges touching (leading rig axis).

    Camera i is yawed by (centre - i) * fov so their views stitch into one wide panorama.
    """
    base = pinhole_camera(width, height, horizontal_fov_deg, mount, near, far)
    fov = float(jnp.deg2rad(horizontal_fov_deg))
    yaws = [((cameras - 1) / 2 - i) * fov for i in range(cameras)]
    mounts = jnp.stack([base.mount.at[3].add(yaw) for yaw in yaws])
    stack = lambda x: jnp.broadcast_to(x, (cameras,))  # noqa: E731
    return Camera(
        width=width,
        height=height,
        fx=stack(base.fx),
        fy=stack(base.fy),
        cx=stack(base.cx),
        cy=stack(base.cy),
        mount=mounts,
        near=stack(base.near),
        far=stack(base.far),
    )


def camera_view(camera: Camera, ego_pose: Float[Array, "3"]) -> View:
    """The view of one (unbatched) camera on an ego at pose (x, y, yaw) in the world."""
    ego_pose = jnp.asarray(ego_pose, jnp.float32)
    mx, my, mz, myaw, pitch = (camera.mount[i] for i in range(5))
    ex, ey, eyaw = ego_pose[0], ego_pose[1], ego_pose[2]
    ce, se = jnp.cos(eyaw), jnp.sin(eyaw)
    origin = jnp.stack([ex + ce * mx - se * my, ey + se * mx + ce * my, mz])
    yaw = eyaw + myaw
    cy_, sy_ = jnp.cos(yaw), jnp.sin(yaw)
    cp, sp = jnp.cos(pitch), jnp.sin(pitch)
    zero = jnp.zeros_like(cy_)
    forward = jnp.stack([cy_ * cp, sy_ * cp, -sp])
    right = jnp.stack([sy_, -cy_, zero])
    down = -jnp.stack([cy_ * sp, sy_ * sp, cp])
    # World-from-camera rotation, camera frame x right, y down, z forward.
    rot = jnp.stack([right, down, forward], axis=1)
    direction = rot @ jnp.stack([(0.5 - camera.cx) / camera.fx, (0.5 - camera.cy) / camera.fy, 1.0])
    intrinsics = jnp.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]], jnp.float32)
    intrinsics = intrinsics.at[0, 0].set(camera.fx).at[0, 2].set(camera.cx)
    intrinsics = intrinsics.at[1, 1].set(camera.fy).at[1, 2].set(camera.cy)
    extrinsics = jnp.concatenate([rot.T, (-rot.T @ origin)[:, None]], axis=1)
    zeros3 = jnp.zeros((3,), jnp.float32)
    return View(
        width=camera.width,
        height=camera.height,
        origin=origin,
        origin_per_col=zeros3,
        origin_per_row=zeros3,
        direction=direction,
        direction_per_col=rot[:, 0] / camera.fx,
        direction_per_row=rot[:, 1] / camera.fy,
        projection=intrinsics @ extrinsics,
        near=camera.near,
        far=camera.far,
    )


def bev_view(
    center: ArrayLike,
    width: int,
    height: int,
    metres_per_pixel: float | Float[Array, ""],
    up_yaw: float | Float[Array, ""] = jnp.pi / 2,
    altitude: float = 100.0,
) -> View:
    """An orthographic top-down view centred on world (x, y), image up along heading `up_yaw`.

    The default up_yaw = pi/2 puts north up and east right. Depth is the drop from `altitude`.
    """
    center = jnp.asarray(center, jnp.float32).reshape(2)
    mpp = jnp.asarray(metres_per_pixel, jnp.float32)
    up_yaw = jnp.asarray(up_yaw, jnp.float32)
    up = jnp.stack([jnp.cos(up_yaw), jnp.sin(up_yaw), jnp.zeros_like(up_yaw)])
    right = jnp.stack([jnp.sin(up_yaw), -jnp.cos(up_yaw), jnp.zeros_like(up_yaw)])
    per_col = right * mpp
    per_row = -up * mpp
    centre3 = jnp.concatenate([center, jnp.asarray([altitude], jnp.float32)])
    origin = centre3 + (0.5 - width / 2) * per_col + (0.5 - height / 2) * per_row
    # u = (X - centre) . right / mpp + width / 2, likewise v along -up; w = 1.
    projection = jnp.zeros((3, 4), jnp.float32)
    projection = projection.at[0, :3].set(right / mpp).at[1, :3].set(-up / mpp)
    projection = projection.at[0, 3].set(width / 2 - jnp.dot(right, centre3) / mpp)
    projection = projection.at[1, 3].set(height / 2 + jnp.dot(up, centre3) / mpp)
    projection = projection.at[2, 3].set(1.0)
    zeros3 = jnp.zeros((3,), jnp.float32)
    return View(
        width=width,
        height=height,
        origin=origin,
        origin_per_col=per_col,
        origin_per_row=per_row,
        direction=jnp.asarray([0.0, 0.0, -1.0], jnp.float32),
        direction_per_col=zeros3,
        direction_per_row=zeros3,
        projection=projection,
        near=jnp.asarray(0.0, jnp.float32),
        far=jnp.asarray(10.0 * altitude, jnp.float32),
    )


def rig_views(rig: Camera, ego_pose: Float[Array, "3"]) -> View:
    """The views of every camera of a rig (leading axis) for one ego pose."""
    return jax.vmap(camera_view, in_axes=(0, None))(rig, ego_pose)


def stitch(images: Array) -> Array:
    """Views (cameras, H, W, ...) side by side into one image (H, cameras * W, ...)."""
    cameras = images.shape[0]
    return jnp.concatenate([images[i] for i in range(cameras)], axis=1)
