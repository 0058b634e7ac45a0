"""Closed-loop evaluation of the pixel student beside its teacher on held-out maps."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax

import gp_agents as ga


class PixelWorld(eqx.Module):
    """A gp-world World whose `observe` returns the student's pixel observation, so the
    teacher's rollout and evaluation code drive the student unchanged."""

    world: Any
    pixels: ga.PixelPipeline

    @property
    def config(self) -> Any:
        return self.world.config

    @property
    def action_space(self) -> Any:
        return self.world.action_space

    @property
    def maps(self) -> Any:
        return self.world.maps

    def reset(self, key: Any, map_id: Any = None) -> Any:
        return self.world.reset(key, map_id)

    def step(self, state: Any, action: Any) -> Any:
        return self.world.step(state, action)

    def observe(self, state: Any) -> ga.StudentObservation:
        return self.pixels.observe_world(self.world, state)


class PixelDriver(eqx.Module):
    """The student as a gp-eval harness policy: `observe(world, state)` renders every agent's
    camera rig (gp-eval's rollouts call it instead of the privileged observation), and
    `__call__(observation, key)` returns one action per slot (the mode, or a sample).

    `pixels` must be built over the maps of the world it is evaluated on (for held-out towns:
    `ga.make_pixel_pipeline(cfg.pixels, world.maps)`)."""

    student: Any
    pixels: ga.PixelPipeline
    greedy: bool = eqx.field(static=True, default=True)

    def observe(self, world: Any, state: Any) -> ga.StudentObservation:
        return self.pixels.observe_world(world, state)

    def __call__(self, observation: ga.StudentObservation, key: Any) -> Any:
        distribution, _ = jax.vmap(self.student)(observation)
        if self.greedy:
            return jax.vmap(lambda d: d.mode())(distribution)
        keys = jax.random.split(key, observation.valid.shape[0])
        return jax.vmap(lambda d, k: d.sample(k))(distribution, keys)


def evaluate_student(
    student: Any,
    teacher: Any,
    world: Any,
    pixels: ga.PixelPipeline,
    key: Any,
    num_worlds: int = 4,
    num_steps: int = 200,
) -> dict[str, float]:
    """Student (pixels, action head, greedy) and teacher (privileged) each drive every agent of
    the same fresh worlds; returns `student_*` and `teacher_*` episode metrics and
    `goal_rate_ratio` = student / teacher route completion."""
    student_metrics = ga.evaluate_policy(
        student, PixelWorld(world, pixels), key, num_worlds, num_steps
    )
    teacher_metrics = ga.evaluate_policy(teacher, world, key, num_worlds, num_steps)
    result = {f"student_{k}": v for k, v in student_metrics.items()}
    result.update({f"teacher_{k}": v for k, v in teacher_metrics.items()})
    result["goal_rate_ratio"] = student_metrics["goal_rate"] / max(
        teacher_metrics["goal_rate"], 1e-9
    )
    return jax.device_get(result)
