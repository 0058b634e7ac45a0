"""Workloads for `scripts/bench.py teacher`: end-to-end PPO self-play training throughput.

One timed call = `updates_per_call` full PPO updates (rollout in every world, GAE, all epochs and
minibatch steps), so the rate is agent-steps per second including the update.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
from bench_harness import Workload

import gp_agents as ga
from gp_world import WorldConfig

# (name, train config, updates per timed call)
_CPU = (
    ("toy", ga.TrainConfig.toy(), 5),
    ("village", ga.TrainConfig.demo(), 2),
)
_GPU = (
    ("village-demo", ga.TrainConfig.demo_gpu(), 4),  # the `demo` preset at 256 worlds
    (
        "village",
        dataclasses.replace(
            ga.TrainConfig.demo(),
            teacher=ga.TeacherConfig.full(),
            ppo=dataclasses.replace(ga.TrainConfig.full().ppo, num_worlds=1024, rollout_steps=32),
        ),
        2,
    ),
    ("city", ga.TrainConfig.full(), 2),
)


def compiled_updates(cfg: ga.TrainConfig, n: int) -> tuple[Callable[[], Any], Any, Any]:
    """`(run, compiled, trainer)`: `run()` makes `n` PPO updates of a fresh trainer (from
    freshly initialised state, carried from call to call) and returns their metrics without
    waiting for them; `compiled` is equinox's compiled `updates` (`.compiled.as_text()` is the
    optimised HLO); `trainer` is the `make_trainer` result."""
    trainer = ga.make_trainer(cfg, ga.build_world(cfg))
    state = trainer.init(jax.random.key(0))
    # Compiled once, ahead of time (a GPU compile of the scanned updates takes minutes).
    updates = trainer.updates.lower(state, n).compile()  # type: ignore[attr-defined]  # jitted

    def run():
        nonlocal state
        state, metrics = updates(state, n)
        return metrics

    return run, updates, trainer


def _workload(name: str, cfg: ga.TrainConfig, n: int) -> Workload:
    # No FLOP count: XLA's cost analysis counts a scanned loop body once, not once per iteration.
    run, _, trainer = compiled_updates(cfg, n)
    items = n * trainer.agent_steps_per_update
    world_cfg: WorldConfig = cfg.world
    return Workload(
        benchmark="teacher_train",
        config={
            "world": name,
            "worlds": cfg.ppo.num_worlds,
            "agents": world_cfg.num_agents,
            "rollout": cfg.ppo.rollout_steps,
            "epochs": cfg.ppo.epochs,
            "minibatches": cfg.ppo.num_minibatches,
            "latent": cfg.teacher.latent_size,
            "devices": trainer.mesh.size,
        },
        backend=jax.default_backend(),
        item="agent-step",
        items_per_call=items,
        run=run,
    )


def workloads(preset: str):
    """Yield one Workload per configuration of the preset (built lazily: compiles are slow)."""
    for name, cfg, n in _GPU if preset == "gpu" else _CPU:
        yield _workload(name, cfg, n)
