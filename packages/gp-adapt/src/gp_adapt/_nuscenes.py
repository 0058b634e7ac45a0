"""nuScenes reader: paired samples from nuScenes keyframes, through the official devkit.

`open_nuscenes` returns the devkit's `NuScenes` when `nuscenes-devkit` is importable, else a
`NuScenesTables` that reads the same JSON tables with the same `get` / `sample` /
`get_sample_data_path` interface; `nuscenes_sample` only uses that interface, so both agree.
Ground geometry comes from the map table's semantic-prior mask (drivable surface, 0.1 m per
pixel), the one map layer every nuScenes release ships without the map expansion.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from gp_adapt._calibration import pose_matrix, rescale_intrinsics, yaw_of
from gp_adapt._paired import PairedSample, make_annotated_boxes, sample_from_cameras
from gp_render import GroundTexture, SemanticClass, make_ground

TABLES = (
    "category",
    "attribute",
    "visibility",
    "instance",
    "sensor",
    "calibrated_sensor",
    "ego_pose",
    "log",
    "scene",
    "sample",
    "sample_data",
    "sample_annotation",
    "map",
)
MAP_MASK_RESOLUTION = 0.1  # metres per pixel of nuScenes' semantic-prior map masks


def nuscenes_class(category_name: str) -> SemanticClass:
    """The renderer class of a nuScenes category ("vehicle.car", "human.pedestrian.adult", ...)."""
    if category_name.startswith(("vehicle.bicycle", "vehicle.motorcycle")):
        return SemanticClass.CYCLIST
    if category_name.startswith("vehicle."):
        return SemanticClass.VEHICLE
    if category_name.startswith("human."):
        return SemanticClass.PEDESTRIAN
    return SemanticClass.STATIC_OBJECT  # movable_object.*, static_object.*, animal


class NuScenesTables:
    """The devkit's table interface without the devkit: `get(table, token)`, `sample`, `scene`,
    `get_sample_data_path`, with the same reverse index (sample['data'], sample['anns'])."""

    def __init__(self, version: str, dataroot: str | Path) -> None:
        self.version = version
        self.dataroot = str(dataroot)
        table_root = Path(dataroot) / version
        if not table_root.is_dir():
            raise FileNotFoundError(f"no nuScenes tables at {table_root}")
        self._index: dict[str, dict[str, dict[str, Any]]] = {}
        for name in TABLES:
            path = table_root / f"{name}.json"
            if not path.exists():
                raise FileNotFoundError(f"nuScenes table {path} is missing")
            records = json.loads(path.read_text())
            setattr(self, name, records)
            self._index[name] = {r["token"]: r for r in records}
        for record in self.sample:  # type: ignore[attr-defined]
            record["data"], record["anns"] = {}, []
        for record in self.sample_data:  # type: ignore[attr-defined]
            calibrated = self.get("calibrated_sensor", record["calibrated_sensor_token"])
            record["channel"] = self.get("sensor", calibrated["sensor_token"])["channel"]
            if record["is_key_frame"]:
                self.get("sample", record["sample_token"])["data"][record["channel"]] = record[
                    "token"
                ]
        for record in self.sample_annotation:  # type: ignore[attr-defined]
            self.get("sample", record["sample_token"])["anns"].append(record["token"])

    def get(self, table_name: str, token: str) -> dict[str, Any]:
        return self._index[table_name][token]

    def get_sample_data_path(self, sample_data_token: str) -> str:
        return str(Path(self.dataroot) / self.get("sample_data", sample_data_token)["filename"])


def devkit_available() -> bool:
    try:
        import nuscenes.nuscenes  # noqa: F401
    except ImportError:
        return False
    return True


def open_nuscenes(
    dataroot: str | Path,
    version: str = "v1.0-mini",
    loader: Literal["auto", "devkit", "tables"] = "auto",
) -> Any:
    """A nuScenes database: the devkit's `NuScenes` (auto, when installed) or `NuScenesTables`."""
    if loader == "tables" or (loader == "auto" and not devkit_available()):
        return NuScenesTables(version, dataroot)
    if loader not in ("auto", "devkit"):
        raise ValueError(f"loader must be 'auto', 'devkit' or 'tables', got {loader!r}")
    try:
        from nuscenes.nuscenes import NuScenes
    except ImportError as err:
        raise ImportError(
            "loader='devkit' needs nuscenes-devkit: see the gp-adapt README, 'nuScenes'"
        ) from err
    return NuScenes(version=version, dataroot=str(dataroot), verbose=False)


