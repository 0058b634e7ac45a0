"""The quality experiment on the SYNTHETIC shifted domain, with a toy teacher.

1. Random annotated scenes; a privileged rule teacher labels each from its annotations.
2. A pixel student (toy or gp-agents' `StudentPolicy`) is behaviour-cloned on the rendered views.
3. Its action agreement with the teacher is measured in-domain (rendered views), on the shifted
   domain at every severity, and at the strongest severity after adapting its perception on N
   paired (shifted, rendered) samples for several N. Held-out scenes only.
"""

from __future__ import annotations

import dataclasses
import json
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gp_adapt._shift import shifted_view
from gp_adapt._toy import (
    TOY_ACTIONS,
    ToyStudent,
    student_observations,
    toy_observations,
    toy_scenes,
    toy_teacher_actions,
)
from gp_adapt._training import adapt, evaluate_pairs
from gp_adapt.config import MAX_SEVERITY, ExperimentConfig


def _take(tree: Any, start: int, stop: int) -> Any:
    return jax.tree.map(lambda x: x[start:stop], tree)


def make_student(config: ExperimentConfig, observation: Any, key: jax.Array) -> Any:
    if config.student == "toy":
        return ToyStudent(config.height, config.width, actions=len(TOY_ACTIONS), key=key)
    import gp_agents

    space = types.SimpleNamespace(kind="discrete", num_actions=len(TOY_ACTIONS))
    return gp_agents.StudentPolicy(gp_agents.StudentConfig.toy(), observation, space, key=key)


def behaviour_clone(
    student: Any, observations: Any, actions: jax.Array, config: ExperimentConfig
) -> tuple[Any, list[float]]:
    """Cross-entropy on the teacher's actions (the stand-in for self-play DAgger here)."""
    optimizer = optax.adam(config.bc_learning_rate)
    params, static = eqx.partition(student, eqx.is_inexact_array)
    opt_state = optimizer.init(params)

    @eqx.filter_jit
    def step(params: Any, opt_state: Any, obs: Any, act: jax.Array) -> tuple[Any, Any, jax.Array]:
        def loss_fn(p: Any) -> jax.Array:
            model = eqx.combine(p, static)
            log_prob = jax.vmap(
                lambda o, a: model.distribution_from_latent(model.latent(o)).log_prob(a)
            )(obs, act)
            return -jnp.mean(log_prob)

        loss, grads = eqx.filter_value_and_grad(loss_fn)(params)
        with jax.numpy_dtype_promotion("standard"):  # optax bias correction
            updates, opt_state = optimizer.update(grads, opt_state, params)
        return eqx.apply_updates(params, updates), opt_state, loss

    rng = np.random.default_rng(config.seed)
    n = actions.shape[0]
    losses = []
    for _ in range(config.bc_steps):
        idx = jnp.asarray(rng.choice(n, min(config.bc_batch, n), replace=False))
        params, opt_state, loss = step(
            params, opt_state, jax.tree.map(lambda x, i=idx: x[i], observations), actions[idx]
        )
        losses.append(float(loss))
    return eqx.combine(params, static), losses


@eqx.filter_jit
def teacher_agreement(student: Any, observations: Any, actions: jax.Array) -> jax.Array:
    modes = jax.vmap(lambda o: student.distribution_from_latent(student.latent(o)).mode())(
        observations
    )
    return jnp.mean((modes == actions).astype(jnp.float32))


