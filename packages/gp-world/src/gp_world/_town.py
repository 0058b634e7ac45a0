"""Procedural town generator (placeholder until the generator lands)."""

from __future__ import annotations

from gp_world._road_network import RoadNetwork
from gp_world.config import TownConfig


def generate_town(town: TownConfig, seed: int) -> RoadNetwork:
    raise NotImplementedError("town generator not built yet")
