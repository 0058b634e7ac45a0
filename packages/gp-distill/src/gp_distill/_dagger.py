"""Self-play DAgger: `make_dagger(cfg, world, teacher, pixels) -> Dagger(init, iteration)`.

One iteration is one jitted call: roll out `rollout_steps` in every world with the student
driving (the teacher's action executed instead with probability beta), label every visited
state with the teacher (forking the world for trajectory targets), append the recorded samples
to the on-device buffer, then take `sgd_steps` student updates on minibatches drawn from it.
Worlds are sharded over a 1-D device mesh along the world axis; the student, optimiser state
and buffer are replicated.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh
from jaxtyping import Array, Int, PRNGKeyArray

import gp_agents as ga
from gp_distill._buffer import SampleBuffer, add_samples, empty_buffer, sample_batch
from gp_distill._labels import fork_trajectories, teacher_action, teacher_outputs
from gp_distill._losses import DistillSample, LossTerms, actions_agree, distill_loss
from gp_distill.config import DaggerConfig, DistillConfig


class DaggerState(eqx.Module):
    """Everything a run needs to continue exactly."""

    student: ga.StudentPolicy
    opt_state: Any
    world_state: Any
    buffer: SampleBuffer
    key: PRNGKeyArray
    iteration: Int[Array, ""]
    samples: Int[Array, ""]
    """Labelled samples recorded so far (the x axis of learning curves)."""


class Dagger(eqx.Module):
    """The compiled pieces of a run; build with `make_dagger`."""

    init: Callable[[PRNGKeyArray], DaggerState] = eqx.field(static=True)
    iteration: Callable[[DaggerState], tuple[DaggerState, dict[str, Array]]] = eqx.field(
        static=True
    )
    """One DAgger iteration (rollout + labels + aggregation + student updates); scalar metrics."""
    agent_steps_per_iteration: int = eqx.field(static=True)
    mesh: Mesh = eqx.field(static=True)
    teacher: Any
    """The labelling teacher (for evaluations beside the student)."""


def beta_schedule(dagger: DaggerConfig, iteration: Array) -> Array:
    """Probability of executing the teacher's action in `iteration` (1 for behaviour cloning)."""
    if dagger.mode == "bc":
        return jnp.ones((), jnp.float32)
    return dagger.beta_start * jnp.power(dagger.beta_decay, iteration.astype(jnp.float32))


def make_optimizer(dagger: DaggerConfig) -> optax.GradientTransformation:
    return optax.chain(
        optax.clip_by_global_norm(dagger.max_grad_norm), optax.adam(dagger.learning_rate)
    )


def _per_agent(fn: Callable, *trees: Any) -> Any:
    return jax.vmap(jax.vmap(fn))(*trees)


def make_dagger(
    cfg: DistillConfig,
    world: Any,
    teacher: Any,
    pixels: ga.PixelPipeline,
    devices: Sequence[jax.Device] | None = None,
) -> Dagger:
    """Build the jitted init / iteration functions.

    `world`: a gp-world World; `teacher`: a policy with the TeacherPolicy interface on one
    agent's privileged observation (trained teacher or `testing.ScriptedTeacher`); `pixels`:
    the PixelPipeline over the world's map bank; `devices`: what the worlds are sharded over.
    World, teacher and pipeline are passed to the compiled functions as arguments (their
    arrays are not baked into the program as constants).
    """
    mesh = ga.world_mesh(devices)
    cfg.dagger.check_sizes(int(world.config.num_agents), mesh.size, world.config.dt)
    env = (world, teacher, pixels)
    # Host copy: the student's Beta bounds are static and must not be traced.
    bounds = jax.device_get(world.action_space)

    @eqx.filter_jit
    def init(env: tuple[Any, Any, Any], key: PRNGKeyArray) -> DaggerState:
        return _dagger_functions(cfg, *env, mesh, bounds)[0](key)

    @eqx.filter_jit
    def iteration(env: tuple[Any, Any, Any], state: DaggerState):
        return _dagger_functions(cfg, *env, mesh, bounds)[1](state)

    return Dagger(
        init=functools.partial(init, env),
        iteration=functools.partial(iteration, env),
        agent_steps_per_iteration=cfg.agent_steps_per_iteration,
        mesh=mesh,
        teacher=teacher,
    )


