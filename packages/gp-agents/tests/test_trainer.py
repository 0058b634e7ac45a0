"""Trainer on a tiny stand-in world: sharded == single device, exact resume, checkpoint errors.

One small config is compiled once per device count (module fixtures) and shared by every test.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
import pytest

import gp_agents as ga
from gp_agents._checkpoint import tree_equal_report

CFG = ga.TrainConfig(
    teacher=ga.TeacherConfig(
        element_width=16,
        set_features=16,
        ego_width=16,
        trunk_width=32,
        trunk_depth=1,
        latent_size=16,
    ),
    ppo=ga.PPOConfig(
        num_worlds=4,
        rollout_steps=8,
        num_updates=4,
        epochs=2,
        num_minibatches=2,
        advantage_filter=0.05,
        ent_coef_end=0.0,
    ),
    log_every=2,
    checkpoint_every=2,
    eval_steps=0,
    progress=False,
)


@pytest.fixture(scope="module")
def trainer4(lane_world):
    assert len(jax.devices()) == 4
    return ga.make_trainer(CFG, lane_world)


@pytest.fixture(scope="module")
def trainer1(lane_world):
    return ga.make_trainer(CFG, lane_world, devices=jax.devices()[:1])


@pytest.fixture(scope="module")
def sharded_run(trainer4):
    state = trainer4.init(jax.random.key(0))
    return trainer4.updates(state, 2)


def test_worlds_are_sharded_and_params_replicated(sharded_run):
    state, _ = sharded_run
    offsets = state.world_state.offset
    assert len(offsets.sharding.device_set) == 4
    assert offsets.addressable_shards[0].data.shape == (1, 4)  # 4 worlds over 4 devices
    weight = state.policy.actor_head.weight
    assert weight.sharding.is_fully_replicated


def test_sharded_run_equals_single_device_run(sharded_run, trainer1):
    state4, metrics4 = sharded_run
    state1, metrics1 = trainer1.updates(trainer1.init(jax.random.key(0)), 2)
    # Same random numbers and same minibatches; only the order of float sums across devices
    # differs, which after two updates (8 Adam steps) stays below 1e-4 relative.
    leaves4 = jax.tree.leaves(eqx.filter(state4.policy, eqx.is_array))
    leaves1 = jax.tree.leaves(eqx.filter(state1.policy, eqx.is_array))
    for a, b in zip(leaves4, leaves1, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    for name in ("episode_return", "policy_loss", "value_loss", "approx_kl"):
        np.testing.assert_allclose(metrics4[name], metrics1[name], rtol=1e-4, atol=1e-5)
    # The world rollouts are identical bit for bit: actions were sampled the same way.
    np.testing.assert_array_equal(state4.world_state.offset, state1.world_state.offset)


def test_training_moves_the_policy_and_logs_finite_metrics(sharded_run, trainer4):
    state, metrics = sharded_run
    start = trainer4.init(jax.random.key(0))
    assert tree_equal_report(start.policy, state.policy)  # parameters changed
    for name, values in metrics.items():
        assert np.all(np.isfinite(values)), name
    assert 0.0 < float(metrics["advantage_kept_fraction"][-1]) < 1.0  # the filter dropped some
    # The entropy bonus falls linearly from 0.01 at update 0 to 0 at the last (update 3).
    np.testing.assert_allclose(metrics["ent_coef"], [0.01, 0.01 * 2 / 3], rtol=1e-6)
    # Its actions (three steering values) have no accelerator axis: no per-axis entropies.
    assert "entropy_longitudinal" not in metrics and "entropy_lateral" not in metrics


def test_entropy_floor_needs_an_action_space_with_axes(lane_world):
    # The stand-in world steers only: no accelerator for the floor to act on.
    floored = dataclasses.replace(
        CFG, ppo=dataclasses.replace(CFG.ppo, longitudinal_entropy_floor=0.5)
    )
    with pytest.raises(ValueError, match="longitudinal_entropy_floor"):
        ga.make_trainer(floored, lane_world, devices=jax.devices()[:1])


def test_resumed_run_equals_uninterrupted_run(tmp_path, lane_world, trainer4):
    straight = ga.train_teacher(CFG, tmp_path / "a", world=lane_world, trainer=trainer4)
    half = dataclasses.replace(CFG, ppo=dataclasses.replace(CFG.ppo, num_updates=2))
    ga.train_teacher(half, tmp_path / "b", world=lane_world, trainer=trainer4)
    resumed = ga.train_teacher(CFG, tmp_path / "b", world=lane_world, trainer=trainer4)
    assert int(resumed.update) == 4
    assert tree_equal_report(straight, resumed) == []
    lines = [json.loads(x) for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["update"] for r in lines] == [1, 2, 3, 4]
    for name in ("config.json", "learning_curve.png"):
        assert (tmp_path / "b" / name).is_file()
    # The policy alone restores without any world state (for evaluation and distillation).
    reader = ga.Checkpointer(tmp_path / "b" / "checkpoints", CFG.to_json())
    policy = reader.restore_policy(trainer4.init(jax.random.key(1)).policy)
    assert tree_equal_report(policy, resumed.policy) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_run_with_a_checkpoint(tmp_path, lane_world, trainer1, signum):
    """Ctrl-C or SIGTERM while a call runs: the call finishes, a checkpoint of it is saved, the
    run stops as the signal would have, and resuming ends where an uninterrupted run does."""
    cfg = dataclasses.replace(CFG, ppo=dataclasses.replace(CFG.ppo, num_updates=6))
    cfg = dataclasses.replace(cfg, checkpoint_every=4)  # none due at update 2
    reads = [0]

    def clock() -> float:  # read at the start, then before and after each call
        reads[0] += 1
        if reads[0] == 2:  # just before the first call (updates 1-2)
            os.kill(os.getpid(), signum)
        return float(reads[0])

    handler = signal.getsignal(signum)
    expected = KeyboardInterrupt if signum == signal.SIGINT else SystemExit
    with pytest.raises(expected) as stopped:
        ga.train_teacher(cfg, tmp_path / "a", world=lane_world, trainer=trainer1, clock=clock)
    if signum == signal.SIGTERM:
        assert stopped.value.code == 143
    assert signal.getsignal(signum) == handler  # restored
    reader = ga.Checkpointer(tmp_path / "a" / "checkpoints", cfg.to_json())
    assert reader.latest_step() == 2
    reader.close()
    lines = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["update"] for x in lines] == [1, 2]

    resumed = ga.train_teacher(cfg, tmp_path / "a", world=lane_world, trainer=trainer1)
    straight = ga.train_teacher(cfg, tmp_path / "b", world=lane_world, trainer=trainer1)
    assert int(resumed.update) == 6
    assert tree_equal_report(straight, resumed) == []


# With held-out evaluations (process 0 alone), mid-run and at the end.
TWO_PROCESS_CFG = dataclasses.replace(CFG, eval_every=2, eval_worlds=2, eval_steps=8)


def _two_processes(run_dir: Path, signal_second: bool = False) -> list[str]:
    """Train TWO_PROCESS_CFG in two processes of two CPU devices each, joined by
    `jax.distributed` on a free local port (two_process_worker.py); their outputs."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    worker = Path(__file__).with_name("two_process_worker.py")
    processes = [
        subprocess.Popen(
            [sys.executable, str(worker), str(i), str(port), str(run_dir)]
            + (["signal"] if signal_second and i == 1 else []),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in (0, 1)
    ]
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    return [
        f"exit {p.returncode}: ...{out[-2000:]}" for p, out in zip(processes, outputs, strict=True)
    ]


def test_two_processes_train_as_one_and_stop_together(tmp_path, lane_world, trainer4):
    """A multi-process run (`DistributedConfig`, two local processes of two CPU devices): a
    SIGTERM to one process stops both after the same call with one checkpoint (exit 143 each);
    resumed (every process with its own process_id, on another port) it ends where one process
    on four devices does, to float tolerance; only process 0 writes the log."""
    run_dir = tmp_path / "two"
    outputs = _two_processes(run_dir, signal_second=True)
    assert [o.split(":")[0] for o in outputs] == ["exit 143", "exit 143"], outputs
    reader = ga.Checkpointer(run_dir / "checkpoints", TWO_PROCESS_CFG.to_json())
    assert reader.steps() == [2]
    reader.close()
    outputs = _two_processes(run_dir)
    assert [o.split(":")[0] for o in outputs] == ["exit 0", "exit 0"], outputs
    one = ga.train_teacher(
        TWO_PROCESS_CFG,
        tmp_path / "one",
        world=lane_world,
        heldout_world=lane_world,
        trainer=trainer4,
    )
    reader = ga.Checkpointer(run_dir / "checkpoints", TWO_PROCESS_CFG.to_json())
    two = reader.restore_policy(trainer4.init(jax.random.key(1)).policy)
    reader.close()
    leaves_two = jax.tree.leaves(eqx.filter(two, eqx.is_array))
    leaves_one = jax.tree.leaves(eqx.filter(one.policy, eqx.is_array))
    for a, b in zip(leaves_two, leaves_one, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    # (The stop at update 2 skipped that update's evaluation; the end's ran on process 0.)
    expected = [(1, False), (2, False), (3, False), (4, False), (4, True)]
    assert [(r["update"], "heldout_goal_rate" in r) for r in lines] == expected


def _drop_field(config: dict, dotted: str) -> dict:
    """`config` as a version without the field `dotted` ("world.idle_penalty") saved it."""
    *parents, leaf = dotted.split(".")
    node = config
    for name in parents:
        node = node[name]
    node.pop(leaf)
    return config


def test_run_saved_before_fields_were_added_still_resumes(tmp_path, lane_world, trainer4):
    """Fields added since a run was saved (absent from its config.json and checkpoint) take
    their defaults, which keep the old behaviour: the run resumes as if saved today."""
    half = dataclasses.replace(CFG, ppo=dataclasses.replace(CFG.ppo, num_updates=2))
    ga.train_teacher(half, tmp_path / "old", world=lane_world, trainer=trainer4)
    added = ("world.idle_penalty", "world.conflict_horizon", "ppo.longitudinal_entropy_floor")
    config_path = tmp_path / "old" / "config.json"
    old = json.loads(config_path.read_text())
    for dotted in added:
        _drop_field(old, dotted)
    config_path.write_text(json.dumps(old))
    metas = [p for p in (tmp_path / "old" / "checkpoints").rglob("metadata") if "meta" in str(p)]
    assert metas
    for path in metas:
        meta = json.loads(path.read_text())
        for dotted in added:
            _drop_field(meta["config"], dotted)
        path.write_text(json.dumps(meta))
    assert ga.TrainConfig.from_run(tmp_path / "old") == half
    with pytest.raises(ga.CheckpointError, match=r"world\.idle_penalty"):
        ga.Checkpointer(tmp_path / "old" / "checkpoints", CFG.to_json()).restore(
            trainer4.init(jax.random.key(0))
        )  # compared as saved, the absent field differs
    resumed = ga.train_teacher(CFG, tmp_path / "old", world=lane_world, trainer=trainer4)
    straight = ga.train_teacher(CFG, tmp_path / "new", world=lane_world, trainer=trainer4)
    assert tree_equal_report(straight, resumed) == []
    # A field this version does not know is still an error, naming it.
    old["world"]["from_the_future"] = 1
    config_path.write_text(json.dumps(old))
    with pytest.raises(ValueError, match="from_the_future"):
        ga.TrainConfig.from_run(tmp_path / "old")


def test_corrupt_or_mismatched_checkpoints_fail_clearly(tmp_path, lane_world, trainer4):
    run = tmp_path / "run"
    ga.train_teacher(CFG, run, world=lane_world, trainer=trainer4)
    steps = sorted(int(p.name) for p in (run / "checkpoints").iterdir() if p.name.isdigit())
    assert steps == [2, 4]

    other = dataclasses.replace(CFG, ppo=dataclasses.replace(CFG.ppo, gamma=0.9))
    with pytest.raises(ga.CheckpointError, match=r"ppo\.gamma"):
        ga.train_teacher(other, run, world=lane_world, trainer=trainer4)

    # A model of another size under the same config: the manifest check names the leaf.
    small = ga.TeacherConfig(
        element_width=8, set_features=8, ego_width=8, trunk_width=8, trunk_depth=1, latent_size=8
    )
    small_trainer_cfg = dataclasses.replace(CFG, teacher=small)
    template = ga.make_trainer(small_trainer_cfg, lane_world).init(jax.random.key(0))
    reader = ga.Checkpointer(run / "checkpoints", CFG.to_json())
    with pytest.raises(ga.CheckpointError, match="does not fit this model"):
        reader.restore(template)

    # Corrupt the newest checkpoint's array files: a clear error, and the older one survives.
    newest = run / "checkpoints" / "4" / "state"
    for path in newest.rglob("*"):
        if path.is_file() and path.suffix != ".json":
            path.write_bytes(b"not a checkpoint")
    shutil.rmtree(newest / "d", ignore_errors=True)
    with pytest.raises(ga.CheckpointError, match="unreadable"):
        ga.train_teacher(CFG, run, world=lane_world, trainer=trainer4)
    state, meta = reader.restore(trainer4.init(jax.random.key(0)), step=2)
    assert int(state.update) == 2 and meta["step"] == 2


def test_init_from_starts_a_new_run_from_another_runs_policy(tmp_path, lane_world, trainer4):
    source = tmp_path / "source"
    trained = ga.train_teacher(CFG, source, world=lane_world, trainer=trainer4)
    reader = ga.Checkpointer(source / "checkpoints", CFG.to_json())
    fresh = trainer4.init(jax.random.key(CFG.seed))
    source_2 = reader.restore_policy(fresh.policy, step=2)
    reader.close()
    assert tree_equal_report(source_2, trained.policy) != []  # update 2, not the newest
    # The tuned run = a fresh state (optimiser, worlds, counter) holding the source's policy,
    # trained for the run's updates.
    tuned_cfg = dataclasses.replace(CFG, init_from=f"{source}@2")
    tuned = ga.train_teacher(tuned_cfg, tmp_path / "tuned", world=lane_world, trainer=trainer4)
    expected = eqx.tree_at(lambda s: s.policy, fresh, source_2)
    for _ in range(2):
        expected, _ = trainer4.updates(expected, 2)
    assert int(tuned.update) == 4
    assert tree_equal_report(tuned, expected) == []
    # A missing folder or a bad step is named.
    with pytest.raises(FileNotFoundError, match="holds no teacher run"):
        ga.train_teacher(
            dataclasses.replace(CFG, init_from=str(tmp_path / "nowhere")),
            tmp_path / "x",
            world=lane_world,
            trainer=trainer4,
        )
    with pytest.raises(ValueError, match="folder@step"):
        ga.split_run_step(f"{source}@latest")


def test_returns_can_flow_past_successful_episode_ends(lane_world, trainer1):
    # Lane episodes end by timeout after 40 steps (a success) or by leaving the lane (a
    # failure). Once timeouts happen (update 6 of 8 steps), cutting returns only at failures
    # changes the value targets, hence the update.
    failure_only = dataclasses.replace(
        CFG, ppo=dataclasses.replace(CFG.ppo, returns_end_at="failure")
    )
    trainer = ga.make_trainer(failure_only, lane_world, devices=jax.devices()[:1])
    start = trainer.init(jax.random.key(0))
    assert tree_equal_report(start, trainer1.init(jax.random.key(0))) == []
    a, metrics = trainer.updates(start, 6)
    b, _ = trainer1.updates(start, 6)
    assert tree_equal_report(a.policy, b.policy)  # they differ
    assert all(np.all(np.isfinite(v)) for v in metrics.values())
    with pytest.raises(ValueError, match="returns_end_at"):
        ga.PPOConfig(returns_end_at="goal")


def _assert_weighted_sum(policies, weights, expected):
    floats = [eqx.filter(p, eqx.is_inexact_array) for p in policies]
    want = jax.tree.map(lambda *xs: sum(w * x for w, x in zip(weights, xs, strict=True)), *floats)
    have = eqx.filter(expected, eqx.is_inexact_array)
    for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(have), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)


def test_a_run_ships_a_moving_average_of_its_policy(tmp_path, lane_world, trainer1):
    """`average_updates`: the shipped policy is the plain mean of the live policies up to the
    N-th update, an exponential moving average after; it is saved with every checkpoint and
    resumed exactly, and training itself is unchanged."""
    averaging = dataclasses.replace(CFG, ppo=dataclasses.replace(CFG.ppo, average_updates=2))
    trainer = ga.make_trainer(averaging, lane_world, devices=jax.devices()[:1])
    state = trainer.init(jax.random.key(0))
    live = []
    for _ in range(4):
        state, _ = trainer.updates(state, 1)
        live.append(state.policy)
        if len(live) == 2:  # moved 1/1, then 1/2 of the way: the mean of the two
            _assert_weighted_sum(live, [0.5, 0.5], state.average)
    # Then 1/2 of the way at each update: weights 1/8, 1/8, 1/4, 1/2.
    _assert_weighted_sum(live, [0.125, 0.125, 0.25, 0.5], state.average)
    assert state.shipped_policy is state.average
    plain, _ = trainer1.updates(trainer1.init(jax.random.key(0)), 4)
    _assert_weighted_sum([plain.policy], [1.0], state.policy)

    # A run stopped and resumed ends where an uninterrupted one does; the averaged policy
    # restores by itself.
    straight = ga.train_teacher(averaging, tmp_path / "a", world=lane_world, trainer=trainer)
    half = dataclasses.replace(averaging, ppo=dataclasses.replace(averaging.ppo, num_updates=2))
    ga.train_teacher(half, tmp_path / "b", world=lane_world, trainer=trainer)
    resumed = ga.train_teacher(averaging, tmp_path / "b", world=lane_world, trainer=trainer)
    assert tree_equal_report(straight, resumed) == []
    reader = ga.Checkpointer(tmp_path / "b" / "checkpoints", averaging.to_json())
    template = trainer.init(jax.random.key(1)).policy
    shipped = reader.restore_policy(template, field="average")
    assert tree_equal_report(shipped, resumed.average) == []
    assert tree_equal_report(shipped, resumed.policy)  # not the live policy
    with pytest.raises(ValueError, match="average_updates"):
        ga.PPOConfig(average_updates=-1)
