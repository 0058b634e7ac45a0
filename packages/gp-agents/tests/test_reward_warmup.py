"""A reward curriculum (`TrainConfig.reward_warmup`): for the first fraction of the run the
training worlds draw the named weights from the warm-up's ranges, then from the world's own."""

from __future__ import annotations

import dataclasses
import os
import sys

import jax
import numpy as np
import pytest

import gp_agents as ga
import gp_world as gw

# The small teacher the trainer tests share (as two_process_worker.py imports it).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_trainer import CFG

STEPS = 8  # rollout steps per update


def test_warmup_draws_its_weights_then_the_worlds_own():
    """Toy world, a collision costing 10 to 15, warmed up at 6 to 10 for half of 4 updates.
    Agents (re)spawned during updates 1-2 (younger than 16 steps after update 2) carry
    warm-up weights; those spawned during updates 3-4 carry the world's. The policy sees both
    on the world's scale, and the metrics say which updates warmed up."""
    toy = ga.TrainConfig.toy()
    cfg = dataclasses.replace(
        toy,
        world=dataclasses.replace(toy.world, reward_collision=(10.0, 15.0)),
        teacher=CFG.teacher,
        ppo=dataclasses.replace(toy.ppo, num_worlds=4, rollout_steps=STEPS, num_updates=4),
        reward_warmup=(("collision", 6.0, 10.0),),
        reward_warmup_fraction=0.5,
    )
    assert cfg.warmup_world.reward_draw == (("collision", 6.0, 10.0),)
    trainer = ga.make_trainer(cfg, ga.build_world(cfg), devices=jax.devices()[:1])
    state = trainer.init(jax.random.key(0))
    collision = gw.REWARD_TERMS.index("collision")

    def young_weights(state):
        agents = state.world_state.agents
        young = np.asarray(agents.valid) & (np.asarray(agents.age) < 2 * STEPS)
        return np.asarray(agents.reward_weights)[..., collision][young]

    state, first = trainer.updates(state, 2)
    warm = young_weights(state)
    state, second = trainer.updates(state, 2)
    later = young_weights(state)
    assert np.asarray(first["reward_warmup"]).tolist() == [1.0, 1.0]
    assert np.asarray(second["reward_warmup"]).tolist() == [0.0, 0.0]
    assert warm.size > 0 and later.size > 0, "no agent respawned: the test saw nothing"
    assert warm.min() >= 6.0 and warm.max() <= 10.0, warm
    assert later.min() >= 10.0 and later.max() <= 15.0, later
    # A fitted run warms up over its fitted length.
    assert int(ga.warmup_updates(cfg, 10)) == 5 and int(ga.warmup_updates(cfg)) == 2


def test_a_warmup_needs_its_fraction_and_known_terms():
    toy = ga.TrainConfig.toy()
    # Entries without a fraction are inert: a preset's warm-up is turned off by its fraction.
    assert dataclasses.replace(toy, reward_warmup=(("collision", 1.0, 2.0),)).reward_warmup
    for fraction, warmup in ((0.3, ()), (1.5, (("collision", 1.0, 2.0),))):
        with pytest.raises(ValueError, match="reward_warmup_fraction"):
            dataclasses.replace(toy, reward_warmup=warmup, reward_warmup_fraction=fraction)
    with pytest.raises(ValueError, match="reward_draw"):
        dataclasses.replace(
            toy, reward_warmup=(("colision", 1.0, 2.0),), reward_warmup_fraction=0.3
        )
