"""Frozen configs for the privileged teacher and its PPO self-play trainer, with named presets."""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from pathlib import Path
from typing import Any, Literal

from gp_world import WorldConfig


@dataclasses.dataclass(frozen=True)
class TeacherConfig:
    """Sizes of the privileged teacher policy (Gigaflow-style set encoders + MLP trunks)."""

    element_width: int = 64
    """Hidden width of the shared per-element MLP of every set encoder."""
    element_depth: int = 2
    """Hidden layers of the shared per-element MLP of every set encoder."""
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
        for name in ("element_depth", "trunk_depth"):
            if getattr(self, name) < 0:
                raise ValueError(f"TeacherConfig.{name} must be >= 0, got {getattr(self, name)}")

    @classmethod
    def toy(cls) -> TeacherConfig:
        return cls(element_width=32, set_features=32, ego_width=32, trunk_width=64, latent_size=64)

    @classmethod
    def demo(cls) -> TeacherConfig:
        """Narrow set encoders and trunks for a 2-core CPU, where the per-element MLPs take most
        of an update's time and trunks 64 wide (not 128) make it 1.24x faster
        (`scripts/profile_teacher.py`), learning as well per update (gp-agents'
        TRAINING.md, "Trunks 64 wide")."""
        return cls(element_width=32, set_features=32, ego_width=32, trunk_width=64, latent_size=64)

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
    ent_coef_end: float | None = None
    """The entropy bonus at the last update, reached linearly from `ent_coef` at the first
    (None: `ent_coef` throughout). A large early bonus keeps an agent that cannot steer yet
    exploring; a smaller one later lets a driver that can steer commit to its choices."""
    longitudinal_entropy_floor: float = 0.0
    """Nats. When the minibatch-mean entropy of the longitudinal action alone (the accelerator
    of the accel x steer grid, the longitudinal jerk, the Beta's accel dimension) falls below
    this, `entropy_floor_coef` times the shortfall is added to the loss (0 disables). The joint
    entropy bonus cannot do this: a policy that brakes at rest and steers at random keeps half
    of the grid's entropy while never trying to drive off."""
    entropy_floor_coef: float = 1.0
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
    average_updates: int = 0
    """Policy averaging: the policy the run ships (`load_teacher`, the held-out evaluations) is
    a moving average of the live policy's weights over about this many updates (0: the live
    policy). After update u it moves 1/min(u, average_updates) of the way to the live policy:
    the plain mean of every update so far until the `average_updates`-th, an exponential moving
    average with that time constant after. Training goes on with the live policy, unchanged.
    Late in a run the greedy driver still changes between checkpoints 50 updates apart by more
    than the held-out evaluation's noise; the average takes the last updates' noise out of
    what is shipped (gp-agents' TRAINING.md, "Averaging the policy", for what it measured). It
    needs no run length, so it also serves runs a time limit stops."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this before GAE (keeps value targets near unit scale)."""
    returns_end_at: Literal["episode_end", "failure"] = "episode_end"
    """Where returns stop: at every episode end, or only at failures (collision, off-road, a red
    light when the world ends episodes on it). With "failure" a slot that reaches its goal or times
    out keeps its return flowing into the next route, as Gigaflow's agents that get a new goal do:
    finishing a route is never worth less than driving on, and failing costs the whole future."""

    def __post_init__(self) -> None:
        for name in ("num_worlds", "rollout_steps", "num_updates", "epochs", "num_minibatches"):
            if getattr(self, name) < 1:
                raise ValueError(f"PPOConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.average_updates < 0:
            raise ValueError(
                "PPOConfig.average_updates must be >= 0 (0: no averaging), got "
                f"{self.average_updates}"
            )
        if not 0.0 <= self.advantage_filter < 1.0:
            raise ValueError(
                f"PPOConfig.advantage_filter must be in [0, 1), got {self.advantage_filter}"
            )
        if not 0.0 < self.gamma <= 1.0 or not 0.0 <= self.gae_lambda <= 1.0:
            raise ValueError(
                f"PPOConfig: gamma in (0, 1], gae_lambda in [0, 1]; got "
                f"{self.gamma}, {self.gae_lambda}"
            )
        if self.longitudinal_entropy_floor < 0.0:
            raise ValueError(
                "PPOConfig.longitudinal_entropy_floor must be >= 0 (0 disables), got "
                f"{self.longitudinal_entropy_floor}"
            )
        if self.ent_coef < 0.0 or (self.ent_coef_end is not None and self.ent_coef_end < 0.0):
            raise ValueError(
                f"PPOConfig: ent_coef and ent_coef_end must be >= 0, got {self.ent_coef} and "
                f"{self.ent_coef_end}"
            )
        if self.clip_eps <= 0.0:
            raise ValueError(f"PPOConfig.clip_eps must be > 0, got {self.clip_eps}")
        if self.returns_end_at not in ("episode_end", "failure"):
            raise ValueError(
                "PPOConfig.returns_end_at must be 'episode_end' or 'failure', got "
                f"{self.returns_end_at!r}"
            )

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


@dataclasses.dataclass(frozen=True)
class DistributedConfig:
    """Multi-host start through `jax.distributed.initialize` (empty address: one process)."""

    coordinator_address: str = ""
    num_processes: int = 1
    process_id: int = 0


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """A whole teacher training run: world, policy, PPO and bookkeeping."""

    world: WorldConfig = dataclasses.field(default_factory=WorldConfig.toy)
    teacher: TeacherConfig = dataclasses.field(default_factory=TeacherConfig.toy)
    ppo: PPOConfig = dataclasses.field(default_factory=PPOConfig)
    seed: int = 0
    log_every: int = 10
    """Updates per jitted call; one metrics line per update is written after each call."""
    checkpoint_every: int = 50
    """Updates between checkpoints (rounded up to a multiple of `log_every`)."""
    keep_checkpoints: int = 3
    eval_every: int = 0
    """Updates between held-out evaluations (0: only at the end of the run)."""
    eval_worlds: int = 8
    eval_steps: int = 300
    """Steps of each held-out evaluation (0: no held-out evaluation)."""
    max_minutes: float = 0.0
    """Stop (with a checkpoint) after this much wall time of this sitting; 0 = run to
    `ppo.num_updates`. Lets long runs proceed in resumable chunks. With `fit_schedule`, the
    wall time of the whole run, over all its sittings."""
    fit_schedule: bool = False
    """Fit the run to `max_minutes`: the run measures its speed as it goes and shortens its
    length, over which the learning rate and the entropy bonus fall, to the updates that fit in
    `max_minutes` (`ppo.num_updates` at most), so the schedules end when the time does, on a
    fast machine or a slow one. The fitted length is saved with the run and logged
    (`planned_updates`). `max_minutes` is then the budget of all the run's sittings: each
    checkpoint saves the run's time so far, a run stopped early (Ctrl-C, SIGTERM) and resumed
    refits to what is left of it, and a larger `max_minutes` on resume gives it more time.
    Which updates fit depends on the machine, so fitted runs do not repeat exactly on another
    machine: `schedule_from` repeats one."""
    schedule_from: str = ""
    """Repeat a fitted run exactly: the folder of a run trained with `fit_schedule`, whose
    lengths (`planned_updates` in its metrics.jsonl) this run takes update by update instead of
    measuring its own speed, so with that run's config and seed it makes the same updates on
    any machine, however fast. Needs `fit_schedule`; `max_minutes` may then be 0 (no time
    limit) or split the run into resumable chunks."""
    progress: bool = True
    """Show a progress bar on the console."""
    init_from: str = ""
    """Start from the policy of another teacher run, `folder` (its newest checkpoint) or
    `folder@update`, instead of a random one: fine-tuning under a changed world or schedule. The
    architecture must match; the optimiser, worlds and update counter start fresh."""
    reward_warmup: tuple[tuple[str, float, float], ...] = ()
    """A reward curriculum: (term, lo, hi) entries whose weights the training worlds draw from
    U(lo, hi) (gp-world's `reward_draw`) for the first `reward_warmup_fraction` of the run's
    updates (of its fitted length when fitted), and from the world's own ranges after. The
    policy sees its weights on the world's scale throughout, and held-out evaluations use the
    world as configured. E.g. `(("collision", 6.0, 10.0),)` in a world where a collision costs
    10 to 15: a policy still learning to steer is charged less for crashing while it learns."""
    reward_warmup_fraction: float = 0.0
    """The fraction of the run's updates that `reward_warmup` lasts (0: no warm-up, whatever
    `reward_warmup` holds)."""
    distributed: DistributedConfig = dataclasses.field(default_factory=DistributedConfig)

    def __post_init__(self) -> None:
        if not 0.0 <= self.reward_warmup_fraction <= 1.0 or (
            self.reward_warmup_fraction > 0.0 and not self.reward_warmup
        ):
            raise ValueError(
                "reward_warmup_fraction is the fraction of the run in [0, 1] (0: no warm-up) "
                f"that draws the reward_warmup weights, got {self.reward_warmup_fraction} for "
                f"{self.reward_warmup!r}"
            )
        if self.reward_warmup:
            _ = self.warmup_world  # the world checks the entries by name
        if self.log_every < 1 or self.checkpoint_every < 1:
            raise ValueError("log_every and checkpoint_every must be >= 1")
        if self.max_minutes < 0:
            raise ValueError(f"max_minutes must be >= 0 (0: no limit), got {self.max_minutes}")
        if self.schedule_from and not self.fit_schedule:
            raise ValueError(
                "schedule_from repeats a run fitted to its time (fit_schedule): set fit_schedule"
            )
        if self.fit_schedule and not self.max_minutes > 0 and not self.schedule_from:
            raise ValueError("fit_schedule fits the run to max_minutes: set max_minutes > 0")

    @property
    def warmup_world(self) -> WorldConfig:
        """The training world during `reward_warmup`: `world` drawing the warm-up's terms from
        its ranges (other `reward_draw` entries of `world` kept)."""
        draw = {entry[0]: tuple(entry) for entry in self.world.reward_draw}
        draw.update({entry[0]: tuple(entry) for entry in self.reward_warmup})
        return dataclasses.replace(self.world, reward_draw=tuple(draw.values()))

    @property
    def agent_steps_per_update(self) -> int:
        return self.ppo.num_worlds * self.ppo.rollout_steps * self.world.num_agents

    def to_json(self) -> dict[str, Any]:
        """The resolved config as JSON-ready nested dicts (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of `to_json` (lists become tuples; unknown keys are an error)."""
        return config_from_json(cls, data)

    @classmethod
    def complete_json(cls, data: dict[str, Any]) -> dict[str, Any]:
        """A config JSON saved by an older version in today's form: fields added since take
        their defaults (every new field defaults to the behaviour before it), so a run saved
        then still resumes; unknown fields are an error."""
        return cls.from_json(data).to_json()

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike) -> TrainConfig:
        """The resolved config a `train_teacher` run folder was saved with (its config.json):
        what reproduces or resumes that run, whatever the presets have become since."""
        return cls.from_json(read_run_json(run_dir, "teacher run"))

    @classmethod
    def toy(cls) -> TrainConfig:
        """The toy ring road with the accel x steer grid: learns in about a minute on a CPU."""
        return cls(
            world=dataclasses.replace(WorldConfig.toy(), action_space="accel_steer_grid"),
            teacher=TeacherConfig.toy(),
            ppo=PPOConfig(num_worlds=16, rollout_steps=32, num_updates=60, num_minibatches=4),
            log_every=10,
            checkpoint_every=20,
        )

    @classmethod
    def demo(cls) -> TrainConfig:
        """Village towns on a 2-core CPU in 30 minutes: updates of 8192 agent-steps, the learning
        rate falling linearly to 0 over the updates that fit (`fit_schedule`), 4000 at most
        (32.8M agent-steps; 3140 to 3710 fitted on the slower 2-core CPU).

        The world keeps Gigaflow's reward terms and adds: a small per-metre progress reward;
        collisions (10 to 15, about three times leaving the road), leaving the road and running
        a red light always penalised, a red light ending the episode as a crash does; a dense
        penalty for speed above the safe speed (room to stop before a red light or behind the
        agent ahead); 0.01 per step for standing still on a clear road (`idle_penalty`).
        Returns end only at such failures (a finished route flows into the next), gamma is
        0.995, and episodes last up to 120 s. Respawns keep 4 m clear, and no agent is born
        unable to stop for a yellow or red light ahead; junction mouths lie 8 m beyond the road
        edges; each observed stop line shows how long its light has shown its state.

        The teacher is small (set encoders 32 wide, trunks 64 wide), the entropy bonus a
        constant 0.03 (with 0.01 most runs fell into an early trap: speeding until they crash,
        or standing still), and the run ships a moving average of its policy over about 100
        updates (`PPOConfig.average_updates`).

        gp-agents' TRAINING.md holds the runs behind each choice ("The preset, choice by
        choice"), and its README what the preset gives over several seeds ("The demo teacher").
        """
        village = WorldConfig.village()
        world = dataclasses.replace(
            village,
            town=dataclasses.replace(village.town, corner_clearance=8.0),
            action_space="accel_steer_grid",
            max_episode_steps=1200,
            reward_progress=(0.005, 0.01),
            reward_collision=(10.0, 15.0),
            reward_offroad=(3.0, 5.0),
            reward_stop_line=(3.0, 5.0),
            reward_overspeed=(0.005, 0.02),
            red_light_ends=True,
            idle_penalty=0.01,
            spawn_clearance=4.0,
            num_lane_points=16,
            num_road_edges=8,
            num_nearest_agents=6,
            observe_light_age=True,
            spawn_can_stop=True,
        )
        return cls(
            world=world,
            teacher=TeacherConfig.demo(),
            ppo=PPOConfig(
                num_worlds=8,
                rollout_steps=32,
                num_updates=4000,
                num_minibatches=4,
                epochs=4,
                learning_rate=3e-4,
                ent_coef=0.03,
                lr_schedule="linear",
                advantage_filter=0.0,
                returns_end_at="failure",
                gamma=0.995,
                average_updates=100,
            ),
            log_every=10,
            checkpoint_every=50,
            eval_every=100,
            max_minutes=30.0,
            fit_schedule=True,
        )

    @classmethod
    def demo_gpu(cls) -> TrainConfig:
        """The `demo` preset's towns, rewards and teacher on one GPU: 256 worlds per update
        (262k agent-steps, 32 times the CPU preset's) and the entropy bonus falling linearly
        from 0.03 to 0.003 over the 4000 updates (1.05B agent-steps).

        Seed 3 ran 3970 of the 4000 updates in 8 minutes on one H100 (compilation and
        evaluations included); fine-tuned, it is `checkpoints/teacher-gpu-lights` (and, before
        the `demo` world gained the light age and the spawn rule, `checkpoints/teacher-gpu`).
        Their READMEs hold the commands and the held-out numbers. Its trunks stay 128 wide,
        as theirs (the CPU preset's became 64 wide after those runs, to save CPU time), it
        ships the live policy as they did (the CPU preset averages it since), and a collision
        costs 6 to 10 as in their worlds (the CPU preset's costs 10 to 15 since).
        """
        demo = cls.demo()
        return dataclasses.replace(
            demo,
            world=dataclasses.replace(demo.world, reward_collision=(6.0, 10.0)),
            teacher=dataclasses.replace(demo.teacher, trunk_width=128),
            ppo=dataclasses.replace(
                demo.ppo, num_worlds=256, ent_coef_end=0.003, average_updates=0
            ),
            checkpoint_every=500,
            eval_every=500,
            max_minutes=0.0,
            fit_schedule=False,
        )

    @classmethod
    def full(cls) -> TrainConfig:
        """City towns on one GPU: thousands of agents per update, the full teacher. Measured for
        speed (1.71M agent-steps/s on one H100, BENCHMARKS.md) but not yet trained to the end;
        `demo_gpu` is the GPU recipe that has been."""
        return cls(
            world=WorldConfig.city(),
            teacher=TeacherConfig.full(),
            ppo=PPOConfig(
                num_worlds=256,
                rollout_steps=64,
                num_updates=20000,
                num_minibatches=8,
                epochs=2,
                learning_rate=3e-4,
                lr_schedule="linear",
                warmup_updates=20,
                advantage_filter=0.01,
            ),
            log_every=20,
            checkpoint_every=200,
            eval_every=500,
        )


def read_run_json(run_dir: str | os.PathLike, kind: str) -> dict[str, Any]:
    """The config.json of a run folder (`kind` names the run in errors: "teacher run"), with a
    clear error when the folder holds none or the file is not JSON."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} holds no {kind} (no config.json)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err


def config_from_json(cls: Any, data: Any) -> Any:
    """Nested frozen config dataclasses from their `dataclasses.asdict` JSON (lists become
    tuples; missing fields take their defaults; unknown fields are an error)."""
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and isinstance(data, dict):
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields in config JSON: {sorted(unknown)}")
        return cls(**{name: config_from_json(hints[name], value) for name, value in data.items()})
    if isinstance(data, list):
        return tuple(config_from_json(Any, v) for v in data)
    return data
