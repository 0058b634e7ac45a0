"""Render a scripted street scene to MP4 or GIF: each agent's camera rig beside a top-down view.

    python scripts/render_video.py --out render.gif --frames 60

A two-lane east-west road with lane lines, a crosswalk and stop lines; a traffic light cycles
green, yellow, red; two agent cars (one each way) carry three forward cameras; a lead car, an
oncoming car, a cyclist and a parked van share the road. Uses gp_render only.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

import imageio.v2 as imageio
import jax
import jax.numpy as jnp
import numpy as np
import tyro

import gp_render as gr

CAR = (4.6, 1.9, 1.5)
STOP_X = 36.0  # eastbound stop line; the crosswalk spans x in [38.5, 41.5]
LIGHT_X, LIGHT_Y = 50.0, -5.0  # far side of the crossing, where a waiting driver sees it


@dataclasses.dataclass(frozen=True)
class Args:
    out: Path = Path("render.gif")
    """Output video; the suffix picks the format (.gif or .mp4)."""
    frames: int = 60
    fps: int = 10
    width: int = 128
    """Pixels per camera view (height is 3/4 of it)."""
    cameras: int = 3
    png_dir: Path | None = Path("render_frames")
    """Where to save a few frames as PNG for inspection (None: none)."""
    backend: Literal["xla", "pallas", "auto"] = "auto"
    fog_distance: float | None = 150.0


def street() -> gr.GroundTexture:
    """The map: road y in [-4, 4] from x = -40 to 120, markings painted on top."""
    west, east = -40.0, 120.0
    return gr.build_ground(
        (west, -20.0),
        (east - west, 40.0),
        0.1,
        roads=[[(west, -4.0), (east, -4.0), (east, 4.0), (west, 4.0)]],
        solid_lines=[[(west, -3.8), (east, -3.8)], [(west, 3.8), (east, 3.8)]],
        dashed_lines=[[(west, 0.0), (STOP_X, 0.0)], [(44.0, 0.0), (east, 0.0)]],
        stop_lines=[[(STOP_X, -3.8), (STOP_X, 0.0)], [(44.0, 0.0), (44.0, 3.8)]],
        crosswalks=[([(40.0, -3.8), (40.0, 3.8)], 3.0)],
    )


YELLOW_AT, RED_AT = 2.0, 3.0


def light_state(t: float) -> tuple[float, float, float]:
    """Green, then yellow at YELLOW_AT seconds, red from RED_AT on."""
    return gr.LIGHT_GREEN if t < YELLOW_AT else gr.LIGHT_YELLOW if t < RED_AT else gr.LIGHT_RED


def braking_x(t: float, start: float, speed: float, brake_at: float, stop: float) -> float:
    """x of a car cruising at `speed` that brakes evenly from `brake_at` s to halt at `stop`."""
    x_brake = start + speed * min(t, brake_at)
    if t <= brake_at:
        return x_brake
    decel = speed**2 / (2.0 * (stop - x_brake))
    dt = min(t - brake_at, speed / decel)
    return x_brake + speed * dt - 0.5 * decel * dt**2


def scene(t: float) -> tuple[gr.Boxes, np.ndarray]:
    """Boxes at time t (seconds) and the two agents' poses (x, y, yaw)."""
    # Agent 0 drives east at 9 m/s and brakes to a halt at the stop line once the light is red.
    x0 = braking_x(t, -15.0, 9.0, RED_AT, STOP_X - CAR[0] / 2 - 0.5)
    agents = np.array([[x0, -2.0, 0.0], [95.0 - 8.0 * t, 2.0, np.pi]])
    lead = (18.0 + 10.0 * t, -2.0, 0.0)  # clears the crossing on yellow
    oncoming = (60.0 - 10.0 * t, 2.0, np.pi)
    cyclist = (10.0 + 4.0 * t, -3.2, 0.0)
    poses = [
        (*agents[0], CAR, (0.9, 0.9, 0.9), gr.SemanticClass.VEHICLE),
        (*agents[1], CAR, (0.95, 0.75, 0.1), gr.SemanticClass.VEHICLE),
        (*lead, CAR, (0.2, 0.4, 0.85), gr.SemanticClass.VEHICLE),
        (*oncoming, CAR, (0.8, 0.15, 0.15), gr.SemanticClass.VEHICLE),
        (*cyclist, (1.8, 0.6, 1.7), (0.9, 0.55, 0.1), gr.SemanticClass.CYCLIST),
        (25.0, 6.0, 0.3, (5.5, 2.1, 2.4), (0.6, 0.6, 0.65), gr.SemanticClass.VEHICLE),
    ]
    centers = [(x, y, size[2] / 2) for x, y, _, size, _, _ in poses]
    sizes = [size for *_, size, _, _ in poses]
    yaws = [yaw for _, _, yaw, *_ in poses]
    colors = [color for *_, color, _ in poses]
    classes = [int(cls) for *_, cls in poses]
    # The traffic light: a grey pole and a head box coloured by state, one per direction.
    for x, y, state in ((LIGHT_X, LIGHT_Y, light_state(t)), (37.0, 5.0, gr.LIGHT_RED)):
        centers += [(x, y, 2.25), (x, y, 4.9)]
        sizes += [(0.15, 0.15, 4.5), (0.35, 0.35, 0.9)]
        yaws += [0.0, 0.0]
        colors += [(0.5, 0.5, 0.5), state]
        classes += [int(gr.SemanticClass.STATIC_OBJECT), int(gr.SemanticClass.TRAFFIC_LIGHT)]
    boxes = gr.make_boxes(centers, sizes, yaws, colors, classes)
    return boxes, agents


