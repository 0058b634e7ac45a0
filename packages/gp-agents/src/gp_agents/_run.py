"""A teacher training run on disk: config JSON, orbax checkpoints, metrics.jsonl, a curve PNG.

Everything lives in one run folder; calling `train_teacher` again on the same folder resumes from
the newest checkpoint (and refuses a checkpoint written with a different config).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from gp_agents._checkpoint import (
    CONFIG_KEYS_ALLOWED_TO_CHANGE,
    Checkpointer,
    CheckpointError,
    config_differences,
)
from gp_agents._evaluation import evaluate_policy
from gp_agents._stopping import StopRequest
from gp_agents._teacher import TeacherPolicy
from gp_agents._trainer import Trainer, TrainState, make_trainer
from gp_agents.config import TrainConfig

CURVE_KEYS = ("episode_return", "goal_rate", "collision_rate", "offroad_rate")


def build_world(cfg: TrainConfig, split: Literal["train", "heldout"] = "train") -> Any:
    """The gp-world World of a run on its train or held-out map bank."""
    import gp_world as gw

    return gw.World(cfg.world, gw.build_map_bank(cfg.world, split=split))


def _initialize_distributed(cfg: TrainConfig) -> None:
    d = cfg.distributed
    if d.coordinator_address and not jax.distributed.is_initialized():
        jax.distributed.initialize(d.coordinator_address, d.num_processes, d.process_id)


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _keep_metrics_up_to(path: Path, update: int) -> None:
    """Drop lines logged after the checkpoint being resumed (they will be logged again)."""
    kept = [r for r in _read_metrics(path) if int(r.get("update", 0)) <= update]
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))


def _logged_heldout_at(path: Path, update: int) -> bool:
    """Whether the log at `path` holds a held-out evaluation at `update`."""
    return path.exists() and any(
        "heldout_goal_rate" in r and int(r["update"]) == update for r in _read_metrics(path)
    )


def plot_learning_curve(metrics_path: str | Path, png_path: str | Path) -> None:
    """Training and held-out curves against agent-steps, one panel per key figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = _read_metrics(Path(metrics_path))
    train = [r for r in records if "episode_return" in r]
    heldout = [r for r in records if "heldout_goal_rate" in r]
    fig, axes = plt.subplots(1, len(CURVE_KEYS), figsize=(4 * len(CURVE_KEYS), 3.2))
    for ax, name in zip(axes, CURVE_KEYS, strict=True):
        if train:
            x = np.array([r["agent_steps"] for r in train], float)
            y = np.array([r[name] for r in train], float)
            ax.plot(x, y, lw=0.6, alpha=0.4, color="C0")
            window = max(1, len(y) // 30)
            smooth = np.convolve(y, np.ones(window) / window, mode="valid")
            ax.plot(x[window - 1 :], smooth, color="C0", label="train (self-play)")
        if heldout:
            hx = np.array([r["agent_steps"] for r in heldout], float)
            ax.plot(
                hx, [r[f"heldout_{name}"] for r in heldout], "o-", color="C3", label="held-out maps"
            )
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("agent-steps")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)


def split_run_step(spec: str) -> tuple[Path, int | None]:
    """`folder` or `folder@step` (a run folder and one of its checkpoints) as (path, step)."""
    folder, at, step = str(spec).rpartition("@")
    if not at:
        return Path(spec), None
    if not step.isdigit():
        raise ValueError(f"{spec!r}: expected folder or folder@step, step a whole number")
    return Path(folder), int(step)


def restore_from_run(spec: str, template: Any, field: str = "policy", what: str = "run") -> Any:
    """The `field` module ("policy" of a teacher run, "student" of a distillation run) of the run
    folder `spec` (`folder` or `folder@step`), restored into `template`'s shapes and shardings;
    `what` names the expected run in the error when the folder holds none."""
    folder, step = split_run_step(spec)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{spec!r}: {folder} holds no {what} (no config.json)")
    reader = Checkpointer(folder / "checkpoints", json.loads((folder / "config.json").read_text()))
    try:
        return reader.restore_policy(template, step, field=field)
    finally:
        reader.close()


def shipped_field(cfg: TrainConfig, live: bool = False) -> str:
    """The TrainState field that holds the policy a run ships: "average" for a run that
    averages its policy (`PPOConfig.average_updates`) unless `live`, else "policy"."""
    return "average" if cfg.ppo.average_updates > 0 and not live else "policy"


