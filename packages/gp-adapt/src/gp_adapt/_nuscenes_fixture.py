"""A tiny database in nuScenes' own table layout (v1.0-mini style), for tests and demos.

Images are synthetic: a sky/ground backdrop with each annotated box painted as the silhouette of
its projected corners (pixel centres inside the convex hull) in `ANNOTATION_COLOUR`, so a test
can check that rendered boxes land on the annotated image regions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gp_adapt._calibration import (
    ego_matrix,
    matrix_quaternion,
    mount_matrix,
    quaternion_matrix,
)

ANNOTATION_COLOUR = (255, 0, 255)
SKY_COLOUR = (150, 190, 235)
GROUND_COLOUR = (90, 90, 95)
FIXTURE_CAMERAS = ("CAM_FRONT", "CAM_FRONT_LEFT")
# Ego-frame annotations (x, y, yaw, category, (width, length, height)): all in front of both
# cameras, or wholly behind them, so every painted silhouette is complete.
FIXTURE_BOXES = (
    (14.0, -1.5, 0.2, "vehicle.car", (1.9, 4.6, 1.6)),
    (22.0, 4.0, -0.4, "vehicle.truck", (2.5, 7.0, 3.0)),
    (12.5, 4.5, 1.2, "human.pedestrian.adult", (0.7, 0.7, 1.8)),
    (18.0, 8.0, 0.0, "vehicle.bicycle", (0.6, 1.8, 1.4)),
    (28.0, -2.0, 2.8, "movable_object.barrier", (2.0, 0.5, 1.0)),
    (-15.0, 0.0, 0.0, "vehicle.car", (1.9, 4.5, 1.5)),
)
MAP_SIZE_M = 100.0
ROAD_HALF_WIDTH_M = 6.0


def _corners(centre: np.ndarray, wlh: tuple[float, float, float], yaw: float) -> np.ndarray:
    w, length, h = wlh
    signs = np.array([[a, b, c] for a in (-0.5, 0.5) for b in (-0.5, 0.5) for c in (-0.5, 0.5)])
    local = signs * np.array([length, w, h])
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return local @ rot.T + centre


def _hull(points: np.ndarray) -> np.ndarray:
    """Convex hull (counter-clockwise) of 2D points, Andrew's monotone chain."""
    pts = sorted({(float(x), float(y)) for x, y in points})
    cross = lambda o, a, b: (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])  # noqa: E731
    lower: list[tuple[float, float]] = []
    upper: list[tuple[float, float]] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def _paint_image(
    width: int,
    height: int,
    k: np.ndarray,
    global_from_camera: np.ndarray,
    boxes_global: list[tuple[np.ndarray, tuple[float, float, float], float]],
) -> np.ndarray:
    image = np.empty((height, width, 3), np.uint8)
    horizon = height // 2
    image[:horizon], image[horizon:] = SKY_COLOUR, GROUND_COLOUR
    camera_from_global = np.linalg.inv(global_from_camera)
    cols, rows = np.meshgrid(np.arange(width), np.arange(height))
    drawn = []
    for centre, wlh, yaw in boxes_global:
        corners = _corners(centre, wlh, yaw)
        cam = (camera_from_global @ np.c_[corners, np.ones(8)].T).T[:, :3]
        if np.any(cam[:, 2] <= 0.5):
            continue  # behind the camera: the fixture never straddles it
        uv = (k @ cam.T).T
        drawn.append((float(np.linalg.norm(cam.mean(0))), uv[:, :2] / uv[:, 2:]))
    for _, uv in sorted(drawn, key=lambda d: -d[0]):  # far first, near paints over
        hull = _hull(uv)
        inside = np.ones((height, width), bool)
        for a, b in zip(hull, np.roll(hull, -1, axis=0), strict=True):
            inside &= (b[0] - a[0]) * (rows - a[1]) - (b[1] - a[1]) * (cols - a[0]) >= 0
        image[inside] = ANNOTATION_COLOUR
    return image


