"""Every teacher shipped under `checkpoints/` still loads with today's code: its config.json
reads as a TrainConfig and its newest checkpoint restores into today's TeacherPolicy."""

from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

import gp_agents as ga

SHIPPED = sorted((Path(__file__).parents[3] / "checkpoints").glob("teacher-*"))


def test_teachers_are_shipped():
    assert len(SHIPPED) >= 1


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_teacher_loads(folder):
    policy, cfg = ga.load_teacher(folder)
    assert isinstance(policy, ga.TeacherPolicy)
    assert cfg == ga.TrainConfig.from_run(folder)
    assert (folder / "README.md").is_file() and (folder / "metrics.jsonl").is_file()
    leaves = jax.tree.leaves(policy)
    assert leaves and all(bool(jnp.isfinite(x).all()) for x in leaves if hasattr(x, "dtype"))
