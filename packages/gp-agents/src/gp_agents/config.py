"""Frozen configs for the privileged teacher and its PPO self-play trainer, with named presets."""

from __future__ import annotations

import dataclasses
from typing import Literal


@dataclasses.dataclass(frozen=True)
class TeacherConfig:
    """Sizes of the privileged teacher policy (Gigaflow-style set encoders + MLP trunks)."""

    element_width: int = 64
    """Hidden width of the shared per-element MLP of every set encoder."""
    set_features: int = 64
    """Output width of each set encoder (after the masked max-pool)."""
    ego_width: int = 64
    """Width of the ego (+ reward weights) embedding."""
    trunk_width: int = 256
    """Hidden width of the actor trunk and of the critic trunk."""
    trunk_depth: int = 2
    """Hidden layers in each trunk."""
    latent_size: int = 256
    """Size of the actor latent (the feature the pixel student distils)."""
    beta_offset: float = 1.0
    """Added to softplus outputs for the Beta concentrations (keeps the density unimodal)."""

    def __post_init__(self) -> None:
        for name in ("element_width", "set_features", "ego_width", "trunk_width", "latent_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"TeacherConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.trunk_depth < 0:
            raise ValueError(f"TeacherConfig.trunk_depth must be >= 0, got {self.trunk_depth}")

    @classmethod
    def toy(cls) -> TeacherConfig:
        return cls(element_width=32, set_features=32, ego_width=32, trunk_width=64, latent_size=64)

    @classmethod
    def demo(cls) -> TeacherConfig:
        return cls(
            element_width=64, set_features=64, ego_width=64, trunk_width=128, latent_size=128
        )

    @classmethod
    def full(cls) -> TeacherConfig:
        return cls()


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """PPO hyper-parameters; one update = one rollout of `rollout_steps` in every world."""

    num_worlds: int = 16
    """Worlds stepped in parallel (sharded over devices); each holds `WorldConfig.num_agents`."""
    rollout_steps: int = 32
    """Steps per world between updates."""
    num_updates: int = 100
    """Total PPO updates of a run."""
    epochs: int = 4
    num_minibatches: int = 4
    """Each world's transitions are split into this many minibatches (every minibatch spans all
    worlds, so the split does not depend on the number of devices)."""
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    learning_rate: float = 3e-4
    lr_schedule: Literal["constant", "linear", "cosine"] = "constant"
    warmup_updates: int = 0
    """Linear learning-rate warm-up, in updates."""
    max_grad_norm: float = 0.5
    normalize_advantages: bool = True
    advantage_filter: float = 0.0
    """Gigaflow's advantage filtering: transitions with |advantage| below this fraction of the
    running max |advantage| are dropped from the loss (0 disables)."""
    advantage_filter_decay: float = 0.99
    """Per-update decay of the running max |advantage| (it jumps up at once, decays slowly)."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this before GAE (keeps value targets near unit scale)."""

    def __post_init__(self) -> None:
        for name in ("num_worlds", "rollout_steps", "num_updates", "epochs", "num_minibatches"):
            if getattr(self, name) < 1:
                raise ValueError(f"PPOConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.advantage_filter < 1.0:
            raise ValueError(
                f"PPOConfig.advantage_filter must be in [0, 1), got {self.advantage_filter}"
            )
        if not 0.0 < self.gamma <= 1.0 or not 0.0 <= self.gae_lambda <= 1.0:
            raise ValueError(
                f"PPOConfig: gamma in (0, 1], gae_lambda in [0, 1]; got "
                f"{self.gamma}, {self.gae_lambda}"
            )
        if self.clip_eps <= 0.0:
            raise ValueError(f"PPOConfig.clip_eps must be > 0, got {self.clip_eps}")

    def check_divides(self, num_agents: int, num_devices: int) -> None:
        """Raise a clear error when the batch cannot be split as configured."""
        per_world = self.rollout_steps * num_agents
        if per_world % self.num_minibatches:
            raise ValueError(
                f"rollout_steps*num_agents = {per_world} transitions per world is not divisible by "
                f"num_minibatches = {self.num_minibatches}"
            )
        if self.num_worlds % num_devices:
            raise ValueError(
                f"num_worlds = {self.num_worlds} is not divisible by the {num_devices} devices "
                "the worlds are sharded over"
            )
