"""PPO self-play trainer: `make_train(cfg, world) -> train(key)`, data-parallel over devices.

The update (rollout + GAE + epochs of minibatch steps) is one jitted function. Worlds are sharded
over a 1-D device mesh along the world axis, the policy and optimiser state are replicated; the
loss is a global masked mean, so XLA averages the gradients across devices. Minibatches take the
same slice of every world's shuffled transitions, which makes the result independent of the
number of devices (up to the order of float sums).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, Float, Int, PRNGKeyArray

from gp_agents._distributions import axis_entropies
from gp_agents._ppo import gae, masked_mean, ppo_loss
from gp_agents._rollout import EpisodeTally, Transitions, episode_metrics, rollout
from gp_agents._teacher import TeacherPolicy
from gp_agents.config import PPOConfig

WORLD_AXIS = "worlds"


class TrainState(eqx.Module):
    """Everything a run needs to continue exactly: policy, optimiser, worlds, PRNG, counters."""

    policy: TeacherPolicy
    opt_state: Any
    world_state: Any
    tally: EpisodeTally
    key: PRNGKeyArray
    update: Int[Array, ""]
    advantage_max: Float[Array, ""]
    """Running max |advantage| for Gigaflow's advantage filter."""
    average: TeacherPolicy | None = None
    """With `PPOConfig.average_updates`: the moving average of the live policy's weights; None
    without. The policy a run ships: see `shipped_policy`."""
    planned_updates: Int[Array, ""] | None = None
    """With `TrainConfig.fit_schedule`: the run's length in updates, over which the learning
    rate and the entropy bonus fall, as fitted to the run's time budget (see `train_teacher`);
    None without: the schedules fall over `PPOConfig.num_updates`."""

    @property
    def run_length(self) -> int | None:
        """The fitted length (`planned_updates`) as an int; None when the run is not fitted."""
        return None if self.planned_updates is None else int(self.planned_updates)

    @property
    def shipped_policy(self) -> TeacherPolicy:
        """The policy the run hands on (held-out evaluations, `load_teacher`): the averaged
        policy when the run averages, else the live one."""
        return self.policy if self.average is None else self.average


def learning_rate_schedule(
    ppo: PPOConfig, num_updates: Array | int | None = None
) -> optax.Schedule:
    """Learning rate as a function of the optimiser step (epochs * minibatches per update):
    `warmup_updates` of linear warm-up, then `lr_schedule` over the rest of the run.

    `num_updates`: the run's length in updates (default `ppo.num_updates`); it may be a traced
    value, so a run fitted to its time budget (`TrainConfig.fit_schedule`) changes it without
    recompiling."""
    if ppo.lr_schedule not in ("constant", "linear", "cosine"):
        raise ValueError(f"unknown lr_schedule {ppo.lr_schedule!r}")
    steps_per_update = ppo.epochs * ppo.num_minibatches
    updates = ppo.num_updates if num_updates is None else num_updates
    warmup = ppo.warmup_updates * steps_per_update
    peak = ppo.learning_rate

    def schedule(count: Array | int) -> Array:
        count = jnp.asarray(count, jnp.float32)
        decay_steps = jnp.maximum(jnp.asarray(updates, jnp.float32) * steps_per_update - warmup, 1)
        done = jnp.clip((count - warmup) / decay_steps, 0.0, 1.0)
        if ppo.lr_schedule == "constant":
            rate = jnp.full_like(done, peak)
        elif ppo.lr_schedule == "linear":
            rate = peak * (1.0 - done)
        else:
            rate = peak * 0.5 * (1.0 + jnp.cos(jnp.pi * done))
        if warmup > 0:
            rate = jnp.where(count < warmup, peak * count / warmup, rate)
        return rate

    return schedule


def entropy_coefficient(
    ppo: PPOConfig, update: Array | int, num_updates: Array | int | None = None
) -> Array:
    """The entropy bonus at update `update` (0-based): `ent_coef`, or linear from it to
    `ent_coef_end` over the run's `num_updates` (default `ppo.num_updates`; held there after)."""
    if ppo.ent_coef_end is None:
        return jnp.asarray(ppo.ent_coef, jnp.float32)
    updates = ppo.num_updates if num_updates is None else num_updates
    span = jnp.maximum(jnp.asarray(updates, jnp.float32) - 1.0, 1.0)
    done = jnp.clip(jnp.asarray(update, jnp.float32) / span, 0.0, 1.0)
    return ppo.ent_coef + (ppo.ent_coef_end - ppo.ent_coef) * done


