"""A video of a pixel student driving on a held-out town: its camera rig beside the BEV.

    python scripts/student_video.py --student checkpoints/student-gpu-teacher --out student.mp4

The student drives every agent of one held-out world (greedy, from its cameras, rendered every
step); the video follows slot `--follow`: on the left the top-down view centred on it (events
marked: red collision, orange off-road, magenta red light, green goal), on the right the exact
images the student saw at that step, its cameras left to right, scaled up by `--zoom`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np
import tyro

import gp_agents as ga
import gp_distill as gd
import gp_eval as ge


@dataclasses.dataclass(frozen=True)
class Args:
    student: Path = Path("checkpoints/student-gpu-teacher")
    """A distillation run folder (config.json + checkpoints/)."""
    out: Path = Path("runs/student.mp4")
    """Output video (.mp4 or .gif)."""
    seed: int = 0
    """World seed (held-out map `seed mod num_maps`)."""
    steps: int = 300
    follow: int = 0
    """Agent slot the video follows."""
    zoom: int = 2
    """Integer upscaling of the camera images (nearest neighbour)."""


def main(args: Args) -> None:
    student, cfg = gd.load_student(args.student)
    world = ge.evaluation_world(cfg.world)
    pixels = ga.make_pixel_pipeline(cfg.pixels, world.maps)
    driver = gd.PixelDriver(student, pixels)
    run = ge.ClosedLoopConfig(seeds=(args.seed,), num_steps=args.steps, with_observations=True)
    result = ge.evaluate_closed_loop(world, driver, run)
    video = ge.VideoConfig(with_camera=False)
    bev = ge.render_rollout(result.record, world.maps, 0, args.follow, range(args.steps), video)
    see = jax.jit(lambda state: pixels.observe_world(world, state).images[args.follow])
    frames = []
    for t in range(args.steps):
        state = ge.restore_state(result.record.world_state, 0, t)
        views = np.asarray(see(state))  # [cameras, h, w, 3], what the student saw at step t
        rig = np.concatenate(list(views), axis=1).repeat(args.zoom, 0).repeat(args.zoom, 1)
        panel = np.zeros((bev.shape[1], rig.shape[1], 3), np.uint8)
        top = (bev.shape[1] - rig.shape[0]) // 2
        panel[top : top + rig.shape[0]] = rig[: bev.shape[1]]
        frames.append(np.concatenate([bev[t], panel], axis=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ge.write_video(args.out, np.stack(frames), fps=video.fps)
    m = result.metrics
    print(
        f"student {args.student}: routes completed {m['goal_rate']:.1%}, collisions/km "
        f"{m['collisions_per_km']:.2f}, off-road/km {m['offroad_per_km']:.2f}; video {args.out}"
    )


if __name__ == "__main__":
    main(tyro.cli(Args))