def quality_experiment(
    config: ExperimentConfig,
    out_dir: str | Path,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the experiment; writes results.json, results.md and quality.png under `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "experiment_config.json").write_text(
        json.dumps(dataclasses.asdict(config), indent=1, default=str)
    )
    started = time.perf_counter()
    k_scenes, k_student, k_shift_eval, k_shift_pool = jax.random.split(
        jax.random.key(config.seed), 4
    )
    total = config.train_scenes + config.eval_scenes + config.pool_scenes
    scenes = toy_scenes(k_scenes, total, config.width, config.height, config.max_boxes)
    teacher = toy_teacher_actions(scenes)
    wrap = toy_observations if config.student == "toy" else student_observations
    a, b = config.train_scenes, config.train_scenes + config.eval_scenes
    train, evaluation, pool = _take(scenes, 0, a), _take(scenes, a, b), _take(scenes, b, total)
    log(
        f"{total} SYNTHETIC scenes in {time.perf_counter() - started:.0f} s; teacher actions "
        f"{np.bincount(np.asarray(teacher), minlength=len(TOY_ACTIONS)).tolist()} ({TOY_ACTIONS})"
    )

    train_obs = wrap(train.image)
    student = make_student(config, jax.tree.map(lambda x: x[0], train_obs), k_student)
    student, losses = behaviour_clone(student, train_obs, teacher[:a], config)
    log(f"student trained: cross-entropy {losses[0]:.3f} -> {losses[-1]:.3f}")

    shift = dataclasses.replace(config.shift, severity=MAX_SEVERITY)
    render_shifted = jax.jit(
        jax.vmap(
            lambda k, s, strength: shifted_view(k, s, shift, backend="xla", strength=strength),
            in_axes=(0, 0, None),
        )
    )
    eval_teacher = teacher[a:b]
    eval_rendered = wrap(evaluation.image)
    in_domain = float(teacher_agreement(student, eval_rendered, eval_teacher))
    rows: list[dict[str, Any]] = [
        {"condition": "in-domain (rendered)", "severity": None, "pairs": 0, "agreement": in_domain}
    ]
    eval_keys = jax.random.split(k_shift_eval, config.eval_scenes)
    shifted_eval = {}
    for severity in config.severities:
        strength = jnp.asarray(severity / MAX_SEVERITY, jnp.float32)
        shifted_eval[severity] = wrap(render_shifted(eval_keys, evaluation, strength))
        agreement = float(teacher_agreement(student, shifted_eval[severity], eval_teacher))
        gap = evaluate_pairs(student, student, shifted_eval[severity], eval_rendered)
        rows.append(
            {
                "condition": "shifted, before adaptation",
                "severity": severity,
                "pairs": 0,
                "agreement": agreement,
                "feature_gap": gap["feature_gap"],
            }
        )
        log(f"severity {severity}: agreement {agreement:.3f} (in-domain {in_domain:.3f})")

    strongest = max(config.severities)
    strength = jnp.asarray(strongest / MAX_SEVERITY, jnp.float32)
    pool_real = wrap(
        render_shifted(jax.random.split(k_shift_pool, config.pool_scenes), pool, strength)
    )
    pool_rendered = wrap(pool.image)
    for pairs in config.sample_counts:
        if pairs > config.pool_scenes:
            raise ValueError(f"{pairs} pairs requested but the pool holds {config.pool_scenes}")
        result = adapt(
            student,
            _take(pool_real, 0, pairs),
            _take(pool_rendered, 0, pairs),
            config.adapt,
            eval_pairs=(shifted_eval[strongest], eval_rendered),
            out_dir=out / f"adapt_{pairs}",
        )
        agreement = float(teacher_agreement(result.student, shifted_eval[strongest], eval_teacher))
        rows.append(
            {
                "condition": "shifted, after adaptation",
                "severity": strongest,
                "pairs": pairs,
                "agreement": agreement,
                "feature_gap": result.history[-1]["feature_gap"],
            }
        )
        log(f"after adapting on {pairs} pairs: agreement {agreement:.3f}")
    for row in rows:
        row["recovery"] = row["agreement"] / max(in_domain, 1e-9)
    summary = {
        "rows": rows,
        "student": config.student,
        "teacher": "toy lane-keeping rule on annotations",
        "domain": "SYNTHETIC shifted domain (gp_adapt.DomainShift), not real images",
        "seconds": time.perf_counter() - started,
    }
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    (out / "results.md").write_text(results_table(rows))
    plot_quality(rows, out / "quality.png")
    return summary


def results_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| condition | severity | pairs | agreement with teacher | recovery | feature gap |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        gap = f"{r['feature_gap']:.3f}" if "feature_gap" in r else "-"
        severity = "-" if r["severity"] is None else str(r["severity"])
        lines.append(
            f"| {r['condition']} | {severity} | {r['pairs']} | {r['agreement']:.3f} | "
            f"{r['recovery']:.1%} | {gap} |"
        )
    return "\n".join(lines) + "\n"


def plot_quality(rows: list[dict[str, Any]], path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    in_domain = rows[0]["agreement"]
    before = [r for r in rows if r["condition"].endswith("before adaptation")]
    after = [r for r in rows if r["condition"].endswith("after adaptation")]
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(8, 3))
    ax0.plot([r["severity"] for r in before], [r["agreement"] for r in before], marker="o")
    ax0.axhline(in_domain, color="k", ls="--", label="in-domain")
    ax0.set(xlabel="shift severity (synthetic)", ylabel="agreement with teacher", ylim=(0, 1))
    ax0.legend()
    if after:
        ax1.plot([r["pairs"] for r in after], [r["agreement"] for r in after], marker="o")
        ax1.set_xscale("log")
    ax1.axhline(in_domain, color="k", ls="--", label="in-domain")
    ax1.axhline(0.95 * in_domain, color="g", ls=":", label="95% of in-domain")
    ax1.set(xlabel="paired samples", ylabel="agreement after adaptation", ylim=(0, 1))
    ax1.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
