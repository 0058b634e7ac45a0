"""Workloads for `scripts/bench.py dagger`: end-to-end self-play DAgger throughput.

One timed call = one DAgger iteration: rendering every agent's camera rig at every step, the
teacher's labels (distribution, latent, value), forked teacher rollouts for trajectory labels,
buffer aggregation and all student updates of the iteration. Items are agent-steps of the
rollout, so the rate includes every cost of producing and learning from them.
"""

from __future__ import annotations

import dataclasses

import jax
from bench_harness import Workload

import gp_agents as ga
import gp_distill as gd
from gp_world import WorldConfig

_TOY = gd.DistillConfig.toy()
_DEMO = gd.DistillConfig.demo()
# (name, config); the teacher is a freshly initialised TeacherPolicy (its cost, not its skill).
_CPU = (
    ("toy-1cam-48x32", _TOY),
    (
        "village-3cam-96x64",
        dataclasses.replace(
            _DEMO,
            dagger=dataclasses.replace(_DEMO.dagger, num_worlds=1, rollout_steps=8, sgd_steps=16),
        ),
    ),
)
_FULL = gd.DistillConfig.full()
_GPU = (
    (
        "village-3cam-96x64",
        dataclasses.replace(
            _FULL,
            world=WorldConfig.village(),
            dagger=dataclasses.replace(_FULL.dagger, num_worlds=256, rollout_steps=16),
        ),
    ),
    ("city-3cam-96x64", _FULL),
)


def _teacher(cfg: gd.DistillConfig, world) -> ga.TeacherPolicy:
    key = jax.random.key(1)
    one_world = jax.eval_shape(world.observe, jax.eval_shape(world.reset, key))
    one_agent = jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape[1:], s.dtype), one_world)
    return ga.TeacherPolicy(cfg.teacher, one_agent, world.action_space, key=key)


def _workload(name: str, cfg: gd.DistillConfig) -> Workload:
    import gp_world as gw

    world = gw.World(cfg.world, gw.build_map_bank(cfg.world, split="train"))
    dagger, *_ = gd.build_distillation(cfg, _teacher(cfg, world), world)
    state = dagger.init(jax.random.key(0))

    def run():
        nonlocal state
        state, metrics = dagger.iteration(state)
        return metrics

    d = cfg.dagger
    return Workload(
        benchmark="dagger",
        config={
            "world": name,
            "worlds": d.num_worlds,
            "agents": cfg.world.num_agents,
            "rollout": d.rollout_steps,
            "cameras": cfg.pixels.cameras,
            "image": f"{cfg.pixels.height}x{cfg.pixels.width}",
            "fork_every": d.fork_every,
            "fork_horizon": d.fork_horizon,
            "sgd_steps": d.sgd_steps,
            "batch": d.batch_size,
            "devices": dagger.mesh.size,
        },
        backend=jax.default_backend(),
        item="agent-step",
        items_per_call=dagger.agent_steps_per_iteration,
        run=run,
    )


def workloads(preset: str):
    """Yield one Workload per configuration of the preset (`cpu` or `gpu`)."""
    for name, cfg in _CPU if preset == "cpu" else _GPU:
        yield _workload(name, cfg)
