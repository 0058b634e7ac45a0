"""NAVSIM-style scenes cut from a recorded closed-loop log, and the map queries the scorer needs
(ego areas: off the drivable area, between lanes, oncoming, in an intersection). Host numpy.

A scene is one agent at one frame: its state, 1.5 s of history, the logged 4 s future (the
"human"), every other agent's logged boxes over 5 s, its route centerline and on-route stop lines
with their light states, and its observation at the frame (the planner's input).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from gp_eval._geometry import box_corners, project_on_polyline, wrap_angle

HORIZON = 40  # 4 s of 0.1 s steps scored (41 states)
OBSERVATION_STEPS = 51  # 5 s of logged boxes (v1 TTC looks 0.9 s past the horizon)
HISTORY = 15  # 1.5 s of logged ego history (v2 history comfort)
RED = 0  # gp_world.RED


@dataclasses.dataclass(frozen=True)
class NavsimMap:
    """One map's arrays for the ego-area queries (see gp_world.MapBank)."""

    lane_points: np.ndarray  # f64[P, 4] x, y, heading, speed limit
    lane_point_lane: np.ndarray  # i32[P]
    lane_is_connector: np.ndarray  # bool[N]
    lane_width: float
    drivable: np.ndarray  # bool[H, W]
    origin: np.ndarray  # f64[2]
    resolution: float

    @classmethod
    def from_bank(cls, maps: Any, m: int, lane_width: float, resolution: float) -> NavsimMap:
        ok = np.asarray(maps.lane_points_valid[m])
        return cls(
            lane_points=np.asarray(maps.lane_points[m], np.float64)[ok],
            lane_point_lane=np.asarray(maps.lane_point_lane[m])[ok],
            lane_is_connector=np.asarray(maps.lane_is_connector[m]),
            lane_width=lane_width,
            drivable=np.asarray(maps.drivable[m]),
            origin=np.asarray(maps.origin[m], np.float64),
            resolution=resolution,
        )

    def on_drivable(self, xy: np.ndarray) -> np.ndarray:
        """bool[...] for points [..., 2]: inside the drivable raster."""
        ij = np.floor((xy - self.origin) / self.resolution).astype(np.int64)
        h, w = self.drivable.shape
        inside = (ij[..., 0] >= 0) & (ij[..., 0] < w) & (ij[..., 1] >= 0) & (ij[..., 1] < h)
        cells = self.drivable[np.clip(ij[..., 1], 0, h - 1), np.clip(ij[..., 0], 0, w - 1)]
        return inside & cells

    def nearest_lane_point(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index into lane_points and distance (m) of the nearest lane point, for points [N, 2]."""
        d2 = ((xy[:, None, :] - self.lane_points[None, :, :2]) ** 2).sum(-1)
        idx = d2.argmin(-1)
        return idx, np.sqrt(d2[np.arange(xy.shape[0]), idx])


@dataclasses.dataclass(frozen=True)
class EgoAreas:
    """Per simulated state bool[T]: NAVSIM's NON_DRIVABLE_AREA, MULTIPLE_LANES, ONCOMING_TRAFFIC
    and "centre in an intersection"."""

    non_drivable: np.ndarray
    multiple_lanes: np.ndarray
    oncoming: np.ndarray
    in_intersection: np.ndarray


def ego_areas(
    nav_map: NavsimMap,
    centerline: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    yaw: np.ndarray,
    length: float,
    width: float,
) -> EgoAreas:
    """Ego areas along a trajectory (f64[T] each). Lanes are resolved from the route centerline
    and the lane points: corners in different parallel lanes (by lateral offset) = multiple
    lanes; centre with no same-direction lane centre within half a lane width = oncoming; centre
    nearest a connector lane within half a lane width = in an intersection."""
    corners = box_corners(x, y, yaw, length, width)  # [T, 4, 2]
    non_drivable = ~nav_map.on_drivable(corners).all(-1)
    w = nav_map.lane_width
    # Signed lateral offset of each corner from the route centerline -> parallel lane index.
    s = project_on_polyline(centerline, corners)
    seg_heading = np.arctan2(*np.diff(centerline, axis=0)[:, ::-1].T)
    cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(centerline, axis=0), axis=-1))])
    k = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg_heading) - 1)
    base = centerline[k] + (s - cum[k])[..., None] * np.stack(
        [np.cos(seg_heading[k]), np.sin(seg_heading[k])], -1
    )
    rel = corners - base
    lateral = -rel[..., 0] * np.sin(seg_heading[k]) + rel[..., 1] * np.cos(seg_heading[k])
    lane_index = np.round(lateral / w)
    multiple_lanes = lane_index.min(-1) != lane_index.max(-1)
    centre = np.stack([x, y], -1)
    idx, dist = nav_map.nearest_lane_point(centre)
    in_lane = dist <= 0.5 * w
    route_heading = seg_heading[
        np.clip(np.searchsorted(cum, project_on_polyline(centerline, centre)) - 1, 0, None)
    ]
    same_direction = np.abs(wrap_angle(nav_map.lane_points[idx, 2] - route_heading)) < np.pi / 2
    oncoming = ~(in_lane & same_direction)
    in_intersection = in_lane & nav_map.lane_is_connector[nav_map.lane_point_lane[idx]]
    return EgoAreas(
        np.asarray(non_drivable),
        np.asarray(multiple_lanes),
        np.asarray(oncoming),
        np.asarray(in_intersection),
    )


@dataclasses.dataclass(frozen=True)
class Scene:
    """One agent at one frame of a recorded log (all arrays host numpy, float64)."""

    seed: int
    slot: int
    step: int  # record step whose observation the planner sees
    map_id: int
    length: float
    width: float
    state: np.ndarray  # f64[6] x, y, yaw, speed, accel, yaw_rate at the frame
    history: np.ndarray  # f64[HISTORY, 4] x, y, yaw, accel before the frame (oldest first)
    human: np.ndarray  # f64[HORIZON + 1, 4] logged x, y, yaw, speed from the frame on
    centerline: np.ndarray  # f64[N, 2] of the agent's route
    objects_xy: np.ndarray  # f64[OBSERVATION_STEPS, K, 2]
    objects_yaw: np.ndarray  # f64[OBSERVATION_STEPS, K]
    objects_speed: np.ndarray  # f64[OBSERVATION_STEPS, K]
    objects_size: np.ndarray  # f64[K, 2] length, width (at the frame)
    objects_valid: np.ndarray  # bool[OBSERVATION_STEPS, K]
    red_stops: np.ndarray  # f64[Q, 2] on-route stop line arc length and connector length (m)
    red_state: np.ndarray  # bool[OBSERVATION_STEPS, Q]: that stop line's light is red
    observation: Any  # the agent's PrivilegedObservation at the frame (A axis of 1)


def _yaw_rate(yaw: np.ndarray, dt: float) -> np.ndarray:
    return np.gradient(np.unwrap(yaw.astype(np.float64)), dt)


def cut_scenes(
    record: Any,
    maps: Any,
    frame_stride: int = 5,
    max_scenes: int | None = None,
    dt: float = 0.1,
) -> list[Scene]:
    """Scenes from a rollout recorded `with_observations`: every `frame_stride` steps, every slot
    that drives one episode from 1.5 s before the frame to 5 s after it. At most `max_scenes`,
    taken evenly in pairs of consecutive frames of one agent (for extended comfort)."""
    if record.observation is None:
        raise ValueError("cut_scenes needs a record made with with_observations=True")
    get = lambda name: np.asarray(getattr(record, name))  # noqa: E731
    live, done = get("live"), get("done")
    num_seeds, num_steps, num_agents = live.shape
    scenes: list[Scene] = []
    for i in range(num_seeds):
        m = int(get("map_id")[i])
        route_points = np.asarray(maps.route_points[m], np.float64)
        route_count = np.asarray(maps.route_num_points[m])
        stop_s = np.asarray(maps.route_stop_s[m], np.float64)
        stop_line = np.asarray(maps.route_stop_line[m])
        route_lanes = np.asarray(maps.route_lanes[m])
        lane_length = np.asarray(maps.lane_length[m], np.float64)
        for t in range(HISTORY + 1, num_steps - OBSERVATION_STEPS + 1, frame_stride):
            window = slice(t - HISTORY - 1, t - 1 + OBSERVATION_STEPS)
            for a in range(num_agents):
                # One uninterrupted episode over the window (a `done` only at its last step).
                if not live[i, window, a].all() or done[i, t - HISTORY - 1 : t + HORIZON, a].any():
                    continue
                scenes.append(
                    _scene(
                        record,
                        i,
                        a,
                        t,
                        m,
                        route_points,
                        route_count,
                        stop_s,
                        stop_line,
                        route_lanes,
                        lane_length,
                        dt,
                    )
                )
    if max_scenes is not None and len(scenes) > max_scenes:
        scenes = _evenly_in_pairs(scenes, max_scenes, frame_stride)
    return scenes


def _evenly_in_pairs(scenes: list[Scene], count: int, stride: int) -> list[Scene]:
    """`count` scenes spread evenly, taken as (frame, frame + stride) pairs of one agent where
    possible, so that extended comfort (which needs the previous frame) is scored on them."""
    index = {(s.seed, s.slot, s.step): s for s in scenes}
    seconds = [s for s in scenes if (s.seed, s.slot, s.step - stride) in index]
    picked: list[Scene] = []
    if seconds and count >= 2:
        for k in np.linspace(0, len(seconds) - 1, count // 2).round().astype(int):
            s = seconds[k]
            picked += [index[(s.seed, s.slot, s.step - stride)], s]
    seen = {(s.seed, s.slot, s.step) for s in picked}
    rest = [s for s in scenes if (s.seed, s.slot, s.step) not in seen]
    if len(picked) < count and rest:
        extra = np.linspace(0, len(rest) - 1, count - len(picked)).round().astype(int)
        picked += [rest[k] for k in extra]
    unique = {(s.seed, s.slot, s.step): s for s in picked}
    return sorted(unique.values(), key=lambda s: (s.seed, s.step, s.slot))


def _scene(
    record, i, a, t, m, route_points, route_count, stop_s, stop_line, route_lanes, lane_length, dt
) -> Scene:
    get = lambda name: np.asarray(getattr(record, name))[i]  # noqa: E731
    x, y, yaw, speed, accel = (
        get(n).astype(np.float64) for n in ("x", "y", "yaw", "speed", "accel")
    )
    f = t - 1  # the state at the frame is the logged pose after step t - 1
    hist = slice(f - HISTORY, f)
    fut = slice(f, f + HORIZON + 1)
    obs_steps = slice(f, f + OBSERVATION_STEPS)
    r = int(get("route")[t, a])
    centerline = route_points[r, : route_count[r], :2]
    others = np.ones(x.shape[1], bool)
    others[a] = False
    live = get("live")
    # On-route stop lines: the connector after route lane k starts at stop_s[r, k].
    stops, states = [], []
    light = get("stop_line_state")
    for k in np.flatnonzero(stop_line[r] >= 0):
        nxt = route_lanes[r, k + 1] if k + 1 < route_lanes.shape[1] else -1
        stops.append((stop_s[r, k], lane_length[nxt] if nxt >= 0 else 10.0))
        states.append(light[t : t + OBSERVATION_STEPS, stop_line[r, k]] == RED)
    yaw_rate = _yaw_rate(yaw[f - 1 : f + 2, a], dt)[1]
    return Scene(
        seed=i,
        slot=a,
        step=t,
        map_id=m,
        length=float(get("length")[t, a]),
        width=float(get("width")[t, a]),
        state=np.array([x[f, a], y[f, a], yaw[f, a], speed[f, a], accel[f, a], yaw_rate]),
        history=np.stack([x[hist, a], y[hist, a], yaw[hist, a], accel[hist, a]], -1),
        human=np.stack([x[fut, a], y[fut, a], yaw[fut, a], speed[fut, a]], -1),
        centerline=centerline,
        objects_xy=np.stack([x[obs_steps][:, others], y[obs_steps][:, others]], -1),
        objects_yaw=yaw[obs_steps][:, others],
        objects_speed=speed[obs_steps][:, others],
        objects_size=np.stack([get("length")[t][others], get("width")[t][others]], -1).astype(
            np.float64
        ),
        objects_valid=_same_agent(live[obs_steps][:, others], get("done")[obs_steps][:, others]),
        red_stops=np.asarray(stops, np.float64).reshape(-1, 2),
        red_state=np.stack(states, -1) if states else np.zeros((OBSERVATION_STEPS, 0), bool),
        observation=_agent_observation(record.observation, i, t, a),
    )


def _same_agent(live: np.ndarray, done: np.ndarray) -> np.ndarray:
    """A slot holds the object seen at the frame until its episode ends (then a respawn)."""
    ended_before = np.concatenate([np.zeros_like(done[:1]), np.cumsum(done, 0)[:-1] > 0])
    return live & ~ended_before


def _agent_observation(observation, i, t, a):
    import jax

    return jax.tree.map(lambda v: np.asarray(v)[i, t, a : a + 1], observation)
