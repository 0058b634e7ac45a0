"""Camera calibration of real data and the renderer view it implies.

Real rigs are calibrated with a full 3D mount rotation (roll included) and OpenCV-style
intrinsics, where the centre of pixel (row, col) sits at (u, v) = (col, row). gp-render puts that
centre at (col + 0.5, row + 0.5), so `calibrated_view` shifts the principal point by half a pixel.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float
from numpy.typing import NDArray

from gp_render import Camera, View


class Calibration(eqx.Module):
    """Intrinsics and mounts of a rig of `cams` cameras of one image size.

    intrinsics: (cams, 3, 3) pixels, OpenCV convention (pixel centres at integer u, v);
    camera_to_ego: (cams, 4, 4) rigid transforms, camera frame x right, y down, z forward,
    ego frame x forward, y left, z up; metres. near / far bound the rendered z-depth.
    """

    width: int = eqx.field(static=True)
    height: int = eqx.field(static=True)
    intrinsics: Float[Array, "*batch cams 3 3"]
    camera_to_ego: Float[Array, "*batch cams 4 4"]
    near: float = eqx.field(static=True, default=0.5)
    far: float = eqx.field(static=True, default=100.0)

    @property
    def cameras(self) -> int:
        return self.intrinsics.shape[-3]


def quaternion_matrix(wxyz: ArrayLike) -> NDArray[np.float64]:
    """Rotation matrix (3, 3) of a unit quaternion (w, x, y, z), the nuScenes order."""
    q = np.asarray(wxyz, np.float64).reshape(4)
    norm = np.linalg.norm(q)
    if not norm > 0:
        raise ValueError(f"a rotation quaternion must be non-zero, got {q}")
    w, x, y, z = q / norm
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_quaternion(rotation: np.ndarray) -> list[float]:
    """(w, x, y, z) of a rotation matrix (Shepperd's method, stable for any angle)."""
    r = np.asarray(rotation, np.float64)
    trace = np.trace(r)
    if trace > 0:
        s = 2.0 * np.sqrt(1.0 + trace)
        q = [0.25 * s, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(r)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + r[i, i] - r[j, j] - r[k, k])
        q = [0.0, 0.0, 0.0, 0.0]
        q[0] = (r[k, j] - r[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (r[j, i] + r[i, j]) / s
        q[1 + k] = (r[k, i] + r[i, k]) / s
    return [float(x) for x in q]


def pose_matrix(translation: ArrayLike, wxyz: ArrayLike) -> NDArray[np.float64]:
    """A 4x4 rigid transform from a translation (3,) metres and a quaternion (w, x, y, z)."""
    pose = np.eye(4)
    pose[:3, :3] = quaternion_matrix(wxyz)
    pose[:3, 3] = np.asarray(translation, np.float64).reshape(3)
    return pose


def yaw_of(rotation: ArrayLike) -> float:
    """Heading (radians, CCW from +x) of a rotation matrix's x axis projected on the ground."""
    r = np.asarray(rotation, np.float64)
    return float(np.arctan2(r[1, 0], r[0, 0]))


def calibrated_view(
    intrinsics: Float[Array, "3 3"],
    world_from_camera: Float[Array, "4 4"],
    width: int,
    height: int,
    near: float,
    far: float,
) -> View:
    """The gp-render view of one calibrated camera (any mount rotation, skew allowed)."""
    k = jnp.asarray(intrinsics, jnp.float32)
    # OpenCV puts pixel centres at integer coordinates; gp-render at half-integers.
    k = k.at[0, 2].add(0.5).at[1, 2].add(0.5)
    k_inv = jnp.linalg.inv(k)
    pose = jnp.asarray(world_from_camera, jnp.float32)
    rot, origin = pose[:3, :3], pose[:3, 3]
    # Camera ray of pixel centre (row, col): K^-1 (col + 0.5, row + 0.5, 1); unit z so t = depth.
    ray = lambda u, v: rot @ (k_inv @ jnp.asarray([u, v, 1.0], jnp.float32))  # noqa: E731
    extrinsics = jnp.concatenate([rot.T, (-rot.T @ origin)[:, None]], axis=1)
    zeros3 = jnp.zeros((3,), jnp.float32)
    return View(
        width=width,
        height=height,
        origin=origin,
        origin_per_col=zeros3,
        origin_per_row=zeros3,
        direction=ray(0.5, 0.5),
        direction_per_col=rot @ k_inv[:, 0],
        direction_per_row=rot @ k_inv[:, 1],
        projection=k @ extrinsics,
        near=jnp.asarray(near, jnp.float32),
        far=jnp.asarray(far, jnp.float32),
    )


def rescale_intrinsics(intrinsics: ArrayLike, scale_x: float, scale_y: float) -> NDArray:
    """Intrinsics (..., 3, 3) of the same camera after resizing its image by (scale_x, scale_y).

    Pixel edges scale, not centres: u' + 0.5 = (u + 0.5) * scale in the OpenCV convention.
    """
    k = np.array(intrinsics, np.float64, copy=True)
    k[..., 0, :] *= scale_x
    k[..., 1, :] *= scale_y
    k[..., 0, 2] += 0.5 * scale_x - 0.5
    k[..., 1, 2] += 0.5 * scale_y - 0.5
    return k


def mount_matrix(x: float, y: float, z: float, yaw: float, pitch: float) -> NDArray[np.float64]:
    """Camera-to-ego (4, 4) of a camera at ego (x, y, z) metres looking along heading `yaw`
    (CCW from the ego's x axis) and pitched down by `pitch` radians: gp-render's `mount`."""
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    forward = np.array([cy * cp, sy * cp, -sp])
    right = np.array([sy, -cy, 0.0])
    down = -np.array([cy * sp, sy * sp, cp])
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, down, forward], axis=1)
    pose[:3, 3] = (x, y, z)
    return pose


def calibration_from_rig(
    rig: Camera, near: float | None = None, far: float | None = None
) -> Calibration:
    """The `Calibration` of a gp-render camera or rig (leading rig axis optional)."""
    fx, fy = np.atleast_1d(np.asarray(rig.fx)), np.atleast_1d(np.asarray(rig.fy))
    cx, cy = np.atleast_1d(np.asarray(rig.cx)), np.atleast_1d(np.asarray(rig.cy))
    mounts = np.asarray(rig.mount, np.float64).reshape(-1, 5)
    k = np.zeros((len(fx), 3, 3))
    k[:, 0, 0], k[:, 1, 1], k[:, 2, 2] = fx, fy, 1.0
    # gp-render centres pixels at half-integers, OpenCV at integers.
    k[:, 0, 2], k[:, 1, 2] = cx - 0.5, cy - 0.5
    return Calibration(
        width=rig.width,
        height=rig.height,
        intrinsics=jnp.asarray(k, jnp.float32),
        camera_to_ego=jnp.asarray(np.stack([mount_matrix(*m) for m in mounts]), jnp.float32),
        near=float(np.min(np.asarray(rig.near))) if near is None else near,
        far=float(np.max(np.asarray(rig.far))) if far is None else far,
    )


def ego_matrix(x: float, y: float, yaw: float, z: float = 0.0) -> NDArray[np.float64]:
    """World-from-ego (4, 4) of a vehicle at (x, y, z) metres heading `yaw` radians."""
    pose = np.eye(4)
    c, s = np.cos(yaw), np.sin(yaw)
    pose[:2, :2] = [[c, -s], [s, c]]
    pose[:3, 3] = (x, y, z)
    return pose
