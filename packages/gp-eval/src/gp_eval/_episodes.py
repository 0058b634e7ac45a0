"""Split a rollout record into per-agent episodes (routes) and type each collision (at-fault rule
of NAVSIM/nuPlan, CARLA de-duplication). Host-side numpy."""

from __future__ import annotations

import dataclasses

import numpy as np

from gp_eval._carla import count_collisions
from gp_eval._collision_typing import CollisionType, collision_type, is_at_fault
from gp_eval._geometry import box_corners

CYCLIST_KIND = 3  # gp_world.AGENT_KINDS index: a vulnerable road user for nuPlan
REAR_AXLE_FRACTION = 0.3  # rear axle sits 0.3·length behind the box centre (wheelbase 0.6·L)


@dataclasses.dataclass(frozen=True)
class Episode:
    """One route driven by one agent slot: steps [start, end] inclusive of seed `seed`."""

    seed: int
    slot: int
    start: int
    end: int
    by_policy: bool
    first: bool  # the slot's first route (spawned at reset)
    outcome: str  # goal | collision | offroad | timeout | red_light | truncated
    route_length: float  # m still to drive at the start (route length - start arc length)
    progress: float  # m along the route
    distance: float  # m driven
    collisions: int  # steps with a new contact (distinct partner)
    at_fault_collisions: int
    at_fault_vru: int
    at_fault_vehicle: int
    carla_collisions: int  # after CARLA de-duplication
    offroad: int
    red_lights: int
    wrong_way_steps: int
    wrong_way_distance: float

    @property
    def route_completion(self) -> float:
        """Fraction of the route driven, in [0, 1]."""
        if self.outcome == "goal":
            return 1.0
        return float(np.clip(self.progress / max(self.route_length, 1e-6), 0.0, 1.0))


def _outcome(rec, t: int, a: int, truncated: bool) -> str:
    if truncated:
        return "truncated"
    for name in ("collision", "offroad", "goal_reached", "timeout"):
        if rec[name][t, a]:
            return "goal" if name == "goal_reached" else name
    if rec["red_light"][t, a]:  # a world with red_light_ends: the red light ended it
        return "red_light"
    return "truncated"


def contact_type(rec, t: int, a: int, b: int, lane_width: float) -> tuple[CollisionType, bool]:
    """Collision type of slot `a` against slot `b` at step t and whether `a` is at fault."""
    ego_x, ego_y, ego_yaw = rec["x"][t, a], rec["y"][t, a], rec["yaw"][t, a]
    back = REAR_AXLE_FRACTION * rec["length"][t, a]
    axle = (ego_x - back * np.cos(ego_yaw), ego_y - back * np.sin(ego_yaw), ego_yaw)
    ego_c = box_corners(ego_x, ego_y, ego_yaw, rec["length"][t, a], rec["width"][t, a])
    other_c = box_corners(
        rec["x"][t, b], rec["y"][t, b], rec["yaw"][t, b], rec["length"][t, b], rec["width"][t, b]
    )
    kind = collision_type(axle, rec["speed"][t, a], ego_c, other_c, rec["speed"][t, b], True)
    half_free = 0.5 * (lane_width - rec["width"][t, a])
    straddling = abs(rec["lateral"][t, a]) > half_free or bool(rec["offroad"][t, a])
    return kind, is_at_fault(kind, straddling)


def split_episodes(rec: dict[str, np.ndarray], seed_index: int, lane_width: float) -> list[Episode]:
    """Episodes of one seed's record (arrays [T, A], host numpy; see RolloutRecord)."""
    num_steps, num_agents = rec["live"].shape
    episodes = []
    for a in range(num_agents):
        t = 0
        first = True
        while t < num_steps:
            if not rec["live"][t, a]:
                t += 1
                first = False
                continue
            start = t
            while t < num_steps - 1 and not rec["done"][t, a]:
                t += 1
            end = t
            truncated = not rec["done"][end, a]
            steps = slice(start, end + 1)
            partners = rec["partner"][steps, a]
            contacts, at_fault, vru, vehicle = 0, 0, 0, 0
            seen: set[int] = set()
            for i, b in enumerate(partners):
                if b < 0 or int(b) in seen:
                    continue
                seen.add(int(b))  # nuPlan counts each track once per scenario
                contacts += 1
                _, fault = contact_type(rec, start + i, a, int(b), lane_width)
                if fault:
                    at_fault += 1
                    if rec["kind"][start + i, int(b)] == CYCLIST_KIND:
                        vru += 1
                    else:
                        vehicle += 1
            hit = partners >= 0
            idx = np.flatnonzero(hit)
            carla = 0
            if idx.size:
                loc = np.stack([rec["x"][steps, a][idx], rec["y"][steps, a][idx]], -1)
                carla = int(
                    count_collisions(
                        0.1 * idx.astype(np.float64),
                        partners[idx],
                        loc,
                        rec["speed"][steps, a][idx],
                    ).sum()
                )
            ww = rec["wrong_way"][steps, a]
            episodes.append(
                Episode(
                    seed=seed_index,
                    slot=a,
                    start=start,
                    end=end,
                    by_policy=bool(rec["by_policy"][a]),
                    first=first,
                    outcome=_outcome(rec, end, a, truncated),
                    route_length=float(
                        rec["route_length"][start, a] - rec["route_s_before"][start, a]
                    ),
                    progress=float(rec["progress"][steps, a].sum()),
                    distance=float(rec["distance"][steps, a].sum()),
                    collisions=contacts,
                    at_fault_collisions=at_fault,
                    at_fault_vru=vru,
                    at_fault_vehicle=vehicle,
                    carla_collisions=carla,
                    offroad=int(rec["offroad"][steps, a].sum()),
                    red_lights=int(rec["red_light"][steps, a].sum()),
                    wrong_way_steps=int(ww.sum()),
                    wrong_way_distance=float(rec["distance"][steps, a][ww].sum()),
                )
            )
            first = False
            t = end + 1
    return episodes
