"""Workloads for `scripts/bench.py teacher`: end-to-end PPO self-play training throughput.

One timed call = `updates_per_call` full PPO updates (rollout in every world, GAE, all epochs and
minibatch steps), so the rate is agent-steps per second including the update.
"""

from __future__ import annotations

import dataclasses

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


def _workload(name: str, cfg: ga.TrainConfig, n: int) -> Workload:
    world = ga.build_world(cfg)
    trainer = ga.make_trainer(cfg, world)
    state = trainer.init(jax.random.key(0))
    # Compiled once, ahead of time (a GPU compile of the scanned updates takes minutes). No FLOP
    # count: XLA's cost analysis counts a scanned loop body once, not once per iteration.
    updates = trainer.updates.lower(state, n).compile()  # type: ignore[attr-defined]  # jitted

    def run():
        nonlocal state
        state, metrics = updates(state, n)
        return metrics

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
