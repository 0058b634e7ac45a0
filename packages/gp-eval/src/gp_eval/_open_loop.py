"""Open-loop NAVSIM-style scoring: a planned trajectory (8 poses over 4 s) is interpolated to
0.1 s, tracked by a controller on a kinematic bicycle, and scored with PDMS (v1) and EPDMS (v2)
against the rule-based reference planner simulated and scored in the same call (METRICS.md §1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import gp_world as gw
from gp_eval import _navsim
from gp_eval._baseline import reference_speed_profile
from gp_eval._collision_typing import collision_type, is_at_fault
from gp_eval._comfort import is_comfortable, is_extended_comfortable
from gp_eval._geometry import (
    box_corners,
    boxes_overlap,
    distance_to_polyline,
    project_on_polyline,
    wrap_angle,
)
from gp_eval._navsim_scene import HORIZON, EgoAreas, NavsimMap, Scene, ego_areas
from gp_eval._rollout import policy_observation, restore_state
from gp_eval.config import BaselineConfig

DT = 0.1
PLAN_POSES = 8
PLAN_INTERVAL = 0.5  # s
REAR_AXLE_FRACTION = 0.3  # rear axle 0.3·length behind the box centre
WHEELBASE_FRACTION = 0.6
MAX_STEER = 0.6  # rad
MAX_ACCEL, MAX_DECEL = 4.0, 8.0  # m/s²
SPEED_PREVIEW = 5  # steps

_BASELINE = BaselineConfig()
TrajectoryPlanner = Callable[[Scene], np.ndarray]  # scene -> f64[8, 3] ego-frame (x, y, yaw)


@dataclasses.dataclass(frozen=True)
class SimulatedTrajectory:
    """Simulated centre states over 41 steps: x, y, yaw, speed, accel (m/s²), yaw_rate (rad/s)."""

    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray
    speed: np.ndarray
    accel: np.ndarray
    yaw_rate: np.ndarray


def to_global(scene: Scene, plan: np.ndarray) -> np.ndarray:
    """Ego-frame poses f64[N, 3] (x fwd, y left, yaw) -> world frame, relative to the scene's
    ego pose."""
    x0, y0, yaw0 = scene.state[:3]
    c, s = np.cos(yaw0), np.sin(yaw0)
    gx = x0 + c * plan[:, 0] - s * plan[:, 1]
    gy = y0 + s * plan[:, 0] + c * plan[:, 1]
    return np.stack([gx, gy, wrap_angle(yaw0 + plan[:, 2])], -1)


def interpolate_plan(scene: Scene, plan_world: np.ndarray, interval: float) -> np.ndarray:
    """[current pose] + plan poses at `interval` s -> 41 poses at 0.1 s (linear, unwrapped yaw);
    poses past the plan's end hold the last one."""
    poses = np.concatenate([scene.state[None, :3], plan_world])
    t_plan = interval * np.arange(poses.shape[0])
    t = DT * np.arange(HORIZON + 1)
    yaw = np.unwrap(poses[:, 2])
    return np.stack(
        [
            np.interp(t, t_plan, poses[:, 0]),
            np.interp(t, t_plan, poses[:, 1]),
            np.interp(t, t_plan, yaw),
        ],
        -1,
    )