def warmup_updates(cfg: Any, planned_updates: Array | int | None = None) -> Array:
    """The updates of the run's reward warm-up (`TrainConfig.reward_warmup_fraction` of its
    length: `planned_updates` when fitted, else `cfg.ppo.num_updates`), rounded down."""
    length = cfg.ppo.num_updates if planned_updates is None else planned_updates
    fraction = jnp.asarray(cfg.reward_warmup_fraction, jnp.float32)
    return jnp.floor(fraction * jnp.asarray(length, jnp.float32)).astype(jnp.int32)


def moving_average(average: Any, policy: Any, weight: Array) -> Any:
    """`average` moved `weight` of the way to `policy` (float leaves; the others are the same
    in both)."""
    floats, rest = eqx.partition(average, eqx.is_inexact_array)
    live = eqx.filter(policy, eqx.is_inexact_array)
    moved = jax.tree.map(lambda a, p: a + weight * (p - a), floats, live)
    return eqx.combine(moved, rest)


def make_optimizer(
    ppo: PPOConfig, num_updates: Array | int | None = None
) -> optax.GradientTransformation:
    """Adam with global-norm clipping and the configured schedule over `num_updates` updates
    (default `ppo.num_updates`; the optimiser state does not depend on it)."""
    return optax.chain(
        optax.clip_by_global_norm(ppo.max_grad_norm),
        optax.adam(learning_rate=learning_rate_schedule(ppo, num_updates), eps=1e-5),
    )


