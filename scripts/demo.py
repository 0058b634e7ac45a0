"""The main job end to end on the embedded default (procedural towns, no downloads).

    python scripts/demo.py                      # what `nox -s demo` runs
    python scripts/demo.py --teacher-minutes 30 --student-iterations 60   # a longer run

Stages, each printing what it did and where its outputs went (all under `--out`):
1. towns: draw a procedural village town (lanes, lights, agents) to PNG;
2. teacher: use the teacher run given by `--teacher-run` (the shipped one by default), or
   train one by PPO self-play for `--teacher-minutes` when none is there;
3. student: distil a pixel student from the teacher by self-play DAgger (three cameras) for a
   few iterations (the shipped student, `--student-run`, was distilled for 340);
4. evaluate: rule-based baseline, teacher and pixel students on held-out towns, closed-loop
   suites (routes, incidents, CARLA driving score, HUGSIM HD-Score, nuPlan CLS), and the
   teacher again driven by its expected action (the mean of its grid cells);
5. video: the teacher driving (its camera beside the BEV, events marked) and the shipped
   student driving from its three cameras (the images it saw beside the BEV).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

import jax
import tyro

sys.path.insert(0, str(Path(__file__).parent))
import draw_map
import student_video

import gp_agents as ga
import gp_distill as gd
import gp_eval as ge


@dataclasses.dataclass(frozen=True)
class Demo:
    out: Path = Path("runs/demo")
    """Folder for everything the demo writes."""
    teacher_run: Path = Path("checkpoints/teacher-gpu")
    """A teacher run folder (config.json + checkpoints/); trained under `out` if missing."""
    teacher_minutes: float = 4.0
    """Wall-clock budget for training a teacher when `teacher_run` holds none (the `demo`
    preset, its learning rate falling to 0 over the updates that fit in it)."""
    student_iterations: int = 4
    """Self-play DAgger iterations of the demo's own student (the `demo` preset runs 60)."""
    student_run: Path = Path("checkpoints/student-gpu-teacher")
    """A distilled student (distillation run folder) evaluated beside the teacher, if present."""
    eval_seeds: tuple[int, ...] = (0, 1)
    """Held-out worlds for the closed-loop evaluation, one per seed."""
    eval_steps: int = 300
    """Closed-loop horizon in steps of 0.1 s."""
    video_steps: int = 150
    seed: int = 0


def _stage(name: str) -> float:
    print(f"\n[demo] === {name} ===", flush=True)
    return time.perf_counter()


def _done(start: float, what: str) -> None:
    print(f"[demo] {what} ({time.perf_counter() - start:.0f} s)", flush=True)


def towns(args: Demo) -> None:
    start = _stage("1/5 towns")
    png = args.out / "town.png"
    draw_map.main(draw_map.Args(preset="village", seed=7, out=png, dpi=80))
    _done(start, f"procedural village drawn with its lanes, lights and agents: {png}")


def teacher(args: Demo) -> Path:
    start = _stage("2/5 teacher")
    if (args.teacher_run / "checkpoints").is_dir():
        _done(start, f"using the teacher in {args.teacher_run}")
        return args.teacher_run
    run = args.out / "teacher"
    cfg = dataclasses.replace(ga.TrainConfig.demo(), max_minutes=args.teacher_minutes)
    print(f"[demo] no teacher in {args.teacher_run}: training one for {args.teacher_minutes} min")
    ga.train_teacher(cfg, run)
    _done(start, f"teacher trained by PPO self-play: {run} (metrics.jsonl, learning_curve.png)")
    return run


def student(args: Demo, teacher_run: Path) -> dict[str, float]:
    start = _stage("3/5 student")
    policy, train_cfg = ga.load_teacher(teacher_run)
    base = gd.DistillConfig.demo()
    # The student learns in the teacher's own world (whatever the teacher preset has become
    # since it was trained): the same rewards and reward-weight ranges the teacher's labels and
    # values were learnt under, and a world the evaluation below accepts for both.
    cfg = dataclasses.replace(
        base.in_teacher_world(train_cfg),
        dagger=dataclasses.replace(base.dagger, iterations=args.student_iterations),
    )
    run = args.out / "student"
    shutil.rmtree(run, ignore_errors=True)  # a fresh short run each time (not a resume)
    gd.distill_student(cfg, run, teacher=policy, teacher_name=str(teacher_run))
    evaluation = run / "evaluation.json"
    result = json.loads(evaluation.read_text()) if evaluation.exists() else {}
    _done(start, f"student distilled by self-play DAgger: {run} (learning_curves.png)")
    return result


