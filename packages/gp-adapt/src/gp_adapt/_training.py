"""Fine-tuning loop: minibatches of observation pairs, optax, JSON-lines logs, orbax checkpoints.

The reference (the frozen student) is passed beside the trained one; parameters outside the
trainable mask are closed over as constants, so the planner cannot move by construction.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gp_adapt._adapter import (
    action_agreement,
    adaptation_loss,
    default_encoder_where,
    feature_gap,
    prepare_student,
    trainable_mask,
)
from gp_adapt.config import AdaptConfig

Array = jax.Array


@dataclasses.dataclass
class AdaptResult:
    """The adapted student, the log records, and where outputs went (None: not written)."""

    student: Any
    history: list[dict[str, float]]
    out_dir: Path | None


def learning_rate_schedule(config: AdaptConfig) -> float | optax.Schedule:
    """The optimiser's step size: constant, or cosine-decayed to 0 over the run's steps."""
    if config.lr_schedule == "cosine":
        return optax.cosine_decay_schedule(config.learning_rate, config.steps)
    return config.learning_rate


def batch_size_of(observations: Any) -> int:
    return int(jax.tree.leaves(observations)[0].shape[0])


def make_adapt_step(
    reference: Any, static: Any, config: AdaptConfig, optimizer: optax.GradientTransformation
) -> Callable:
    """A jitted step (params, opt_state, real, rendered) -> (params, opt_state, terms)."""

    @eqx.filter_jit
    def step(params: Any, opt_state: Any, real: Any, rendered: Any) -> tuple[Any, Any, dict]:
        def loss_fn(p: Any) -> tuple[Array, dict]:
            return adaptation_loss(eqx.combine(p, static), reference, real, rendered, config)

        (loss, terms), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(params)
        # optax mixes python floats with int32 step counts (bias correction).
        with jax.numpy_dtype_promotion("standard"):
            updates, opt_state = optimizer.update(grads, opt_state, params)
        params = eqx.apply_updates(params, updates)
        return params, opt_state, {"loss": loss, **terms}

    return step


@eqx.filter_jit
def _evaluate(student: Any, reference: Any, real: Any, rendered: Any) -> dict[str, Array]:
    return {
        "feature_gap": feature_gap(student, reference, real, rendered),
        "action_agreement": action_agreement(student, reference, real, rendered),
    }


def evaluate_pairs(student: Any, reference: Any, real: Any, rendered: Any) -> dict[str, float]:
    """Feature gap and action agreement of a student on real images vs the reference."""
    return {k: float(v) for k, v in _evaluate(student, reference, real, rendered).items()}


def adapt(
    student: Any,
    real: Any,
    rendered: Any,
    config: AdaptConfig,
    *,
    eval_pairs: tuple[Any, Any] | None = None,
    out_dir: str | Path | None = None,
    encoder_where: Callable = default_encoder_where,
    progress: Callable[[dict[str, float]], None] | None = None,
) -> AdaptResult:
    """Fine-tune the student's perception on paired observations (leading axis N).

    real / rendered: the same N observations with the real and the rendered images. The log
    (every `log_every` steps and the last) holds the loss terms and, with `eval_pairs`, the
    held-out feature gap and action agreement. With `out_dir`: config.json, log.jsonl,
    checkpoints/ (orbax) and adaptation.png.
    """
    n = batch_size_of(real)
    if batch_size_of(rendered) != n:
        raise ValueError(f"{n} real observations but {batch_size_of(rendered)} rendered ones")
    k_adapter = jax.random.split(jax.random.key(config.seed))[0]
    rng = np.random.default_rng(config.seed)
    reference = student
    model = prepare_student(student, config, encoder_where, key=k_adapter)
    mask = trainable_mask(model, config, encoder_where)
    params, static = eqx.partition(model, mask)
    optimizer = optax.adam(learning_rate_schedule(config))
    opt_state = optimizer.init(params)
    step = make_adapt_step(reference, static, config, optimizer)

    writer = _RunWriter(Path(out_dir), config) if out_dir is not None else None
    history: list[dict[str, float]] = []
    batch = min(config.batch_size, n)
    started = time.perf_counter()

    def record(i: int, terms: dict[str, Array] | None) -> None:
        row: dict[str, float] = {"step": i, "seconds": time.perf_counter() - started}
        if terms is not None:
            row.update({k: float(v) for k, v in terms.items()})
        if eval_pairs is not None:
            model_now = eqx.combine(params, static)
            row.update(evaluate_pairs(model_now, reference, *eval_pairs))
        history.append(row)
        if writer is not None:
            writer.log(row)
        if progress is not None:
            progress(row)

    record(0, None)
    for i in range(1, config.steps + 1):
        idx = jnp.asarray(rng.choice(n, batch, replace=False))
        take = lambda tree, idx=idx: jax.tree.map(lambda x: x[idx], tree)  # noqa: E731
        params, opt_state, terms = step(params, opt_state, take(real), take(rendered))
        if i % config.log_every == 0 or i == config.steps:
            record(i, terms)
        if writer is not None and (i % config.checkpoint_every == 0 or i == config.steps):
            writer.checkpoint(i, params)
    adapted = eqx.combine(params, static)
    if writer is not None:
        writer.close(history)
    return AdaptResult(adapted, history, writer.directory if writer else None)


class _RunWriter:
    """config.json, log.jsonl, checkpoints/<step>/ and a plot under one run directory."""

    def __init__(self, directory: Path, config: AdaptConfig) -> None:
        import orbax.checkpoint as ocp

        self.directory = directory.absolute()
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "config.json").write_text(
            json.dumps(dataclasses.asdict(config), indent=1)
        )
        self._log = (self.directory / "log.jsonl").open("w")
        self._config = dataclasses.asdict(config)
        self._manager = ocp.CheckpointManager(
            self.directory / "checkpoints",
            options=ocp.CheckpointManagerOptions(
                max_to_keep=2, create=True, enable_async_checkpointing=False
            ),
            item_names=("params", "meta"),
        )

    def log(self, row: dict[str, float]) -> None:
        self._log.write(json.dumps(row) + "\n")
        self._log.flush()

    def checkpoint(self, step: int, params: Any) -> None:
        import orbax.checkpoint as ocp

        leaves = jax.tree.leaves(eqx.filter(params, eqx.is_array))
        arrays = {f"leaf_{i:05d}": np.asarray(x) for i, x in enumerate(leaves)}
        self._manager.save(
            step,
            args=ocp.args.Composite(
                params=ocp.args.StandardSave(arrays),
                meta=ocp.args.JsonSave({"step": step, "config": self._config}),
            ),
            force=True,
        )
        self._manager.wait_until_finished()

    def close(self, history: list[dict[str, float]]) -> None:
        self._log.close()
        self._manager.close()
        plot_adaptation(history, self.directory / "adaptation.png")


def restore_adapted(run_dir: str | Path, student: Any, step: int | None = None) -> Any:
    """The adapted student of a run directory: its config rebuilds the trainable layout of
    `student` (the original), then the checkpointed trainable leaves are put back."""
    import orbax.checkpoint as ocp

    run_dir = Path(run_dir).absolute()
    config = AdaptConfig(**json.loads((run_dir / "config.json").read_text()))
    model = prepare_student(student, config, key=jax.random.split(jax.random.key(config.seed))[0])
    params, static = eqx.partition(model, trainable_mask(model, config))
    leaves, treedef = jax.tree.flatten(eqx.filter(params, eqx.is_array))
    with ocp.CheckpointManager(run_dir / "checkpoints", item_names=("params", "meta")) as manager:
        step = manager.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint under {run_dir / 'checkpoints'}")
        abstract = {
            f"leaf_{i:05d}": jax.ShapeDtypeStruct(x.shape, x.dtype) for i, x in enumerate(leaves)
        }
        restored = manager.restore(
            step, args=ocp.args.Composite(params=ocp.args.StandardRestore(abstract))
        )["params"]
    new = [jnp.asarray(restored[f"leaf_{i:05d}"]) for i in range(len(leaves))]
    return eqx.combine(jax.tree.unflatten(treedef, new), static)


def plot_adaptation(history: list[dict[str, float]], path: str | Path) -> None:
    """Loss terms and held-out metrics against step, one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in history[-1] if k not in ("step", "seconds")]
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(3.2 * max(1, len(names)), 2.8))
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, names, strict=False):
        rows = [r for r in history if name in r]
        ax.plot([r["step"] for r in rows], [r[name] for r in rows], marker=".")
        ax.set_title(name)
        ax.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
