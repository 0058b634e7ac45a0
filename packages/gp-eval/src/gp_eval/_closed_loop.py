"""Closed-loop evaluation: roll a policy out on held-out towns with fixed seeds, then report
per-agent and aggregate driving statistics and the CARLA / HUGSIM / nuPlan scores."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

import gp_world as gw
from gp_eval import _carla, _robustness, _route_scores, _waymax
from gp_eval._baseline import BaselinePlanner
from gp_eval._episodes import Episode, split_episodes
from gp_eval._rollout import Policy, RolloutRecord, run_rollouts
from gp_eval.config import ClosedLoopConfig


@dataclasses.dataclass
class ClosedLoopResult:
    """`metrics`: aggregate numbers (JSON-ready); `episodes`: every episode; `routes`: per-route
    benchmark sub-scores; `record`: the raw rollout (numpy, leading seed axis)."""

    metrics: dict[str, float]
    episodes: list[Episode]
    routes: list[dict[str, Any]]
    record: RolloutRecord


def _record_dict(record: RolloutRecord, i: int) -> dict[str, np.ndarray]:
    return {
        f.name: np.asarray(getattr(record, f.name))[i]
        for f in dataclasses.fields(record)
        if f.name not in ("observation", "world_state")
    }


def evaluate_closed_loop(
    world: gw.World,
    policy: Policy,
    cfg: ClosedLoopConfig | None = None,
    baseline: Policy | None = None,
) -> ClosedLoopResult:
    """Run `policy` (obs, key) -> action on `world` and score it (see ClosedLoopConfig)."""
    cfg = ClosedLoopConfig() if cfg is None else cfg
    if baseline is None:
        baseline = BaselinePlanner(
            world.config.action_space, world.config.dt, plans_in=cfg.baseline_plans_in
        )
    record = run_rollouts(
        world,
        policy,
        baseline,
        cfg.seeds,
        cfg.num_steps,
        cfg.policy_fraction,
        cfg.with_observations,
    )
    lane_width = world.config.town.lane_width
    drivable = np.asarray(world.maps.drivable)
    origin = np.asarray(world.maps.origin)
    resolution = float(world.config.raster_resolution)
    episodes: list[Episode] = []
    routes: list[dict[str, Any]] = []
    for i in range(len(cfg.seeds)):
        rec = _record_dict(record, i)
        m = int(rec["map_id"])
        for ep in split_episodes(rec, i, lane_width):
            episodes.append(ep)
            if not (ep.first and ep.by_policy):
                continue
            row: dict[str, Any] = {"seed": cfg.seeds[i], "slot": ep.slot, "outcome": ep.outcome}
            carla = _route_scores.carla_route(ep)
            row["carla_ds"] = _carla.route_driving_score(carla)
            row["carla_rc"] = carla.route_completion
            row["carla_ip"] = _carla.infraction_penalty(carla)
            hug = _route_scores.hugsim_route(ep, rec, drivable[m], origin[m], resolution)
            row.update({f"hugsim_{k}": v for k, v in hug.items()})
            row.update(
                {
                    f"nuplan_{k}": v
                    for k, v in _route_scores.nuplan_route(ep, rec, lane_width).items()
                }
            )
            routes.append(row)
    metrics = aggregate(episodes, routes, record, cfg)
    return ClosedLoopResult(metrics, episodes, routes, record)


def aggregate(
    episodes: list[Episode], routes: list[dict[str, Any]], record: RolloutRecord, cfg
) -> dict[str, float]:
    """Aggregate statistics over the policy's episodes and routes."""
    mine = [e for e in episodes if e.by_policy]
    ended = [e for e in mine if e.outcome != "truncated"]
    distance = sum(e.distance for e in mine)
    counts = {
        "collision": sum(e.collisions for e in mine),
        "offroad": sum(e.offroad for e in mine),
        "red_light": sum(e.red_lights for e in mine),
    }
    robust = _robustness.distance_between_incidents(distance, counts)
    live = np.asarray(record.live) & np.asarray(record.by_policy)[:, None, :]
    speed = np.asarray(record.speed)
    out: dict[str, float] = {
        "episodes": float(len(mine)),
        "routes": float(len(routes)),
        "km_driven": distance / 1000.0,
        "goal_rate": float(np.mean([e.outcome == "goal" for e in ended])) if ended else np.nan,
        "route_completion": float(np.mean([e.route_completion for e in mine if e.first]))
        if routes
        else np.nan,
        "collisions_per_km": _robustness.per_km(distance, counts["collision"]),
        "at_fault_collisions_per_km": _robustness.per_km(
            distance, sum(e.at_fault_collisions for e in mine)
        ),
        "offroad_per_km": _robustness.per_km(distance, counts["offroad"]),
        "red_lights_per_km": _robustness.per_km(distance, counts["red_light"]),
        "wrong_way_share": sum(e.wrong_way_distance for e in mine) / max(distance, 1e-9),
        "km_between_incidents": float(robust["km_between_incidents"]),
        "km_between_incidents_lower_bound": float(robust["lower_bound"]),
        "mean_speed": float(speed[live].mean()) if live.any() else np.nan,
    }
    # Waymax-style episode rates over the policy's episodes.
    out["collision_rate"] = float(np.mean([e.collisions > 0 for e in mine])) if mine else np.nan
    out["offroad_rate"] = float(np.mean([e.offroad > 0 for e in mine])) if mine else np.nan
    out["kinematic_infeasibility_rate"] = _kinematic_rate(record, mine)
    if routes:
        carla = [_route_scores.carla_route(e) for e in mine if e.first]
        out.update({f"carla_{k}": v for k, v in _carla.driving_score(carla).items()})
        for key in ("hugsim_hdscore", "hugsim_pdms", "hugsim_rc", "nuplan_cls"):
            vals = [r[key] for r in routes if key in r]
            out[key] = float(np.mean(vals)) if vals else np.nan
        out["comfort_rate"] = float(np.mean([r["nuplan_c"] for r in routes]))
    return out


def _kinematic_rate(record: RolloutRecord, episodes: list[Episode]) -> float:
    if not episodes:
        return np.nan
    bad = []
    for e in episodes:
        steps = slice(e.start, e.end + 1)
        get = lambda name: np.asarray(getattr(record, name))[e.seed, steps, e.slot]  # noqa: E731,B023
        if e.end - e.start < 1:
            bad.append(False)
            continue
        bad.append(
            bool(
                _waymax.kinematic_infeasibility(get("x"), get("y"), get("yaw"), get("speed")).any()
            )
        )
    return float(np.mean(bad))
