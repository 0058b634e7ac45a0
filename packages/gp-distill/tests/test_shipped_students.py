"""Every student shipped under `checkpoints/` still loads with today's code, and was distilled in
the world of the shipped teacher it names, so that the demo and `scripts/evaluate.py` can drive
the two in one world (they skip a student whose world differs from the teacher's)."""

from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

import gp_agents as ga
import gp_distill as gd

ROOT = Path(__file__).parents[3]
SHIPPED = sorted((ROOT / "checkpoints").glob("student-*"))


def test_students_are_shipped():
    assert len(SHIPPED) >= 1


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_student_loads_beside_its_teacher(folder):
    student, cfg = gd.load_student(folder)
    assert (folder / "README.md").is_file() and (folder / "metrics.jsonl").is_file()
    leaves = [x for x in jax.tree.leaves(student) if hasattr(x, "dtype")]
    assert leaves and all(bool(jnp.isfinite(x).all()) for x in leaves)

    saved_cfg, teacher_name = gd.run_config(folder)
    assert saved_cfg == cfg
    teacher_path, teacher_step = ga.split_run_step(teacher_name)
    assert (ROOT / teacher_path / "config.json").is_file(), f"{folder.name}: no {teacher_name}"
    _, teacher_cfg = ga.load_teacher(ROOT / teacher_path, step=teacher_step)
    # Runs may differ in their episode limit alone: `WorldConfig.drives_like`, the test the demo
    # and `scripts/evaluate.py` make (an evaluation takes the first run's limit).
    assert set(cfg.world_differences(teacher_cfg)) <= {"max_episode_steps"}
    assert cfg.teacher == teacher_cfg.teacher
