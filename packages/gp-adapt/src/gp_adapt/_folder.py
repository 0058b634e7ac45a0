"""The gp-adapt folder layout: any source's samples as images plus one JSON file each.

    root/
      <sample name>/
        sample.json      calibration, ego pose, boxes (schema in the package README)
        <camera>.png     one RGB image per camera (any format PIL reads), all one size
        ground.npz       optional raster: classes (rows, cols), origin (2,), metres_per_texel

Poses and boxes may be in any global frame (metres, z up, ground at z = 0); the reader shifts it
so the ego stands at (0, 0), like the nuScenes reader.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gp_adapt._calibration import (
    matrix_quaternion,
    pose_matrix,
    rescale_intrinsics,
)
from gp_adapt._paired import PairedSample, make_annotated_boxes, sample_from_cameras
from gp_render import SemanticClass, make_ground

SAMPLE_FILE = "sample.json"
GROUND_FILE = "ground.npz"


def class_id(name: str | int) -> int:
    """A box class by `SemanticClass` name ("vehicle", "pedestrian", ...) or id."""
    if isinstance(name, int):
        return int(SemanticClass(name))
    try:
        return int(SemanticClass[name.upper()])
    except KeyError:
        known = ", ".join(c.name.lower() for c in SemanticClass)
        raise ValueError(f"unknown box class {name!r}; use one of {known}") from None


def _require(record: dict[str, Any], key: str, where: Path) -> Any:
    if key not in record:
        raise ValueError(f"{where}: missing field {key!r}")
    return record[key]


def read_folder_sample(
    folder: str | Path,
    image_size: tuple[int, int] | None = None,
    max_boxes: int = 64,
    near: float = 0.5,
    far: float = 100.0,
) -> PairedSample:
    """One sample folder as a `PairedSample` (image_size = (width, height) resizes)."""
    folder = Path(folder)
    path = folder / SAMPLE_FILE
    if not path.exists():
        raise FileNotFoundError(f"{folder} holds no {SAMPLE_FILE}")
    spec = json.loads(path.read_text())
    ego = _require(spec, "ego_pose", path)
    global_from_ego = pose_matrix(
        _require(ego, "translation", path), _require(ego, "rotation", path)
    )
    local_from_global = np.eye(4)
    local_from_global[:2, 3] = -global_from_ego[:2, 3]

    cameras = _require(spec, "cameras", path)
    if not cameras:
        raise ValueError(f"{path}: no cameras")
    images, intrinsics, camera_to_ego = [], [], []
    native: tuple[int, int] | None = None
    for camera in cameras:
        image = Image.open(folder / _require(camera, "image", path)).convert("RGB")
        if native is None:
            native = image.size
        elif image.size != native:
            raise ValueError(f"{path}: camera images differ in size ({image.size} vs {native})")
        size = native if image_size is None else image_size
        k = np.asarray(_require(camera, "intrinsics", path), np.float64).reshape(3, 3)
        intrinsics.append(rescale_intrinsics(k, size[0] / native[0], size[1] / native[1]))
        images.append(np.asarray(image.resize(size, Image.Resampling.BOX), np.uint8))
        camera_to_ego.append(
            pose_matrix(_require(camera, "translation", path), _require(camera, "rotation", path))
        )
    width, height = images[0].shape[1], images[0].shape[0]

    boxes = spec.get("boxes", [])
    centre = np.array([_require(b, "center", path) for b in boxes], np.float64).reshape(-1, 3)
    centre[:, :2] -= global_from_ego[:2, 3]
    annotated = make_annotated_boxes(
        centre,
        np.array([_require(b, "size", path) for b in boxes], np.float64).reshape(-1, 3),
        np.array([_require(b, "yaw", path) for b in boxes], np.float64),
        np.array([class_id(_require(b, "class", path)) for b in boxes], np.int32),
        max_boxes,
    )
    ground = None
    if "ground" in spec:
        raster = np.load(folder / spec["ground"])
        origin = np.asarray(raster["origin"], np.float64) - global_from_ego[:2, 3]
        ground = make_ground(raster["classes"], origin, float(raster["metres_per_texel"]))
    return sample_from_cameras(
        images,
        intrinsics,
        camera_to_ego,
        width,
        height,
        near,
        far,
        local_from_global @ global_from_ego,
        annotated,
        ground,
    )


def read_folder(root: str | Path, **kwargs: Any) -> list[PairedSample]:
    """Every sample folder under `root` (sorted by name); kwargs go to `read_folder_sample`."""
    folders = sorted(p.parent for p in Path(root).glob(f"*/{SAMPLE_FILE}"))
    if not folders:
        raise FileNotFoundError(f"no <sample>/{SAMPLE_FILE} under {root}")
    return [read_folder_sample(f, **kwargs) for f in folders]


def write_folder_sample(
    folder: str | Path, sample: PairedSample, camera_names: tuple[str, ...] | None = None
) -> Path:
    """Write one unbatched sample in the folder layout (its local frame becomes the global one)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cal = sample.calibration
    names = camera_names or tuple(f"camera_{i}" for i in range(cal.cameras))
    if len(names) != cal.cameras:
        raise ValueError(f"{len(names)} camera names for {cal.cameras} cameras")
    cameras = []
    for i, name in enumerate(names):
        Image.fromarray(np.asarray(sample.image[i])).save(folder / f"{name}.png")
        pose = np.asarray(cal.camera_to_ego[i], np.float64)
        cameras.append(
            {
                "name": name,
                "image": f"{name}.png",
                "intrinsics": np.asarray(cal.intrinsics[i], np.float64).tolist(),
                "translation": pose[:3, 3].tolist(),
                "rotation": matrix_quaternion(pose[:3, :3]),
            }
        )
    ego = np.asarray(sample.ego_pose, np.float64)
    b = sample.boxes
    valid = np.asarray(b.valid)
    boxes = [
        {
            "center": np.asarray(b.center[i], np.float64).tolist(),
            "size": np.asarray(b.size[i], np.float64).tolist(),
            "yaw": float(b.yaw[i]),
            "class": SemanticClass(int(b.class_id[i])).name.lower(),
        }
        for i in np.flatnonzero(valid)
    ]
    spec: dict[str, Any] = {
        "ego_pose": {
            "translation": ego[:3, 3].tolist(),
            "rotation": matrix_quaternion(ego[:3, :3]),
        },
        "cameras": cameras,
        "boxes": boxes,
    }
    if sample.ground is not None:
        g = sample.ground
        np.savez(
            folder / GROUND_FILE,
            classes=np.asarray(g.classes),
            origin=np.asarray(g.origin),
            metres_per_texel=np.asarray(g.metres_per_texel),
        )
        spec["ground"] = GROUND_FILE
    (folder / SAMPLE_FILE).write_text(json.dumps(spec, indent=1))
    return folder