def evaluate(args: Demo, teacher_run: Path) -> tuple[object, ge.ClosedLoopResult | None]:
    start = _stage("4/5 evaluate")
    policy, train_cfg = ga.load_teacher(teacher_run)
    world = ge.evaluation_world(train_cfg.world)
    entries = {
        "baseline (rule-based)": ge.baseline_entry(world),
        "teacher": ge.Entry(policy=ge.policy_from_module(policy)),
    }
    students = {"demo student": args.out / "student"}
    if (args.student_run / "checkpoints").is_dir():
        students["shipped student"] = args.student_run
    for name, run in students.items():
        student, distill_cfg = gd.load_student(run)
        if not distill_cfg.world.drives_like(train_cfg.world):
            fields = ", ".join(distill_cfg.world.differences(train_cfg.world))
            print(f"[demo] {run} was distilled on another world ({fields} differ): skipped")
            continue
        pixels = ga.make_pixel_pipeline(distill_cfg.pixels, world.maps)
        entries[name] = ge.Entry(policy=gd.PixelDriver(student, pixels))
    cfg = ge.EvaluationConfig(suite="closed-loop", seeds=args.eval_seeds, num_steps=args.eval_steps)
    kept: dict[str, ge.ClosedLoopResult] = {}
    rows = ge.run_evaluation(
        world, entries, cfg, on_closed_loop=lambda name, result: kept.setdefault(name, result)
    )
    # The teacher once more, driven by the mean of its grid cells' (accel, steer) in the
    # world's continuous twin (gp-agents' "Driving by the expected action").
    try:
        expected, twin = ga.drive_by_expected_action(policy, world)
    except ValueError as error:
        print(f"[demo] the teacher is not driven by its expected action: {error}")
    else:
        name = "teacher (expected action)"
        entry = {name: ge.Entry(policy=ge.policy_from_module(expected))}
        # Any baseline traffic in the twin still chooses grid cells, as in the grid world.
        twin_cfg = dataclasses.replace(cfg, baseline_plans_in=world.config.action_space)
        rows |= ge.run_evaluation(twin, entry, twin_cfg)
        order = list(entries)
        order.insert(order.index("teacher") + 1, name)
        rows = {row: rows[row] for row in order}
    suites = ["closed-loop", "nuplan", "carla", "hugsim", "robustness"]
    config = {
        "evaluation": dataclasses.asdict(cfg),
        "teacher_run": str(teacher_run),
        "students": {name: str(run) for name, run in students.items()},
    }
    report = ge.write_report(args.out / "evaluation", rows, suites, config, title="Demo evaluation")
    print(report["table"])
    for name in students:
        if name in rows and rows["teacher"].get("carla_driving_score"):
            ratio = rows[name]["carla_driving_score"] / rows["teacher"]["carla_driving_score"]
            print(f"[demo] {name}: CARLA driving score {ratio:.0%} of the teacher's")
    _done(start, f"report: {report['markdown']}")
    return world, kept.get("teacher")


def video(args: Demo, world, result: ge.ClosedLoopResult | None) -> None:
    start = _stage("5/5 video")
    if result is None:
        _done(start, "no teacher rollout recorded; no video")
        return
    frames = ge.render_rollout(result.record, world.maps, 0, steps=range(args.video_steps))
    path = args.out / "teacher.mp4"
    ge.write_video(path, frames)
    print(f"[demo] teacher rollout, camera beside BEV, events marked: {path}")
    if (args.student_run / "checkpoints").is_dir():
        out = args.out / "student.mp4"
        student_video.main(
            student_video.Args(student=args.student_run, out=out, steps=args.video_steps)
        )
    _done(start, "videos written")


def main(args: Demo) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"[demo] JAX {jax.__version__} on {jax.devices()[0].device_kind}; outputs in {args.out}")
    towns(args)
    teacher_run = teacher(args)
    student_eval = student(args, teacher_run)
    world, result = evaluate(args, teacher_run)
    video(args, world, result)
    if student_eval:
        print("\n[demo] student vs teacher on held-out towns (closed loop):")
        for key in ("student_goal_rate", "teacher_goal_rate", "goal_rate_ratio"):
            if key in student_eval:
                print(f"[demo]   {key}: {student_eval[key]:.3f}")
    print(f"\n[demo] done: everything is under {args.out}")


if __name__ == "__main__":
    main(tyro.cli(Demo))
