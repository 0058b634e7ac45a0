"""Perception adaptation: fine-tune the student's encoder so real camera images map into the latent its planner acts on."""

__version__ = "0.1.0"

__all__ = ["__version__"]