def track(scene: Scene, reference: np.ndarray) -> SimulatedTrajectory:
    """Follow reference poses f64[41, 3] from the scene's state: a piecewise-linear speed
    profile with feedback (error closed within 0.5 s) and pure pursuit (0.5 s ahead, >= 3 m), on
    a kinematic bicycle with acceleration and steering limits (NAVSIM uses an LQR tracker)."""
    x, y, yaw, v, a, _ = scene.state
    wheelbase = WHEELBASE_FRACTION * scene.length
    ref_speed = _speed_profile(reference)
    states = [(x, y, yaw, v, a, 0.0)]
    for t in range(HORIZON):
        # Follow the piecewise-linear speed profile, closing any error within 0.5 s.
        error = (ref_speed[t] - v) / (SPEED_PREVIEW * DT)
        accel = np.clip((ref_speed[t + 1] - ref_speed[t]) / DT + error, -MAX_DECEL, MAX_ACCEL)
        ahead = reference[min(t + 1 + 5, HORIZON) :, :2]
        dist = np.linalg.norm(ahead - np.array([x, y]), axis=-1)
        far = np.flatnonzero(dist >= 3.0)
        target = ahead[far[0]] if far.size else reference[HORIZON, :2]
        dx, dy = target[0] - x, target[1] - y
        local_y = -np.sin(yaw) * dx + np.cos(yaw) * dy
        d2 = max(dx * dx + dy * dy, 1.0)
        moving = ref_speed[t:].max() > 0.1 or v > 0.1
        steer = np.clip(np.arctan(wheelbase * 2.0 * local_y / d2), -MAX_STEER, MAX_STEER)
        steer = steer if moving else 0.0
        v_new = max(v + accel * DT, 0.0)
        accel = (v_new - v) / DT
        yaw_rate = v_new * np.tan(steer) / wheelbase
        mid = yaw + 0.5 * yaw_rate * DT
        x, y = x + v_new * np.cos(mid) * DT, y + v_new * np.sin(mid) * DT
        yaw, v = yaw + yaw_rate * DT, v_new
        states.append((x, y, yaw, v, accel, yaw_rate))
    arr = np.asarray(states, np.float64)
    return SimulatedTrajectory(*arr.T)


def _speed_profile(reference: np.ndarray) -> np.ndarray:
    """Speeds f64[41] of reference poses: central differences at the 0.5 s knots, linear between
    them (a piecewise-linear profile, so the commanded acceleration is piecewise constant)."""
    knots = reference[::SPEED_PREVIEW, :2]
    t_knots = SPEED_PREVIEW * DT * np.arange(knots.shape[0])
    v_knots = np.linalg.norm(np.gradient(knots, t_knots, axis=0), axis=-1)
    return np.interp(DT * np.arange(reference.shape[0]), t_knots, v_knots)


def logged_trajectory(scene: Scene) -> SimulatedTrajectory:
    """The logged ("human") future as a trajectory (no re-simulation: it already is one)."""
    h = scene.human
    speed = h[:, 3]
    return SimulatedTrajectory(
        h[:, 0],
        h[:, 1],
        h[:, 2],
        speed,
        np.gradient(speed, DT),
        np.gradient(np.unwrap(h[:, 2]), DT),
    )


def reference_plan(scene: Scene, cfg: BaselineConfig = _BASELINE) -> np.ndarray:
    """The reference planner's 41 world poses: the baseline's IDM along the route centerline
    behind the nearest logged object in the lane and before red on-route stop lines."""
    line = scene.centerline
    s0 = float(project_on_polyline(line, scene.state[None, :2])[0])
    total = float(np.sum(np.linalg.norm(np.diff(line, axis=0), axis=-1)))
    front = s0 + 0.5 * scene.length
    gaps = np.full(HORIZON, 1e4)
    lead_speed = np.zeros(HORIZON)
    for t in range(HORIZON):
        ok = scene.objects_valid[t]
        if ok.any():
            pts = scene.objects_xy[t, ok]
            s_obj = project_on_polyline(line, pts)
            lateral = np.array([distance_to_polyline(line, p[None])[0] for p in pts])
            in_lane = (lateral < 0.5 * (scene.width + scene.objects_size[ok, 1]) + 0.3) & (
                s_obj > s0
            )
            if in_lane.any():
                k = np.argmin(np.where(in_lane, s_obj, np.inf))
                gaps[t] = s_obj[k] - 0.5 * scene.objects_size[ok][k, 0] - front
                lead_speed[t] = scene.objects_speed[t, ok][k]
        for q in range(scene.red_stops.shape[0]):
            gap = scene.red_stops[q, 0] - cfg.stop_line_margin - front
            if scene.red_state[t, q] and gap > -0.5:
                if gap + cfg.min_gap < gaps[t]:
                    gaps[t], lead_speed[t] = gap + cfg.min_gap, 0.0
    speed_limit = (
        float(np.asarray(scene.observation.ego)[0, 6]) if scene.observation is not None else 10.0
    )
    s = np.asarray(
        reference_speed_profile(
            float(scene.state[3]),
            max(speed_limit, 0.5),
            max(total - s0, 0.0),
            jnp.asarray(gaps, jnp.float32),
            jnp.asarray(lead_speed, jnp.float32),
            DT,
            cfg,
        ),
        np.float64,
    )
    return _poses_along(line, s0 + s)


