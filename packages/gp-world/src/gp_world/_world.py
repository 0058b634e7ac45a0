"""`World`: reset, step (dynamics, events, reward, per-agent respawn, lights), observe, scene.

All methods act on ONE world; batch with `jax.vmap(world.step)(states, actions)`.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, Key

from gp_world._agents import Agents, empty_agents, respawn
from gp_world._dynamics import ActionSpace, action_space, forward
from gp_world._events import (
    Events,
    collisions,
    idling,
    offroad,
    red_light_crossings,
    reward_terms,
    safe_speed,
    track_route,
)
from gp_world._lights import Lights, reset_lights, step_lights
from gp_world._map_bank import MapBank
from gp_world._observation import PrivilegedObservation, observe
from gp_world._random import split
from gp_world._scene import Scene, scene
from gp_world.config import WorldConfig


class WorldState(eqx.Module):
    """Dynamic state of one world."""

    agents: Agents
    lights: Lights
    map_id: Int[Array, ""]
    key: Key[Array, ""]
    step: Int[Array, ""]


class StepOutput(eqx.Module):
    """Per agent slot, this step: see the package README for the reward terms."""

    reward: Float[Array, " A"]
    done: Bool[Array, " A"]  # the episode in this slot ended; the slot was respawned
    failed: Bool[Array, " A"]  # ...and it ended in a failure (collision, off-road, red light)
    valid: Bool[Array, " A"]  # the slot held a live agent during this step
    events: Events
    distance: Float[Array, " A"]  # metres driven this step
    progress: Float[Array, " A"]  # metres of route progress this step


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


class World(eqx.Module):
    """One driving world over a bank of maps; config is static, the bank is a pytree leaf set."""

    config: WorldConfig = eqx.field(static=True)
    maps: MapBank

    # Identity hashing lets `jax.jit(world.step)` work (the map bank is then a closed-over
    # constant); `eqx.filter_jit` passes the bank as an argument instead, which is preferred.
    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    @property
    def action_space(self) -> ActionSpace:
        return action_space(self.config.action_space)

    def reset(self, key: Key[Array, ""], map_id: int | Array | None = None) -> WorldState:
        """A fresh world on `map_id` (sampled from the bank when None) with agents spawned."""
        k_map, k_lights, k_spawn, k_next = split(key, 4)
        n = self.maps.num_maps
        if map_id is None:
            m = jax.random.randint(k_map, (), 0, n)
        else:
            if _is_concrete(map_id):
                ids = np.asarray(map_id)
                if ids.shape != () or not np.issubdtype(ids.dtype, np.integer):
                    raise ValueError(f"map_id must be an integer scalar, got {map_id!r}")
                if not 0 <= int(ids) < n:
                    raise ValueError(f"unknown map id {int(ids)}; the bank holds {n} maps")
            m = jnp.clip(jnp.asarray(map_id, jnp.int32), 0, n - 1)  # traced ids are clamped
        cfg = self.config

        lights = reset_lights(k_lights, cfg, self.maps.intersections_valid[m])

        def spawn_round(agents: Agents, key_round: Array) -> tuple[Agents, None]:
            return respawn(key_round, agents, ~agents.valid, cfg, self.maps, m, lights), None

        # A scan, not a Python loop: the respawn graph is compiled once.
        agents, _ = jax.lax.scan(
            spawn_round, empty_agents(cfg), split(k_spawn, cfg.reset_spawn_rounds)
        )
        return WorldState(agents, lights, m.astype(jnp.int32), k_next, jnp.zeros((), jnp.int32))

    def check_action(self, action: Array) -> None:
        """Raise ValueError on a wrong shape or dtype; on concrete values also on NaN or
        out-of-range indices. Called by `step` (value checks only outside jit)."""
        a = self.config.num_agents
        if self.config.action_space == "continuous":
            if tuple(jnp.shape(action)) != (a, 2):
                raise ValueError(f"continuous action must have shape ({a}, 2), got {action.shape}")
            if not jnp.issubdtype(jnp.result_type(action), jnp.floating):
                raise ValueError(f"continuous action must be float, got {jnp.result_type(action)}")
            if _is_concrete(action) and not np.isfinite(np.asarray(action)).all():
                raise ValueError("continuous action contains NaN or inf")
        else:
            if tuple(jnp.shape(action)) != (a,):
                raise ValueError(f"discrete action must have shape ({a},), got {action.shape}")
            if not jnp.issubdtype(jnp.result_type(action), jnp.integer):
                raise ValueError(f"discrete action must be integer, got {jnp.result_type(action)}")
            if _is_concrete(action):
                values = np.asarray(action)
                n = self.action_space.num_actions
                if values.min() < 0 or values.max() >= n:
                    raise ValueError(f"discrete action out of range [0, {n}): {values}")

    def step(self, state: WorldState, action: Array) -> tuple[WorldState, StepOutput]:
        """Advance one world by dt. action: int32[A] (discrete) or float32[A, 2] (continuous).

        Inside jit, NaN continuous actions become 0 and values are clamped to the agent's limits;
        discrete indices are clipped into range (documented clamps; eager calls raise instead).
        """
        cfg, maps, m = self.config, self.maps, state.map_id
        self.check_action(action)
        if cfg.action_space == "continuous":
            action = jnp.nan_to_num(action.astype(jnp.float32), nan=0.0, posinf=0.0, neginf=0.0)
        else:
            action = jnp.clip(action.astype(jnp.int32), 0, self.action_space.num_actions - 1)
        key, k_spawn = split(state.key, 2)
        before = state.agents
        live = before.valid

        # Dynamics; empty slots stay put (masked by valid everywhere).
        moved_k = forward(before.kinematics, action, cfg.action_space, cfg.dt)
        moved = before.with_kinematics(moved_k)
        moved = jax.tree.map(
            lambda n, o: jnp.where(live.reshape(live.shape + (1,) * (n.ndim - 1)), n, o),
            moved,
            before,
        )
        frame = track_route(moved, maps, m)
        s_old = before.route_s
        progress = jnp.where(live, frame.s - s_old, 0.0)
        moved = eqx.tree_at(
            lambda a: (
                a.route_index,
                a.route_s,
                a.route_lateral,
                a.route_heading_error,
                a.speed_limit,
                a.age,
            ),
            moved,
            (
                frame.index,
                frame.s,
                frame.lateral,
                frame.heading_error,
                frame.speed_limit,
                before.age + live.astype(jnp.int32),
            ),
        )

        # Events.
        events = Events(
            collision=collisions(moved) & live,
            offroad=offroad(moved, maps, m) & live,
            red_light=red_light_crossings(moved, s_old, frame.s, state.lights, maps, m, cfg) & live,
            wrong_way=(jnp.abs(frame.heading_error) > cfg.wrong_way_angle) & live,
            goal_reached=(frame.s >= moved.route_length - cfg.goal_tolerance) & live,
            timeout=(moved.age >= cfg.max_episode_steps) & live,
        )
        if cfg.reward_overspeed != (0.0, 0.0) or cfg.idle_penalty > 0.0:
            v_safe = safe_speed(moved, state.lights, maps, m, cfg)
        else:  # both uses are weighted 0 for every agent: skip the pairwise search
            v_safe = jnp.full_like(moved.speed, jnp.inf)
        terms = reward_terms(before, moved, events, frame, progress, v_safe, cfg)
        reward = (terms * moved.reward_weights).sum(-1)
        if cfg.idle_penalty > 0.0:
            reward = reward - cfg.idle_penalty * idling(moved, v_safe).astype(jnp.float32)
        reward = jnp.where(live, reward, 0.0)

        # Episode ends and per-agent respawn.
        crash_ends = cfg.collision_behaviour != "keep"
        failed = live & (
            (events.collision & crash_ends)
            | events.offroad
            | (events.red_light & cfg.red_light_ends)
        )
        done = failed | (live & (events.goal_reached | events.timeout))
        removed = moved.removed
        if cfg.collision_behaviour == "remove":
            removed = removed | (events.collision & live)
        moved = eqx.tree_at(lambda a: a.removed, moved, removed)
        need = (done | ~live) & ~removed
        lights = step_lights(state.lights, cfg)  # the lights the new agents will meet
        agents = respawn(k_spawn, moved, need, cfg, maps, m, lights)
        agents = eqx.tree_at(lambda a: a.valid, agents, agents.valid & ~removed)

        out = StepOutput(
            reward=reward,
            done=done,
            failed=failed,
            valid=live,
            events=events,
            distance=jnp.where(live, moved_k.speed * cfg.dt, 0.0),
            progress=progress,
        )
        return WorldState(agents, lights, m, key, state.step + 1), out

    def observe(self, state: WorldState) -> PrivilegedObservation:
        return observe(state.agents, state.lights, self.maps, state.map_id, self.config)

    def scene(self, state: WorldState) -> Scene:
        return scene(state.agents, state.lights, self.maps, state.map_id, self.config)
