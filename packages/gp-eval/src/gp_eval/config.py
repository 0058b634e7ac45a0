"""Frozen configuration dataclasses of gp-eval, with named presets."""

from __future__ import annotations

import dataclasses

import gp_world as gw

SUITES = ("closed-loop", "navsim", "hugsim", "carla", "robustness")
CLOSED_LOOP_SUITES = ("closed-loop", "hugsim", "carla", "robustness")  # one closed-loop run


@dataclasses.dataclass(frozen=True)
class BaselineConfig:
    """IDM and path-following constants (PDM-Closed's IDM: a 1.5, b 3.0, gap 1 m, headway 1.5 s)."""

    accel_max: float = 1.5  # m/s²
    decel_comfort: float = 3.0  # m/s², IDM b and the yellow-light stoppability bound
    decel_max: float = 6.0  # m/s², hard clip
    min_gap: float = 2.0  # m, IDM s0
    headway: float = 1.5  # s, IDM T
    stop_line_margin: float = 1.0  # m between the front bumper and the stop line
    max_lat_accel: float = 2.0  # m/s², curve speed limit
    lookahead_time: float = 0.8  # s; pure-pursuit lookahead = clip(time·v, min, max)
    lookahead_min: float = 4.0  # m
    lookahead_max: float = 12.0  # m
    corridor_margin: float = 0.4  # m added to half-widths for "in my path"
    yield_horizon: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)  # s
    yield_slack: float = 1.0  # s: yield if the other arrives no later than this after us
    comfort_jerk: float = 3.0  # m/s³ between successive acceleration commands


def _check_baseline_space(space: str | None) -> None:
    if space is not None and space not in gw.ACTION_SPACES:
        raise ValueError(
            f"unknown action space {space!r} for the baseline to plan in: choose one of "
            f"{gw.ACTION_SPACES} or None (the world's)"
        )


@dataclasses.dataclass(frozen=True)
class ClosedLoopConfig:
    """Which worlds, for how long, and who drives.

    seeds: one world per seed (map `seed mod num_maps` of the bank); num_steps: fixed horizon;
    policy_fraction: share of agent slots the evaluated policy drives (the rest: baseline);
    baseline_plans_in: the action space the baseline chooses in when not the world's
    (`BaselinePlanner.plans_in`: "accel_steer_grid" in a grid world's continuous twin).
    Route-based scores (CARLA, HUGSIM, nuPlan) use each policy slot's first route; rates and
    distance between incidents use every episode the policy drove.
    """

    seeds: tuple[int, ...] = (0, 1, 2, 3)
    num_steps: int = 400
    policy_fraction: float = 1.0
    with_observations: bool = False  # keep observations in the record (for open-loop scenes)
    baseline_plans_in: str | None = None

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError("ClosedLoopConfig needs at least one seed")
        if self.num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {self.num_steps}")
        _check_baseline_space(self.baseline_plans_in)

    @classmethod
    def smoke(cls) -> ClosedLoopConfig:
        """Two short worlds: for tests."""
        return cls(seeds=(0, 1), num_steps=120)


@dataclasses.dataclass(frozen=True)
class VideoConfig:
    """Frame layout: a square BEV of `bev_pixels` at `metres_per_pixel` centred on the followed
    agent, and its forward camera scaled to the same height."""

    bev_pixels: int = 256
    metres_per_pixel: float = 0.35
    camera_width: int = 256
    camera_height: int = 256
    horizontal_fov_deg: float = 90.0
    metres_per_texel: float = 0.2
    fps: int = 10
    with_camera: bool = True


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """One evaluation: which suites, on how many worlds, for how long.

    The closed-loop family (closed-loop, hugsim, carla, robustness) shares one closed-loop run
    per policy; navsim scores plans on scenes cut from a baseline self-play log of
    `navsim_log_steps` steps on the first `navsim_log_seeds` seeds (an action policy's plan is
    its own 4 s forked rollout from the scene, see `forked_planner`). `baseline_plans_in`: the
    action space the rule-based baseline chooses in, wherever it drives (its row, the background
    traffic, the NAVSIM log), when not the world's (`BaselinePlanner.plans_in`).
    """

    suite: str = "all"
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    num_steps: int = 400
    policy_fraction: float = 1.0
    navsim_scenes: int = 32
    navsim_log_seeds: int = 2
    navsim_log_steps: int = 200
    navsim_fork_policies: bool = True  # action policies plan by a forked self-play rollout
    baseline_plans_in: str | None = None

    def __post_init__(self) -> None:
        if self.suite != "all" and self.suite not in SUITES:
            raise ValueError(f"unknown suite {self.suite!r}; choose one of {SUITES} or 'all'")
        _check_baseline_space(self.baseline_plans_in)

    @property
    def suites(self) -> tuple[str, ...]:
        return SUITES if self.suite == "all" else (self.suite,)

    @property
    def closed_loop(self) -> ClosedLoopConfig:
        return ClosedLoopConfig(
            self.seeds,
            self.num_steps,
            self.policy_fraction,
            baseline_plans_in=self.baseline_plans_in,
        )

    @classmethod
    def smoke(cls) -> EvaluationConfig:
        """Tiny: two seeds, short runs, a few scenes (tests and quick looks)."""
        return cls(seeds=(0, 1), num_steps=150, navsim_scenes=4, navsim_log_steps=100)