def world_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh over `devices` (default: all devices) whose axis shards the worlds."""
    devices = list(jax.devices() if devices is None else devices)
    return Mesh(np.asarray(devices, dtype=object), (WORLD_AXIS,))


def shard_worlds(tree: Any, mesh: Mesh, time_axis: int | None = None) -> Any:
    """Pin every non-scalar array of `tree` to be split over the mesh along its world axis
    (axis 0, or axis 1 when `time_axis == 1` for [time, worlds, ...] arrays); inside jit."""

    def pin(x: Any) -> Any:
        if not isinstance(x, jax.Array) or x.ndim == 0:
            return x
        spec = (None, WORLD_AXIS) if time_axis == 1 else (WORLD_AXIS,)
        return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, PartitionSpec(*spec)))

    return jax.tree.map(pin, tree)


def replicate_on(tree: Any, mesh: Mesh) -> Any:
    """Pin every array of `tree` to be replicated on every device of the mesh; inside jit."""
    replicated = NamedSharding(mesh, PartitionSpec())

    def pin(x: Any) -> Any:
        return jax.lax.with_sharding_constraint(x, replicated) if isinstance(x, jax.Array) else x

    return jax.tree.map(pin, tree)


def _replicated(tree: Any, replicated: NamedSharding) -> Any:
    """Every array of `tree`, computed alike on every process, placed on every device of the
    mesh. Multi-process runs cannot `device_put` an array already placed on one device onto
    devices of other processes, so each leaf goes through the host (typed PRNG keys as their
    raw key data)."""

    def put(x: Any) -> Any:
        if not isinstance(x, jax.Array | np.ndarray):
            return x
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            data = put(jax.random.key_data(x))
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
        return jax.device_put(np.asarray(x), replicated)

    return jax.tree.map(put, tree)


class Trainer(eqx.Module):
    """The compiled pieces of a run; build with `make_trainer`."""

    init: Callable[[PRNGKeyArray], TrainState] = eqx.field(static=True)
    """key -> initial TrainState (worlds reset, policy initialised), placed on the mesh."""
    update: Callable[[TrainState], tuple[TrainState, dict[str, Array]]] = eqx.field(static=True)
    """One PPO update (rollout + learning); metrics are scalars."""
    updates: Callable[[TrainState, int], tuple[TrainState, dict[str, Array]]] = eqx.field(
        static=True
    )
    """`updates(state, n)`: n updates in one scanned call; metrics stacked [n]."""
    agent_steps_per_update: int = eqx.field(static=True)
    mesh: Mesh = eqx.field(static=True)


def make_trainer(cfg: Any, world: Any, devices: Sequence[jax.Device] | None = None) -> Trainer:
    """Build the jitted init / update functions for `cfg.ppo`, `cfg.teacher` on `world`.

    `world`: a gp-world `World` (reset/step/observe, action_space); `devices`: the devices the
    worlds are sharded over (default all local devices of this process group).
    """
    ppo: PPOConfig = cfg.ppo
    mesh = world_mesh(devices)
    num_agents = int(world.config.num_agents)
    # Per-axis entropies need a longitudinal and a lateral axis: a discrete grid, or a
    # two-dimensional continuous box.
    space = world.action_space
    action_grid = tuple(space.grid) or None
    has_axes = action_grid is not None or (
        space.kind == "continuous" and int(np.size(space.low)) == 2
    )
    if ppo.longitudinal_entropy_floor > 0.0 and not has_axes:
        raise ValueError(
            "PPOConfig.longitudinal_entropy_floor needs an action space with a longitudinal and "
            f"a lateral axis (gp-world's grids or its continuous space); this world's "
            f"{space.kind} space has none"
        )
    ppo.check_divides(num_agents, mesh.size)
    optimizer = make_optimizer(ppo)
    fitted = bool(cfg.fit_schedule)
    num_worlds, horizon = ppo.num_worlds, ppo.rollout_steps
    transitions_per_world = horizon * num_agents
    minibatch_per_world = transitions_per_world // ppo.num_minibatches

    def constrain(tree: Any, time_axis: int | None) -> Any:
        return shard_worlds(tree, mesh, time_axis)

    def replicate(tree: Any) -> Any:
        return replicate_on(tree, mesh)

    def reset_worlds(key: PRNGKeyArray) -> tuple[Any, EpisodeTally]:
        world_state = jax.vmap(world.reset)(jax.random.split(key, num_worlds))
        tally = EpisodeTally.zeros(num_worlds, num_agents)
        return constrain(world_state, None), constrain(tally, None)

    reset_worlds_jit = jax.jit(reset_worlds)
    replicated = NamedSharding(mesh, PartitionSpec())

    def init(key: PRNGKeyArray) -> TrainState:
        k_policy, k_worlds, k_train = jax.random.split(key, 3)
        world_state, tally = reset_worlds_jit(k_worlds)
        one_world = jax.eval_shape(world.observe, jax.eval_shape(world.reset, k_worlds))
        one_agent = jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape[1:], s.dtype), one_world)
        # Built eagerly: compiling the initialisers costs more than running them once.
        policy = TeacherPolicy(cfg.teacher, one_agent, world.action_space, key=k_policy)
        params, static = eqx.partition(policy, eqx.is_array)
        params = _replicated(params, replicated)
        opt_state = _replicated(optimizer.init(params), replicated)
        return TrainState(
            policy=eqx.combine(params, static),
            opt_state=opt_state,
            world_state=world_state,
            tally=tally,
            key=_replicated(k_train, replicated),
            update=_replicated(np.zeros((), np.int32), replicated),
            advantage_max=_replicated(np.zeros((), np.float32), replicated),
            average=eqx.combine(params, static) if ppo.average_updates > 0 else None,
            planned_updates=(
                _replicated(np.asarray(ppo.num_updates, np.int32), replicated) if fitted else None
            ),
        )

    def minibatch_loss(params, static, batch, advantages, targets, mask, ent_coef):
        policy = eqx.combine(params, static)
        dist, value = policy(batch.observation)  # [W, N]: one matrix product per layer
        log_prob = jax.vmap(jax.vmap(lambda d, a: d.log_prob(a)))(dist, batch.action)
        entropy = jax.vmap(jax.vmap(lambda d: d.entropy()))(dist)
        axis_entropy = (
            jax.vmap(jax.vmap(lambda d: axis_entropies(d, action_grid)))(dist) if has_axes else None
        )
        terms = ppo_loss(
            log_prob,
            batch.log_prob,
            advantages,
            value,
            targets,
            entropy,
            axis_entropy,
            mask,
            clip_eps=ppo.clip_eps,
            vf_coef=ppo.vf_coef,
            ent_coef=ent_coef,
            entropy_floor=ppo.longitudinal_entropy_floor,
            entropy_floor_coef=ppo.entropy_floor_coef,
        )
        return terms.total, terms

    grad_fn = jax.grad(minibatch_loss, has_aux=True)

    def learn(state: TrainState, transitions: Transitions, last_value: Array, key: PRNGKeyArray):
        rewards = transitions.reward * ppo.reward_scale
        advantages, targets = gae(
            rewards,
            transitions.value,
            transitions.failed if ppo.returns_end_at == "failure" else transitions.done,
            last_value,
            ppo.gamma,
            ppo.gae_lambda,
        )
        mask = transitions.valid
        abs_adv = jnp.where(mask, jnp.abs(advantages), 0.0)
        advantage_max = jnp.maximum(
            ppo.advantage_filter_decay * state.advantage_max, jnp.max(abs_adv)
        )
        if ppo.advantage_filter > 0.0:
            mask = mask & (jnp.abs(advantages) >= ppo.advantage_filter * advantage_max)
        kept_fraction = jnp.sum(mask.astype(jnp.float32)) / jnp.maximum(
            jnp.sum(transitions.valid.astype(jnp.float32)), 1.0
        )
        if ppo.normalize_advantages:
            mean = masked_mean(advantages, mask)
            std = jnp.sqrt(masked_mean(jnp.square(advantages - mean), mask))
            advantages = (advantages - mean) / (std + 1e-8)

        # [T, W, A, ...] -> [W, T*A, ...]: each world's transitions in one row.
        def world_rows(x: Array) -> Array:
            x = jnp.swapaxes(x, 0, 1)
            return x.reshape(num_worlds, transitions_per_world, *x.shape[3:])

        flat = jax.tree.map(world_rows, (transitions, advantages, targets, mask))
        flat = constrain(flat, None)
        params, static = eqx.partition(state.policy, eqx.is_array)
        # A fitted run's length is a traced value: the schedules follow it without recompiling.
        run_length = state.planned_updates
        run_optimizer = make_optimizer(ppo, run_length)  # `optimizer` when not fitted
        ent_coef = entropy_coefficient(ppo, state.update, run_length)

        def epoch(carry, epoch_key):
            params, opt_state = carry
            perms = jax.vmap(lambda k: jax.random.permutation(k, transitions_per_world))(
                jax.random.split(epoch_key, num_worlds)
            )

            def shuffle(x: Array) -> Array:
                shuffled = jax.vmap(lambda row, p: row[p])(x, perms)
                split = shuffled.reshape(
                    num_worlds, ppo.num_minibatches, minibatch_per_world, *x.shape[2:]
                )
                return jnp.swapaxes(split, 0, 1)  # [M, W, N/M, ...]

            minibatches = jax.tree.map(shuffle, flat)

            def step(carry, minibatch):
                params, opt_state = carry
                minibatch = constrain(minibatch, None)
                batch, adv, tgt, msk = minibatch
                with jax.named_scope("ppo_gradient"):
                    grads, terms = grad_fn(params, static, batch, adv, tgt, msk, ent_coef)
                # optax raises float constants to int32 step counts (bias correction).
                with jax.named_scope("optimizer"), jax.numpy_dtype_promotion("standard"):
                    updates, opt_state = run_optimizer.update(grads, opt_state, params)
                params = eqx.apply_updates(params, updates)
                return (params, opt_state), (terms, optax.tree.norm(grads))

            (params, opt_state), out = jax.lax.scan(step, (params, opt_state), minibatches)
            return (params, opt_state), out

        (params, opt_state), (terms, grad_norms) = jax.lax.scan(
            epoch, (params, state.opt_state), jax.random.split(key, ppo.epochs)
        )
        metrics = {
            "loss": jnp.mean(terms.total),
            "policy_loss": jnp.mean(terms.policy),
            "value_loss": jnp.mean(terms.value),
            "entropy": jnp.mean(terms.entropy),
            "approx_kl": jnp.mean(terms.approx_kl),
            "clip_fraction": jnp.mean(terms.clip_fraction),
            "grad_norm": jnp.mean(grad_norms),
            "advantage_kept_fraction": kept_fraction,
            "advantage_max": advantage_max,
            "learning_rate": learning_rate_schedule(ppo, run_length)(
                state.update * (ppo.epochs * ppo.num_minibatches)
            ),
            "ent_coef": ent_coef,
            "value_mean": masked_mean(transitions.value, transitions.valid),
        }
        if run_length is not None:
            metrics["planned_updates"] = run_length
        if has_axes:
            metrics["entropy_longitudinal"] = jnp.mean(terms.axis_entropy[..., 0])
            metrics["entropy_lateral"] = jnp.mean(terms.axis_entropy[..., 1])
        policy = eqx.combine(params, static)
        return policy, opt_state, advantage_max, metrics

    # A reward curriculum (`TrainConfig.reward_warmup`): the same maps, other weights drawn.
    # (A fraction above 0 comes with entries: TrainConfig checks it.)
    warmup = cfg.reward_warmup_fraction > 0.0
    warm_world = type(world)(cfg.warmup_world, world.maps) if warmup else None

    def update(state: TrainState) -> tuple[TrainState, dict[str, Array]]:
        key, k_rollout, k_learn = jax.random.split(state.key, 3)

        def drive(in_world: Any) -> tuple[Any, ...]:
            return rollout(
                state.policy,
                in_world,
                state.world_state,
                state.tally,
                k_rollout,
                horizon,
                constrain,
            )

        with jax.named_scope("rollout"):
            if warm_world is None:
                world_state, tally, transitions, sums = drive(world)
            else:
                warming = state.update < warmup_updates(cfg, state.planned_updates)
                world_state, tally, transitions, sums = jax.lax.cond(
                    warming, lambda: drive(warm_world), lambda: drive(world)
                )
            observation = constrain(jax.vmap(world.observe)(world_state), None)
            last_value = state.policy.value(observation)
        policy, opt_state, advantage_max, metrics = learn(state, transitions, last_value, k_learn)
        metrics.update(episode_metrics(sums))
        metrics["update"] = state.update + 1
        if warm_world is not None:
            metrics["reward_warmup"] = warming.astype(jnp.float32)
        average = state.average
        if average is not None:  # update u = state.update + 1 moves it 1 / min(u, N) of the way
            count = jnp.minimum(state.update + 1, ppo.average_updates).astype(jnp.float32)
            average = replicate(moving_average(average, policy, 1.0 / count))
        new_state = TrainState(
            policy=replicate(policy),
            opt_state=replicate(opt_state),
            world_state=world_state,
            tally=constrain(tally, None),
            key=key,
            update=state.update + 1,
            advantage_max=advantage_max,
            average=average,
            planned_updates=state.planned_updates,
        )
        return new_state, metrics

    def updates(state: TrainState, n: int) -> tuple[TrainState, dict[str, Array]]:
        arrays, static = eqx.partition(state, eqx.is_array)

        def body(arrays, _):
            new_state, metrics = update(eqx.combine(arrays, static))
            return eqx.filter(new_state, eqx.is_array), metrics

        arrays, metrics = jax.lax.scan(body, arrays, None, length=n)
        return eqx.combine(arrays, static), metrics

    return Trainer(
        init=init,
        update=eqx.filter_jit(update),
        updates=eqx.filter_jit(updates),
        agent_steps_per_update=num_worlds * horizon * num_agents,
        mesh=mesh,
    )


def make_train(
    cfg: Any, world: Any, devices: Sequence[jax.Device] | None = None
) -> Callable[[PRNGKeyArray], tuple[TrainState, dict[str, Array]]]:
    """PureJaxRL-style: `train(key) -> (final TrainState, metrics stacked over updates)`.

    The whole run (`cfg.ppo.num_updates` updates) is one jitted, scanned call.
    """
    trainer = make_trainer(cfg, world, devices)

    def train(key: PRNGKeyArray) -> tuple[TrainState, dict[str, Array]]:
        return trainer.updates(trainer.init(key), cfg.ppo.num_updates)

    return train
