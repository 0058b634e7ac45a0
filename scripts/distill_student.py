"""Distil the pixel student by self-play DAgger:
`python scripts/distill_student.py {toy,demo,full}`.

Every field is overridable, e.g.
    python scripts/distill_student.py toy --distill.dagger.mode bc --run-dir runs/distill-toy-bc
    python scripts/distill_student.py demo --teacher-run runs/teacher-demo
Everything goes under the run folder: config.json, checkpoints/, metrics.jsonl,
learning_curves.png. Running the same command again resumes from the newest checkpoint.
`--distill.max-minutes M` stops after the iteration that passes M minutes, and Ctrl-C or SIGTERM
after the iteration under way, each with a checkpoint saved (Ctrl-C exits with 130, SIGTERM
with 143): a long distillation goes in chunks, and the last one writes the held-out evaluation.
`--ablation` runs BC, single-agent DAgger and self-play DAgger (and the loss ablations) at equal
sample budget in sub-folders and plots them together (ablation.png, ablation.json).
Without `--teacher-run` the teacher is the scripted route follower of `gp_distill.testing`.

`from-run FOLDER` takes every field, and the teacher, from a run folder's config.json instead of
a preset, so an older run resumes in FOLDER, or is reproduced from scratch in another folder
given by `--run-dir`, whatever the presets have become since; flags still override, e.g.
    python scripts/distill_student.py from-run runs/distill-demo --distill.dagger.iterations 80
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import jax
import tyro

import gp_agents as ga
import gp_distill as gd


@dataclasses.dataclass(frozen=True)
class DistillStudent:
    run_dir: str = "runs/distill"
    """Run folder (created; resumed when it already holds checkpoints)."""
    teacher_run: str = ""
    """A gp-agents teacher run folder to distil from, `folder` (its newest checkpoint) or
    `folder@update` (empty: the scripted teacher)."""
    teacher_world: bool = True
    """With `teacher_run`: distil in the world (and with the teacher config) the teacher was
    trained with, read from its run folder, instead of `distill.world`, printing the fields in
    which they differ. `scripts/evaluate.py` compares a student and a teacher only in one world.
    `--no-teacher-world` keeps `distill.world` and its overrides. `from-run` keeps the run's own."""
    resume: bool = True
    ablation: bool = False
    """Run the ablation table instead of one run (sub-folders of `run_dir`)."""
    distill: gd.DistillConfig = dataclasses.field(default_factory=gd.DistillConfig.toy)


PRESETS = {
    "toy": (
        "toy ring road, one small camera: the student agrees with the teacher in about a minute",
        DistillStudent(run_dir="runs/distill-toy", distill=gd.DistillConfig.toy()),
    ),
    "demo": (
        "village towns, three 64x96 cameras, on a 2-core CPU (start from the shipped teacher)",
        DistillStudent(
            run_dir="runs/distill-demo",
            teacher_run="runs/teacher-demo",
            distill=gd.DistillConfig.demo(),
        ),
    ),
    "full": (
        "city towns on one GPU",
        DistillStudent(
            run_dir="runs/distill-full",
            teacher_run="runs/teacher-full",
            distill=gd.DistillConfig.full(),
        ),
    ),
}

ABLATIONS: dict[str, dict[str, Any]] = {
    "bc": {"mode": "bc"},
    "single_agent": {"mode": "single_agent"},
    "self_play": {},
    "self_play_kl_only": {"losses": gd.LossWeights(feature=0.0, value=0.0, trajectory=0.0)},
    "self_play_kl_features": {"losses": gd.LossWeights(value=0.0, trajectory=0.0)},
}


def _teacher(args: DistillStudent) -> tuple[Any, str, ga.TrainConfig | None]:
    """(policy, name, the config of the run that trained it); None and 'scripted' without one."""
    if not args.teacher_run:
        return None, "scripted", None
    folder, step = ga.split_run_step(args.teacher_run)
    policy, teacher_cfg = ga.load_teacher(folder, step=step)
    return policy, args.teacher_run, teacher_cfg


def _distill_config(args: DistillStudent, teacher_cfg: ga.TrainConfig | None) -> gd.DistillConfig:
    cfg = args.distill
    if teacher_cfg is None or not args.teacher_world:
        return cfg
    differences = cfg.world_differences(teacher_cfg)
    if differences:
        print(
            f"distilling in the world {args.teacher_run} was trained in, which differs from "
            f"the preset's in: {', '.join(differences)} (--no-teacher-world keeps the preset's)"
        )
    return cfg.in_teacher_world(teacher_cfg)


