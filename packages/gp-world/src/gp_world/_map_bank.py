"""`MapBank`: maps padded to common sizes and stacked on a leading map axis; `.npz` save/load.

Format (version `MAP_FORMAT_VERSION`), one `.npz` archive, never pickled:
  `format_version` int32[]            must equal MAP_FORMAT_VERSION
  `grid_cell_size`, `raster_resolution`, `lane_point_spacing` f32[]   static scales (metres)
  every field of `MapBank` below, with a leading map axis M, under its own name.
"""

from __future__ import annotations

import os
import re
from typing import Literal

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from gp_world._geometry import box_corners
from gp_world._map_compile import NO_STOP, compile_network
from gp_world._road_network import ring_road
from gp_world._town import generate_town
from gp_world.config import WorldConfig

MAP_FORMAT_VERSION = 2

# Padding value per array: index arrays pad with -1, route stops with NO_STOP, others with 0.
_PAD = {
    "lane_point_lane": -1,
    "lane_successors": -1,
    "lane_left": -1,
    "lane_right": -1,
    "lane_stop_line": -1,
    "stop_line_intersection": -1,
    "grid_lane_points": -1,
    "grid_road_edges": -1,
    "route_lanes": -1,
    "route_stop_line": -1,
    "route_stop_s": NO_STOP,
}
# Arrays whose valid mask is derived from a count; name -> (count field, axis).
_ARRAYS = (
    "lane_points",
    "lane_point_lane",
    "lane_first_point",
    "lane_num_points",
    "lane_length",
    "lane_width",
    "lane_speed_limit",
    "lane_successors",
    "lane_left",
    "lane_right",
    "lane_is_connector",
    "lane_stop_line",
    "road_edges",
    "stop_lines",
    "stop_line_intersection",
    "stop_line_phase",
    "crosswalks",
    "drivable_polygons",
    "polygon_num_vertices",
    "intersection_centres",
    "origin",
    "drivable",
    "grid_lane_points",
    "grid_road_edges",
    "route_points",
    "route_num_points",
    "route_lanes",
    "route_spawn_points",
    "route_stop_s",
    "route_stop_line",
    "routes_valid",
)
_COUNTS = {  # valid masks stored alongside: mask name -> first array sized by it
    "lane_points_valid": "lane_points",
    "lanes_valid": "lane_length",
    "road_edges_valid": "road_edges",
    "stop_lines_valid": "stop_lines",
    "crosswalks_valid": "crosswalks",
    "polygons_valid": "drivable_polygons",
    "intersections_valid": "intersection_centres",
}


