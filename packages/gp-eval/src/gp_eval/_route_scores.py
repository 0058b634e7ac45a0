"""Benchmark scores computed on closed-loop routes by their definitions: CARLA driving score,
HUGSIM HD-Score and nuPlan CLS (METRICS.md §2-§4). Host-side numpy over a rollout record.

Adaptations to a simulator without logs or planned trajectories (see the package README):
HUGSIM's "plan" at a key frame is the trajectory the agent then actually drove (0.5 s poses over
3 s), nuPlan's "expert" progress is the whole remaining route.
"""

from __future__ import annotations

import numpy as np

from gp_eval import _carla, _hugsim, _nuplan
from gp_eval._comfort import hugsim_comfort, is_comfortable
from gp_eval._episodes import REAR_AXLE_FRACTION, Episode
from gp_eval._geometry import box_corners, boxes_overlap, is_agent_ahead, is_agent_behind

DT = 0.1
HUGSIM_FRAME_STEPS = 5  # key frames and plan poses every 0.5 s
HUGSIM_PLAN_POSES = 6  # 3 s of plan after the current pose
NUPLAN_TTC_TIMES = np.arange(1, 10) * DT  # 0.1..0.9 s: TTC <= 0.9 s fails "0.95 < TTC"


def carla_route(ep: Episode) -> _carla.RouteResult:
    """CARLA record of one route: RC %, one vehicle-collision event per de-duplicated contact,
    one red-light event per crossing, outside-lanes % = wrong-way or off-road distance share."""
    events = ("collision_vehicle",) * ep.carla_collisions + ("red_light",) * ep.red_lights
    outside = 0.0
    if ep.distance > 0:
        outside = 100.0 * min(1.0, ep.wrong_way_distance / ep.distance)
    return _carla.RouteResult(
        route_completion=100.0 * ep.route_completion,
        events=events,
        outside_lanes_percent=outside,
        length_m=ep.route_length,
    )


def _on_ground_cells(x, y, yaw, length, width, drivable, origin, resolution) -> int:
    """HUGSIM DAC cells: how many of the 2×2 footprint cells have their centre on the road."""
    c, s = np.cos(yaw), np.sin(yaw)
    count = 0
    for fx in (-0.25, 0.25):
        for fy in (-0.25, 0.25):
            px = x + fx * length * c - fy * width * s
            py = y + fx * length * s + fy * width * c
            i = int(np.floor((py - origin[1]) / resolution))
            j = int(np.floor((px - origin[0]) / resolution))
            inside = 0 <= i < drivable.shape[0] and 0 <= j < drivable.shape[1]
            count += int(inside and drivable[i, j])
    return count


def hugsim_route(ep: Episode, rec, drivable, origin, resolution) -> dict[str, float]:
    """HD-Score of one route: key frames every 0.5 s, NC/DAC/TTC/COM on the driven 3 s plan."""
    a = ep.slot
    length, width = rec["length"][ep.start, a], rec["width"][ep.start, a]
    others = np.ones(rec["live"].shape[1], bool)
    others[a] = False
    cum = np.cumsum(rec["progress"][ep.start : ep.end + 1, a])
    nc, dac, ttc, com, plan_len, rc = [], [], [], [], [], []
    for f in range(ep.start, ep.end + 1, HUGSIM_FRAME_STEPS):
        steps = np.arange(f, min(f + HUGSIM_FRAME_STEPS * HUGSIM_PLAN_POSES, ep.end) + 1, 5)
        xy = np.stack([rec["x"][steps, a], rec["y"][steps, a]], -1).astype(np.float64)
        yaw = rec["yaw"][steps, a].astype(np.float64)
        if np.linalg.norm(xy[-1] - xy[0]) < 1.0:
            yaw = np.full_like(yaw, yaw[0])  # a (nearly) static plan keeps its first heading
        plan_len.append(len(steps))
        rc.append(cum[f - ep.start] / (0.9 * max(ep.route_length, 1e-6)))
        obstacles = [
            box_corners(
                rec["x"][t][others],
                rec["y"][t][others],
                rec["yaw"][t][others],
                rec["length"][t][others],
                rec["width"][t][others],
            )[rec["live"][t][others]]
            for t in steps
        ]

        def hits(plan_xy, obstacles=obstacles, yaw=yaw):
            ego = box_corners(plan_xy[:, 0], plan_xy[:, 1], yaw, length, width)
            return any(
                boxes_overlap(ego[j][None], obs).any()
                for j, obs in enumerate(obstacles)
                if len(obs)
            )

        nc.append(0.0 if hits(xy) else 1.0)
        cells = [
            _on_ground_cells(px, py, pyaw, length, width, drivable, origin, resolution)
            for (px, py), pyaw in zip(xy, yaw, strict=True)
        ]
        dac.append(_hugsim.hugsim_dac(np.asarray(cells)))
        if len(steps) >= 2:
            vel = np.diff(xy, axis=0) / 0.5
            vel = np.concatenate([vel[:1], vel])  # the first pose takes the second's velocity
            ttc.append(0.0 if any(hits(xy + vel * t) for t in (0.5, 1.0)) else 1.0)
        else:
            ttc.append(1.0)
        com.append(hugsim_comfort(xy, yaw))
    if max(plan_len) < 2:
        return {}
    return _hugsim.hd_score(
        np.asarray(nc),
        np.asarray(dac),
        np.asarray(ttc),
        np.asarray(com),
        np.asarray(plan_len),
        np.asarray(rc),
    )


