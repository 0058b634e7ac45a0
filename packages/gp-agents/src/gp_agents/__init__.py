"""Equinox driving policies (privileged teacher, pixel student), observation pipelines and the PPO self-play trainer."""

__version__ = "0.1.0"

__all__ = ["__version__"]