class MapBank(eqx.Module):
    """M maps padded to common sizes. Shapes (per map axis M first):

    lane_points f32[M, P, 6] (x, y, heading, speed limit, cos and sin of heading),
    lane_point_lane i32[M, P]; lanes i32/f32[M, N, ...] (first point, count, length, width,
    speed limit, successors[4], left, right, is_connector, stop_line); road_edges f32[M, E, 4]
    segments (x0, y0, x1, y1); stop_lines f32[M, S, 4] with intersection i32 and phase i32
    (signal group = (intersection, phase)); crosswalks f32[M, C, 4, 2]; drivable_polygons
    f32[M, Q, V, 2] convex; origin f32[M, 2] of the drivable raster bool[M, H, W] and of the
    grid index i32[M, GH, GW, cap] (per cell, the lane point / road edge ids nearest its
    centre); routes f32[M, R, RP, 7] (x, y, heading, arc length, speed limit, cos and sin of
    heading) with lanes i32[M, R, RL] and the stop lines they cross.
    """

    lane_points: Float[Array, "M P 6"]
    lane_point_lane: Int[Array, "M P"]
    lane_points_valid: Bool[Array, "M P"]
    lane_first_point: Int[Array, "M N"]
    lane_num_points: Int[Array, "M N"]
    lane_length: Float[Array, "M N"]
    lane_width: Float[Array, "M N"]
    lane_speed_limit: Float[Array, "M N"]
    lane_successors: Int[Array, "M N 4"]
    lane_left: Int[Array, "M N"]
    lane_right: Int[Array, "M N"]
    lane_is_connector: Bool[Array, "M N"]
    lane_stop_line: Int[Array, "M N"]
    lanes_valid: Bool[Array, "M N"]
    road_edges: Float[Array, "M E 4"]
    road_edges_valid: Bool[Array, "M E"]
    stop_lines: Float[Array, "M S 4"]
    stop_line_intersection: Int[Array, "M S"]
    stop_line_phase: Int[Array, "M S"]
    stop_lines_valid: Bool[Array, "M S"]
    crosswalks: Float[Array, "M C 4 2"]
    crosswalks_valid: Bool[Array, "M C"]
    drivable_polygons: Float[Array, "M Q V 2"]
    polygon_num_vertices: Int[Array, "M Q"]
    polygons_valid: Bool[Array, "M Q"]
    intersection_centres: Float[Array, "M I 2"]
    intersections_valid: Bool[Array, "M I"]
    origin: Float[Array, "M 2"]
    drivable: Bool[Array, "M H W"]
    grid_lane_points: Int[Array, "M GH GW CL"]
    grid_road_edges: Int[Array, "M GH GW CE"]
    route_points: Float[Array, "M R RP 7"]
    route_num_points: Int[Array, "M R"]
    route_lanes: Int[Array, "M R RL"]
    route_spawn_points: Int[Array, "M R"]
    route_stop_s: Float[Array, "M R RL"]
    route_stop_line: Int[Array, "M R RL"]
    routes_valid: Bool[Array, "M R"]
    num_routes: Int[Array, " M"]
    grid_cell_size: float = eqx.field(static=True)
    raster_resolution: float = eqx.field(static=True)
    lane_point_spacing: float = eqx.field(static=True)

    @property
    def num_maps(self) -> int:
        return int(self.lane_points.shape[0])

    @property
    def num_intersections(self) -> int:
        return int(self.intersection_centres.shape[1])


def _pad_stack(arrays: list[np.ndarray], pad) -> np.ndarray:
    # At least one (invalid) entry per axis so gathers never index an empty axis.
    shape = np.maximum(np.max([a.shape for a in arrays], axis=0), 1)
    out = np.full((len(arrays), *shape), pad, dtype=arrays[0].dtype)
    for i, a in enumerate(arrays):
        out[(i, *tuple(slice(0, n) for n in a.shape))] = a
    return out


def stack_maps(
    maps: list[dict[str, np.ndarray]],
    grid_cell_size: float,
    raster_resolution: float,
    lane_point_spacing: float,
) -> MapBank:
    """Pad compiled maps to common sizes and stack them into a `MapBank`."""
    if not maps:
        raise ValueError("stack_maps needs at least one map")
    fields: dict[str, np.ndarray] = {}
    for name in _ARRAYS:
        fields[name] = _pad_stack([m[name] for m in maps], _PAD.get(name, 0))
    for mask, ref in _COUNTS.items():
        fields[mask] = _pad_stack([np.ones(len(m[ref]), bool) for m in maps], False)
    fields["num_routes"] = np.asarray([m["routes_valid"].sum() for m in maps], np.int32)
    return MapBank(
        **{k: jnp.asarray(v) for k, v in fields.items()},
        grid_cell_size=float(grid_cell_size),
        raster_resolution=float(raster_resolution),
        lane_point_spacing=float(lane_point_spacing),
    )


def build_map(cfg: WorldConfig, seed: int) -> dict[str, np.ndarray]:
    """One compiled (unpadded) map from the configured generator."""
    net = ring_road(cfg.town) if cfg.town.kind == "ring" else generate_town(cfg.town, seed)
    return compile_network(net, cfg, seed)


