"""nuPlan closed-loop score CLS (METRICS.md §2): Π multipliers × (5·EP + 5·TTC + 4·SLC + 2·C)/16,
mean over scenarios."""

from __future__ import annotations

import numpy as np

CLS_WEIGHTS = {"ep": 5.0, "ttc": 5.0, "slc": 4.0, "c": 2.0}
PROGRESS_THRESHOLD = 2.0  # m: score_progress_threshold
MAKING_PROGRESS_RATIO = 0.2
MAX_OVERSPEED = 2.23  # m/s: max_overspeed_value_threshold
LEAST_MIN_TTC = 0.95  # s


def collision_score(n_vru: int, n_vehicle: int, n_object: int) -> float:
    """no_ego_at_fault_collisions from counts of distinct at-fault tracks by class: a product (not
    a min) of max(0, 1 - n/(thr + 1)) with thresholds VRU 0, vehicle 0, object 1."""
    if n_vru + n_vehicle + n_object == 0:
        return 1.0

    def f(n: int, thr: int) -> float:
        return max(0.0, 1.0 - n / (thr + 1))

    return f(n_vru, 0) * f(n_vehicle, 0) * f(n_object, 1)


def progress_ratio(ego_progress: float, expert_progress: float | None) -> float:
    """ego_progress_along_expert_route: 0 if ego < -2 m, else min(1, max(ego, 2)/max(expert, 2));
    1 when there is no expert route (None)."""
    if expert_progress is None:
        return 1.0
    if ego_progress < -PROGRESS_THRESHOLD:
        return 0.0
    return min(
        1.0, max(ego_progress, PROGRESS_THRESHOLD) / max(expert_progress, PROGRESS_THRESHOLD)
    )


def driving_direction_score(lane_progress: np.ndarray, dt: float = 0.1) -> float:
    """driving_direction_compliance from per-step progress along the current lane baseline
    f64[T] (m; 0 on lane changes): m = |min over 1 s windows of summed progress|; < 2 m → 1,
    < 6 m → 0.5, else 0."""
    progress = np.asarray(lane_progress, np.float64)
    horizon = int(1.0 / dt)
    sums = [progress[max(0, i - horizon) : i + 1].sum() for i in range(len(progress))]
    worst = abs(min(0.0, min(sums))) if sums else 0.0
    if worst < 2.0:
        return 1.0
    return 0.5 if worst < 6.0 else 0.0


def speed_limit_score(speed: np.ndarray, speed_limit: np.ndarray, dt: float) -> float:
    """speed_limit_compliance: 1 - Σ overspeed·dt / (2.23 m/s · T_scenario), floored at 0.

    speed, speed_limit f64[T] (m/s; NaN limit = skipped step); T_scenario = T·dt.
    """
    speed = np.asarray(speed, np.float64)
    limit = np.asarray(speed_limit, np.float64)
    over = np.where(np.isnan(limit), 0.0, np.maximum(speed - np.nan_to_num(limit), 0.0))
    if not np.any(over > 0):
        return 1.0
    duration = speed.shape[0] * dt
    return max(0.0, 1.0 - float(over.sum()) * dt / (MAX_OVERSPEED * duration))


def ttc_within_bound(min_ttc_per_step: np.ndarray) -> float:
    """1 iff 0.95 s < TTC at every step (inf where none was found / ego stopped)."""
    return 1.0 if bool(np.all(np.asarray(min_ttc_per_step) > LEAST_MIN_TTC)) else 0.0


def cls_scenario(
    no_at_fault_collisions: float,
    drivable_area: float,
    driving_direction: float,
    progress: float,
    ttc: float,
    speed_limit: float,
    comfortable: float,
) -> float:
    """Scenario score: NC·DAC·making_progress·DDC × (5·EP + 5·TTC + 4·SLC + 2·C)/16, with
    making_progress = 1 iff the progress ratio >= 0.2."""
    making_progress = 1.0 if progress >= MAKING_PROGRESS_RATIO else 0.0
    mult = no_at_fault_collisions * drivable_area * making_progress * driving_direction
    w = CLS_WEIGHTS
    weighted = w["ep"] * progress + w["ttc"] * ttc + w["slc"] * speed_limit + w["c"] * comfortable
    return mult * weighted / sum(w.values())