def _poses_along(line: np.ndarray, s: np.ndarray) -> np.ndarray:
    seg = np.diff(line, axis=0)
    cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(seg, axis=-1))])
    x = np.interp(s, cum, line[:, 0])
    y = np.interp(s, cum, line[:, 1])
    k = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1)
    return np.stack([x, y, np.arctan2(seg[k, 1], seg[k, 0])], -1)


def subsample_plan(scene: Scene, poses_world: np.ndarray) -> np.ndarray:
    """41 world poses -> the 8 ego-frame poses at 0.5 s a planner would output."""
    picks = poses_world[5::5][:PLAN_POSES]
    x0, y0, yaw0 = scene.state[:3]
    dx, dy = picks[:, 0] - x0, picks[:, 1] - y0
    c, s = np.cos(yaw0), np.sin(yaw0)
    return np.stack([c * dx + s * dy, -s * dx + c * dy, wrap_angle(picks[:, 2] - yaw0)], -1)


def sub_scores(
    scene: Scene, nav_map: NavsimMap, traj: SimulatedTrajectory, version: str
) -> dict[str, float]:
    """Every NAVSIM sub-metric of one simulated trajectory (before EP normalisation)."""
    length, width = scene.length, scene.width
    areas: EgoAreas = ego_areas(nav_map, scene.centerline, traj.x, traj.y, traj.yaw, length, width)
    between = areas.multiple_lanes | areas.non_drivable
    n = HORIZON + 1
    ego_c = box_corners(traj.x, traj.y, traj.yaw, length, width)  # [41, 4, 2]
    obj_c = box_corners(
        scene.objects_xy[..., 0],
        scene.objects_xy[..., 1],
        scene.objects_yaw,
        scene.objects_size[:, 0],
        scene.objects_size[:, 1],
    )  # [51, K, 4, 2]
    overlap = boxes_overlap(ego_c[:, None], obj_c[:n]) & scene.objects_valid[:n]
    at_fault = np.zeros_like(overlap)
    back = REAR_AXLE_FRACTION * length
    axle = np.stack(
        [traj.x - back * np.cos(traj.yaw), traj.y - back * np.sin(traj.yaw), traj.yaw], -1
    )
    for t, k in zip(*np.nonzero(overlap), strict=True):
        kind = collision_type(
            tuple(axle[t]), traj.speed[t], ego_c[t], obj_c[t, k], scene.objects_speed[t, k], True
        )
        at_fault[t, k] = is_at_fault(kind, bool(between[t]))
    num_objects = scene.objects_size.shape[0]
    out = {
        "nc": _navsim.no_at_fault_collisions(overlap, at_fault, np.ones(num_objects, bool)),
        "dac": _navsim.drivable_area_compliance(areas.non_drivable),
        "ddc": _navsim.driving_direction_compliance(
            np.stack([traj.x, traj.y], -1), areas.oncoming, areas.in_intersection, version
        ),
        "raw_progress": _navsim.raw_progress(
            scene.centerline, np.array([traj.x[0], traj.y[0]]), np.array([traj.x[-1], traj.y[-1]])
        ),
    }
    obs_steps = scene.objects_valid.shape[0] if version == "v1" else n
    out["ttc"] = _navsim.time_to_collision(
        axle,
        traj.speed,
        (length, width, back),
        scene.objects_xy[:obs_steps],
        scene.objects_yaw[:obs_steps],
        scene.objects_size,
        scene.objects_valid[:obs_steps],
        between,
        areas.in_intersection,
    )
    # Red lights: the front bumper inside an on-route connector whose stop line shows red.
    s_front = project_on_polyline(scene.centerline, np.stack([traj.x, traj.y], -1)) + 0.5 * length
    red = np.zeros(n, bool)
    for q in range(scene.red_stops.shape[0]):
        start, conn = scene.red_stops[q]
        red |= scene.red_state[:n, q] & (s_front > start) & (s_front < start + conn + length)
    out["tlc"] = _navsim.traffic_light_compliance(red)
    out["lk"] = _navsim.lane_keeping(
        np.stack([traj.x, traj.y], -1), scene.centerline, areas.in_intersection
    )
    yaw_acc = np.gradient(traj.yaw_rate, DT)
    out["c"] = float(
        is_comfortable(traj.yaw, traj.accel, traj.speed * traj.yaw_rate, traj.yaw_rate, yaw_acc, DT)
    )
    h = scene.history
    h_yaw = np.concatenate([h[:, 2], traj.yaw])
    h_yaw_rate = np.gradient(np.unwrap(h_yaw), DT)
    h_speed = np.concatenate(
        [np.linalg.norm(np.gradient(h[:, :2], DT, axis=0), axis=-1), traj.speed]
    )
    out["hc"] = float(
        is_comfortable(
            h_yaw,
            np.concatenate([h[:, 3], traj.accel]),
            h_speed * h_yaw_rate,
            h_yaw_rate,
            np.gradient(h_yaw_rate, DT),
            DT,
        )
    )
    return out


