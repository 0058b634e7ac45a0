"""Frozen configuration dataclasses for the world, its maps and its reward, with named presets.

Every field can be overridden with `dataclasses.replace`; derived sizes are properties.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, get_args

ActionSpaceKind = Literal["jerk", "accel_steer_grid", "continuous"]
ACTION_SPACES: tuple[ActionSpaceKind, ...] = get_args(ActionSpaceKind)
CollisionBehaviour = Literal["respawn", "remove", "keep"]

# Order of the reward terms in `Agents.reward_weights` and in the observation.
REWARD_TERMS = (
    "goal",
    "collision",
    "offroad",
    "comfort",
    "lane_alignment",
    "lane_centring",
    "velocity",
    "stop_line",
    "time",
    "progress",
    "overspeed",
)
# Order of the agent kinds; `Agents.kind` indexes it.
AGENT_KINDS = ("car", "van", "truck", "cyclist")


@dataclasses.dataclass(frozen=True)
class TownConfig:
    """Procedural town generator: a jittered grid of blocks, roads between nodes.

    `blocks` ranges give the number of blocks per side (a village is 3x3, a city 10x10).
    """

    kind: Literal["ring", "town"] = "town"
    blocks_x: tuple[int, int] = (3, 3)
    blocks_y: tuple[int, int] = (3, 3)
    block_size: tuple[float, float] = (60.0, 100.0)  # metres between intersection centres
    irregular_prob: float = 0.5  # chance a map has jittered nodes and removed roads
    node_jitter: float = 10.0  # metres, irregular maps only
    remove_road_prob: float = 0.15  # share of interior roads removed on irregular maps
    lanes_per_direction: tuple[int, int] = (1, 3)
    lane_width: float = 3.5
    speed_limits: tuple[float, ...] = (8.33, 11.11, 13.89)  # 30, 40, 50 km/h
    lane_point_spacing: float = 2.0  # metres between resampled lane points
    crosswalk_width: float = 3.0
    stop_line_setback: float = 4.0  # metres from the intersection mouth back to the stop line
    corner_clearance: float = 2.0
    """Metres the intersection mouth lies beyond the point where the widest road's edge meets
    the next road's (at a right-angled junction). Between two alike roads the kerb lane then
    turns right on a radius of this plus half a lane, tighter where the roads differ: the
    tightest radius of a regular village's right turns is 2.8 m at the median by default,
    under what a car (4.6-5.5 m at the accel x steer grid's 0.5 rad) or a truck (8.3-11.9 m)
    can turn, so they swing wide or cut the corner; 8.0 m with 8 m (gp-world's README)."""
    ring_radius: float = 30.0  # toy ring road only
    ring_lanes: int = 2  # toy ring road only

    def __post_init__(self) -> None:
        if self.corner_clearance < 0:
            raise ValueError(
                f"corner_clearance is metres beyond the road edges (>= 0), got "
                f"{self.corner_clearance}"
            )


@dataclasses.dataclass(frozen=True)
class WorldConfig:
    """Everything that fixes the shapes and rules of a world."""

    town: TownConfig = dataclasses.field(default_factory=TownConfig)
    num_maps: int = 4  # maps per bank split
    train_seed_start: int = 0  # train maps use seeds [start, start + num_maps)
    heldout_seed_start: int = 1_000_000  # held-out maps use a disjoint range
    # Per-map tables.
    routes_per_map: int = 256
    route_max_lanes: int = 16
    route_max_points: int = 160
    route_length: tuple[float, float] = (60.0, 300.0)  # metres, sampled goal distance
    grid_cell_size: float = 10.0  # per cell, the nearest lane points / road edges are listed
    raster_resolution: float = 0.5  # metres per drivable-area texel

    # Agents.
    num_agents: int = 32
    dt: float = 0.1
    action_space: ActionSpaceKind = "jerk"
    max_episode_steps: int = 600
    collision_behaviour: CollisionBehaviour = "respawn"
    kind_probs: tuple[float, float, float, float] = (0.7, 0.15, 0.1, 0.05)
    spawn_candidates: int = 1  # free-spot attempts per respawning slot per step (retries next step)
    spawn_clearance: float = 1.0  # metres added to bounding circles when spawning
    spawn_speed_fraction: float = 0.5  # spawn speed ~ U(0, fraction * speed limit)
    reset_spawn_rounds: int = 8  # spawn rounds at reset (each with spawn_candidates attempts)
    # No spawn where the new agent could not stop before its route's next stop line while that
    # light is yellow or red (braking at twice `safe_decel`, the world's test for a yellow): a
    # driver born there runs the red light through no choice of its own.
    spawn_can_stop: bool = False
    # Fraction of new agents placed on the last `spawn_near_junction_metres` of their route's
    # first lane, just before its junction (and its stop line, where it has one), instead of
    # anywhere along that lane: births closer to lights and crossing traffic (a training
    # curriculum; 0: uniform along the lane, the draws unchanged).
    spawn_near_junction: float = 0.0
    spawn_near_junction_metres: float = 30.0

    # Lights.
    light_green: tuple[float, float] = (8.0, 20.0)  # seconds, sampled per intersection
    light_yellow: float = 3.0
    light_all_red: float = 1.0
    remove_light_prob: float = 0.0  # per intersection and world: no signal at all
    freeze_green_prob: float = 0.0  # per world: every light stays green

    # Events.
    wrong_way_angle: float = 2.0  # radians of heading error to the route
    goal_tolerance: float = 4.0  # metres before the route end
    red_light_ends: bool = False  # running a red light ends the episode (as a collision does)

    # Reward weight ranges (per agent U(lo, hi)); defaults from the Gigaflow paper.
    reward_goal: tuple[float, float] = (1.0, 1.0)
    reward_collision: tuple[float, float] = (0.0, 3.0)
    reward_offroad: tuple[float, float] = (0.0, 3.0)
    reward_comfort: tuple[float, float] = (0.0, 0.1)
    reward_lane_alignment: tuple[float, float] = (2.5e-4, 2.5e-2)
    reward_lane_centring: tuple[float, float] = (2.5e-4, 7.5e-3)
    reward_velocity: tuple[float, float] = (2.5e-3, 2.5e-3)
    reward_stop_line: tuple[float, float] = (0.0, 1.0)
    reward_time: tuple[float, float] = (2.5e-5, 2.5e-5)
    reward_progress: tuple[float, float] = (0.0, 0.0)  # per metre of route progress
    reward_overspeed: tuple[float, float] = (0.0, 0.0)  # per m/s above the safe speed
    # Driving style asked of a reward-conditioned policy: (term, quantile) pairs fix the named
    # terms' weights at that quantile of their range (0: low end, 1: high end) for every agent,
    # instead of a uniform draw. Empty (training): every weight drawn. The policy sees weights
    # normalised by the ranges above, so keep the ranges as trained and choose quantiles here.
    reward_condition: tuple[tuple[str, float], ...] = ()
    # Weights drawn from other ranges than the observed ones: (term, lo, hi) entries draw the
    # named terms' weights from U(lo, hi) while the observation still normalises them by the
    # ranges above (a value below the range is seen below 0, one above above 1). A training
    # curriculum (`TrainConfig.reward_warmup` in gp-agents) charges a collision less early on
    # without moving the scale the policy keeps. `reward_condition` quantiles are then taken of
    # these ranges.
    reward_draw: tuple[tuple[str, float, float], ...] = ()
    # Per step an agent stands still (below 1 m/s) although its safe speed (the speed limit,
    # lowered for a red light or the agent ahead) is at least 3 m/s: the road is clear and it
    # could go. A constant of the world, not a sampled weight, so the policy need not observe it.
    idle_penalty: float = 0.0
    # Seconds ahead the safe speed looks at crossing traffic (0: it does not). A route point
    # ahead that another agent, crossing or oncoming, will reach within this time (at constant
    # velocity) before the ego has passed it by a clear second is a place the ego must be able
    # to stop before: yielding at a junction is then no longer charged as idling, and entering
    # a junction across traffic is overspeed.
    conflict_horizon: float = 0.0
    safe_decel: float = 3.0  # m/s^2: the braking the safe speed leaves room for
    safe_margin: float = 2.0  # metres kept to a red stop line or to the agent ahead
    comfort_accel: float = 4.0  # |a| above this (m/s^2) counts as a comfort violation
    comfort_jerk: float = 6.0  # |jerk| above this (m/s^3)

    # Observation sizes.
    num_route_points: int = 10
    route_point_stride: int = 2  # route points (2 m apart) skipped between observed waypoints
    num_nearest_agents: int = 8
    num_lane_points: int = 32
    num_road_edges: int = 16
    num_stop_lines: int = 4
    observation_range: float = 50.0  # metres; farther agents are masked out
    # Metres of route ahead whose turn an agent signals to the others: each observed agent gains
    # a left and a right indicator, on when its route turns by more than 0.5 rad within this
    # distance (0: no indicators, 8 features per observed agent).
    turn_signal_distance: float = 0.0
    # Each observed stop line gains how long its light has shown its state (seconds / 10,
    # capped at 1), as a driver who saw it change knows: without it a policy without memory
    # cannot tell a yellow about to turn red from one just begun (7 features per stop line
    # without it, 8 with).
    observe_light_age: bool = False

    def __post_init__(self) -> None:
        if self.num_agents < 1:
            raise ValueError(f"num_agents must be >= 1, got {self.num_agents}")
        if self.action_space not in ACTION_SPACES:
            raise ValueError(f"unknown action_space {self.action_space!r}")
        if self.collision_behaviour not in ("respawn", "remove", "keep"):
            raise ValueError(f"unknown collision_behaviour {self.collision_behaviour!r}")
        if self.dt <= 0:
            raise ValueError(f"dt must be positive, got {self.dt}")
        if self.idle_penalty < 0:
            raise ValueError(f"idle_penalty is a penalty (>= 0), got {self.idle_penalty}")
        if self.conflict_horizon < 0:
            raise ValueError(
                f"conflict_horizon is seconds ahead (>= 0, 0: off), got {self.conflict_horizon}"
            )
        if not 0.0 <= self.spawn_near_junction <= 1.0:
            raise ValueError(
                f"spawn_near_junction is a fraction of births in [0, 1], got "
                f"{self.spawn_near_junction}"
            )
        if self.spawn_near_junction_metres <= 0:
            raise ValueError(
                "spawn_near_junction_metres is metres of lane before its end (> 0), got "
                f"{self.spawn_near_junction_metres}"
            )
        if self.turn_signal_distance < 0:
            raise ValueError(
                "turn_signal_distance is metres of route ahead (>= 0, 0: no indicators), got "
                f"{self.turn_signal_distance}"
            )
        if abs(sum(self.kind_probs) - 1.0) > 1e-6:
            raise ValueError(f"kind_probs must sum to 1, got {self.kind_probs}")
        for entry in self.reward_condition:
            if len(entry) != 2 or entry[0] not in REWARD_TERMS or not 0.0 <= entry[1] <= 1.0:
                raise ValueError(
                    f"reward_condition entries are (term, quantile in [0, 1]) with a term of "
                    f"{REWARD_TERMS}, got {entry!r}"
                )
        for drawn in self.reward_draw:
            if (
                len(drawn) != 3
                or drawn[0] not in REWARD_TERMS
                or not float(drawn[1]) <= float(drawn[2])
            ):
                raise ValueError(
                    f"reward_draw entries are (term, lo, hi) with lo <= hi and a term of "
                    f"{REWARD_TERMS}, got {drawn!r}"
                )

    @property
    def reward_ranges(self) -> tuple[tuple[float, float], ...]:
        """(lo, hi) per term of `REWARD_TERMS`."""
        return tuple(getattr(self, f"reward_{name}") for name in REWARD_TERMS)

    @property
    def reward_draw_ranges(self) -> tuple[tuple[float, float], ...]:
        """(lo, hi) per term of `REWARD_TERMS` that weights are drawn from: `reward_ranges`
        with the `reward_draw` entries in place of theirs."""
        drawn = {term: (float(lo), float(hi)) for term, lo, hi in self.reward_draw}
        return tuple(
            drawn.get(term, span)
            for term, span in zip(REWARD_TERMS, self.reward_ranges, strict=True)
        )

    @property
    def num_reward_terms(self) -> int:
        return len(REWARD_TERMS)

    def differences(self, other: WorldConfig) -> list[str]:
        """Names of the fields in which this config differs from `other`."""
        return [
            f.name
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        ]

    def drives_like(self, other: WorldConfig) -> bool:
        """Whether policies trained in this world and in `other` can be compared in one
        evaluation world: every field equal but the episode limit (`max_episode_steps`, which
        only ends episodes sooner or later; a teacher fine-tuned on longer episodes)."""
        return set(self.differences(other)) <= {"max_episode_steps"}

    @classmethod
    def toy(cls) -> WorldConfig:
        """A two-lane ring road with four agents: small, fast, with a dense progress reward."""
        return cls(
            town=TownConfig(kind="ring"),
            num_maps=1,
            routes_per_map=64,
            route_max_points=96,
            route_length=(40.0, 150.0),
            num_agents=4,
            max_episode_steps=200,
            kind_probs=(1.0, 0.0, 0.0, 0.0),
            reward_goal=(1.0, 1.0),
            reward_collision=(1.0, 1.0),
            reward_offroad=(1.0, 1.0),
            reward_comfort=(0.0, 0.0),
            reward_lane_alignment=(0.0, 0.02),
            reward_lane_centring=(0.0, 0.02),
            reward_velocity=(0.0, 0.0),
            reward_stop_line=(0.0, 0.0),
            reward_time=(0.0, 0.0),
            reward_progress=(0.05, 0.1),
            num_lane_points=16,
            num_road_edges=8,
            num_nearest_agents=3,
        )

    @classmethod
    def village(cls) -> WorldConfig:
        """3x3-block towns, 32 agents."""
        return cls(town=TownConfig(blocks_x=(3, 3), blocks_y=(3, 3)), num_agents=32)

    @classmethod
    def city(cls) -> WorldConfig:
        """10x10-block towns, 64 agents."""
        return cls(
            town=TownConfig(blocks_x=(10, 10), blocks_y=(10, 10)),
            num_agents=64,
            num_maps=2,
            routes_per_map=512,
        )
