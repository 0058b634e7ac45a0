"""Batched multi-agent driving world: procedural towns, agents, bicycle dynamics, events, rewards, privileged observations."""

__version__ = "0.1.0"

__all__ = ["__version__"]
