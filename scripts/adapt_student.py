"""Adapt a trained pixel student to a SYNTHETIC shifted camera domain and score it closed loop:
`python scripts/adapt_student.py` (defaults: the shipped student and teacher).

1. Paired samples: worlds on training towns driven by the student's teacher; at every `every`-th
   step, each live agent's views through the shifted domain ("real") and through the renderer.
2. The student's action agreement with its teacher on held-out towns (teacher-driven states):
   in-domain, through the shifted domain at each severity, and after adapting its perception on
   N pairs for each N (`gp_adapt.adapt`; the planner stays frozen).
3. Its CARLA driving score through gp-eval's closed-loop harness on held-out towns, every agent
   driven by the student from the images of the row's domain: in-domain, shifted at the
   strongest severity before adaptation, and after adaptation for each N.

The shifted images are SYNTHETIC (gp_adapt.DomainShift): nothing here is a claim about real
cameras. Outputs under `--out`: results.json, results.md, quality.png, adapt_<N>/ per N.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import tyro

import gp_adapt as gad
import gp_agents as ga
import gp_distill as gd
import gp_eval as ge
import gp_world as gw


@dataclasses.dataclass(frozen=True)
class AdaptStudent:
    student: str = "checkpoints/student-demo"
    """A distillation run or exported student, `folder` or `folder@iteration`."""
    teacher: str = "checkpoints/teacher-demo@3790"
    """The student's teacher (`folder@update`): drives while pairs are collected, and its
    greedy actions are the agreement labels."""
    out: str = "runs/adapt-student"
    shift: gad.DomainShift = dataclasses.field(default_factory=lambda: gad.DomainShift(4))
    """The SYNTHETIC domain: its severity is the strongest one adapted to."""
    severities: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Severities whose agreement is measured before adaptation."""
    sample_counts: tuple[int, ...] = (4096, 10000)
    """N paired samples (agent views) per adaptation run."""
    adapt: gad.AdaptConfig = dataclasses.field(
        default_factory=lambda: gad.AdaptConfig(
            steps=2400,
            batch_size=32,
            action_kl=1.0,
            lr_schedule="cosine",
            log_every=200,
            checkpoint_every=2400,
        )
    )
    pool_worlds: int = 8
    pool_steps: int = 400
    every: int = 10
    """Steps between recorded states (pool and agreement sets)."""
    agreement_worlds: int = 2
    agreement_steps: int = 200
    closed_loop: ge.ClosedLoopConfig = dataclasses.field(default_factory=ge.ClosedLoopConfig)
    closed_loop_before: tuple[int, ...] = (2,)
    """Severities besides the strongest whose closed-loop score is measured before adaptation."""
    seed: int = 0