def map_seeds(cfg: WorldConfig, split: Literal["train", "heldout"]) -> list[int]:
    """Seeds of a split; train and held-out ranges are disjoint by construction."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    start = cfg.train_seed_start if split == "train" else cfg.heldout_seed_start
    if cfg.train_seed_start + cfg.num_maps > cfg.heldout_seed_start:
        raise ValueError("train seed range overlaps the held-out range")
    return list(range(start, start + cfg.num_maps))


def build_map_bank(cfg: WorldConfig, split: Literal["train", "heldout"] = "train") -> MapBank:
    """Generate, compile, pad and stack `cfg.num_maps` maps of a split (host side)."""
    maps = [build_map(cfg, seed) for seed in map_seeds(cfg, split)]
    return stack_maps(maps, cfg.grid_cell_size, cfg.raster_resolution, cfg.town.lane_point_spacing)


def save_map_bank(bank: MapBank, path: str | os.PathLike) -> None:
    """Write a bank as a versioned `.npz` (no pickle)."""
    arrays = {name: np.asarray(getattr(bank, name)) for name in _field_names()}
    np.savez_compressed(
        path,
        format_version=np.int32(MAP_FORMAT_VERSION),
        grid_cell_size=np.float32(bank.grid_cell_size),
        raster_resolution=np.float32(bank.raster_resolution),
        lane_point_spacing=np.float32(bank.lane_point_spacing),
        **arrays,
    )


def _field_names() -> list[str]:
    return [*_ARRAYS, *_COUNTS, "num_routes"]


def load_map_bank(path: str | os.PathLike) -> MapBank:
    """Read a bank written by `save_map_bank`; a clear ValueError on a wrong version or shape."""
    with np.load(path, allow_pickle=False) as f:
        if "format_version" not in f:
            raise ValueError(f"{path}: not a gp-world map file (no format_version)")
        version = int(f["format_version"])
        if version != MAP_FORMAT_VERSION:
            raise ValueError(
                f"{path}: map format version {version}, this gp-world reads {MAP_FORMAT_VERSION}"
            )
        missing = [n for n in _field_names() if n not in f]
        if missing:
            raise ValueError(f"{path}: missing arrays {missing}")
        arrays = {n: f[n] for n in _field_names()}
        scales = {k: float(f[k]) for k in ("grid_cell_size", "raster_resolution")}
        spacing = float(f["lane_point_spacing"])
    m = arrays["lane_points"].shape[0]
    expected_ndim = {n: a.ndim for n, a in _reference_ndims().items()}
    for name, a in arrays.items():
        if a.ndim != expected_ndim[name] or (a.ndim and a.shape[0] != m):
            raise ValueError(
                f"{path}: array {name!r} has shape {a.shape}; expected {expected_ndim[name]} dims "
                f"with {m} maps first"
            )
    return MapBank(
        **{k: jnp.asarray(v) for k, v in arrays.items()},
        **scales,
        lane_point_spacing=spacing,
    )


def _reference_ndims() -> dict[str, np.ndarray]:
    """Zero-size arrays with the right ranks, from the jaxtyping annotations of MapBank."""
    out = {}
    for name in _field_names():
        dims = re.search(r"Array, ['\"]([^'\"]*)['\"]", str(MapBank.__annotations__[name]))
        if dims is None:
            raise RuntimeError(f"MapBank.{name} has no jaxtyping shape annotation")
        out[name] = np.zeros([0] * len(dims.group(1).split()))
    return out


def drivable_at(maps: MapBank, m: Array, x: Array, y: Array) -> Bool[Array, "..."]:
    """Whether points (x, y) (any shape) lie on a drivable texel of map m (False off the map)."""
    res = maps.raster_resolution
    ix = jnp.floor((x - maps.origin[m, 0]) / res).astype(jnp.int32)
    iy = jnp.floor((y - maps.origin[m, 1]) / res).astype(jnp.int32)
    h, w = maps.drivable.shape[1:]
    inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
    return inside & maps.drivable[m, jnp.clip(iy, 0, h - 1), jnp.clip(ix, 0, w - 1)]


def box_on_road(
    maps: MapBank, m: Array, x: Array, y: Array, yaw: Array, length: Array, width: Array
) -> Bool[Array, "..."]:
    """Whether each box (any batch shape) has all four corners on drivable texels of map m."""
    corners = box_corners(x, y, yaw, length, width)
    return drivable_at(maps, m, corners[..., 0], corners[..., 1]).all(-1)
