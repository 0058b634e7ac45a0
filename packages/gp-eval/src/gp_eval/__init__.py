"""Closed- and open-loop driving benchmarks (NAVSIM PDMS/EPDMS, HUGSIM, CARLA, nuPlan, Waymax-style rates), baselines, reports and videos."""

__version__ = "0.1.0"

__all__ = ["__version__"]