def score_frame(
    scene: Scene,
    nav_map: NavsimMap,
    plan: np.ndarray,
    previous: SimulatedTrajectory | None = None,
) -> tuple[dict[str, float], SimulatedTrajectory]:
    """PDMS/EPDMS of one plan f64[8, 3] (ego frame, 0.5 s poses) in one scene, with the reference
    planner and the logged human scored in the same call. Returns the agent's sub-scores and
    scores and its simulated trajectory (pass it as `previous` for the next frame's EC)."""
    plan = np.asarray(plan, np.float64)
    if plan.shape != (PLAN_POSES, 3) or not np.isfinite(plan).all():
        raise ValueError(f"a plan must be finite f64[{PLAN_POSES}, 3], got {plan.shape}")
    agent = track(scene, interpolate_plan(scene, to_global(scene, plan), PLAN_INTERVAL))
    reference = track(scene, reference_plan(scene))
    human = logged_trajectory(scene)
    result: dict[str, float] = {}
    for version in ("v1", "v2"):
        a = sub_scores(scene, nav_map, agent, version)
        r = sub_scores(scene, nav_map, reference, version)
        mult = (
            (lambda p: p["nc"] * p["dac"])
            if version == "v1"
            else (lambda p: p["nc"] * p["dac"] * p["ddc"] * p["tlc"])
        )
        ep = _navsim.ego_progress(
            [r["raw_progress"], a["raw_progress"]], [mult(r), mult(a)], version
        )[1]
        if version == "v1":
            result["pdms"] = _navsim.pdms(a["nc"], a["dac"], a["ttc"], float(ep), a["c"])
            result.update({f"v1_{k}": v for k, v in a.items()})
            result["v1_ep"] = float(ep)
            continue
        h = sub_scores(scene, nav_map, human, version)
        filtered = _navsim.human_filter(a, h)
        ec = None
        if previous is not None:
            cur = (agent.yaw, agent.accel, agent.speed * agent.yaw_rate)
            prev = (previous.yaw, previous.accel, previous.speed * previous.yaw_rate)
            ec = 1.0 if is_extended_comfortable(cur, prev) else 0.0
        f = filtered
        result["epdms"] = _navsim.epdms(
            f["nc"], f["dac"], f["ddc"], f["tlc"], float(ep), f["ttc"], f["lk"], f["hc"], ec
        )
        result.update({f"v2_{k}": v for k, v in f.items()})
        result["v2_ep"] = float(ep)
        result["v2_ec"] = float("nan") if ec is None else ec
    return result, agent