def fitted_run_length(
    update: int,
    measured_updates: int,
    measured_s: float,
    left_s: float,
    most: int,
    multiple_of: int = 1,
) -> int:
    """The run length that ends the run when its time does: `update` plus the updates that fit
    in the `left_s` seconds left at the speed measured (`measured_updates` in `measured_s`
    seconds), rounded down to a multiple of `multiple_of` (the updates per jitted call: a
    shorter last call would compile anew), at most `most` and at least `update`."""
    if measured_updates <= 0 or measured_s <= 0.0:
        return most
    more = math.floor(max(left_s, 0.0) * measured_updates / measured_s)
    return int(min(most, update + more - more % max(multiple_of, 1)))


def logged_run_lengths(cfg: TrainConfig) -> dict[int, int]:
    """The length each update of the fitted run `cfg.schedule_from` trained under (update ->
    `planned_updates`, from its metrics.jsonl), after checking that `cfg` repeats that run:
    the same config but for bookkeeping (`CONFIG_KEYS_ALLOWED_TO_CHANGE`, `schedule_from`) and
    the same updates per call (`log_every`: the lengths change between calls)."""
    folder = Path(cfg.schedule_from)
    allowed = [k for k in CONFIG_KEYS_ALLOWED_TO_CHANGE if k != "log_every"] + ["schedule_from"]
    diffs = config_differences(
        TrainConfig.from_run(folder).to_json(), cfg.to_json(), allowed, saved_as=str(folder)
    )
    if diffs:
        raise ValueError(
            f"schedule_from repeats the run in {folder}, but this config is another:\n  "
            + "\n  ".join(diffs)
        )
    lengths = {
        int(r["update"]): int(r["planned_updates"])
        for r in _read_metrics(folder / "metrics.jsonl")
        if "planned_updates" in r
    }
    if not lengths:
        raise ValueError(
            f"schedule_from: {folder} logs no planned_updates in its metrics.jsonl: it was not "
            "fitted to its time (fit_schedule)"
        )
    missing = sorted(set(range(1, max(lengths) + 1)) - set(lengths))
    if missing:
        raise ValueError(
            f"schedule_from: the metrics.jsonl of {folder} misses the lengths of updates "
            f"{missing[:5]}{' ...' if len(missing) > 5 else ''}"
        )
    return lengths


def _logged_length(lengths: dict[int, int], update: int) -> int:
    """The length the logged run trained update `update + 1` under (past its end: its last)."""
    return lengths.get(update + 1, lengths[max(lengths)])


def _same_on_every_process(value: int) -> int:
    """Process 0's `value` on every process (a multi-host run must agree on its length)."""
    if jax.process_count() == 1:
        return value
    from jax.experimental import multihost_utils

    return int(multihost_utils.broadcast_one_to_all(np.int32(value)))


def _with_run_length(state: TrainState, length: int) -> TrainState:
    """`state` with its fitted run length (`planned_updates`) set to `length`, placed as the old
    one (so the jitted updates do not recompile)."""
    assert state.planned_updates is not None  # train_teacher checks this up front
    value = jax.device_put(jnp.asarray(length, jnp.int32), state.planned_updates.sharding)
    return eqx.tree_at(lambda s: s.planned_updates, state, value)


