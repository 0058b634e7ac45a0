"""Long-run robustness: distance driven between incidents (Gigaflow's headline figure) and
per-km event rates."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

INCIDENT_EVENTS = ("collision", "offroad", "red_light")


def distance_between_incidents(
    distance_m: float, events: Mapping[str, int], kinds: tuple[str, ...] = INCIDENT_EVENTS
) -> dict[str, float | bool]:
    """Kilometres driven per incident (sum of the counts of `kinds`).

    With no incident the figure is only a lower bound: the total distance is returned with
    `lower_bound=True` (never infinity, so JSON stays valid).
    """
    count = int(sum(int(events.get(k, 0)) for k in kinds))
    km = distance_m / 1000.0
    return {"km_between_incidents": km / max(count, 1), "lower_bound": count == 0}


def per_km(distance_m: float, count: int | np.ndarray) -> float:
    """Events per km; NaN when nothing was driven."""
    km = distance_m / 1000.0
    return float(count) / km if km > 0 else float("nan")