def constant_velocity_planner(scene: Scene) -> np.ndarray:
    """Keep speed and heading: the usual open-loop sanity baseline."""
    t = PLAN_INTERVAL * np.arange(1, PLAN_POSES + 1)
    return np.stack([scene.state[3] * t, np.zeros(PLAN_POSES), np.zeros(PLAN_POSES)], -1)


def reference_planner(scene: Scene) -> np.ndarray:
    """The reference planner as a trajectory planner (its own row in tables)."""
    return subsample_plan(scene, reference_plan(scene))


def logged_planner(scene: Scene) -> np.ndarray:
    """The logged future (the human of NAVSIM)."""
    return subsample_plan(scene, scene.human[:, :3])


def evaluate_open_loop(
    scenes: list[Scene], maps: Any, planner: TrajectoryPlanner, lane_width: float, resolution: float
) -> dict[str, Any]:
    """Mean PDMS/EPDMS and sub-scores of `planner` over scenes; EC compares each agent's plan with
    its plan 0.5 s earlier when both frames are scenes. Returns {"metrics", "frames"}."""
    if not scenes:
        raise ValueError("evaluate_open_loop needs at least one scene")
    maps_cache: dict[int, NavsimMap] = {}
    frames: list[dict[str, float]] = []
    previous: dict[tuple[int, int, int], SimulatedTrajectory] = {}
    for scene in scenes:
        if scene.map_id not in maps_cache:
            maps_cache[scene.map_id] = NavsimMap.from_bank(
                maps, scene.map_id, lane_width, resolution
            )
        nav_map = maps_cache[scene.map_id]
        # EC pairs frames 0.5 s apart (NAVSIM's frame interval).
        prev_key = (scene.seed, scene.slot, scene.step - round(PLAN_INTERVAL / DT))
        row, traj = score_frame(scene, nav_map, planner(scene), previous.get(prev_key))
        previous[(scene.seed, scene.slot, scene.step)] = traj
        frames.append(row)
    keys = frames[0].keys()
    metrics = {k: _navsim.mean_score([f[k] for f in frames]) for k in keys}
    metrics["scenes"] = float(len(frames))
    return {"metrics": metrics, "frames": frames}


@eqx.filter_jit
def _fork(world: Any, policy: Any, state: Any, slot: Any, num_steps: int) -> Any:
    """Poses f32[num_steps, 3] of `slot` after each of `num_steps` steps of `policy` driving every
    agent from `state`; once the slot's episode ends its last pose is held."""
    cfg = world.config

    def body(carry, key):
        state, alive, last = carry
        action = policy(policy_observation(policy, world, state, world.observe(state)), key)
        moved = gw.forward(state.agents.kinematics, action, cfg.action_space, cfg.dt)
        state, out = world.step(state, action)
        pose = jnp.stack([moved.x[slot], moved.y[slot], moved.yaw[slot]])
        pose = jnp.where(alive, pose, last)
        return (state, alive & ~out.done[slot], pose), pose

    start = jnp.stack([state.agents.x[slot], state.agents.y[slot], state.agents.yaw[slot]])
    keys = jax.random.split(jax.random.key(0), num_steps)
    _, poses = jax.lax.scan(body, (state, jnp.asarray(True), start), keys)
    return poses


def forked_planner(world: Any, policy: Any, record: Any) -> TrajectoryPlanner:
    """An action policy as a trajectory planner: fork the recorded world at the scene's frame,
    let `policy` drive every agent for 4 s (self-play, as gp-distill labels trajectories) and
    return the scene agent's poses at 0.5 s. `record` must hold world states (recorded with
    observations)."""
    if record.world_state is None:
        raise ValueError("forked_planner needs a record made with with_observations=True")

    def plan(scene: Scene) -> np.ndarray:
        state = restore_state(record.world_state, scene.seed, scene.step)
        poses = np.asarray(_fork(world, policy, state, jnp.int32(scene.slot), HORIZON), np.float64)
        return subsample_plan(scene, np.concatenate([scene.state[None, :3], poses]))

    return plan
