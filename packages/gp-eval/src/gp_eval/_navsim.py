"""NAVSIM PDMS (v1) and EPDMS (v2): sub-scores on simulated states and their aggregation.

Every function is pure numpy on arrays over the simulated time axis T (41 states at 0.1 s in
NAVSIM) and, where needed, the K other objects of the observation. METRICS.md §1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from gp_eval._geometry import (
    box_corners,
    boxes_overlap,
    distance_to_polyline,
    is_agent_ahead,
    is_agent_behind,
    project_on_polyline,
)

PDMS_WEIGHTS = {"ep": 5.0, "ttc": 5.0, "c": 2.0}  # v1; DDC has weight 0
EPDMS_WEIGHTS = {"ep": 5.0, "ttc": 5.0, "lk": 2.0, "hc": 2.0, "ec": 2.0}
PROGRESS_DISTANCE_THRESHOLD = 5.0  # m: below this best progress, EP = 1 for everyone
TTC_FUTURE_STEPS = (0, 3, 6, 9)  # arange(0, int(1.0 / 0.1), 3) look-ahead offsets, steps of dt
TTC_STOPPED_SPEED = 0.005  # m/s
LANE_KEEPING_DEVIATION = 0.5  # m
LANE_KEEPING_HORIZON = 2.0  # s
DDC_HORIZON = 1.0  # s
DDC_COMPLIANCE_THRESHOLD = 2.0  # m
DDC_VIOLATION_THRESHOLD = 6.0  # m


def _check_version(version: str) -> None:
    if version not in ("v1", "v2"):
        raise ValueError(f"NAVSIM version must be 'v1' or 'v2', got {version!r}")


def no_at_fault_collisions(
    overlap: np.ndarray, at_fault: np.ndarray, track_is_agent: np.ndarray
) -> float:
    """NC ∈ {0, 0.5, 1} (`_calculate_no_at_fault_collision`).

    overlap bool[T, K]: ego polygon intersects object k at step t; at_fault bool[T, K]: the
    at-fault rule (`is_at_fault`) for that contact; track_is_agent bool[K]: vehicle, pedestrian,
    bicycle (False: static object). A non-at-fault contact puts the object on an ignore list, so
    it can never count later; NC is the *minimum* over at-fault contacts (0 agent, 0.5 static).
    """
    overlap = np.asarray(overlap, bool)
    at_fault = np.asarray(at_fault, bool)
    track_is_agent = np.asarray(track_is_agent, bool)
    if overlap.shape != at_fault.shape or overlap.shape[-1:] != track_is_agent.shape:
        raise ValueError(
            f"overlap {overlap.shape}, at_fault {at_fault.shape} and track_is_agent "
            f"{track_is_agent.shape} must be [T, K], [T, K], [K]"
        )
    ignored = np.zeros(track_is_agent.shape, bool)
    score = 1.0
    for t in range(overlap.shape[0]):
        for k in np.flatnonzero(overlap[t] & ~ignored):
            if at_fault[t, k]:
                score = min(score, 0.0 if track_is_agent[k] else 0.5)
            else:
                ignored[k] = True
    return score


def drivable_area_compliance(non_drivable: np.ndarray) -> float:
    """DAC ∈ {0, 1}: 0 if any corner left the drivable polygons at any step (bool[T])."""
    return 0.0 if np.any(non_drivable) else 1.0


def driving_direction_compliance(
    center: np.ndarray,
    oncoming: np.ndarray,
    in_intersection: np.ndarray | None = None,
    version: str = "v2",
    dt: float = 0.1,
) -> float:
    """DDC ∈ {0, 0.5, 1}: max distance driven with the centre outside on-route lanes in any 1 s
    window (11 samples). center f64[T, 2]; oncoming bool[T]; in_intersection bool[T] (v2 only)."""
    _check_version(version)
    center = np.asarray(center, np.float64)
    step = np.concatenate([[0.0], np.linalg.norm(np.diff(center, axis=0), axis=-1)])
    counted = np.asarray(oncoming, bool)
    if version == "v2" and in_intersection is not None:
        counted = counted & ~np.asarray(in_intersection, bool)
    progress = np.where(counted, step, 0.0)
    horizon = int(DDC_HORIZON / dt)
    windows = [progress[max(0, t - horizon) : t + 1].sum() for t in range(len(progress))]
    worst = max(windows) if windows else 0.0
    if worst < DDC_COMPLIANCE_THRESHOLD:
        return 1.0
    return 0.5 if worst < DDC_VIOLATION_THRESHOLD else 0.0


def traffic_light_compliance(red_light_overlap: np.ndarray) -> float:
    """TLC ∈ {0, 1}: 0 if the ego polygon touched an on-route red lane connector (bool[T])."""
    return 0.0 if np.any(red_light_overlap) else 1.0


def raw_progress(centerline: np.ndarray, center_start: np.ndarray, center_end: np.ndarray) -> float:
    """max(0, s(end) - s(start)) along the reference centerline f64[N, 2], in metres."""
    s = project_on_polyline(centerline, np.stack([center_start, center_end]))
    return max(0.0, float(s[1] - s[0]))


def ego_progress(raw: ArrayLike, multipliers: ArrayLike, version: str = "v2") -> np.ndarray:
    """EP per proposal f64[P] from raw progress f64[P] (m) and multiplier products f64[P].

    norm = max_i raw_i·M_i over the proposals scored together (the reference planner and the
    agent). If norm > 5 m: v2 EP = clip(raw/norm, 0, 1), v1 EP = raw·M/norm; else EP = 1.
    """
    _check_version(version)
    raw = np.asarray(raw, np.float64)
    mult = np.asarray(multipliers, np.float64)
    norm = float(np.max(raw * mult))
    if norm <= PROGRESS_DISTANCE_THRESHOLD:
        return np.ones_like(raw)
    if version == "v2":
        return np.clip(raw / norm, 0.0, 1.0)
    return raw * mult / norm


def time_to_collision(
    ego_rear_axle: np.ndarray,
    ego_speed: np.ndarray,
    ego_size: tuple[float, float, float],
    track_center: np.ndarray,
    track_yaw: np.ndarray,
    track_size: np.ndarray,
    track_valid: np.ndarray,
    between_lanes_or_offroad: np.ndarray,
    in_intersection: np.ndarray,
) -> float:
    """TTC ∈ {0, 1} (`_calculate_ttc`).

    ego_rear_axle f64[T, 3] (x, y, yaw); ego_speed f64[T]; ego_size = (length, width,
    rear_axle_to_center) m. Observation over T_obs >= T steps: track_center f64[T_obs, K, 2],
    track_yaw f64[T_obs, K], track_size f64[K, 2] (length, width), track_valid bool[T_obs, K].
    between_lanes_or_offroad / in_intersection bool[T] (the latter: rear axle in an intersection).
    The ego box is shifted by v·{0, .3, .6, .9} s along its heading and tested against the
    *observed* future boxes; evaluated steps t <= min(T, T_obs - 9) - 1 (v2: 0..31, v1: 0..40).
    """
    ego = np.asarray(ego_rear_axle, np.float64)
    speed = np.asarray(ego_speed, np.float64)
    length, width, rear_to_center = ego_size
    track_center = np.asarray(track_center, np.float64)
    track_yaw = np.asarray(track_yaw, np.float64)
    track_size = np.asarray(track_size, np.float64)
    valid = np.asarray(track_valid, bool)
    t_obs, num_tracks = valid.shape
    num_steps = min(ego.shape[0], t_obs - TTC_FUTURE_STEPS[-1])
    track_corners = box_corners(
        track_center[..., 0], track_center[..., 1], track_yaw, track_size[:, 0], track_size[:, 1]
    )  # [T_obs, K, 4, 2]
    ignored = np.zeros(num_tracks, bool)
    dt = 0.1
    for t in range(num_steps):
        if speed[t] < TTC_STOPPED_SPEED:
            continue
        x, y, yaw = ego[t]
        cx, cy = x + rear_to_center * math.cos(yaw), y + rear_to_center * math.sin(yaw)
        for k_off in TTC_FUTURE_STEPS:
            shift = speed[t] * k_off * dt
            corners = box_corners(
                cx + shift * math.cos(yaw), cy + shift * math.sin(yaw), yaw, length, width
            )
            hits = boxes_overlap(corners[None], track_corners[t + k_off]) & valid[t + k_off]
            for k in np.flatnonzero(hits & ~ignored):
                px, py = track_center[t + k_off, k]
                relevant = bool(is_agent_ahead(x, y, yaw, px, py)) or (
                    bool(between_lanes_or_offroad[t] or in_intersection[t])
                    and not bool(is_agent_behind(x, y, yaw, px, py))
                )
                if relevant:
                    return 0.0
                ignored[k] = True
    return 1.0


def lane_keeping(
    center: np.ndarray, centerline: np.ndarray, in_intersection: np.ndarray, dt: float = 0.1
) -> float:
    """LK ∈ {0, 1}: 0 once the centre stays > 0.5 m from the centerline for 2 s in a row.

    Steps with the centre in an intersection neither count nor reset the run.
    """
    deviation = distance_to_polyline(centerline, np.asarray(center, np.float64))
    needed = math.ceil(LANE_KEEPING_HORIZON / dt)
    run = 0
    for t in range(deviation.shape[0]):
        if in_intersection[t]:
            continue
        run = run + 1 if deviation[t] > LANE_KEEPING_DEVIATION else 0
        if run >= needed:
            return 0.0
    return 1.0


def pdms(nc: float, dac: float, ttc: float, ep: float, c: float) -> float:
    """NAVSIM v1 PDMS = NC·DAC·(5·TTC + 5·EP + 2·C)/12 (DDC has weight 0)."""
    w = PDMS_WEIGHTS
    return nc * dac * (w["ttc"] * ttc + w["ep"] * ep + w["c"] * c) / sum(w.values())


def epdms(
    nc: float,
    dac: float,
    ddc: float,
    tlc: float,
    ep: float,
    ttc: float,
    lk: float,
    hc: float,
    ec: float | None = None,
) -> float:
    """NAVSIM v2 per-frame EPDMS = NC·DAC·DDC·TLC·(5EP + 5TTC + 2LK + 2HC + 2EC)/16.

    `ec=None` (no previous frame) drops EC's weight: denominator 14, as the one-stage script does.
    """
    w = dict(EPDMS_WEIGHTS)
    vals = {"ep": ep, "ttc": ttc, "lk": lk, "hc": hc, "ec": 0.0 if ec is None else ec}
    if ec is None or (isinstance(ec, float) and math.isnan(ec)):
        w["ec"] = 0.0
        vals["ec"] = 0.0
    return nc * dac * ddc * tlc * sum(w[k] * vals[k] for k in w) / sum(w.values())


FILTERED_METRICS = ("nc", "dac", "ddc", "tlc", "ttc", "lk", "hc", "ec")


def human_filter(agent: Mapping[str, float], human: Mapping[str, float]) -> dict[str, float]:
    """v2 false-positive filter: every sub-metric where the logged human scores exactly 0 is set
    to 1 for the agent (0.5 does not trigger). EP is not renormalised."""
    out = dict(agent)
    for name in FILTERED_METRICS:
        if name in human and name in out and human[name] == 0.0:
            out[name] = 1.0
    return out


def mean_score(scores: Sequence[float]) -> float:
    """Benchmark value: mean over scenes, skipping NaN (crashed scenes are excluded, not 0)."""
    arr = np.asarray(scores, np.float64)
    return float(np.nanmean(arr)) if np.any(~np.isnan(arr)) else float("nan")


def two_stage_weights(endpoint: np.ndarray, startpoints: np.ndarray, sigma2: float = 0.1):
    """Stage-two weights w_j ∝ exp(-d_j²/(2σ²)), d_j = |endpoint - startpoint_j| (m); uniform if
    all weights underflow to 0."""
    d2 = np.sum((np.asarray(startpoints, np.float64) - np.asarray(endpoint)) ** 2, axis=-1)
    w = np.exp(-d2 / (2.0 * sigma2))
    total = w.sum()
    if total == 0.0 or np.isnan(total):
        return np.full(w.shape, 1.0 / w.shape[0])
    return w / total


def epdms_two_stage(
    stage_one: Mapping[str, float],
    endpoints: Mapping[str, np.ndarray],
    stage_two: Mapping[str, float],
    startpoints: Mapping[str, np.ndarray],
    entries: Sequence[tuple[str, str, Sequence[tuple[str, str]]]],
    sigma2: float = 0.1,
) -> float:
    """Two-stage EPDMS: mean over entries of (G1 + G2)/2 with
    G1 = S1(orig)·Σ_j w_j S2(now_j), G2 = S1(prev)·Σ_j w'_j S2(prev_j).

    stage_one: token -> score; endpoints: token -> agent's raw planned last pose xy (m);
    stage_two: token -> score; startpoints: token -> initial ego xy; entries:
    (orig_token, prev_token, [(now_token_j, prev_token_j), ...]).
    """
    out = []
    for orig, prev, pairs in entries:
        groups = []
        for first, tokens in ((orig, [p[0] for p in pairs]), (prev, [p[1] for p in pairs])):
            starts = np.stack([startpoints[t] for t in tokens])
            w = two_stage_weights(endpoints[first], starts, sigma2)
            groups.append(stage_one[first] * float(np.dot(w, [stage_two[t] for t in tokens])))
        out.append(0.5 * (groups[0] + groups[1]))
    return float(np.mean(out))
