"""Configs: presets round-trip through the run folder's JSON; bad values fail clearly."""

from __future__ import annotations

import json

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


def test_entropy_bonus_schedule():
    constant = ga.PPOConfig(ent_coef=0.03, num_updates=11)
    assert [float(ga.entropy_coefficient(constant, u)) for u in (0, 10)] == pytest.approx(
        [0.03, 0.03]
    )
    falling = ga.PPOConfig(ent_coef=0.03, ent_coef_end=0.01, num_updates=11)
    got = [float(ga.entropy_coefficient(falling, u)) for u in (0, 5, 10, 20)]
    assert got == pytest.approx([0.03, 0.02, 0.01, 0.01])  # held at the end after the run