def write_nuscenes_fixture(
    dataroot: str | Path,
    version: str = "v1.0-mini",
    width: int = 64,
    height: int = 36,
    samples: int = 2,
    seed: int = 0,
) -> dict[str, Any]:
    """Write one scene of `samples` keyframes with two cameras, a map mask and annotations.

    Returns {"sample_tokens": [...], "ego_global": [(x, y, yaw), ...], "road_y": float}: the
    road is the band |y - road_y| < ROAD_HALF_WIDTH_M of the map (global metres).
    """
    root = Path(dataroot)
    rng = np.random.default_rng(seed)
    token = lambda: "".join(rng.choice(list("0123456789abcdef"), 32))  # noqa: E731
    tables: dict[str, list[dict[str, Any]]] = {}

    road_y = 45.0
    mask_px = round(MAP_SIZE_M / 0.1)
    mask = np.zeros((mask_px, mask_px), np.uint8)
    ys = (mask_px - np.arange(mask_px)) * 0.1  # global y of each mask row
    mask[np.abs(ys - road_y) < ROAD_HALF_WIDTH_M] = 255
    (root / "maps").mkdir(parents=True, exist_ok=True)
    map_file = "maps/fixture_semantic_prior.png"
    Image.fromarray(mask).save(root / map_file)

    log_token, scene_token = token(), token()
    tables["log"] = [
        {
            "token": log_token,
            "logfile": "fixture-log",
            "vehicle": "fixture",
            "date_captured": "2026-01-01",
            "location": "synthetic-fixture",
        }
    ]
    tables["map"] = [
        {
            "token": token(),
            "log_tokens": [log_token],
            "category": "semantic_prior",
            "filename": map_file,
        }
    ]
    categories = sorted({b[3] for b in FIXTURE_BOXES})
    tables["category"] = [
        {"token": token(), "name": name, "description": name, "index": i}
        for i, name in enumerate(categories)
    ]
    category_token = {c["name"]: c["token"] for c in tables["category"]}
    tables["attribute"] = [{"token": token(), "name": "vehicle.moving", "description": ""}]
    tables["visibility"] = [{"token": "4", "level": "v80-100", "description": "visible"}]

    # Camera mounts: yaw, small pitch and roll, so the full mount rotation matters.
    focal = 1266.0 * width / 1600.0
    intrinsic = [[focal, 0.0, width / 2 - 0.5], [0.0, focal, height / 2 - 0.5], [0.0, 0.0, 1.0]]
    roll = np.array(
        [
            [1, 0, 0, 0],
            [0, np.cos(0.02), -np.sin(0.02), 0],
            [0, np.sin(0.02), np.cos(0.02), 0],
            [0, 0, 0, 1],
        ]
    )
    mounts = {
        "CAM_FRONT": mount_matrix(1.70, 0.02, 1.51, 0.0, 0.03) @ roll,
        "CAM_FRONT_LEFT": mount_matrix(1.52, 0.49, 1.51, np.deg2rad(55.0), 0.01),
    }
    tables["sensor"], tables["calibrated_sensor"] = [], []
    calibrated_token = {}
    for channel in FIXTURE_CAMERAS:
        sensor_token, calibrated_token[channel] = token(), token()
        tables["sensor"].append({"token": sensor_token, "channel": channel, "modality": "camera"})
        tables["calibrated_sensor"].append(
            {
                "token": calibrated_token[channel],
                "sensor_token": sensor_token,
                "translation": [float(x) for x in mounts[channel][:3, 3]],
                "rotation": matrix_quaternion(mounts[channel][:3, :3]),
                "camera_intrinsic": intrinsic,
            }
        )

    sample_tokens = [token() for _ in range(samples)]
    instances = [token() for _ in FIXTURE_BOXES]
    tables.update(scene=[], sample=[], sample_data=[], ego_pose=[], sample_annotation=[])
    tables["scene"].append(
        {
            "token": scene_token,
            "log_token": log_token,
            "nbr_samples": samples,
            "first_sample_token": sample_tokens[0],
            "last_sample_token": sample_tokens[-1],
            "name": "scene-fixture",
            "description": "synthetic fixture in nuScenes layout",
        }
    )
    ego_global = []
    annotation_tokens: list[list[str]] = [[] for _ in FIXTURE_BOXES]
    for i, sample_token in enumerate(sample_tokens):
        timestamp = 1_700_000_000_000_000 + i * 500_000
        ego = (30.0 + 4.0 * i + rng.uniform(-0.5, 0.5), road_y - 2.0, 0.05 * i + 0.1)
        ego_global.append(ego)
        global_from_ego = ego_matrix(*ego)
        tables["sample"].append(
            {
                "token": sample_token,
                "timestamp": timestamp,
                "prev": sample_tokens[i - 1] if i > 0 else "",
                "next": sample_tokens[i + 1] if i + 1 < samples else "",
                "scene_token": scene_token,
            }
        )
        boxes_global = []
        for b, (x, y, yaw, _, wlh) in enumerate(FIXTURE_BOXES):
            centre = (global_from_ego @ np.array([x, y, wlh[2] / 2, 1.0]))[:3]
            box_yaw = ego[2] + yaw
            boxes_global.append((centre, wlh, box_yaw))
            annotation = token()
            annotation_tokens[b].append(annotation)
            tables["sample_annotation"].append(
                {
                    "token": annotation,
                    "sample_token": sample_token,
                    "instance_token": instances[b],
                    "visibility_token": "4",
                    "attribute_tokens": [],
                    "translation": [float(v) for v in centre],
                    "size": list(wlh),
                    "rotation": matrix_quaternion(
                        quaternion_matrix(
                            np.array([np.cos(box_yaw / 2), 0.0, 0.0, np.sin(box_yaw / 2)])
                        )
                    ),
                    "prev": "",
                    "next": "",
                    "num_lidar_pts": 10,
                    "num_radar_pts": 0,
                }
            )
        for c, channel in enumerate(FIXTURE_CAMERAS):
            # Cameras fire at different times: the left one 0.3 m further along.
            ego_c = ego_matrix(*ego) @ ego_matrix(0.3 * c, 0.0, 0.0)
            pose_token, data_token = token(), token()
            tables["ego_pose"].append(
                {
                    "token": pose_token,
                    "timestamp": timestamp + c * 25_000,
                    "rotation": matrix_quaternion(ego_c[:3, :3]),
                    "translation": [float(v) for v in ego_c[:3, 3]],
                }
            )
            filename = f"samples/{channel}/fixture__{channel}__{timestamp}.png"
            (root / "samples" / channel).mkdir(parents=True, exist_ok=True)
            image = _paint_image(
                width, height, np.asarray(intrinsic), ego_c @ mounts[channel], boxes_global
            )
            Image.fromarray(image).save(root / filename)
            tables["sample_data"].append(
                {
                    "token": data_token,
                    "sample_token": sample_token,
                    "ego_pose_token": pose_token,
                    "calibrated_sensor_token": calibrated_token[channel],
                    "timestamp": timestamp + c * 25_000,
                    "fileformat": "png",
                    "is_key_frame": True,
                    "height": height,
                    "width": width,
                    "filename": filename,
                    "prev": "",
                    "next": "",
                }
            )
    tables["instance"] = [
        {
            "token": instances[b],
            "category_token": category_token[FIXTURE_BOXES[b][3]],
            "nbr_annotations": samples,
            "first_annotation_token": annotation_tokens[b][0],
            "last_annotation_token": annotation_tokens[b][-1],
        }
        for b in range(len(FIXTURE_BOXES))
    ]
    (root / version).mkdir(parents=True, exist_ok=True)
    for name, records in tables.items():
        (root / version / f"{name}.json").write_text(json.dumps(records, indent=1))
    return {"sample_tokens": sample_tokens, "ego_global": ego_global, "road_y": road_y}
