"""Batched multi-agent driving world: procedural towns, agents, bicycle dynamics, events,
rewards, privileged observations. One world per call; batch with `jax.vmap`."""

from gp_world._agents import Agents
from gp_world._dynamics import (
    ActionSpace,
    Kinematics,
    action_grid,
    action_space,
    action_table,
    forward,
    inverse,
)
from gp_world._events import Events, crossing_speed, next_stop_line, safe_speed
from gp_world._geometry import box_corners, boxes_overlap, to_ego
from gp_world._lights import (
    GREEN,
    NO_LIGHT,
    RED,
    YELLOW,
    Lights,
    can_stop_for_light,
    light_ahead,
    light_state,
    light_state_and_age,
)
from gp_world._map_bank import (
    MAP_FORMAT_VERSION,
    MapBank,
    box_on_road,
    build_map,
    build_map_bank,
    drivable_at,
    load_map_bank,
    map_seeds,
    save_map_bank,
    stack_maps,
)
from gp_world._observation import PrivilegedObservation, observed_agents, turn_signals
from gp_world._road_network import Lane, RoadNetwork, ring_road
from gp_world._scene import MAP_CLASSES, MapGeometry, Scene, map_geometry
from gp_world._town import generate_town
from gp_world._world import StepOutput, World, WorldState
from gp_world.config import ACTION_SPACES, AGENT_KINDS, REWARD_TERMS, TownConfig, WorldConfig

__version__ = "0.1.0"

__all__ = [
    "ACTION_SPACES",
    "AGENT_KINDS",
    "GREEN",
    "MAP_CLASSES",
    "MAP_FORMAT_VERSION",
    "NO_LIGHT",
    "RED",
    "REWARD_TERMS",
    "YELLOW",
    "ActionSpace",
    "Agents",
    "Events",
    "Kinematics",
    "Lane",
    "Lights",
    "MapBank",
    "MapGeometry",
    "PrivilegedObservation",
    "RoadNetwork",
    "Scene",
    "StepOutput",
    "TownConfig",
    "World",
    "WorldConfig",
    "WorldState",
    "__version__",
    "action_grid",
    "action_space",
    "action_table",
    "box_corners",
    "box_on_road",
    "boxes_overlap",
    "build_map",
    "build_map_bank",
    "can_stop_for_light",
    "crossing_speed",
    "drivable_at",
    "forward",
    "generate_town",
    "inverse",
    "light_ahead",
    "light_state",
    "light_state_and_age",
    "load_map_bank",
    "map_geometry",
    "map_seeds",
    "next_stop_line",
    "observed_agents",
    "ring_road",
    "safe_speed",
    "save_map_bank",
    "stack_maps",
    "to_ego",
    "turn_signals",
]
