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

    def reset(self, key: Any, map_id: Any = None) -> Any:
        return self.world.reset(key, map_id)

    def step(self, state: Any, action: Any) -> Any:
        return self.world.step(state, action)

    def observe(self, state: Any) -> ga.StudentObservation:
        return self.pixels.observe_world(self.world, state)


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