@functools.lru_cache(maxsize=4)
def _map_mask(path: str) -> np.ndarray:
    # Real masks are up to ~40k pixels a side; PIL refuses those by default.
    Image.MAX_IMAGE_PIXELS = None
    return np.asarray(Image.open(path).convert("L")) > 127


def _ground_from_mask(
    mask: np.ndarray, ego_xy: np.ndarray, window_m: float, metres_per_texel: float
) -> GroundTexture:
    """A road/off-road raster of `window_m` metres centred on the ego, in the local frame.

    Mask pixel (row, col) covers global x = col * res, y = (rows - row) * res (devkit
    `MapMask.transform_matrix`): row 0 is the northern edge, ground texture row 0 the southern.
    """
    texels = max(1, round(window_m / metres_per_texel))
    offsets = (np.arange(texels) + 0.5) * metres_per_texel - window_m / 2
    gx = ego_xy[0] + offsets[None, :]
    gy = ego_xy[1] + offsets[:, None]
    col = np.round(gx / MAP_MASK_RESOLUTION).astype(np.int64)
    row = np.round(mask.shape[0] - gy / MAP_MASK_RESOLUTION).astype(np.int64)
    inside = (row >= 0) & (row < mask.shape[0]) & (col >= 0) & (col < mask.shape[1])
    road = np.zeros((texels, texels), bool)
    road[inside] = mask[
        np.broadcast_to(row, road.shape)[inside], np.broadcast_to(col, road.shape)[inside]
    ]
    classes = np.where(road, int(SemanticClass.ROAD), int(SemanticClass.OFFROAD)).astype(np.int32)
    return make_ground(classes, np.array([-window_m / 2, -window_m / 2]), metres_per_texel)


def _load_image(path: str, size: tuple[int, int] | None) -> np.ndarray:
    image = Image.open(path).convert("RGB")
    if size is not None and image.size != size:
        image = image.resize(size, Image.Resampling.BOX)  # area average: no aliasing on shrink
    return np.asarray(image, np.uint8)


