"""HUGSIM HD-Score (METRICS.md §4): mean over key frames of NC·DAC·(5·TTC + 2·COM)/7, times
route completion."""

from __future__ import annotations

import numpy as np

HUGSIM_WEIGHTS = {"ttc": 5.0, "c": 2.0}  # EP is listed in the config but commented out in code


def hugsim_frame_score(nc: float, dac: float, ttc: float, com: float) -> float:
    """S_t = NC·DAC·(5·TTC + 2·COM)/7."""
    w = HUGSIM_WEIGHTS
    return nc * dac * (w["ttc"] * ttc + w["c"] * com) / (w["ttc"] + w["c"])


def hugsim_dac(cells_on_ground: np.ndarray) -> float:
    """DAC from per-pose counts (0..4) of 2×2 footprint cells that hold a ground point: ratio < 0.3
    → 0; < 0.5 → 0.5 (unreachable with 4 cells); else 1. The first failing pose decides."""
    for cells in np.asarray(cells_on_ground):
        ratio = float(cells) / 4.0
        if ratio < 0.3:
            return 0.0
        if ratio < 0.5:
            return 0.5
    return 1.0


def hugsim_route_completion(nearest_index: int, num_recorded_poses: int) -> float:
    """rc = (k + 1) / (0.9·N): nearest recorded camera pose index k of N."""
    return (nearest_index + 1) / (0.9 * num_recorded_poses)


def hd_score(
    nc: np.ndarray,
    dac: np.ndarray,
    ttc: np.ndarray,
    com: np.ndarray,
    plan_length: np.ndarray,
    rc: np.ndarray,
) -> dict[str, float]:
    """HD-Score of one run from per-frame f64[F] sub-scores, plan lengths (poses) and rc.

    Frames whose plan has < 2 poses are skipped; Rc = min(1, max_t rc_t). Returns the frame means
    (nc, dac, ttc, c, pdms), rc and hdscore.
    """
    keep = np.asarray(plan_length) >= 2
    if not keep.any():
        raise ValueError("hd_score needs at least one frame with a plan of >= 2 poses")
    nc, dac, ttc, com = (np.asarray(v, np.float64)[keep] for v in (nc, dac, ttc, com))
    frame = np.array(
        [hugsim_frame_score(*v) for v in zip(nc, dac, ttc, com, strict=True)], np.float64
    )
    route = min(1.0, float(np.max(rc)))
    return {
        "nc": float(nc.mean()),
        "dac": float(dac.mean()),
        "ttc": float(ttc.mean()),
        "c": float(com.mean()),
        "pdms": float(frame.mean()),
        "rc": route,
        "hdscore": route * float(frame.mean()),
    }
