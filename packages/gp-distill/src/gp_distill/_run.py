"""A distillation run on disk: config JSON, orbax checkpoints, metrics.jsonl, learning curves.

Everything lives in one run folder; calling `distill_student` again on the same folder resumes
from the newest checkpoint (and refuses one written with a different config).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import numpy as np
from tqdm.auto import tqdm

import gp_agents as ga
import gp_world as gw
from gp_distill._dagger import Dagger, DaggerState, make_dagger
from gp_distill._evaluation import evaluate_student
from gp_distill.config import DistillConfig

CURVE_KEYS = (
    "rollout_agreement",
    "loss_action",
    "loss_feature",
    "loss_trajectory",
    "offroad_per_km",
    "collisions_per_km",
)
RUN_LENGTH_KEYS = (
    "dagger.iterations",
    "checkpoint_every",
    "keep_checkpoints",
    "max_minutes",
    "progress",
    "init_from",
)
"""Config entries a resumed run may change (its length and bookkeeping, not the maths)."""


def _maths_config(cfg: DistillConfig) -> dict[str, Any]:
    """The config without run-length keys: what a checkpoint must agree with to be resumed."""
    config = cfg.to_json()
    for dotted in RUN_LENGTH_KEYS:
        node = config
        *parents, leaf = dotted.split(".")
        for name in parents:
            node = node[name]
        node.pop(leaf, None)
    return config


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_distillation(metrics_paths: dict[str, str | Path], png_path: str | Path) -> None:
    """Learning curves against labelled samples, one line per run (for ablations)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(CURVE_KEYS), figsize=(3.6 * len(CURVE_KEYS), 3.2))
    for label, path in metrics_paths.items():
        records = [r for r in _read_metrics(Path(path)) if "samples" in r]
        if not records:
            continue
        x = np.array([r["samples"] for r in records], float)
        for ax, name in zip(axes, CURVE_KEYS, strict=True):
            ax.plot(x, [r[name] for r in records], "o-", ms=3, label=label)
    for ax, name in zip(axes, CURVE_KEYS, strict=True):
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("labelled samples")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)


def build_distillation(
    cfg: DistillConfig, teacher: Any = None, world: Any = None
) -> tuple[Dagger, Any, Any, Any]:
    """(dagger, world, teacher, pixels) for `cfg`; the teacher defaults to the scripted one."""
    if world is None:
        world = gw.World(cfg.world, gw.build_map_bank(cfg.world, split="train"))
    if teacher is None:
        from gp_distill.testing import scripted_teacher

        teacher = scripted_teacher(world, cfg.teacher.latent_size, jax.random.key(cfg.seed + 7))
    pixels = ga.make_pixel_pipeline(cfg.pixels, world.maps)
    return make_dagger(cfg, world, teacher, pixels), world, teacher, pixels


