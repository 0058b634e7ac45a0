"""Train the privileged teacher by PPO self-play:

    python scripts/train_teacher.py {toy,demo,demo-gpu,full}

Every field is overridable, e.g.
    python scripts/train_teacher.py toy --train.ppo.num-updates 200 --run-dir runs/toy2

Everything goes under the run folder: config.json, checkpoints/, metrics.jsonl,
learning_curve.png. Ctrl-C (or SIGTERM) stops a run with a checkpoint of where it was. Running
the same command again resumes from the newest checkpoint, so long runs can proceed in chunks
(`--train.max-minutes 9`). The `demo` preset fits its schedules to its `max_minutes`, the time
of all its sittings: stopped early and resumed, it refits to what is left (a larger
`--train.max-minutes` gives it more); chunks of a fixed length need `--train.no-fit-schedule`.

`from-run FOLDER` takes every field from a run folder's config.json instead of a preset, so an
older run resumes in FOLDER, or is reproduced from scratch in another folder given by
`--run-dir`, whatever the presets have become since; flags still override, e.g.
    python scripts/train_teacher.py from-run runs/teacher-demo --train.ppo.num-updates 3000

A run fitted to its time (the `demo` preset) is repeated exactly, on any machine, by taking
its logged lengths instead of measuring its speed (in chunks too, with `--train.max-minutes 9`):
    python scripts/train_teacher.py from-run runs/teacher-demo --run-dir runs/demo-again
        --train.schedule-from runs/teacher-demo --train.max-minutes 0
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import tyro

import gp_agents as ga


@dataclasses.dataclass(frozen=True)
class TrainTeacher:
    run_dir: str = "runs/teacher"
    """Run folder (created; resumed when it already holds checkpoints)."""
    resume: bool = True
    """Continue from the newest checkpoint in `run_dir` (False: start over, old metrics dropped)."""
    train: ga.TrainConfig = dataclasses.field(default_factory=ga.TrainConfig.toy)


PRESETS = {
    "toy": (
        "toy ring road, learns in about a minute on a CPU",
        TrainTeacher(run_dir="runs/teacher-toy", train=ga.TrainConfig.toy()),
    ),
    "demo": (
        "village towns in 30 minutes: the schedules fall over the updates that fit (at most 4000)",
        TrainTeacher(run_dir="runs/teacher-demo", train=ga.TrainConfig.demo()),
    ),
    "demo-gpu": (
        "the demo preset on one GPU: 256 worlds per update (about 8 minutes on one H100)",
        TrainTeacher(run_dir="runs/teacher-demo-gpu", train=ga.TrainConfig.demo_gpu()),
    ),
    "full": (
        "city towns on one GPU",
        TrainTeacher(run_dir="runs/teacher-full", train=ga.TrainConfig.full()),
    ),
}


def main(args: TrainTeacher) -> None:
    try:
        ga.train_teacher(args.train, args.run_dir, resume=args.resume)
    except KeyboardInterrupt:  # Ctrl-C: the run saved a checkpoint and said where
        raise SystemExit(130) from None
    metrics = Path(args.run_dir) / "metrics.jsonl"
    heldout = [
        r for r in map(json.loads, metrics.read_text().splitlines()) if "heldout_goal_rate" in r
    ]
    if heldout:
        last = heldout[-1]
        print(
            f"held-out after {last['update']} updates: routes completed "
            f"{last['heldout_goal_rate']:.1%}, collisions {last['heldout_collision_rate']:.1%}, "
            f"off-road {last['heldout_offroad_rate']:.1%} ({last['heldout_episodes']:.0f} episodes)"
        )
    print(f"run folder: {Path(args.run_dir).absolute()}")


def parse(argv: list[str]) -> TrainTeacher:
    """A preset with overrides, or `from-run FOLDER` with overrides."""
    if argv[:1] != ["from-run"]:
        return tyro.extras.overridable_config_cli(PRESETS, args=argv, description=__doc__)
    if len(argv) < 2 or argv[1].startswith("-"):
        raise SystemExit("usage: train_teacher.py from-run FOLDER [--run-dir DIR] [--train.* ...]")
    folder = argv[1]
    default = TrainTeacher(run_dir=folder, train=ga.TrainConfig.from_run(folder))
    return tyro.cli(TrainTeacher, default=default, args=argv[2:], description=__doc__)


if __name__ == "__main__":
    main(parse(sys.argv[1:]))