def train_teacher(
    cfg: TrainConfig,
    run_dir: str | Path,
    resume: bool = True,
    world: Any = None,
    heldout_world: Any = None,
    trainer: Trainer | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> TrainState:
    """Train (or resume) a teacher under `run_dir`; returns the final TrainState.

    Writes `config.json`, `checkpoints/<update>/`, `metrics.jsonl` (one line per update, plus
    `heldout_*` lines) and `learning_curve.png`. `world` / `heldout_world` default to the run's
    train and held-out map banks; `trainer` (from `make_trainer(cfg, world)`, same config up to
    the run length) skips recompiling when a process trains several chunks.

    With `cfg.fit_schedule`, a run refits its length after every call once compiled: the
    updates done, plus those the speed measured since compilation fits in what is left of
    `cfg.max_minutes` (held-out evaluations and checkpoints included), at most
    `cfg.ppo.num_updates`. `max_minutes` is then the run's budget over all its sittings: each
    checkpoint saves the run's time so far (`seconds_trained`), and a resumed run refits to
    what is left of it (none left: the run ends where it is; a larger `max_minutes` on resume
    gives it more). A run saved before checkpoints recorded that time keeps the length it
    saved. `clock` (seconds) measures that time and `max_minutes`. With `cfg.schedule_from` as
    well, the lengths come from that run's log instead, before every call, fresh or resumed
    (`logged_run_lengths`), and `max_minutes` limits each sitting, as without fitting.

    Ctrl-C (SIGINT) or SIGTERM (a machine taken back) stops the run cleanly: the call under
    way (and a held-out evaluation) finishes, a checkpoint is saved, and the run stops as the
    signal would have (KeyboardInterrupt for SIGINT, SystemExit(143) for SIGTERM); training on
    `run_dir` again resumes from there. A second signal acts at once.
    """
    _initialize_distributed(cfg)
    # A run to repeat is checked before anything in `run_dir` is touched.
    lengths = logged_run_lengths(cfg) if cfg.schedule_from else None
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config_json = cfg.to_json()
    config_path = run_dir / "config.json"
    if config_path.exists() and resume:
        diffs = config_differences(TrainConfig.from_run(run_dir).to_json(), config_json)
        if diffs:
            raise CheckpointError(
                f"{run_dir} holds a run with another config (use a new folder):\n  "
                + "\n  ".join(diffs)
            )
    is_main = jax.process_index() == 0
    if is_main:
        config_path.write_text(json.dumps(config_json, indent=2) + "\n")
    world = build_world(cfg) if world is None else world
    trainer = make_trainer(cfg, world) if trainer is None else trainer
    checkpoints = Checkpointer(
        run_dir / "checkpoints",
        config_json,
        keep=cfg.keep_checkpoints,
        complete=TrainConfig.complete_json,
    )
    metrics_path = run_dir / "metrics.jsonl"
    state = trainer.init(jax.random.key(cfg.seed))
    # The run's wall time before this sitting (None: saved before checkpoints recorded it).
    seconds_before: float | None = 0.0
    if resume and checkpoints.latest_step() is not None:
        state, meta = checkpoints.restore(state)
        seconds_before = meta.get("seconds_trained")
    else:
        if metrics_path.exists() and is_main:
            metrics_path.unlink()
        if cfg.init_from:
            # The other run's shipped policy: its average when it averaged.
            source = TrainConfig.from_run(split_run_step(cfg.init_from)[0])
            field = shipped_field(source)
            policy = restore_from_run(cfg.init_from, state.policy, field, what="teacher run")
            state = eqx.tree_at(lambda s: s.policy, state, policy)
            if state.average is not None:
                state = eqx.tree_at(lambda s: s.average, state, policy)
    if cfg.fit_schedule and state.planned_updates is None:
        raise ValueError(
            "cfg.fit_schedule is set but `trainer` was built from a config without it: build it "
            "with make_trainer(cfg, world)"
        )
    start = int(state.update)
    if lengths is not None:
        state = _with_run_length(state, _logged_length(lengths, start))
    if is_main:
        _keep_metrics_up_to(metrics_path, start)

    def heldout_eval(policy: Any, update: int) -> dict[str, Any]:
        nonlocal heldout_world
        if heldout_world is None:
            heldout_world = build_world(cfg, "heldout")
        # A host copy: process 0 evaluates alone, on its own device, whatever the mesh spans.
        result = evaluate_policy(
            jax.device_get(policy),
            heldout_world,
            jax.random.key(cfg.seed + 1),
            cfg.eval_worlds,
            cfg.eval_steps,
        )
        return {
            "update": update,
            "agent_steps": update * trainer.agent_steps_per_update,
            **{f"heldout_{k}": v for k, v in result.items()},
        }

    # A fitted run fits its length as it goes, to what is left of its budget over all its
    # sittings; resumed from a checkpoint without its time, it keeps the length it saved.
    fitting = cfg.fit_schedule and lengths is None and seconds_before is not None
    spent = (seconds_before or 0.0) if fitting else 0.0
    total = cfg.ppo.num_updates if state.run_length is None else state.run_length
    if fitting and start > 0 and spent >= 60.0 * cfg.max_minutes:
        total = start  # its budget is spent: the run ends here
        state = _with_run_length(state, total)
    bar = tqdm(
        total=total,
        initial=start,
        disable=not (cfg.progress and is_main),
        unit="upd",
        dynamic_ncols=True,
    )
    wall_start = clock()

    def seconds_left(now: float) -> float:
        """What is left of the time limit: of the run's budget when fitting, else of this
        sitting's."""
        return 60.0 * cfg.max_minutes - spent - (now - wall_start)

    last_checkpoint = start
    first_call = True
    measured_from = (wall_start, start)  # (time, update) once compiled
    with StopRequest() as stop, metrics_path.open("a") as log:
        while int(state.update) < total:
            n = min(cfg.log_every, total - int(state.update))
            tick = clock()
            state, metrics = trainer.updates(state, n)
            metrics = jax.device_get(metrics)
            now = clock()
            seconds = now - tick
            rate = n * trainer.agent_steps_per_update / seconds
            for i in range(n):
                record = {name: float(np.asarray(v)[i]) for name, v in metrics.items()}
                update = int(record.pop("update"))
                record = {
                    "update": update,
                    "agent_steps": update * trainer.agent_steps_per_update,
                    "agent_steps_per_s": rate,
                    **record,
                }
                if first_call:  # the first call's time includes compilation
                    record["rate_includes_compile"] = True
                if is_main:
                    log.write(json.dumps(record) + "\n")
            log.flush()
            update = int(state.update)
            refit = None
            if lengths is not None:
                refit = _logged_length(lengths, update)
            elif fitting and not first_call:
                refit = fitted_run_length(
                    update,
                    update - measured_from[1],
                    now - measured_from[0],
                    seconds_left(now),
                    cfg.ppo.num_updates,
                    multiple_of=cfg.log_every,
                )
                refit = _same_on_every_process(refit)
            if refit is not None:
                total = refit
                state = _with_run_length(state, total)
                bar.total = total
            if first_call:
                measured_from = (now, update)
            first_call = False
            bar.update(n)
            bar.set_postfix(
                ret=f"{record['episode_return']:.2f}",
                goal=f"{record['goal_rate']:.2f}",
                coll=f"{record['collision_rate']:.2f}",
                off=f"{record['offroad_rate']:.2f}",
                sps=f"{rate:.3g}",
            )
            out_of_time = cfg.max_minutes > 0 and seconds_left(now) < 0.0
            evaluate = cfg.eval_steps > 0 and cfg.eval_worlds > 0
            if evaluate and cfg.eval_every and update % cfg.eval_every < n and update < total:
                if not stop.asked() and is_main:  # (every process asks: a collective)
                    log.write(json.dumps(heldout_eval(state.shipped_policy, update)) + "\n")
            # Asked to stop (Ctrl-C, SIGTERM) during the call or the evaluation: save, stop.
            stopping = stop.asked()
            due = update - last_checkpoint >= cfg.checkpoint_every or update == total
            if due or out_of_time or stopping:
                extra: dict[str, Any] = {"agent_steps": record["agent_steps"]}
                if seconds_before is not None:
                    extra["seconds_trained"] = seconds_before + (clock() - wall_start)
                checkpoints.save(update, state, extra)
                last_checkpoint = update
            if out_of_time or stopping:
                break
        finished = int(state.update) >= total and not stop.stopping
        # A finished run resumed again has logged its final evaluation already.
        logged = int(state.update) == start and _logged_heldout_at(metrics_path, start)
        if finished and not logged and is_main and cfg.eval_steps > 0 and cfg.eval_worlds > 0:
            log.write(json.dumps(heldout_eval(state.shipped_policy, int(state.update))) + "\n")
    bar.close()
    checkpoints.close()
    if is_main:
        plot_learning_curve(metrics_path, run_dir / "learning_curve.png")
        if stop.stopping:
            tqdm.write(
                f"{stop.name}: stopped at update {int(state.update)} with a checkpoint saved; "
                f"train again on {run_dir} to resume"
            )
    stop.stop()
    return state


def load_teacher(
    run_dir: str | Path, step: int | None = None, live: bool = False
) -> tuple[Any, TrainConfig]:
    """(TeacherPolicy, TrainConfig) of a `train_teacher` run folder, newest checkpoint by default.

    The run's shipped policy: for a run that averages its policy
    (`PPOConfig.average_updates`), the averaged policy, unless `live` asks for the live one that
    training went on with. Only the policy is restored, so this works after the world's state
    layout has changed.
    """
    import gp_world as gw

    run_dir = Path(run_dir)
    cfg = TrainConfig.from_run(run_dir)
    config_json = cfg.to_json()
    world = build_world(cfg)
    one_world = jax.eval_shape(world.observe, jax.eval_shape(world.reset, jax.random.key(0)))
    one_agent = jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape[1:], s.dtype), one_world)
    template = TeacherPolicy(
        cfg.teacher, one_agent, gw.action_space(cfg.world.action_space), key=jax.random.key(0)
    )
    checkpoints = Checkpointer(run_dir / "checkpoints", config_json)
    try:
        return checkpoints.restore_policy(template, step, field=shipped_field(cfg, live)), cfg
    finally:
        checkpoints.close()