def distill_student(
    cfg: DistillConfig,
    run_dir: str | Path,
    teacher: Any = None,
    resume: bool = True,
    dagger: Dagger | None = None,
    teacher_name: str = "scripted",
    clock: Callable[[], float] = time.perf_counter,
) -> DaggerState:
    """Distil (or resume) a student under `run_dir`; returns the final DaggerState.

    Writes `config.json`, `checkpoints/<iteration>/`, `metrics.jsonl` (one line per iteration),
    `learning_curves.png` and, when `cfg.eval_steps > 0`, `evaluation.json` (student beside
    teacher in closed loop on held-out maps). `teacher`: a trained TeacherPolicy (see
    `gp_agents.load_teacher`); None uses the scripted route follower of `gp_distill.testing`.
    `dagger` (from `build_distillation`) skips recompiling when a process runs several chunks.

    Stops early, with a checkpoint of the last iteration, after `cfg.max_minutes` of wall time
    (`clock`, seconds) or on Ctrl-C / SIGTERM (`gp_agents.StopRequest`: the iteration under way
    finishes first; then KeyboardInterrupt or SystemExit(143) is raised). Either way the
    held-out evaluation waits for the run's last iteration, and calling again resumes.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    maths = _maths_config(cfg)
    config_path = run_dir / "config.json"
    if config_path.exists() and resume:
        saved = json.loads(config_path.read_text())
        diffs = ga.config_differences(_strip(saved), maths)
        if diffs:
            raise ga.CheckpointError(
                f"{run_dir} holds a run with another config (use a new folder):\n  "
                + "\n  ".join(diffs)
            )
    config_path.write_text(json.dumps({**cfg.to_json(), "teacher_name": teacher_name}, indent=2))
    if dagger is None:
        dagger = build_distillation(cfg, teacher)[0]
    checkpoints = ga.Checkpointer(
        run_dir / "checkpoints", maths, keep=cfg.keep_checkpoints, complete=_strip
    )
    metrics_path = run_dir / "metrics.jsonl"
    state = dagger.init(jax.random.key(cfg.seed))
    if resume and checkpoints.latest_step() is not None:
        state, _ = checkpoints.restore(state)
    else:
        if metrics_path.exists():
            metrics_path.unlink()
        if cfg.init_from:
            student = ga.restore_from_run(cfg.init_from, state.student, "student", "student")
            state = eqx.tree_at(lambda s: s.student, state, student)
    start = int(state.iteration)
    kept = [r for r in _read_metrics(metrics_path) if int(r.get("iteration", 0)) <= start]
    metrics_path.write_text("".join(json.dumps(r) + "\n" for r in kept))
    total = cfg.dagger.iterations
    bar = tqdm(total=total, initial=start, disable=not cfg.progress, unit="it", dynamic_ncols=True)
    wall_start = clock()
    with ga.StopRequest() as stop, metrics_path.open("a") as log:
        while int(state.iteration) < total:
            tick = clock()
            state, metrics = dagger.iteration(state)
            metrics = jax.device_get(metrics)
            now = clock()
            seconds = now - tick
            record = {name: float(np.asarray(v)) for name, v in metrics.items()}
            record["iteration"] = int(record["iteration"])
            record["samples"] = int(record["samples"])
            record["agent_steps"] = record["iteration"] * dagger.agent_steps_per_iteration
            record["agent_steps_per_s"] = dagger.agent_steps_per_iteration / seconds
            log.write(json.dumps(record) + "\n")
            log.flush()
            bar.update(1)
            bar.set_postfix(
                agree=f"{record['rollout_agreement']:.2f}",
                kl=f"{record['loss_action']:.3f}",
                beta=f"{record['beta']:.2f}",
                sps=f"{record['agent_steps_per_s']:.3g}",
            )
            iteration = record["iteration"]
            out_of_time = cfg.max_minutes > 0 and now - wall_start > 60.0 * cfg.max_minutes
            stopping = stop.asked()  # Ctrl-C or SIGTERM during the iteration: save, stop
            due = iteration % cfg.checkpoint_every == 0 or iteration == total
            if due or out_of_time or stopping:
                checkpoints.save(iteration, state, {"samples": record["samples"]})
            if out_of_time or stopping:
                break
    bar.close()
    checkpoints.close()
    plot_distillation({run_dir.name: metrics_path}, run_dir / "learning_curves.png")
    if stop.stopping or int(state.iteration) < total:
        reason = stop.name if stop.stopping else f"{cfg.max_minutes:g} minutes"
        tqdm.write(
            f"{reason}: stopped at iteration {int(state.iteration)} of {total} with a "
            f"checkpoint saved; distil again on {run_dir} to resume"
        )
        stop.stop()
        return state
    if cfg.eval_steps > 0 and cfg.eval_worlds > 0:
        heldout = gw.World(cfg.world, gw.build_map_bank(cfg.world, split="heldout"))
        pixels = ga.make_pixel_pipeline(cfg.pixels, heldout.maps)
        result = evaluate_student(
            state.student,
            teacher if teacher is not None else dagger.teacher,
            heldout,
            pixels,
            jax.random.key(cfg.seed + 1),
            cfg.eval_worlds,
            cfg.eval_steps,
        )
        (run_dir / "evaluation.json").write_text(json.dumps(result, indent=2) + "\n")
    return state


def _config_from_saved(saved: dict[str, Any]) -> DistillConfig:
    """The DistillConfig of a run's config.json (which also names the teacher)."""
    return ga.config_from_json(
        DistillConfig, {k: v for k, v in saved.items() if k != "teacher_name"}
    )


def _strip(saved: dict[str, Any]) -> dict[str, Any]:
    """A saved config.json, or a checkpoint's maths config, reduced to the keys that must match
    on resume, in today's form (fields added since the save take their defaults)."""
    return _maths_config(_config_from_saved(saved))


def run_config(run_dir: str | Path) -> tuple[DistillConfig, str]:
    """(config, teacher name) a distillation run folder was saved with (its config.json, fields
    added since taking their defaults): what reproduces or resumes that run, whatever the presets
    have become since. The name is the teacher run (`folder` or `folder@update`) or "scripted"."""
    saved = ga.read_run_json(run_dir, "distillation run")
    return _config_from_saved(saved), str(saved.get("teacher_name", "scripted"))


def load_student(run_dir: str | Path, step: int | None = None) -> tuple[Any, DistillConfig]:
    """(student, config) of a distillation run folder: the newest checkpoint's student (or
    `step`'s), restored alone (no world state, no buffer); raises CheckpointError clearly."""
    run_dir = Path(run_dir)
    cfg = run_config(run_dir)[0]
    # The student's shapes come from the configs alone: no maps are built or painted.
    example = ga.student_observation_spec(cfg.pixels, cfg.world.num_route_points)
    space = gw.action_space(cfg.world.action_space)
    template = ga.StudentPolicy(cfg.student, example, space, key=jax.random.key(0))
    reader = ga.Checkpointer(run_dir / "checkpoints", _maths_config(cfg))
    return reader.restore_policy(template, step, field="student"), cfg


class _StudentOnly(eqx.Module):
    """A checkpoint holding the student alone (its paths match a DaggerState's `.student`)."""

    student: Any


def export_student(run_dir: str | Path, out_dir: str | Path, step: int | None = None) -> Path:
    """Copy a run's student alone (no world state, optimiser or buffer) into `out_dir` with the
    run's config.json, metrics.jsonl and curves: a folder `load_student` reads, small enough to
    ship (a few MB instead of the run's checkpoints)."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    student, cfg = load_student(run_dir, step)
    reader = ga.Checkpointer(run_dir / "checkpoints", _maths_config(cfg))
    step = reader.latest_step() if step is None else step
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "metrics.jsonl", "learning_curves.png", "evaluation.json"):
        if (run_dir / name).is_file():
            shutil.copyfile(run_dir / name, out_dir / name)
    writer = ga.Checkpointer(out_dir / "checkpoints", _maths_config(cfg), keep=1)
    writer.save(int(step), _StudentOnly(student))
    writer.close()
    return out_dir
