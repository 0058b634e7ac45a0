"""Configs: presets round-trip through the run folder's JSON; bad values fail clearly."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import optax
import pytest

import gp_agents as ga


@pytest.mark.parametrize("preset", ["toy", "demo", "full"])
def test_presets_round_trip_through_json(preset):
    cfg = getattr(ga.TrainConfig, preset)()
    text = json.dumps(cfg.to_json())
    assert ga.TrainConfig.from_json(json.loads(text)) == cfg


def test_unknown_or_bad_fields_are_named():
    data = ga.TrainConfig.toy().to_json()
    data["ppo"]["learnin_rate"] = 1.0
    with pytest.raises(ValueError, match="learnin_rate"):
        ga.TrainConfig.from_json(data)
    with pytest.raises(ValueError, match="advantage_filter"):
        ga.PPOConfig(advantage_filter=1.5)
    with pytest.raises(ValueError, match="longitudinal_entropy_floor"):
        ga.PPOConfig(longitudinal_entropy_floor=-0.5)
    with pytest.raises(ValueError, match="num_minibatches"):
        ga.PPOConfig(rollout_steps=3, num_minibatches=2).check_divides(num_agents=1, num_devices=1)
    with pytest.raises(ValueError, match="ent_coef_end"):
        ga.PPOConfig(ent_coef_end=-0.01)
    with pytest.raises(ValueError, match="element_depth"):
        ga.TeacherConfig(element_depth=-1)


def test_entropy_bonus_schedule():
    constant = ga.PPOConfig(ent_coef=0.03, num_updates=11)
    assert [float(ga.entropy_coefficient(constant, u)) for u in (0, 10)] == pytest.approx(
        [0.03, 0.03]
    )
    falling = ga.PPOConfig(ent_coef=0.03, ent_coef_end=0.01, num_updates=11)
    got = [float(ga.entropy_coefficient(falling, u)) for u in (0, 5, 10, 20)]
    assert got == pytest.approx([0.03, 0.02, 0.01, 0.01])  # held at the end after the run


@pytest.mark.parametrize("kind", ["constant", "linear", "cosine"])
@pytest.mark.parametrize("warmup", [0, 3])
def test_learning_rate_schedule_matches_optax(kind, warmup):
    """The schedules written for a traced run length equal optax's own at a fixed length."""
    ppo = ga.PPOConfig(
        lr_schedule=kind, warmup_updates=warmup, num_updates=20, epochs=2, num_minibatches=3
    )
    total, start = 20 * 6, warmup * 6
    decay = {
        "constant": optax.constant_schedule(ppo.learning_rate),
        "linear": optax.linear_schedule(ppo.learning_rate, 0.0, total - start),
        "cosine": optax.cosine_decay_schedule(ppo.learning_rate, total - start),
    }[kind]
    reference = decay
    if warmup:
        ramp = optax.linear_schedule(0.0, ppo.learning_rate, start)
        reference = optax.join_schedules([ramp, decay], [start])
    counts = [0, 1, 5, start, start + 1, 60, total - 1, total, total + 7]
    ours = ga.learning_rate_schedule(ppo)
    assert [float(ours(c)) for c in counts] == pytest.approx(
        [float(reference(c)) for c in counts], rel=1e-5, abs=1e-12
    )
    # The run length may be a traced value (a run fitted to its time budget).
    traced = jax.jit(lambda n, c: ga.learning_rate_schedule(ppo, n)(c))
    assert float(traced(jnp.int32(20), 60)) == pytest.approx(float(reference(60)), rel=1e-5)
    shorter = ga.PPOConfig(
        lr_schedule=kind, warmup_updates=warmup, num_updates=10, epochs=2, num_minibatches=3
    )
    assert float(traced(jnp.int32(10), 40)) == pytest.approx(
        float(ga.learning_rate_schedule(shorter)(40)), rel=1e-5
    )
    with pytest.raises(ValueError, match="lr_schedule"):
        ga.learning_rate_schedule(ga.PPOConfig(lr_schedule="step"))  # type: ignore[arg-type]


def test_fitting_the_schedule_needs_a_time_budget():
    with pytest.raises(ValueError, match="max_minutes"):
        ga.TrainConfig(fit_schedule=True)
    with pytest.raises(ValueError, match="max_minutes must be >= 0"):
        ga.TrainConfig(max_minutes=-1.0)
    with pytest.raises(ValueError, match="set fit_schedule"):
        ga.TrainConfig(schedule_from="runs/teacher-demo")
    # Repeating a fitted run needs no time budget: its lengths are logged.
    assert ga.TrainConfig(fit_schedule=True, schedule_from="runs/teacher-demo").max_minutes == 0
    assert ga.fitted_run_length(10, 20, 10.0, 30.0, 1000) == 70  # 2 updates/s for 30 s more
    assert ga.fitted_run_length(10, 20, 10.0, 30.0, 50) == 50  # never past num_updates
    assert ga.fitted_run_length(10, 20, 10.0, -5.0, 1000) == 10  # out of time: stop here
    assert ga.fitted_run_length(10, 0, 0.0, 30.0, 1000) == 1000  # nothing measured yet
    # Whole jitted calls of 8 updates (a shorter last one would compile anew): 10 + 56.
    assert ga.fitted_run_length(10, 20, 10.0, 30.0, 1000, multiple_of=8) == 66
