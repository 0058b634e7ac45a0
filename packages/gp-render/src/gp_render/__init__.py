"""Perspective rasteriser for oriented boxes on a textured ground plane: a Pallas kernel with an XLA twin."""

__version__ = "0.1.0"

__all__ = ["__version__"]
