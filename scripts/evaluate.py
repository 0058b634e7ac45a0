"""Evaluate checkpoints and baselines in one table: `python scripts/evaluate.py --suite all`.

    python scripts/evaluate.py --suite closed-loop --world village
    python scripts/evaluate.py --checkpoints runs/teacher-demo --suite all
    python scripts/evaluate.py --checkpoints checkpoints/teacher-demo \
        --students checkpoints/student-demo --suite closed-loop
    python scripts/evaluate.py --suite navsim --navsim-scenes 64
    python scripts/evaluate.py --checkpoints checkpoints/teacher-gpu-lights --expected-action

Rows: the rule-based baseline (always), each teacher checkpoint folder, each pixel student
(distillation run folder: it drives from its cameras, rendered every step), and, in the navsim
suite, a constant-velocity planner. Worlds are the held-out maps of the world config (the
checkpoints' own config when given), respawns kept 8 m clear. Writes report.json, report.md,
metrics.png, <row>_agents.json (every episode and route) and, with --video, one MP4 per row
under --out. With --expected-action the teachers and students drive by the mean of their
grid's cells in the world's continuous twin; the baseline still chooses grid cells there, which
the twin moves as the grid world does, so its row is the grid world's.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Literal

import tyro

import gp_agents as ga
import gp_distill as gd
import gp_eval as ge
import gp_world as gw


@dataclasses.dataclass(frozen=True)
class Evaluate:
    suite: Literal["closed-loop", "navsim", "hugsim", "carla", "robustness", "all"] = "all"
    """Which suite(s) to run."""
    checkpoints: tuple[str, ...] = ()
    """Teacher run folders (gp-agents train_teacher output) to evaluate beside the baseline;
    `folder@1500` picks the checkpoint of update 1500 instead of the newest."""
    students: tuple[str, ...] = ()
    """Distillation run folders (gp-distill distill_student output): pixel students, same world."""
    world: Literal["toy", "village", "city"] = "village"
    """World preset when no checkpoint fixes it."""
    num_agents: int = 16
    """Agent slots per world (ignored with checkpoints: their config is used)."""
    num_maps: int = 2
    """Held-out maps in the bank (ignored with checkpoints)."""
    action_space: Literal["jerk", "accel_steer_grid", "continuous"] = "continuous"
    """Action space when no checkpoint fixes it."""
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    """One world per seed."""
    num_steps: int = 400
    """Closed-loop horizon in steps (0.1 s)."""
    policy_fraction: float = 1.0
    """Share of slots the evaluated policy drives; the baseline drives the rest."""
    navsim_scenes: int = 32
    """Open-loop scenes cut from a baseline self-play log."""
    expected_action: bool = False
    """Drive every teacher and student by its expected (accel, steer) instead of its most
    likely grid cell (gp-agents' `ExpectedAction`); the worlds are then the continuous twins of
    the grid worlds, where the baseline still chooses grid cells (its row unchanged)."""
    out: str = "runs/eval"
    """Output folder."""
    video: bool = False
    """Write a video of the first seed per row (BEV + camera of slot 0)."""
    video_steps: int = 200


def _load_teacher(spec: str):
    path, step = ga.split_run_step(spec)
    return ga.load_teacher(path, step=step)


def main(args: Evaluate) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    teachers = [(path, *_load_teacher(path)) for path in args.checkpoints]
    students = [(path, *gd.load_student(path)) for path in args.students]
    runs = teachers + students
    if runs:
        world_cfg = runs[0][2].world  # the first run's world, episode limit included
        for path, _, cfg in runs[1:]:
            if not cfg.world.drives_like(world_cfg):
                fields = ", ".join(cfg.world.differences(world_cfg))
                raise SystemExit(
                    f"{path} was trained on another world than {runs[0][0]} ({fields} differ)"
                )
    else:
        world_cfg = dataclasses.replace(
            getattr(gw.WorldConfig, args.world)(),
            num_agents=args.num_agents,
            num_maps=args.num_maps,
            action_space=args.action_space,
        )
    world = ge.evaluation_world(world_cfg)
    baseline_plans_in = None
    if args.expected_action:
        if not runs:
            raise SystemExit("--expected-action drives teachers and students: name some")
        try:
            world = ga.continuous_twin(world)
            baseline_plans_in = world_cfg.action_space  # the grid: the baseline as without the flag
            teachers = [(path, ga.ExpectedAction(policy), cfg) for path, policy, cfg in teachers]
            students = [(path, ga.ExpectedAction(policy), cfg) for path, policy, cfg in students]
        except ValueError as error:
            raise SystemExit(f"--expected-action: {error}") from None
    driven = " (expected action)" if args.expected_action else ""
    cfg = ge.EvaluationConfig(
        suite=args.suite,
        seeds=args.seeds,
        num_steps=args.num_steps,
        policy_fraction=args.policy_fraction,
        navsim_scenes=args.navsim_scenes,
        baseline_plans_in=baseline_plans_in,
    )
    entries = {"baseline (rule-based)": ge.baseline_entry(world, cfg.baseline_plans_in)}
    for path, policy, _ in teachers:
        name = f"teacher {Path(path).name}".replace("@", " @") + driven
        entries[name] = ge.Entry(policy=ge.policy_from_module(policy))
    for path, student, distill_cfg in students:
        pixels = ga.make_pixel_pipeline(distill_cfg.pixels, world.maps)
        driver = gd.PixelDriver(student, pixels)
        entries[f"student {Path(path).name}{driven}"] = ge.Entry(policy=driver)
    if args.suite in ("navsim", "all"):
        entries["constant velocity"] = ge.Entry(planner=ge.constant_velocity_planner)

    def per_agent(name: str, result: ge.ClosedLoopResult) -> None:
        # Per-agent detail beside the table: every episode and every scored route.
        slug = "".join(c if c.isalnum() else "_" for c in name).strip("_")
        detail = {
            "episodes": [dataclasses.asdict(e) for e in result.episodes],
            "routes": result.routes,
        }
        (out / f"{slug}_agents.json").write_text(json.dumps(detail, indent=1, default=float))
        if args.video:
            frames = ge.render_rollout(result.record, world.maps, 0, steps=range(args.video_steps))
            ge.write_video(out / f"{slug}.mp4", frames)

    rows = ge.run_evaluation(world, entries, cfg, on_closed_loop=per_agent)
    suites = list(cfg.suites)
    if "closed-loop" in suites:
        suites.insert(suites.index("closed-loop") + 1, "nuplan")
    config = {
        "evaluation": dataclasses.asdict(cfg),
        "world": json.loads(json.dumps(dataclasses.asdict(world.config))),
        "checkpoints": list(args.checkpoints),
        "students": list(args.students),
        "expected_action": args.expected_action,
    }
    report = ge.write_report(out, rows, suites, config, title=f"Evaluation ({args.suite})")
    keys = [k for s in suites for k, _, _ in ge.SUITE_COLUMNS[s]]
    ge.plot_metrics(out / "metrics.png", rows, [k for k in keys if k.endswith(("score", "pdms"))])
    print(report["table"])
    print(f"\nwritten: {report['json']}, {report['markdown']}")


if __name__ == "__main__":
    main(tyro.cli(Evaluate))
