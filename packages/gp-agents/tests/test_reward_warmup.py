"""A reward curriculum (`TrainConfig.reward_warmup`): for the first fraction of the run the
training worlds draw the named weights from the warm-up's ranges, then from the world's own."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys

import jax
import numpy as np
import pytest

import gp_agents as ga
import gp_world as gw
from gp_agents._checkpoint import tree_equal_report

# The small run the trainer tests share (as two_process_worker.py imports it).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_trainer import CFG

# That run (two updates per call, no held-out evaluation) on the toy world, with a collision
# costing 10 to 15, warmed up at 6 to 10 for the first half of its 8 updates.
WARM = dataclasses.replace(
    CFG,
    world=dataclasses.replace(ga.TrainConfig.toy().world, reward_collision=(10.0, 15.0)),
    ppo=dataclasses.replace(CFG.ppo, num_updates=8),
    reward_warmup=(("collision", 6.0, 10.0),),
    reward_warmup_fraction=0.5,
    checkpoint_every=4,
)
STEPS = WARM.ppo.rollout_steps  # per update


@pytest.fixture(scope="module")
def warm_trainer():
    """One compiled trainer (and its world) for both tests of a warmed-up run."""
    world = ga.build_world(WARM)
    return ga.make_trainer(WARM, world, devices=jax.devices()[:1]), world


def test_warmup_draws_its_weights_then_the_worlds_own(warm_trainer):
    """Agents (re)spawned during updates 1-4 (younger than 32 steps after update 4) carry
    warm-up weights; those spawned during updates 5-8 carry the world's. The policy sees both
    on the world's scale, and the metrics say which updates warmed up."""
    assert WARM.warmup_world.reward_draw == (("collision", 6.0, 10.0),)
    trainer, _ = warm_trainer
    state = trainer.init(jax.random.key(0))
    collision = gw.REWARD_TERMS.index("collision")

    def young_weights(state):
        agents = state.world_state.agents
        young = np.asarray(agents.valid) & (np.asarray(agents.age) < 4 * STEPS)
        return np.asarray(agents.reward_weights)[..., collision][young]

    warming = []
    for _ in range(2):  # calls of 2 updates, as the other test's run makes (one compilation)
        state, metrics = trainer.updates(state, 2)
        warming += np.asarray(metrics["reward_warmup"]).tolist()
    warm = young_weights(state)
    for _ in range(2):
        state, metrics = trainer.updates(state, 2)
        warming += np.asarray(metrics["reward_warmup"]).tolist()
    later = young_weights(state)
    assert warming == [1.0] * 4 + [0.0] * 4
    assert warm.size > 0 and later.size > 0, "no agent respawned: the test saw nothing"
    assert warm.min() >= 6.0 and warm.max() <= 10.0, warm
    assert later.min() >= 10.0 and later.max() <= 15.0, later
    # A fitted run warms up over its fitted length.
    assert int(ga.warmup_updates(WARM, 10)) == 5 and int(ga.warmup_updates(WARM)) == 4


def test_a_run_stopped_in_its_warmup_resumes_exactly(tmp_path, warm_trainer):
    """Stopped by SIGTERM after update 2, inside the warm-up, with its checkpoint; resumed,
    updates 3-4 still warm up and 5-8 do not, and the run ends bit for bit where an
    uninterrupted one does."""
    trainer, world = warm_trainer
    reads = [0]

    def clock() -> float:  # read at the start, then before and after each call
        reads[0] += 1
        if reads[0] == 2:  # just before the first call (updates 1-2)
            os.kill(os.getpid(), signal.SIGTERM)
        return float(reads[0])

    def train(folder, **kwargs):
        return ga.train_teacher(WARM, tmp_path / folder, world=world, trainer=trainer, **kwargs)

    with pytest.raises(SystemExit):
        train("stopped", clock=clock)
    saved = ga.Checkpointer(tmp_path / "stopped" / "checkpoints", WARM.to_json())
    assert saved.latest_step() == 2
    saved.close()
    resumed = train("stopped")
    straight = train("straight")
    assert int(resumed.update) == 8
    assert tree_equal_report(straight, resumed) == []
    for folder in ("stopped", "straight"):
        lines = (tmp_path / folder / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(x)["reward_warmup"] for x in lines] == [1.0] * 4 + [0.0] * 4


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