def main(args: DistillStudent) -> None:
    try:
        _distill(args)
    except KeyboardInterrupt:  # Ctrl-C: the run saved a checkpoint and said where
        raise SystemExit(130) from None


def _distill(args: DistillStudent) -> None:
    teacher, name, teacher_cfg = _teacher(args)
    cfg = _distill_config(args, teacher_cfg)
    print(f"teacher: {name}; devices: {jax.devices()}")
    if not args.ablation:
        gd.distill_student(cfg, args.run_dir, teacher, resume=args.resume, teacher_name=name)
        print(f"run folder: {Path(args.run_dir).absolute()}")
        return
    paths: dict[str, Path] = {}
    table: dict[str, dict[str, float]] = {}
    deadline = time.monotonic() + 60.0 * cfg.max_minutes  # the runs share --distill.max-minutes
    for label, change in ABLATIONS.items():
        if change.get("mode") == "single_agent":
            # One recorded agent per world instead of all: more iterations for an equal budget.
            change = {**change, "iterations": cfg.dagger.iterations * cfg.world.num_agents}
        run_cfg = dataclasses.replace(cfg, dagger=dataclasses.replace(cfg.dagger, **change))
        run_dir = Path(args.run_dir) / label
        if cfg.max_minutes > 0:  # what is left (a bookkeeping field: a resumed run may change it)
            minutes_left = max((deadline - time.monotonic()) / 60.0, 1e-3)
            run_cfg = dataclasses.replace(run_cfg, max_minutes=minutes_left)
        state = gd.distill_student(run_cfg, run_dir, teacher, resume=args.resume, teacher_name=name)
        if int(state.iteration) < run_cfg.dagger.iterations:  # out of --distill.max-minutes
            print(f"ablation stopped in {run_dir}: run the same command again to go on")
            return
        paths[label] = run_dir / "metrics.jsonl"
        last = [json.loads(x) for x in paths[label].read_text().splitlines()][-3:]
        table[label] = {
            key: sum(r[key] for r in last) / len(last)
            for key in ("samples", "rollout_agreement", "loss_action", "offroad_per_km")
        }
        evaluation = run_dir / "evaluation.json"
        if evaluation.is_file():  # held-out closed loop, student beside teacher
            result = json.loads(evaluation.read_text())
            for key in ("student_goal_rate", "student_collision_rate", "student_offroad_rate"):
                table[label][key] = result[key]
            table[label]["goal_rate_ratio"] = result["goal_rate_ratio"]
    gd.plot_distillation(paths, Path(args.run_dir) / "ablation.png")
    (Path(args.run_dir) / "ablation.json").write_text(json.dumps(table, indent=2) + "\n")
    print(
        "| run | samples | agreement | KL | off-road/km | held-out routes | collisions | "
        "off-road | routes / teacher's |\n|---|---|---|---|---|---|---|---|---|"
    )
    nan = float("nan")
    for label, row in table.items():
        print(
            f"| {label} | {row['samples']:.0f} | {row['rollout_agreement']:.3f} | "
            f"{row['loss_action']:.3f} | {row['offroad_per_km']:.1f} | "
            f"{row.get('student_goal_rate', nan):.1%} | "
            f"{row.get('student_collision_rate', nan):.1%} | "
            f"{row.get('student_offroad_rate', nan):.1%} | {row.get('goal_rate_ratio', nan):.2f} |"
        )


def parse(argv: list[str]) -> DistillStudent:
    """A preset with overrides, or `from-run FOLDER` with overrides."""
    if argv[:1] != ["from-run"]:
        return tyro.extras.overridable_config_cli(PRESETS, args=argv, description=__doc__)
    if len(argv) < 2 or argv[1].startswith("-"):
        raise SystemExit(
            "usage: distill_student.py from-run FOLDER [--run-dir DIR] [--distill.* ...]"
        )
    folder = argv[1]
    cfg, teacher = gd.run_config(folder)
    default = DistillStudent(
        run_dir=folder,
        teacher_run="" if teacher == "scripted" else teacher,
        teacher_world=False,
        distill=cfg,
    )
    return tyro.cli(DistillStudent, default=default, args=argv[2:], description=__doc__)


if __name__ == "__main__":
    main(parse(sys.argv[1:]))
