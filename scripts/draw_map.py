"""Draw one map of a world with its lanes, stop lines, lights and spawned agents to a PNG.

python scripts/draw_map.py --preset village --seed 0 --out town.png
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

import jax
import matplotlib
import numpy as np
import tyro

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Polygon

import gp_world as gw


@dataclasses.dataclass(frozen=True)
class Args:
    preset: Literal["toy", "village", "city"] = "village"
    seed: int = 0
    """Map seed (train split seeds start at 0)."""
    steps: int = 20
    """World steps (with a zero action) before drawing, so lights and agents have moved."""
    out: Path = Path("map.png")
    dpi: int = 150
    zoom: tuple[float, float, float] | None = None
    """Optional (x, y, half-size) window in metres."""
    corner_clearance: float | None = None
    """gp-world's `TownConfig.corner_clearance` (None: the preset's): wider junctions."""


def main(args: Args) -> None:
    cfg = getattr(gw.WorldConfig, args.preset)()
    cfg = dataclasses.replace(cfg, num_maps=1, train_seed_start=args.seed)
    if args.corner_clearance is not None:
        town = dataclasses.replace(cfg.town, corner_clearance=args.corner_clearance)
        cfg = dataclasses.replace(cfg, town=town)
    maps = gw.build_map_bank(cfg)
    world = gw.World(cfg, maps)
    state = world.reset(jax.random.key(args.seed), map_id=0)
    space = world.action_space
    if space.kind == "discrete":
        # The action nearest to "change nothing" (zero jerk, or zero accel and steer).
        table = gw.action_table(cfg.action_space)
        action = np.full(cfg.num_agents, np.abs(table).sum(1).argmin(), np.int32)
    else:
        action = np.zeros((cfg.num_agents, 2), np.float32)
    step = jax.jit(world.step)
    for _ in range(args.steps):
        state, _ = step(state, action)
    geom = gw.map_geometry(maps, 0)
    scene = jax.tree.map(np.asarray, world.scene(state))

    fig, ax = plt.subplots(figsize=(10, 10))
    ax.set_facecolor("#5a7d4a")
    fills = {0: "#555555", 1: "#dddddd"}
    for poly, cls in zip(geom.polygons, geom.polygon_classes, strict=True):
        ax.add_patch(Polygon(poly, closed=True, facecolor=fills[cls], edgecolor="none"))
    styles = {
        2: dict(color="#f0e68c", lw=0.5, alpha=0.8),
        3: dict(color="white", lw=1.0),
        4: dict(color="white", lw=2.0),
    }
    for line, cls in zip(geom.polylines, geom.polyline_classes, strict=True):
        ax.plot(line[:, 0], line[:, 1], **styles[cls])
        if cls == 2 and len(line) > 2:  # an arrow for lane direction
            mid = len(line) // 2
            d = line[mid] - line[mid - 1]
            ax.arrow(*line[mid], *(d * 0.3), head_width=0.8, color="#f0e68c", lw=0)
    for i in np.nonzero(scene.valid)[0]:
        c, s, yaw = scene.centre[i], scene.size[i], scene.yaw[i]
        if scene.box_class[i] == 4:  # light head: a dot in its colour
            ax.plot(c[0], c[1], "o", color=scene.colour[i], ms=4, mec="black", mew=0.5)
            continue
        corners = np.asarray(
            gw.box_corners(
                np.float32(c[0]),
                np.float32(c[1]),
                np.float32(yaw),
                np.float32(s[0]),
                np.float32(s[1]),
            )
        )
        ax.add_patch(Polygon(corners, closed=True, facecolor=scene.colour[i], edgecolor="black"))
        ax.plot(*corners[[0, 3]].T, color="red", lw=1.0)  # the front
    ax.set_aspect("equal")
    if args.zoom is not None:
        x, y, r = args.zoom
        ax.set_xlim(x - r, x + r)
        ax.set_ylim(y - r, y + r)
    else:
        ax.autoscale_view()
    ax.set_title(f"{args.preset} seed {args.seed}: {int(scene.ego_valid.sum())} agents")
    fig.savefig(args.out, dpi=args.dpi, bbox_inches="tight")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main(tyro.cli(Args))
