"""Self-play DAgger: the pixel student learns from the privileged teacher in the states it visits itself."""

__version__ = "0.1.0"

__all__ = ["__version__"]
