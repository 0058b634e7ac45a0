"""Equinox driving policies, observation pipelines and the PPO self-play trainer."""

from gp_agents._checkpoint import (
    CONFIG_KEYS_ALLOWED_TO_CHANGE,
    Checkpointer,
    CheckpointError,
    config_differences,
)
from gp_agents._distributions import (
    ActionDistribution,
    Categorical,
    ScaledBeta,
    axis_entropies,
)
from gp_agents._evaluation import evaluate_policy
from gp_agents._expected_action import (
    ExpectedAction,
    PointAction,
    continuous_twin,
    drive_by_expected_action,
)
from gp_agents._ppo import PPOLossTerms, gae, masked_mean, ppo_loss
from gp_agents._rollout import EpisodeTally, Transitions, episode_metrics, policy_act, rollout
from gp_agents._run import (
    build_world,
    fitted_run_length,
    load_teacher,
    logged_run_lengths,
    plot_learning_curve,
    restore_from_run,
    split_run_step,
    train_teacher,
)
from gp_agents._stopping import StopRequest
from gp_agents._teacher import (
    POLICY_SCOPES,
    SET_NAMES,
    SetEncoder,
    TeacherPolicy,
    masked_max_pool,
)
from gp_agents._trainer import (
    Trainer,
    TrainState,
    entropy_coefficient,
    learning_rate_schedule,
    make_optimizer,
    make_train,
    make_trainer,
    replicate_on,
    shard_worlds,
    warmup_updates,
    world_mesh,
)
from gp_agents.config import (
    DistributedConfig,
    PPOConfig,
    TeacherConfig,
    TrainConfig,
    config_from_json,
    read_run_json,
)

__version__ = "0.1.0"

__all__ = [
    "CONFIG_KEYS_ALLOWED_TO_CHANGE",
    "POLICY_SCOPES",
    "SET_NAMES",
    "ActionDistribution",
    "Categorical",
    "CheckpointError",
    "Checkpointer",
    "DistributedConfig",
    "EpisodeTally",
    "ExpectedAction",
    "PPOConfig",
    "PPOLossTerms",
    "PointAction",
    "ScaledBeta",
    "SetEncoder",
    "StopRequest",
    "TeacherConfig",
    "TeacherPolicy",
    "TrainConfig",
    "TrainState",
    "Trainer",
    "Transitions",
    "__version__",
    "axis_entropies",
    "build_world",
    "config_differences",
    "config_from_json",
    "continuous_twin",
    "drive_by_expected_action",
    "entropy_coefficient",
    "episode_metrics",
    "evaluate_policy",
    "fitted_run_length",
    "gae",
    "learning_rate_schedule",
    "load_teacher",
    "logged_run_lengths",
    "make_optimizer",
    "make_train",
    "make_trainer",
    "masked_max_pool",
    "masked_mean",
    "plot_learning_curve",
    "policy_act",
    "ppo_loss",
    "read_run_json",
    "replicate_on",
    "restore_from_run",
    "rollout",
    "shard_worlds",
    "split_run_step",
    "train_teacher",
    "warmup_updates",
    "world_mesh",
]

# --- Pixel student, trajectory tracking and pixel observations (student / distillation side) ---
from gp_agents._pixels import (
    GroundBank,
    PixelConfig,
    PixelPipeline,
    ground_bank,
    ground_texture,
    make_pixel_pipeline,
    scene_boxes,
    student_observation,
    student_observation_spec,
)
from gp_agents._student import (
    MEASUREMENTS,
    TRAJECTORY_DT,
    TRAJECTORY_POSES,
    StridedConv,
    StudentConfig,
    StudentObservation,
    StudentPolicy,
    ViewEncoder,
)
from gp_agents._tracking import TrackingConfig, pursuit_point, track, tracking_action

__all__ += [
    "MEASUREMENTS",
    "TRAJECTORY_DT",
    "TRAJECTORY_POSES",
    "GroundBank",
    "PixelConfig",
    "PixelPipeline",
    "StridedConv",
    "StudentConfig",
    "StudentObservation",
    "StudentPolicy",
    "TrackingConfig",
    "ViewEncoder",
    "ground_bank",
    "ground_texture",
    "make_pixel_pipeline",
    "pursuit_point",
    "scene_boxes",
    "student_observation",
    "student_observation_spec",
    "track",
    "tracking_action",
]
# --- end of the student block ---
