"""Frozen configs for self-play DAgger distillation, with named presets (toy, demo, full)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal

from gp_agents import PixelConfig, StudentConfig, TeacherConfig, TrackingConfig, TrainConfig
from gp_world import WorldConfig

Mode = Literal["self_play", "single_agent", "bc"]
"""self_play: the student drives every agent; single_agent: the student drives slot 0 and the
teacher the rest (only slot 0 is recorded); bc: the teacher drives every agent (behaviour
cloning on teacher rollouts, no DAgger)."""


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """Weight of each distillation loss term; 0 switches a term off (Roach's terms)."""

    action: float = 1.0
    """KL(teacher || student) of the action distributions."""
    feature: float = 0.05
    """Mean squared error between the student's and the teacher's latent."""
    value: float = 0.001
    """Squared error to the teacher's value."""
    trajectory: float = 0.05
    """L1 error (metres; heading in radians times `heading_weight`) to the forked rollout."""
    heading_weight: float = 5.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"LossWeights.{f.name} must be >= 0, got {getattr(self, f.name)}")


@dataclasses.dataclass(frozen=True)
class DaggerConfig:
    """Self-play DAgger iterations: roll out, label, aggregate, train."""

    mode: Mode = "self_play"
    num_worlds: int = 8
    """Worlds stepped in parallel (sharded over devices)."""
    rollout_steps: int = 32
    """Steps per world per iteration."""
    iterations: int = 20
    beta_start: float = 1.0
    """Probability that an agent executes the teacher's action in iteration 0."""
    beta_decay: float = 0.5
    """beta_i = beta_start * beta_decay ** i (ignored in mode bc, where beta is 1)."""
    drive: Literal["action", "trajectory"] = "action"
    """How the student drives: its action head, or its trajectory head through the tracker."""
    greedy: bool = True
    """Execute the most likely action (mode) of student and teacher instead of sampling."""
    fork_every: int = 4
    """Trajectory labels at every k-th step of a rollout (each costs a forked teacher rollout
    of `fork_horizon` steps of the whole world)."""
    fork_horizon: int = 40
    """Steps of a forked teacher rollout: 40 steps of 0.1 s = the 4 s of 8 NAVSIM poses."""
    buffer_capacity: int = 8192
    """Samples kept on device; the oldest are overwritten."""
    batch_size: int = 128
    sgd_steps: int = 64
    """Student updates per iteration."""
    learning_rate: float = 3e-4
    max_grad_norm: float = 1.0
    losses: LossWeights = dataclasses.field(default_factory=LossWeights)

    def __post_init__(self) -> None:
        if self.mode not in ("self_play", "single_agent", "bc"):
            raise ValueError(f"unknown DaggerConfig.mode {self.mode!r}")
        if self.drive not in ("action", "trajectory"):
            raise ValueError(f"unknown DaggerConfig.drive {self.drive!r}")
        for name in ("num_worlds", "rollout_steps", "iterations", "fork_every", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"DaggerConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.sgd_steps < 0 or self.fork_horizon < 1:
            raise ValueError("DaggerConfig needs sgd_steps >= 0 and fork_horizon >= 1")
        if not 0.0 <= self.beta_start <= 1.0 or not 0.0 <= self.beta_decay <= 1.0:
            raise ValueError("DaggerConfig.beta_start and beta_decay must lie in [0, 1]")

    def check_sizes(self, num_agents: int, num_devices: int, dt: float) -> None:
        """Raise a clear error when the buffer or the device split cannot work as configured."""
        per_iteration = self.num_worlds * self.rollout_steps * num_agents
        if per_iteration > self.buffer_capacity:
            raise ValueError(
                f"one iteration records up to {per_iteration} samples, more than "
                f"buffer_capacity = {self.buffer_capacity}"
            )
        if self.num_worlds % num_devices:
            raise ValueError(
                f"num_worlds = {self.num_worlds} is not divisible by the {num_devices} devices"
            )
        if self.fork_horizon % 8:
            raise ValueError(f"fork_horizon = {self.fork_horizon} must be a multiple of 8 poses")
        del dt


@dataclasses.dataclass(frozen=True)
class DistillConfig:
    """A whole distillation run: world, teacher and student sizes, camera rig, DAgger."""

    world: WorldConfig = dataclasses.field(default_factory=lambda: TrainConfig.toy().world)
    teacher: TeacherConfig = dataclasses.field(default_factory=TeacherConfig.toy)
    student: StudentConfig = dataclasses.field(default_factory=StudentConfig.toy)
    pixels: PixelConfig = dataclasses.field(default_factory=PixelConfig.toy)
    tracking: TrackingConfig = dataclasses.field(default_factory=TrackingConfig)
    dagger: DaggerConfig = dataclasses.field(default_factory=DaggerConfig)
    seed: int = 0
    checkpoint_every: int = 5
    """Iterations between checkpoints."""
    keep_checkpoints: int = 2
    max_minutes: float = 0.0
    """Stop (with a checkpoint) after the iteration that passes this much wall time; 0 = run
    to `dagger.iterations`. Running the command again resumes, so a long distillation goes in
    chunks (a machine lent for ten minutes at a time). A stopped run skips the held-out
    evaluation, which its last chunk does."""
    eval_worlds: int = 4
    """Held-out closed-loop evaluation at the end of a run: worlds and steps (0 steps: none)."""
    eval_steps: int = 200
    progress: bool = True
    init_from: str = ""
    """Start from the student of another distillation run or exported student, `folder` (its
    newest checkpoint) or `folder@iteration`, instead of a random one: continue a student under a
    new teacher or world. The architecture must match; buffer, optimiser and beta start fresh."""

    def __post_init__(self) -> None:
        if self.max_minutes < 0:
            raise ValueError(f"max_minutes must be >= 0 (0: no limit), got {self.max_minutes}")
        if self.student.latent_size != self.teacher.latent_size:
            raise ValueError(
                f"student latent_size {self.student.latent_size} != teacher latent_size "
                f"{self.teacher.latent_size}: feature matching needs equal sizes"
            )

    def in_teacher_world(self, teacher_run: TrainConfig) -> DistillConfig:
        """This config with the world and teacher config of the run that trained the teacher.

        The student then learns where its teacher did (episode ends, respawns, reward-weight
        ranges: the teacher reads its weights normalised to those ranges) and an evaluation
        can compare the two in one world (`scripts/evaluate.py` and the demo refuse runs whose
        worlds differ in more than the episode limit: `WorldConfig.drives_like`)."""
        return dataclasses.replace(self, world=teacher_run.world, teacher=teacher_run.teacher)

    def world_differences(self, teacher_run: TrainConfig) -> list[str]:
        """Names of the world fields in which this config differs from a teacher run's."""
        return self.world.differences(teacher_run.world)

    @property
    def agent_steps_per_iteration(self) -> int:
        return self.dagger.num_worlds * self.dagger.rollout_steps * self.world.num_agents

    def to_json(self) -> dict[str, Any]:
        """The resolved config as JSON-ready nested dicts."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    @classmethod
    def toy(cls) -> DistillConfig:
        """Ring road, one 48x32 camera: the student agrees with the teacher within a minute."""
        return cls(
            dagger=DaggerConfig(
                num_worlds=4,
                rollout_steps=16,
                iterations=8,
                beta_decay=0.5,
                fork_every=4,
                buffer_capacity=4096,
                batch_size=64,
                sgd_steps=200,
                learning_rate=1e-3,
            ),
            checkpoint_every=4,
        )

    @classmethod
    def demo(cls) -> DistillConfig:
        """Village towns, three 64x96 cameras, on a 2-core CPU (the teacher demo's world)."""
        teacher_run = TrainConfig.demo()
        return cls(
            world=teacher_run.world,
            teacher=teacher_run.teacher,
            student=StudentConfig.demo(),
            pixels=PixelConfig.demo(),
            dagger=DaggerConfig(
                num_worlds=2,
                rollout_steps=16,
                iterations=60,
                beta_decay=0.8,
                fork_every=4,
                buffer_capacity=8192,
                batch_size=64,
                sgd_steps=64,
            ),
            checkpoint_every=5,
        )

    @classmethod
    def full(cls) -> DistillConfig:
        """City towns on one GPU: the full teacher and student (the teacher full run's world)."""
        teacher_run = TrainConfig.full()
        return cls(
            world=teacher_run.world,
            teacher=teacher_run.teacher,
            student=StudentConfig.full(),
            pixels=PixelConfig.full(),
            dagger=DaggerConfig(
                num_worlds=64,
                rollout_steps=32,
                iterations=500,
                beta_decay=0.9,
                fork_every=8,
                buffer_capacity=262144,
                batch_size=512,
                sgd_steps=256,
            ),
            checkpoint_every=20,
        )
