"""Closed- and open-loop driving benchmarks (NAVSIM PDMS/EPDMS, HUGSIM, CARLA, nuPlan, Waymax-style
rates), a rule-based baseline planner, reports and videos."""

from gp_eval import _carla as carla
from gp_eval import _hugsim as hugsim
from gp_eval import _navsim as navsim
from gp_eval import _nuplan as nuplan
from gp_eval import _robustness as robustness
from gp_eval import _waymax as waymax
from gp_eval._collision_typing import CollisionType, collision_type, is_at_fault
from gp_eval._comfort import (
    ComfortBounds,
    HugsimComfortBounds,
    comfort_signals,
    hugsim_comfort,
    is_comfortable,
    is_extended_comfortable,
)
from gp_eval._geometry import box_corners, boxes_overlap

__version__ = "0.1.0"

__all__ = [
    "CollisionType",
    "ComfortBounds",
    "HugsimComfortBounds",
    "__version__",
    "box_corners",
    "boxes_overlap",
    "carla",
    "collision_type",
    "comfort_signals",
    "hugsim",
    "hugsim_comfort",
    "is_at_fault",
    "is_comfortable",
    "is_extended_comfortable",
    "navsim",
    "nuplan",
    "robustness",
    "waymax",
]
