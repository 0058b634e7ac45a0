"""Closed- and open-loop driving benchmarks (NAVSIM PDMS/EPDMS, HUGSIM, CARLA, nuPlan, Waymax-style
rates), a rule-based baseline planner, reports and videos."""

from gp_eval import _carla as carla
from gp_eval import _hugsim as hugsim
from gp_eval import _navsim as navsim
from gp_eval import _nuplan as nuplan
from gp_eval import _robustness as robustness
from gp_eval import _waymax as waymax
from gp_eval._baseline import BaselineConfig, BaselinePlanner, reference_speed_profile, to_action
from gp_eval._closed_loop import ClosedLoopConfig, ClosedLoopResult, evaluate_closed_loop
from gp_eval._collision_typing import CollisionType, collision_type, is_at_fault
from gp_eval._comfort import (
    ComfortBounds,
    HugsimComfortBounds,
    comfort_signals,
    hugsim_comfort,
    is_comfortable,
    is_extended_comfortable,
)
from gp_eval._episodes import Episode, split_episodes
from gp_eval._geometry import box_corners, boxes_overlap
from gp_eval._rollout import RolloutRecord, policy_slots, run_rollouts

__version__ = "0.1.0"

__all__ = [
    "BaselineConfig",
    "BaselinePlanner",
    "ClosedLoopConfig",
    "ClosedLoopResult",
    "CollisionType",
    "ComfortBounds",
    "Episode",
    "HugsimComfortBounds",
    "RolloutRecord",
    "__version__",
    "box_corners",
    "boxes_overlap",
    "carla",
    "collision_type",
    "comfort_signals",
    "evaluate_closed_loop",
    "hugsim",
    "hugsim_comfort",
    "is_at_fault",
    "is_comfortable",
    "is_extended_comfortable",
    "navsim",
    "nuplan",
    "policy_slots",
    "reference_speed_profile",
    "robustness",
    "run_rollouts",
    "split_episodes",
    "to_action",
    "waymax",
]