def _dagger_functions(
    cfg: DistillConfig, world: Any, teacher: Any, pixels: Any, mesh: Mesh, bounds: Any
):
    """(init, iteration) as plain functions closing over traced world, teacher and pipeline."""
    dagger = cfg.dagger
    num_agents = int(world.config.num_agents)
    optimizer = make_optimizer(dagger)
    space = world.config.action_space
    slots = jnp.arange(num_agents, dtype=jnp.int32)

    def constrain(tree: Any) -> Any:
        return ga.shard_worlds(tree, mesh)

    def replicate(tree: Any) -> Any:
        return ga.replicate_on(tree, mesh)

    def observe_pixels(world_state: Any, privileged: Any) -> ga.StudentObservation:
        scene = jax.vmap(world.scene)(world_state)
        return jax.vmap(pixels.observe)(scene, privileged, world_state.map_id)

    def example_sample(key: PRNGKeyArray) -> DistillSample:
        def one(k: PRNGKeyArray) -> DistillSample:
            state = world.reset(k)
            privileged = world.observe(state)
            observation = pixels.observe(world.scene(state), privileged, state.map_id)
            distribution, latent, value = teacher_outputs(teacher, privileged)
            first = lambda tree: jax.tree.map(lambda x: x[0], tree)  # noqa: E731
            return DistillSample(
                first(observation),
                first(distribution),
                latent[0],
                value[0],
                jnp.zeros((ga.TRAJECTORY_POSES, 3), jnp.float32),
                jnp.zeros((ga.TRAJECTORY_POSES,), bool),
                jnp.zeros((), bool),
            )

        return jax.eval_shape(one, key)

    def init(key: PRNGKeyArray) -> DaggerState:
        k_student, k_worlds, k_run = jax.random.split(key, 3)
        world_state = jax.vmap(world.reset)(jax.random.split(k_worlds, dagger.num_worlds))
        example = example_sample(k_worlds)
        student = ga.StudentPolicy(cfg.student, example.observation, bounds, key=k_student)
        return DaggerState(
            student=replicate(student),
            opt_state=replicate(optimizer.init(eqx.filter(student, eqx.is_array))),
            world_state=constrain(world_state),
            buffer=replicate(empty_buffer(example, dagger.buffer_capacity)),
            key=k_run,
            iteration=jnp.zeros((), jnp.int32),
            samples=jnp.zeros((), jnp.int32),
        )

    def no_fork(world_state: Any) -> tuple[Array, Array]:
        shape = (dagger.num_worlds, num_agents, ga.TRAJECTORY_POSES)
        return jnp.zeros((*shape, 3), jnp.float32), jnp.zeros(shape, bool)

    def fork(world_state: Any) -> tuple[Array, Array]:
        return jax.vmap(lambda s: fork_trajectories(teacher, world, s, dagger.fork_horizon))(
            world_state
        )

    def rollout(state: DaggerState, beta: Array, key: PRNGKeyArray):
        student = state.student

        def one_step(world_state: Any, inputs: tuple[Array, PRNGKeyArray]):
            t, step_key = inputs
            k_teacher, k_student, k_mix = jax.random.split(step_key, 3)
            privileged = constrain(jax.vmap(world.observe)(world_state))
            observation = constrain(observe_pixels(world_state, privileged))
            t_dist, t_latent, t_value = teacher_outputs(teacher, privileged)
            trajectory, trajectory_valid = jax.lax.cond(
                t % dagger.fork_every == 0, fork, no_fork, world_state
            )
            s_dist, _, _, s_trajectory = _per_agent(lambda o: student.heads(o), observation)
            t_action = jax.vmap(lambda d, k: teacher_action(d, k, dagger.greedy))(
                t_dist, jax.random.split(k_teacher, dagger.num_worlds)
            )
            if dagger.drive == "trajectory":
                kinematics = world_state.agents.kinematics
                s_action = _per_agent(
                    lambda tr, k: ga.tracking_action(tr, k, space, cfg.tracking),
                    s_trajectory,
                    kinematics,
                )
            else:
                s_action = jax.vmap(lambda d, k: teacher_action(d, k, dagger.greedy))(
                    s_dist, jax.random.split(k_student, dagger.num_worlds)
                )
            use_teacher = jax.random.uniform(k_mix, t_action.shape[:2]) < beta
            recorded = privileged.valid
            if dagger.mode == "single_agent":
                use_teacher = use_teacher | (slots[None, :] != 0)
                recorded = recorded & (slots[None, :] == 0)
            elif dagger.mode == "bc":
                use_teacher = jnp.ones_like(use_teacher)
            pick = use_teacher.reshape(use_teacher.shape + (1,) * (t_action.ndim - 2))
            action = jnp.where(pick, t_action, s_action)
            world_state, out = jax.vmap(world.step)(world_state, action)
            world_state = constrain(world_state)
            sample = DistillSample(
                observation,
                t_dist,
                t_latent,
                t_value,
                trajectory,
                trajectory_valid & recorded[..., None],
                recorded,
            )
            live = out.valid.astype(jnp.float32)
            student_driven = (~use_teacher & out.valid).astype(jnp.float32)
            stats = {
                "agent_steps": jnp.sum(live),
                "student_steps": jnp.sum(student_driven),
                "recorded": jnp.sum(recorded.astype(jnp.float32)),
                "agree_sum": jnp.sum(
                    _per_agent(actions_agree, t_dist, s_dist) * recorded.astype(jnp.float32)
                ),
                "distance": jnp.sum(out.distance * live),
                "collisions": jnp.sum((out.events.collision & out.valid).astype(jnp.float32)),
                "offroad": jnp.sum((out.events.offroad & out.valid).astype(jnp.float32)),
                "goals": jnp.sum((out.events.goal_reached & out.valid).astype(jnp.float32)),
                "reward": jnp.sum(out.reward * live),
            }
            if t_action.ndim == 2:  # discrete: how often each teacher action was the label
                stats["teacher_action_counts"] = (
                    jnp.zeros((world.action_space.num_actions,), jnp.float32)
                    .at[t_action.reshape(-1)]
                    .add(recorded.reshape(-1).astype(jnp.float32))
                )
            return world_state, (sample, stats)

        steps = jnp.arange(dagger.rollout_steps, dtype=jnp.int32)
        keys = jax.random.split(key, dagger.rollout_steps)
        world_state, (samples, stats) = jax.lax.scan(one_step, state.world_state, (steps, keys))
        return world_state, samples, jax.tree.map(lambda x: jnp.sum(x, axis=0), stats)

    def loss_fn(params: Any, static: Any, batch: DistillSample) -> tuple[Array, LossTerms]:
        terms = distill_loss(eqx.combine(params, static), batch, dagger.losses)
        return terms.total, terms

    grad_fn = jax.grad(loss_fn, has_aux=True)

    def learn(state: DaggerState, buffer: SampleBuffer, key: PRNGKeyArray):
        params, static = eqx.partition(state.student, eqx.is_array)

        def sgd_step(carry: Any, step_key: PRNGKeyArray):
            params, opt_state = carry
            batch = sample_batch(buffer, step_key, dagger.batch_size)
            grads, terms = grad_fn(params, static, batch)
            # optax raises float constants to int32 step counts (bias correction).
            with jax.numpy_dtype_promotion("standard"):
                updates, opt_state = optimizer.update(grads, opt_state, params)
            params = eqx.apply_updates(params, updates)
            return (params, opt_state), (terms, optax.tree.norm(grads))

        (params, opt_state), (terms, grad_norm) = jax.lax.scan(
            sgd_step, (params, state.opt_state), jax.random.split(key, dagger.sgd_steps)
        )
        return eqx.combine(params, static), opt_state, terms, grad_norm

    def iteration(state: DaggerState) -> tuple[DaggerState, dict[str, Array]]:
        key, k_rollout, k_learn = jax.random.split(state.key, 3)
        beta = beta_schedule(dagger, state.iteration)
        world_state, samples, stats = rollout(state, beta, k_rollout)
        flat = jax.tree.map(lambda x: x.reshape(-1, *x.shape[3:]), samples)
        buffer = replicate(add_samples(state.buffer, flat, flat.valid))
        student, opt_state, terms, grad_norm = learn(state, buffer, k_learn)
        recorded = jnp.maximum(stats["recorded"], 1.0)
        km = jnp.maximum(stats["distance"] / 1000.0, 1e-3)
        metrics = {
            "iteration": state.iteration + 1,
            "beta": beta,
            "samples": state.samples + stats["recorded"].astype(jnp.int32),
            "buffer_size": buffer.size,
            "rollout_agreement": stats["agree_sum"] / recorded,
            "student_fraction": stats["student_steps"] / jnp.maximum(stats["agent_steps"], 1.0),
            "collisions_per_km": stats["collisions"] / km,
            "offroad_per_km": stats["offroad"] / km,
            "goals_per_km": stats["goals"] / km,
            "reward_per_step": stats["reward"] / jnp.maximum(stats["agent_steps"], 1.0),
            "distance_per_step": stats["distance"] / jnp.maximum(stats["agent_steps"], 1.0),
            "grad_norm": jnp.mean(grad_norm),
        }
        if "teacher_action_counts" in stats:
            # Agreement of the best constant guess (the teacher's most frequent action).
            metrics["majority_agreement"] = jnp.max(stats["teacher_action_counts"]) / recorded
        for name in ("total", "action", "feature", "value", "trajectory", "agreement"):
            metrics[f"loss_{name}" if name != "agreement" else "batch_agreement"] = jnp.mean(
                getattr(terms, name)
            )
        new_state = DaggerState(
            student=replicate(student),
            opt_state=replicate(opt_state),
            world_state=world_state,
            buffer=buffer,
            key=key,
            iteration=state.iteration + 1,
            samples=metrics["samples"],
        )
        return new_state, metrics

    return init, iteration