def _nuplan_ttc(ep: Episode, rec, lane_width: float) -> float:
    """time_to_collision_within_bound: 0 if some step has a constant-velocity overlap with a
    relevant track within 0.9 s (i.e. not 0.95 < TTC) or an at-fault collision."""
    if ep.at_fault_collisions > 0:
        return 0.0
    a = ep.slot
    for t in range(ep.start, ep.end + 1):
        v = rec["speed"][t, a]
        if v <= 0.005:
            continue
        x, y, yaw = rec["x"][t, a], rec["y"][t, a], rec["yaw"][t, a]
        back = REAR_AXLE_FRACTION * rec["length"][t, a]
        ax, ay = x - back * np.cos(yaw), y - back * np.sin(yaw)
        live = rec["live"][t].copy()
        live[a] = False
        ox, oy = rec["x"][t][live], rec["y"][t][live]
        if ox.size == 0:
            continue
        between = abs(rec["lateral"][t, a]) > 0.5 * (lane_width - rec["width"][t, a])
        relevant = is_agent_ahead(ax, ay, yaw, ox, oy) | (
            between & ~is_agent_behind(ax, ay, yaw, ox, oy)
        )
        near = np.hypot(ox - x, oy - y) < 3.0 * (v + 15.0)  # beyond any 0.9 s closing distance
        keep = relevant & near
        if not keep.any():
            continue
        oyaw, ov = rec["yaw"][t][live][keep], rec["speed"][t][live][keep]
        ol, ow = rec["length"][t][live][keep], rec["width"][t][live][keep]
        times = NUPLAN_TTC_TIMES[:, None]
        ego = box_corners(
            x + v * times * np.cos(yaw),
            y + v * times * np.sin(yaw),
            yaw,
            rec["length"][t, a],
            rec["width"][t, a],
        )  # [9, 1, 4, 2]
        trk = box_corners(
            ox[keep] + ov * times * np.cos(oyaw), oy[keep] + ov * times * np.sin(oyaw), oyaw, ol, ow
        )  # [9, K, 4, 2]
        if boxes_overlap(ego, trk).any():
            return 0.0
    return 1.0


def nuplan_route(ep: Episode, rec, lane_width: float) -> dict[str, float]:
    """nuPlan CLS sub-scores and scenario score of one route."""
    a = ep.slot
    steps = slice(ep.start, ep.end + 1)
    nc = _nuplan.collision_score(ep.at_fault_vru, ep.at_fault_vehicle, 0)
    dac = 0.0 if ep.offroad else 1.0
    signed = np.where(
        rec["wrong_way"][steps, a], -rec["distance"][steps, a], rec["progress"][steps, a]
    )
    ddc = _nuplan.driving_direction_score(signed, DT)
    # Reaching the goal (within the world's goal tolerance) is the expert's whole route.
    ep_ratio = _nuplan.progress_ratio(ep.route_completion * ep.route_length, ep.route_length)
    ttc = _nuplan_ttc(ep, rec, lane_width)
    slc = _nuplan.speed_limit_score(rec["speed"][steps, a], rec["speed_limit"][steps, a], DT)
    yaw = np.unwrap(rec["yaw"][steps, a].astype(np.float64))
    comfortable = 1.0
    if yaw.shape[0] >= 5:
        yaw_rate = np.gradient(yaw, DT)
        comfortable = float(
            is_comfortable(
                yaw,
                rec["accel"][steps, a],
                rec["speed"][steps, a] * yaw_rate,
                yaw_rate,
                np.gradient(yaw_rate, DT),
                DT,
            )
        )
    score = _nuplan.cls_scenario(nc, dac, ddc, ep_ratio, ttc, slc, comfortable)
    return dict(nc=nc, dac=dac, ddc=ddc, ep=ep_ratio, ttc=ttc, slc=slc, c=comfortable, cls=score)
