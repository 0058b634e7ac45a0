"""Self-play DAgger on the toy ring world with the scripted teacher (gp_distill.testing):
forked trajectory labels against a step-by-step reference, the CI agreement threshold, the
baselines' driving masks, and exact resume from a checkpoint."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gp_agents as ga
import gp_distill as gd
import gp_world as gw
from gp_distill.testing import scripted_teacher

# The scripted teacher follows its route, so the toy world's grid actions are a function of what
# the student sees (speed, route command, camera); the accel x steer grid has 49 actions.
WORLD = dataclasses.replace(gw.WorldConfig.toy(), action_space="accel_steer_grid")
STUDENT = ga.StudentConfig(
    channels=(8, 16),
    view_features=32,
    measurement_width=32,
    route_width=32,
    trunk_width=64,
    latent_size=64,
    head_width=64,
)
PIXELS = dataclasses.replace(ga.PixelConfig.toy(), width=32, height=24, backend="xla")
CI = gd.DistillConfig(
    world=WORLD,
    student=STUDENT,
    pixels=PIXELS,
    dagger=gd.DaggerConfig(
        num_worlds=4,
        rollout_steps=16,
        iterations=8,
        beta_decay=0.5,
        fork_every=8,
        buffer_capacity=2048,
        batch_size=64,
        sgd_steps=200,
        learning_rate=1e-3,
    ),
    checkpoint_every=1,
    keep_checkpoints=3,
    eval_steps=0,  # closed-loop evaluation is the script's job; CI measures agreement
    progress=False,
)
AGREEMENT_THRESHOLD = 0.8
"""Share of the student's own visited states (last 3 iterations, measured before training on
them) where its most likely grid action is the teacher's (49 actions). Steady driving on the
ring makes one action common, so the test also demands beating that constant guess."""


@pytest.fixture(scope="module")
def toy():
    world = gw.World(WORLD, gw.build_map_bank(WORLD, "train"))
    teacher = scripted_teacher(world, STUDENT.latent_size, jax.random.key(7))
    return world, teacher


@pytest.fixture(scope="module")
def ci_run(toy, tmp_path_factory):
    world, teacher = toy
    dagger, *_ = gd.build_distillation(CI, teacher, world)
    run_dir = tmp_path_factory.mktemp("distill") / "ci"
    compile_start = time.perf_counter()
    jax.block_until_ready(dagger.iteration(dagger.init(jax.random.key(0))))  # compile only
    compile_seconds = time.perf_counter() - compile_start
    # CPU time of this process, not wall time: the shared machine's load must not decide.
    start, wall = time.process_time(), time.perf_counter()
    state = gd.distill_student(CI, run_dir, dagger=dagger)
    seconds = time.process_time() - start
    print(f"DAgger: {seconds:.0f} CPU s, {time.perf_counter() - wall:.0f} s wall")
    return dagger, run_dir, state, seconds, compile_seconds


def test_fork_matches_stepping_the_world(toy, key):
    """Forked trajectory poses equal the ego-frame poses of a plain step-by-step rollout."""
    world, teacher = toy
    state = jax.jit(world.reset)(key)
    trajectory, valid = jax.jit(lambda s: gd.fork_trajectories(teacher, world, s, 40))(state)

    @jax.jit
    def step(s):
        distribution, _, _ = gd.teacher_outputs(teacher, world.observe(s))
        s, out = world.step(s, jax.vmap(lambda d: d.mode())(distribution))
        return s, out.done

    s, ended = state, np.zeros(WORLD.num_agents, bool)
    a0 = state.agents
    for t in range(40):
        s, done = step(s)
        ended |= np.asarray(done)
        if (t + 1) % 5 == 0:
            k = (t + 1) // 5 - 1
            x, y = gw.to_ego(s.agents.x, s.agents.y, a0.x, a0.y, a0.yaw)
            live = ~ended & np.asarray(a0.valid)
            np.testing.assert_array_equal(valid[:, k], live)
            # Same float ops in another order (scan vs loop): float32 rounding only.
            np.testing.assert_allclose(trajectory[live, k, 0], x[live], atol=1e-3)
            np.testing.assert_allclose(trajectory[live, k, 1], y[live], atol=1e-3)
    assert np.asarray(valid).any()
    # The teacher drives forward at ~6 m/s: the 4 s pose is well ahead.
    assert float(jnp.max(trajectory[:, -1, 0])) > 10.0


def test_teacher_outputs_of_one_world_a_batch_and_sharded_worlds(toy, key):
    """Labels of [W, A] observations equal each agent's own, also with the worlds sharded over
    the 4 CPU devices as in DAgger, for the scripted teacher (vmapped per agent) and for a
    TeacherPolicy (called on the whole batch)."""
    world, scripted = toy
    k_worlds, k_policy = jax.random.split(key)
    states = jax.vmap(world.reset)(jax.random.split(k_worlds, 4))
    privileged = jax.vmap(world.observe)(states)
    one_agent = jax.tree.map(lambda x: x[0, 0], privileged)
    policy = ga.TeacherPolicy(
        ga.TeacherConfig.toy(), one_agent, gw.action_space(WORLD.action_space), key=k_policy
    )
    mesh = ga.world_mesh()
    labels = eqx.filter_jit(gd.teacher_outputs)
    sharded_labels = eqx.filter_jit(
        lambda t, p: ga.shard_worlds(gd.teacher_outputs(t, ga.shard_worlds(p, mesh)), mesh)
    )

    def per_agent(teacher, o):
        return teacher.action_distribution(o), teacher.latent(o), teacher.value(o)

    for teacher in (scripted, policy):
        batch = labels(teacher, privileged)
        sharded = sharded_labels(teacher, privileged)
        second_world = labels(teacher, jax.tree.map(lambda x: x[1], privileged))
        each = eqx.filter_jit(jax.vmap(jax.vmap(per_agent, (None, 0)), (None, 0)))(
            teacher, privileged
        )
        leaves = map(jax.tree.leaves, (batch, sharded, second_world, each))
        for got, got_sharded, world_1, want in zip(*leaves, strict=True):
            assert got.shape == want.shape == (4, *world_1.shape)
            assert len(got_sharded.sharding.device_set) == mesh.size
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(got_sharded, want, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(got[1], world_1, rtol=1e-5, atol=1e-5)


def test_student_agrees_with_teacher_within_a_minute(ci_run):
    _, run_dir, _, seconds, compile_seconds = ci_run
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == list(range(1, CI.dagger.iterations + 1))
    last = records[-3:]
    agreement = np.mean([r["rollout_agreement"] for r in last])
    majority = np.mean([r["majority_agreement"] for r in last])
    print(f"agreement {agreement:.3f} (constant guess {majority:.3f}), {seconds:.1f} s")
    assert agreement >= AGREEMENT_THRESHOLD
    assert agreement > majority + 0.03
    assert all(r["student_fraction"] > 0.85 for r in last)  # the student really drove
    assert records[-1]["batch_agreement"] > 0.9
    assert records[0]["loss_action"] > 2 * records[-1]["loss_action"]
    # One minute of the 2-core CPU after compilation: at most 120 CPU seconds.
    assert seconds < 120.0, f"{seconds:.0f} CPU s after {compile_seconds:.0f} s of compilation"
    assert (run_dir / "learning_curves.png").exists()


def test_resume_is_exact(ci_run, tmp_path):
    """Resuming the second-to-last checkpoint reproduces the final student bit for bit."""
    dagger, run_dir, state, *_ = ci_run
    resumed_dir = tmp_path / "resumed"
    shutil.copytree(run_dir, resumed_dir)
    shutil.rmtree(resumed_dir / "checkpoints" / str(CI.dagger.iterations))
    # As a version before the world's idle penalty saved it: the field absent from config.json
    # and from the checkpoint takes its default (0, no penalty) and the run still resumes.
    saved_files = [resumed_dir / "config.json"]
    saved_files += [p for p in (resumed_dir / "checkpoints").rglob("metadata") if "meta" in str(p)]
    for path in saved_files:
        saved = json.loads(path.read_text())
        del (saved["config"] if "config" in saved else saved)["world"]["idle_penalty"]
        path.write_text(json.dumps(saved))
    # The config a run was saved with, completed: what `distill_student.py from-run` starts from.
    assert gd.run_config(resumed_dir) == (CI, "scripted")
    resumed = gd.distill_student(CI, resumed_dir, dagger=dagger)
    a = eqx.filter(state.student, eqx.is_array)
    b = eqx.filter(resumed.student, eqx.is_array)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)
    # The student alone loads from the run folder (no world state, no buffer).
    loaded, cfg = gd.load_student(run_dir)
    assert cfg == CI
    for x, y in zip(
        jax.tree.leaves(a), jax.tree.leaves(eqx.filter(loaded, eqx.is_array)), strict=True
    ):
        np.testing.assert_array_equal(x, y)
    # ... and so does its export: the student alone, small enough to ship.
    exported, _ = gd.load_student(gd.export_student(run_dir, tmp_path / "shipped"))
    shipped = jax.tree.leaves(eqx.filter(exported, eqx.is_array))
    for x, y in zip(jax.tree.leaves(a), shipped, strict=True):
        np.testing.assert_array_equal(x, y)
    # Another config in the same folder is refused with the differing key named.
    other = dataclasses.replace(CI, dagger=dataclasses.replace(CI.dagger, learning_rate=0.1))
    with pytest.raises(ga.CheckpointError, match="learning_rate"):
        gd.distill_student(other, resumed_dir, dagger=dagger)


def test_a_run_stopped_by_its_time_or_a_signal_resumes_exactly(ci_run, tmp_path):
    """Three sittings: the first stopped by `max_minutes`, the second by SIGTERM during an
    iteration, each after that iteration with a checkpoint (none was due); the third ends
    bit for bit where the uninterrupted run did."""
    dagger, _, state, *_ = ci_run
    run_dir = tmp_path / "chunked"
    cfg = dataclasses.replace(CI, checkpoint_every=8, max_minutes=2.5)
    minutes = iter(range(1000))  # each read of the clock: a minute later (start, tick, tock..)
    stopped = gd.distill_student(cfg, run_dir, dagger=dagger, clock=lambda: 60.0 * next(minutes))
    assert int(stopped.iteration) == 2  # 4 minutes after the start > 2.5
    reader = ga.Checkpointer(run_dir / "checkpoints", {})
    assert reader.steps() == [2]
    reader.close()
    reads = [0]

    def clock() -> float:  # the start, then before and after each iteration
        reads[0] += 1
        if reads[0] == 4:  # just before the second iteration of this sitting (iteration 4)
            os.kill(os.getpid(), signal.SIGTERM)
        return float(reads[0])

    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as exit_status:
        gd.distill_student(cfg, run_dir, dagger=dagger, clock=clock)
    assert exit_status.value.code == 143
    assert signal.getsignal(signal.SIGTERM) == handler  # restored
    reader = ga.Checkpointer(run_dir / "checkpoints", {})
    assert reader.steps() == [2, 4]
    reader.close()
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["iteration"] for x in lines] == [1, 2, 3, 4]
    assert (run_dir / "learning_curves.png").exists()

    resumed = gd.distill_student(CI, run_dir, dagger=dagger)  # max_minutes may change
    assert int(resumed.iteration) == CI.dagger.iterations
    a = jax.tree.leaves(eqx.filter(state.student, eqx.is_array))
    b = jax.tree.leaves(eqx.filter(resumed.student, eqx.is_array))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_init_from_continues_a_student_in_a_new_run(ci_run, tmp_path):
    """A run with `init_from` = a fresh DaggerState holding the other run's student."""
    dagger, run_dir, state, *_ = ci_run
    shipped = gd.export_student(run_dir, tmp_path / "shipped")
    cfg = dataclasses.replace(
        CI,
        init_from=f"{shipped}@{CI.dagger.iterations}",
        dagger=dataclasses.replace(CI.dagger, iterations=1),
    )
    tuned = gd.distill_student(cfg, tmp_path / "tuned", dagger=dagger)
    expected = eqx.tree_at(lambda s: s.student, dagger.init(jax.random.key(CI.seed)), state.student)
    expected, _ = dagger.iteration(expected)
    a = jax.tree.leaves(eqx.filter(tuned.student, eqx.is_array))
    b = jax.tree.leaves(eqx.filter(expected.student, eqx.is_array))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(FileNotFoundError, match="holds no student"):
        gd.distill_student(
            dataclasses.replace(cfg, init_from=str(tmp_path / "nowhere")),
            tmp_path / "x",
            dagger=dagger,
        )


