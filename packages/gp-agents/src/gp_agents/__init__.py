"""Equinox driving policies, observation pipelines and the PPO self-play trainer."""

from gp_agents._distributions import ActionDistribution, Categorical, ScaledBeta
from gp_agents._ppo import PPOLossTerms, gae, masked_mean, ppo_loss
from gp_agents._rollout import EpisodeTally, Transitions, episode_metrics, policy_act, rollout
from gp_agents._teacher import SET_NAMES, SetEncoder, TeacherPolicy, masked_max_pool
from gp_agents._trainer import (
    Trainer,
    TrainState,
    learning_rate_schedule,
    make_optimizer,
    make_train,
    make_trainer,
    world_mesh,
)
from gp_agents.config import PPOConfig, TeacherConfig

__version__ = "0.1.0"

__all__ = [
    "SET_NAMES",
    "ActionDistribution",
    "Categorical",
    "EpisodeTally",
    "PPOConfig",
    "PPOLossTerms",
    "ScaledBeta",
    "SetEncoder",
    "TeacherConfig",
    "TeacherPolicy",
    "TrainState",
    "Trainer",
    "Transitions",
    "__version__",
    "episode_metrics",
    "gae",
    "learning_rate_schedule",
    "make_optimizer",
    "make_train",
    "make_trainer",
    "masked_max_pool",
    "masked_mean",
    "policy_act",
    "ppo_loss",
    "rollout",
    "world_mesh",
]