def main(args: AdaptStudent) -> None:
    started = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    folder, step = ga.split_run_step(args.student)
    student, distill_cfg = gd.load_student(folder, step)
    teacher_folder, teacher_step = ga.split_run_step(args.teacher)
    teacher, _ = ga.load_teacher(teacher_folder, step=teacher_step)
    k_pool, k_agree = jax.random.split(jax.random.key(args.seed))

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:5.0f} s] {message}", flush=True)

    # Pairs on training towns (adaptation data) and held-out towns (agreement).
    heldout_world = ge.evaluation_world(distill_cfg.world)
    world_cfg = heldout_world.config  # respawns kept clear, as in evaluation
    train_world = gw.World(world_cfg, gw.build_map_bank(world_cfg, "train"))
    train_pixels = ga.make_pixel_pipeline(distill_cfg.pixels, train_world.maps)
    heldout_pixels = ga.make_pixel_pipeline(distill_cfg.pixels, heldout_world.maps)
    strongest = args.shift.severity

    def strength(severity: int) -> jax.Array:
        return jnp.asarray(severity / gad.MAX_SEVERITY, jnp.float32)

    def pairs(world, pixels, severity: int, key, worlds: int, steps: int) -> gad.DrivingPairs:
        shifted = gad.shifted_pixels(pixels, args.shift, strength(severity))
        return gad.collect_driving_pairs(
            world, teacher, pixels, shifted, key, worlds, steps, args.every
        )

    pool = pairs(train_world, train_pixels, strongest, k_pool, args.pool_worlds, args.pool_steps)
    log(f"{len(pool)} paired samples on training towns (SYNTHETIC shift, severity {strongest})")
    if max(args.sample_counts) > len(pool):
        raise SystemExit(f"sample_counts {args.sample_counts} exceed the {len(pool)} pairs")
    agreement_sets = {
        severity: pairs(
            heldout_world,
            heldout_pixels,
            severity,
            k_agree,
            args.agreement_worlds,
            args.agreement_steps,
        )
        for severity in sorted(set(args.severities) | {strongest})
    }
    held = agreement_sets[strongest]  # held-out states; adapted students are scored here
    in_domain_agreement = gad.driving_agreement(student, held.rendered, held.action)
    log(f"in-domain agreement {in_domain_agreement:.3f} on {len(held)} held-out states")

    def closed_loop(model, severity: int | None) -> dict[str, float]:
        pixels: ga.PixelPipeline | gad.ShiftedPixels = heldout_pixels
        if severity is not None:
            pixels = gad.shifted_pixels(heldout_pixels, args.shift, strength(severity))
        result = ge.evaluate_closed_loop(
            heldout_world, gd.PixelDriver(model, pixels), args.closed_loop
        )
        return result.metrics

    rows = []

    def add(condition: str, severity, pairs: int, agreement: float, metrics=None, gap=None):
        row = {"condition": condition, "severity": severity, "pairs": pairs}
        row["agreement"] = agreement
        if gap is not None:
            row["feature_gap"] = gap
        if metrics is not None:
            for key in ("carla_driving_score", "route_completion", "collisions_per_km"):
                row[key] = metrics[key]
        rows.append(row)
        ds = row.get("carla_driving_score")
        log(
            f"{condition} (severity {severity}, {pairs} pairs): agreement {agreement:.3f}"
            + ("" if ds is None else f", CARLA DS {ds:.1f}")
        )

    teacher_metrics = ge.evaluate_closed_loop(
        heldout_world, ge.policy_from_module(teacher), args.closed_loop
    ).metrics
    add("teacher (privileged)", None, 0, 1.0, teacher_metrics)
    add("in-domain (rendered)", None, 0, in_domain_agreement, closed_loop(student, None))
    for severity in sorted(args.severities):
        shifted = agreement_sets[severity]
        gap = gad.evaluate_pairs(student, student, shifted.real, shifted.rendered)["feature_gap"]
        scored = severity == strongest or severity in args.closed_loop_before
        add(
            "shifted, before adaptation",
            severity,
            0,
            gad.driving_agreement(student, shifted.real, shifted.action),
            closed_loop(student, severity) if scored else None,
            gap,
        )
    for count in args.sample_counts:
        chosen = pool.take(count)
        result = gad.adapt(
            student,
            chosen.real,
            chosen.rendered,
            args.adapt,
            eval_pairs=(held.real, held.rendered),
            out_dir=out / f"adapt_{count}",
        )
        add(
            "shifted, after adaptation",
            strongest,
            count,
            gad.driving_agreement(result.student, held.real, held.action),
            closed_loop(result.student, strongest),
            result.history[-1]["feature_gap"],
        )

    in_domain = rows[1]
    for row in rows[1:]:
        row["agreement_recovery"] = row["agreement"] / max(in_domain["agreement"], 1e-9)
        if "carla_driving_score" in row:
            row["score_recovery"] = row["carla_driving_score"] / max(
                in_domain["carla_driving_score"], 1e-9
            )
    summary = {
        "rows": rows,
        "domain": "SYNTHETIC shifted domain (gp_adapt.DomainShift), not real images",
        "config": json.loads(json.dumps(dataclasses.asdict(args), default=str)),
        "seconds": time.perf_counter() - started,
    }
    (out / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    table = results_table(rows)
    (out / "results.md").write_text(table)
    plot(rows, out / "quality.png")
    print(table)
    print(f"written: {out.absolute()} ({summary['seconds']:.0f} s)")


def results_table(rows: list[dict]) -> str:
    def cell(row: dict, key: str, fmt: str) -> str:
        return fmt.format(row[key]) if key in row else "-"

    lines = [
        "| condition | severity | pairs | agreement with teacher | recovery | CARLA DS | "
        "recovery | route completion | collisions/km | feature gap |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        severity = "-" if r["severity"] is None else str(r["severity"])
        lines.append(
            f"| {r['condition']} | {severity} | {r['pairs']} | {r['agreement']:.3f} | "
            f"{cell(r, 'agreement_recovery', '{:.1%}')} | "
            f"{cell(r, 'carla_driving_score', '{:.1f}')} | {cell(r, 'score_recovery', '{:.1%}')} | "
            f"{cell(r, 'route_completion', '{:.3f}')} | {cell(r, 'collisions_per_km', '{:.2f}')} | "
            f"{cell(r, 'feature_gap', '{:.3f}')} |"
        )
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    in_domain = rows[1]
    before = [r for r in rows if r["condition"].endswith("before adaptation")]
    after = [r for r in rows if r["condition"].endswith("after adaptation")]
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.2))
    ax0.plot([r["severity"] for r in before], [r["agreement"] for r in before], "o-")
    ax0.axhline(in_domain["agreement"], color="k", ls="--", label="in-domain")
    ax0.set(xlabel="shift severity (SYNTHETIC)", ylabel="agreement with teacher", ylim=(0, 1))
    ax0.legend(fontsize=8)
    if after:
        n = [r["pairs"] for r in after]
        ax1.plot(n, [r["score_recovery"] for r in after], "o-", label="CARLA DS")
        ax1.plot(n, [r["agreement_recovery"] for r in after], "s--", label="agreement")
        ax1.set_xscale("log")
        ax1.minorticks_off()
        ax1.set_xticks(n, [str(x) for x in n])
    ax1.axhline(1.0, color="k", ls="--")
    ax1.axhline(0.95, color="g", ls=":", label="95% of in-domain")
    ax1.set(xlabel="paired samples", ylabel="share of in-domain, after adaptation")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main(tyro.cli(AdaptStudent))