def test_a_distillation_moves_into_its_teachers_world():
    """`in_teacher_world` takes the teacher run's world and teacher config and keeps the rest;
    `world_differences` names the world fields that differ (here: a teacher trained before the
    demo preset gained its idle penalty and heavier collisions)."""
    teacher_run = ga.TrainConfig.demo()
    older = dataclasses.replace(
        teacher_run,
        world=dataclasses.replace(teacher_run.world, idle_penalty=0.0, reward_collision=(3.0, 5.0)),
    )
    cfg = gd.DistillConfig.demo()
    assert cfg.world_differences(teacher_run) == []
    assert set(cfg.world_differences(older)) == {"idle_penalty", "reward_collision"}
    moved = cfg.in_teacher_world(older)
    assert moved.world == older.world and moved.teacher == older.teacher
    assert moved.world_differences(older) == []
    assert (moved.student, moved.pixels, moved.dagger) == (cfg.student, cfg.pixels, cfg.dagger)


def test_beta_schedule_and_modes():
    assert float(gd.beta_schedule(CI.dagger, jnp.asarray(2))) == pytest.approx(0.25)
    bc = dataclasses.replace(CI.dagger, mode="bc")
    assert float(gd.beta_schedule(bc, jnp.asarray(5))) == 1.0
    with pytest.raises(ValueError, match="mode"):
        gd.DaggerConfig(mode="solo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="buffer_capacity"):
        dataclasses.replace(CI.dagger, buffer_capacity=10).check_sizes(4, 1, 0.1)


@pytest.mark.parametrize(
    ("mode", "drive", "space"),
    [
        ("bc", "action", "accel_steer_grid"),
        ("single_agent", "trajectory", "jerk"),
        ("self_play", "trajectory", "continuous"),
    ],
)
def test_modes_drives_and_spaces_trace(mode, drive, space, key):
    """Every baseline, both ways of driving and every action space build a well-shaped iteration
    (traced abstractly: compiling each variant would cost minutes on a CPU)."""
    world_cfg = dataclasses.replace(WORLD, action_space=space)
    world = gw.World(world_cfg, gw.build_map_bank(world_cfg, "train"))
    teacher = scripted_teacher(world, STUDENT.latent_size, key)
    cfg = dataclasses.replace(
        CI,
        world=world_cfg,
        dagger=dataclasses.replace(CI.dagger, mode=mode, drive=drive, sgd_steps=2),
    )
    dagger, *_ = gd.build_distillation(cfg, teacher, world)
    state = eqx.filter_eval_shape(dagger.init, key)
    new_state, metrics = eqx.filter_eval_shape(dagger.iteration, state)
    assert jax.tree.structure(new_state) == jax.tree.structure(state)
    assert ("majority_agreement" in metrics) == (space != "continuous")
    assert metrics["rollout_agreement"].shape == ()