def nuscenes_sample(
    nusc: Any,
    sample_token: str,
    cameras: Sequence[str] = ("CAM_FRONT",),
    image_size: tuple[int, int] | None = None,
    max_boxes: int = 64,
    map_window_m: float | None = 100.0,
    metres_per_texel: float = 0.5,
    near: float = 0.5,
    far: float = 100.0,
) -> PairedSample:
    """One keyframe as a paired sample.

    image_size: (width, height) to resize to (intrinsics follow), None keeps the native size;
    the nearest `max_boxes` annotations are kept; map_window_m: side of the ground raster cut
    from the map mask around the ego, None for a flat road. Each camera keeps its own capture
    time: its pose relative to the first camera's ego pose is folded into `camera_to_ego`.
    """
    record = nusc.get("sample", sample_token)
    missing = [c for c in cameras if c not in record["data"]]
    if missing:
        raise KeyError(f"sample {sample_token} has no {missing}; it has {sorted(record['data'])}")
    sample_data = [nusc.get("sample_data", record["data"][c]) for c in cameras]
    sizes = {(sd["width"], sd["height"]) for sd in sample_data}
    if len(sizes) != 1:
        raise ValueError(f"cameras {list(cameras)} have different image sizes {sorted(sizes)}")
    native = sizes.pop()
    width, height = native if image_size is None else image_size

    global_from_ego = [
        pose_matrix(**_pose(nusc.get("ego_pose", sd["ego_pose_token"]))) for sd in sample_data
    ]
    reference = global_from_ego[0]
    # Local world frame: the global frame shifted so the reference ego stands at (0, 0).
    local_from_global = np.eye(4)
    local_from_global[:2, 3] = -reference[:2, 3]
    ego_from_global = np.linalg.inv(reference)
    intrinsics, camera_to_ego, images = [], [], []
    for sd, global_from_ego_i in zip(sample_data, global_from_ego, strict=True):
        calibrated = nusc.get("calibrated_sensor", sd["calibrated_sensor_token"])
        ego_i_from_camera = pose_matrix(**_pose(calibrated))
        camera_to_ego.append(ego_from_global @ global_from_ego_i @ ego_i_from_camera)
        k = np.asarray(calibrated["camera_intrinsic"], np.float64)
        intrinsics.append(rescale_intrinsics(k, width / native[0], height / native[1]))
        images.append(_load_image(nusc.get_sample_data_path(sd["token"]), (width, height)))

    annotations = [nusc.get("sample_annotation", t) for t in record["anns"]]
    centre = np.array([a["translation"] for a in annotations], np.float64).reshape(-1, 3)
    centre = (local_from_global @ np.c_[centre, np.ones(len(centre))].T).T[:, :3]
    wlh = np.array([a["size"] for a in annotations], np.float64).reshape(-1, 3)
    yaw = np.array([yaw_of(pose_matrix(np.zeros(3), a["rotation"])[:3, :3]) for a in annotations])
    classes = np.array(
        [int(nuscenes_class(_category(nusc, a))) for a in annotations], np.int32
    ).reshape(-1)
    nearest = np.argsort(np.hypot(centre[:, 0], centre[:, 1]), kind="stable")[:max_boxes]
    boxes = make_annotated_boxes(
        centre[nearest],
        wlh[nearest][:, [1, 0, 2]],  # nuScenes sizes are (width, length, height)
        yaw[nearest],
        classes[nearest],
        max_boxes,
    )

    ground = None
    if map_window_m is not None:
        scene = nusc.get("scene", record["scene_token"])
        map_record = _map_of_log(nusc, scene["log_token"])
        mask = _map_mask(str(Path(nusc.dataroot) / map_record["filename"]))
        ground = _ground_from_mask(mask, reference[:2, 3], map_window_m, metres_per_texel)

    ego_pose = local_from_global @ reference
    return sample_from_cameras(
        images, intrinsics, camera_to_ego, width, height, near, far, ego_pose, boxes, ground
    )


def nuscenes_samples(
    nusc: Any, scene_names: Sequence[str] | None = None, **kwargs: Any
) -> list[PairedSample]:
    """Every keyframe of the named scenes (all scenes when None), in time order."""
    scenes = nusc.scene
    if scene_names is not None:
        known = {s["name"] for s in scenes}
        unknown = sorted(set(scene_names) - known)
        if unknown:
            raise KeyError(f"unknown scenes {unknown}; the database has {sorted(known)}")
        scenes = [s for s in scenes if s["name"] in set(scene_names)]
    out = []
    for scene in scenes:
        token = scene["first_sample_token"]
        while token:
            out.append(nuscenes_sample(nusc, token, **kwargs))
            token = nusc.get("sample", token)["next"]
    return out


def _pose(record: dict[str, Any]) -> dict[str, Any]:
    return {"translation": record["translation"], "wxyz": record["rotation"]}


def _category(nusc: Any, annotation: dict[str, Any]) -> str:
    instance = nusc.get("instance", annotation["instance_token"])
    return str(nusc.get("category", instance["category_token"])["name"])


def _map_of_log(nusc: Any, log_token: str) -> dict[str, Any]:
    for record in nusc.map:
        if log_token in record["log_tokens"]:
            return dict(record)
    raise KeyError(f"no map record lists log {log_token}")