def main(args: Args) -> None:
    height = args.width * 3 // 4
    rig = gr.forward_rig(args.width, height, args.cameras, 60.0, mount=(2.4, 0.0, 1.5, 0.0, 0.06))
    ground = street()
    config = gr.RenderConfig(boxes_per_view=16, boxes_per_tile=8, fog_distance=args.fog_distance)
    bev_config = dataclasses.replace(config, fog_distance=None)
    bev_pixels = 2 * height
    # Top-down, north up, 70 m across, centred on the crossing.
    bev = gr.bev_view((35.0, 0.0), bev_pixels, bev_pixels, 70.0 / bev_pixels)

    @jax.jit
    def frame(boxes: gr.Boxes, agents: jax.Array) -> jax.Array:
        def agent_row(pose):
            views = gr.rig_views(rig, pose)
            images = jax.vmap(
                lambda v: gr.render(v, boxes, ground, config=config, backend=args.backend).rgb
            )(views)
            return gr.stitch(images)

        rows = jax.vmap(agent_row)(agents)  # (agents, H, cameras * W, 3)
        cameras = rows.reshape(-1, *rows.shape[2:])
        top = gr.render(bev, boxes, ground, config=bev_config, backend=args.backend).rgb
        gap = jnp.full((bev_pixels, 4, 3), 255, jnp.uint8)
        return jnp.concatenate([cameras, gap, top], axis=1)

    images = []
    for i in range(args.frames):
        boxes, agents = scene(i / args.fps)
        images.append(np.asarray(frame(boxes, jnp.asarray(agents, jnp.float32))))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.suffix == ".gif":
        imageio.mimsave(args.out, images, duration=1000 / args.fps, loop=0)
    else:
        imageio.mimsave(args.out, images, fps=args.fps)
    if args.png_dir is not None:
        args.png_dir.mkdir(parents=True, exist_ok=True)
        for i in np.linspace(0, args.frames - 1, 4).astype(int):
            imageio.imwrite(args.png_dir / f"frame_{i:03d}.png", images[i])
    print(f"wrote {args.out} ({len(images)} frames) and PNGs in {args.png_dir}")


if __name__ == "__main__":
    main(tyro.cli(Args))
