"""Closed- and open-loop driving benchmarks (NAVSIM PDMS/EPDMS, HUGSIM, CARLA, nuPlan, Waymax-style
rates), a rule-based baseline planner, reports and videos."""

from gp_eval import _carla as carla
from gp_eval import _hugsim as hugsim
from gp_eval import _navsim as navsim
from gp_eval import _nuplan as nuplan
from gp_eval import _robustness as robustness
from gp_eval import _waymax as waymax
from gp_eval._baseline import BaselinePlanner, idm_accel, reference_speed_profile, to_action
from gp_eval._closed_loop import ClosedLoopResult, evaluate_closed_loop
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
from gp_eval._evaluation import (
    Entry,
    baseline_entry,
    evaluation_world,
    policy_from_module,
    run_evaluation,
)
from gp_eval._geometry import box_corners, boxes_overlap
from gp_eval._navsim_scene import NavsimMap, Scene, cut_scenes
from gp_eval._open_loop import (
    SimulatedTrajectory,
    constant_velocity_planner,
    evaluate_open_loop,
    forked_planner,
    logged_planner,
    reference_plan,
    reference_planner,
    score_frame,
    track,
)
from gp_eval._report import (
    SUITE_COLUMNS,
    markdown_table,
    plot_learning_curves,
    plot_metrics,
    write_report,
)
from gp_eval._rollout import (
    Policy,
    RolloutRecord,
    policy_observation,
    policy_slots,
    restore_state,
    run_rollouts,
)
from gp_eval._video import render_rollout, write_video
from gp_eval.config import (
    SUITES,
    BaselineConfig,
    ClosedLoopConfig,
    EvaluationConfig,
    VideoConfig,
)

__version__ = "0.1.0"

__all__ = [
    "SUITES",
    "SUITE_COLUMNS",
    "BaselineConfig",
    "BaselinePlanner",
    "ClosedLoopConfig",
    "ClosedLoopResult",
    "CollisionType",
    "ComfortBounds",
    "Entry",
    "Episode",
    "EvaluationConfig",
    "HugsimComfortBounds",
    "NavsimMap",
    "Policy",
    "RolloutRecord",
    "Scene",
    "SimulatedTrajectory",
    "VideoConfig",
    "__version__",
    "baseline_entry",
    "box_corners",
    "boxes_overlap",
    "carla",
    "collision_type",
    "comfort_signals",
    "constant_velocity_planner",
    "cut_scenes",
    "evaluate_closed_loop",
    "evaluate_open_loop",
    "evaluation_world",
    "forked_planner",
    "hugsim",
    "hugsim_comfort",
    "idm_accel",
    "is_at_fault",
    "is_comfortable",
    "is_extended_comfortable",
    "logged_planner",
    "markdown_table",
    "navsim",
    "nuplan",
    "plot_learning_curves",
    "plot_metrics",
    "policy_from_module",
    "policy_observation",
    "policy_slots",
    "reference_plan",
    "reference_planner",
    "reference_speed_profile",
    "render_rollout",
    "restore_state",
    "robustness",
    "run_evaluation",
    "run_rollouts",
    "score_frame",
    "split_episodes",
    "to_action",
    "track",
    "waymax",
    "write_report",
    "write_video",
]
