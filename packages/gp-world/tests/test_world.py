"""World: smoke over action spaces, spawns, determinism, trace counts, bad input, respawn."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gp_world as gw
from gp_world.testing import random_actions, smoke_test_world

TOY = gw.WorldConfig.toy()


@pytest.fixture(scope="module")
def toy_world():
    return gw.World(TOY, gw.build_map_bank(TOY))


TRACES = {"step": 0}


def _counted_step(world, state, action):
    TRACES["step"] += 1  # runs only while tracing
    return world.step(state, action)


@pytest.fixture(scope="module")
def toy_step():
    """One compiled step shared by the tests that drive the toy world step by step."""
    return eqx.filter_jit(_counted_step)


@pytest.fixture(scope="module")
def toy_reset(toy_world):
    return jax.jit(toy_world.reset)


@pytest.mark.parametrize(
    "space",
    # The grid space shares the continuous code path; its dynamics are in test_dynamics.
    ["jerk", pytest.param("accel_steer_grid", marks=pytest.mark.slow), "continuous"],
)
def test_smoke_every_action_space(toy_world, space, key):
    world = gw.World(dataclasses.replace(TOY, action_space=space), toy_world.maps)
    _, outs, obs = smoke_test_world(world, key, num_worlds=2, steps=3)
    assert obs.ego.shape[-1] == 16 + len(gw.REWARD_TERMS)
    assert outs.valid.any()


@pytest.fixture(scope="module")
def village_world():
    cfg = gw.WorldConfig(num_maps=2, routes_per_map=64, num_agents=24)
    return gw.World(cfg, gw.build_map_bank(cfg))


@pytest.fixture(scope="module")
def village_rollout(village_world):
    """Initial states, final states, outputs, observation and scene of 8 village worlds."""

    @eqx.filter_jit
    def run(world, key):
        k_reset, k_act = jax.random.split(key)
        states = jax.vmap(world.reset)(jax.random.split(k_reset, 8))

        def body(s, k):
            return jax.vmap(world.step)(s, random_actions(world, k, (8,)))

        final, outs = jax.lax.scan(body, states, jax.random.split(k_act, 6))
        return states, final, outs, jax.vmap(world.observe)(final), jax.vmap(world.scene)(final)

    return run(village_world, jax.random.key(3))


def test_village_rollout_observes_map_and_lights(village_rollout):
    _, _, outs, obs, scene = village_rollout
    assert outs.valid.mean() > 0.9
    assert obs.lane_points_valid[obs.valid].mean() > 0.9  # the grid finds lanes under agents
    assert obs.road_edges_valid[obs.valid].any()
    assert obs.route_valid[obs.valid].all(-1).mean() > 0.5
    assert obs.stop_lines_valid[obs.valid].any()
    for leaf in jax.tree.leaves((outs, obs, scene)):
        assert np.isfinite(np.asarray(leaf, np.float64)).all()
    lights = np.asarray(scene.box_class) == 4
    assert (np.asarray(scene.valid) & lights).any()


@jax.jit
def _overlaps_jit(agents):
    o = gw.boxes_overlap(agents.x, agents.y, agents.yaw, agents.length, agents.width)
    return o & agents.valid[:, None] & agents.valid[None, :]


def _overlaps(agents):
    return np.asarray(_overlaps_jit(agents))


@jax.jit
def _box_on_road(maps, m, agents):
    return gw.box_on_road(maps, m, agents.x, agents.y, agents.yaw, agents.length, agents.width)


def test_spawns_never_overlap(village_world, village_rollout):
    states = village_rollout[0]
    for w in range(states.map_id.shape[0]):
        agents = jax.tree.map(lambda x, w=w: x[w], states.agents)
        assert not _overlaps(agents).any()
        assert np.asarray(agents.valid).mean() > 0.8
        on_road = _box_on_road(village_world.maps, states.map_id[w], agents)
        assert np.asarray(on_road | ~agents.valid).all()


def test_spawned_trucks_lie_wholly_on_road(village_world):
    """Every corner of every spawned box is on a drivable texel, for the longest kind too: a
    truck centred on a bend's lane can overhang the road (about 1% of truck spawns did before
    the spawner checked), and would end its episode off-road through no action of its own."""
    cfg = dataclasses.replace(village_world.config, num_agents=32, kind_probs=(0, 0, 1.0, 0))
    trucks = gw.World(cfg, village_world.maps)

    @jax.jit
    def spawned_off_road(key):
        states = jax.vmap(trucks.reset)(jax.random.split(key, 32))
        on_road = jax.vmap(_box_on_road, in_axes=(None, 0, 0))(
            trucks.maps, states.map_id, states.agents
        )
        return (states.agents.valid & ~on_road).sum(), states.agents.valid.sum()

    off, spawned = spawned_off_road(jax.random.key(0))
    assert int(spawned) > 900
    assert int(off) == 0


def test_respawned_agents_do_not_overlap(toy_world, toy_step, toy_reset, key):
    # Swerving agents leave the road and respawn among the others; check every fresh spawn.
    world = toy_world
    state = toy_reset(key)
    swerve = jnp.full((TOY.num_agents,), 9, jnp.int32)  # accelerate and steer right: off road
    fresh_seen = 0
    for i in range(60):
        state, _ = toy_step(world, state, swerve)
        a = state.agents
        fresh = np.asarray(a.valid & (a.age == 0))
        overlap = _overlaps(a)
        assert not overlap[fresh].any(), f"step {i}: a respawn overlaps another agent"
        fresh_seen += int(fresh.sum())
    assert fresh_seen > 0


def test_done_slots_start_new_episodes(toy_world, toy_step, toy_reset, key):
    step = lambda s, a: toy_step(toy_world, s, a)  # noqa: E731
    state = toy_reset(key)
    swerve = jnp.full((TOY.num_agents,), 9, jnp.int32)  # accelerate and steer right: off road
    ends = 0
    for _ in range(80):
        state, out = step(state, swerve)
        done = np.asarray(out.done)
        ends += done.sum()
        # A finished slot holds a fresh agent, or waits empty for a free spot.
        fresh = np.asarray(state.agents.valid) & done
        assert (np.asarray(state.agents.age)[fresh] == 0).all()
        assert (np.asarray(state.agents.age)[~done & np.asarray(out.valid)] > 0).all()
    assert ends > 0


def _run(world, key, steps):
    def go(key):
        state = world.reset(key)

        def body(s, k):
            s, out = world.step(s, random_actions(world, k))
            return s, (out.reward, s.agents.x, s.agents.y)

        return jax.lax.scan(body, state, jax.random.split(jax.random.fold_in(key, 1), steps))[1]

    return go


def test_batch_of_64_is_bit_identical_to_alone(toy_world, key):
    keys = jax.random.split(key, 64)
    go = _run(toy_world, key, 40)
    batched = jax.jit(jax.vmap(go))(keys)
    alone = jax.jit(go)(keys[17])
    for b, a in zip(batched, alone, strict=True):
        np.testing.assert_array_equal(np.asarray(b[17]), np.asarray(a))


def test_step_traces_once(toy_world, toy_step, toy_reset, key):
    state = toy_reset(key)
    toy_step(toy_world, state, random_actions(toy_world, key))
    traced = TRACES["step"]
    for i in range(20):
        action = random_actions(toy_world, jax.random.fold_in(key, i))
        state, _ = toy_step(toy_world, state, action)
    assert TRACES["step"] == traced <= 2  # once here, at most once more by an earlier test


def test_bad_input_is_rejected(toy_world, toy_reset, key):
    state = toy_reset(key)
    a = TOY.num_agents
    with pytest.raises(ValueError, match="shape"):
        toy_world.step(state, jnp.zeros((a + 1,), jnp.int32))
    with pytest.raises(ValueError, match="integer"):
        toy_world.step(state, jnp.zeros((a,), jnp.float32))
    with pytest.raises(ValueError, match="out of range"):
        toy_world.step(state, jnp.full((a,), 12, jnp.int32))
    with pytest.raises(ValueError, match="unknown map id"):
        toy_world.reset(key, map_id=3)
    cont = gw.World(dataclasses.replace(TOY, action_space="continuous"), toy_world.maps)
    with pytest.raises(ValueError, match="NaN"):
        cont.step(state, jnp.full((a, 2), jnp.nan, jnp.float32))
    with pytest.raises(ValueError, match="shape"):
        cont.step(state, jnp.zeros((a,), jnp.float32))
    with pytest.raises(ValueError, match="action_space"):
        gw.WorldConfig(action_space="teleport")  # type: ignore[arg-type]


def test_worlds_that_drive_alike_differ_in_the_episode_limit_alone():
    longer = dataclasses.replace(TOY, max_episode_steps=2 * TOY.max_episode_steps)
    assert longer.differences(TOY) == ["max_episode_steps"]
    assert longer.drives_like(TOY) and TOY.drives_like(longer)
    harsher = dataclasses.replace(longer, reward_collision=(9.0, 9.0), observe_light_age=True)
    assert set(harsher.differences(TOY)) == {
        "max_episode_steps",
        "reward_collision",
        "observe_light_age",
    }
    assert not harsher.drives_like(TOY)
    assert TOY.differences(TOY) == [] and TOY.drives_like(TOY)


def test_nan_actions_inside_jit_are_zeroed(toy_world, toy_reset, key):
    cont = gw.World(dataclasses.replace(TOY, action_space="continuous"), toy_world.maps)
    state = toy_reset(key)  # the state does not depend on the action space
    nan = jnp.full((TOY.num_agents, 2), jnp.nan, jnp.float32)
    zero = jnp.zeros((TOY.num_agents, 2), jnp.float32)
    step = jax.jit(cont.step)
    a, _ = step(state, nan)
    b, _ = step(state, zero)
    np.testing.assert_array_equal(a.agents.x, b.agents.x)


@pytest.mark.parametrize("behaviour", ["respawn", "remove", "keep"])
def test_collision_behaviours(toy_world, toy_step, toy_reset, behaviour, key):
    # Two cars placed on top of each other collide on the first step.
    if behaviour == TOY.collision_behaviour:
        world = toy_world
    else:
        world = gw.World(dataclasses.replace(TOY, collision_behaviour=behaviour), toy_world.maps)
    state = toy_reset(key)
    agents = state.agents
    agents = eqx.tree_at(
        lambda s: (s.x, s.y, s.yaw),
        agents,
        (
            agents.x.at[1].set(agents.x[0]),
            agents.y.at[1].set(agents.y[0]),
            agents.yaw.at[1].set(agents.yaw[0]),
        ),
    )
    state = eqx.tree_at(lambda s: s.agents, state, agents)
    state, out = toy_step(world, state, jnp.full((TOY.num_agents,), 7, jnp.int32))
    assert bool(out.events.collision[0]) and bool(out.events.collision[1])
    assert bool(out.done[0]) == (behaviour != "keep")
    if behaviour == "keep":
        assert bool(state.agents.valid[0]) and int(state.agents.age[0]) == 1
    if behaviour == "remove":
        assert not bool(state.agents.valid[0]) and bool(state.agents.removed[0])
    assert float(out.reward[0]) <= 0.0


def test_lane_following_controller_earns_reward_on_toy(toy_world, key):
    # A pure-pursuit reference driver should reach goals on the ring far more often than it
    # crashes: the toy's reward must reward driving the route.
    world = gw.World(dataclasses.replace(TOY, action_space="continuous"), toy_world.maps)

    def drive(state):
        obs = world.observe(state)
        tx, ty = obs.route[:, 1, 0], obs.route[:, 1, 1]
        curvature = 2 * ty / (tx**2 + ty**2 + 1e-3)
        accel = jnp.clip(8.0 - obs.ego[:, 0], -3.0, 2.0)
        return jnp.stack([accel, jnp.arctan(curvature * state.agents.wheelbase)], -1)

    @jax.jit
    def roll(key):
        state = world.reset(key)

        def body(s, _):
            return world.step(s, drive(s))

        return jax.lax.scan(body, state, None, 250)[1]

    out = roll(key)
    assert int(out.events.goal_reached.sum()) >= 4
    assert int(out.events.offroad.sum()) == 0
    assert float(out.reward.sum()) > 0
    assert float(out.progress.sum()) > 0.8 * float(out.distance.sum())


def test_reward_condition_fixes_the_chosen_weights(toy_world, toy_reset, key):
    """A chosen driving style: the named terms sit at their quantile for every agent, the rest
    are still drawn; bad terms or quantiles are refused by name."""
    terms = gw.REWARD_TERMS
    alignment, centring = terms.index("lane_alignment"), terms.index("lane_centring")
    comfort = terms.index("comfort")
    styled_cfg = dataclasses.replace(
        TOY,
        reward_comfort=(0.0, 0.1),
        reward_condition=(("lane_alignment", 1.0), ("lane_centring", 0.25)),
    )
    styled = gw.World(styled_cfg, toy_world.maps)
    weights = np.asarray(jax.jit(styled.reset)(key).agents.reward_weights)
    assert np.allclose(weights[:, alignment], TOY.reward_lane_alignment[1])
    lo, hi = TOY.reward_lane_centring
    assert np.allclose(weights[:, centring], lo + 0.25 * (hi - lo))
    assert np.ptp(weights[:, comfort]) > 0  # not named: still drawn per agent
    drawn = np.asarray(toy_reset(key).agents.reward_weights)
    assert np.ptp(drawn[:, alignment]) > 0
    with pytest.raises(ValueError, match="reward_condition"):
        dataclasses.replace(TOY, reward_condition=(("colision", 1.0),))
    with pytest.raises(ValueError, match="reward_condition"):
        dataclasses.replace(TOY, reward_condition=(("collision", 1.5),))


def test_reward_draw_moves_the_draw_but_not_the_observed_scale(toy_world, key):
    """`reward_draw` draws the named weights from its own range while the observation still
    normalises them by the term's range: a collision drawn from U(6, 10) against a range of
    (10, 15) is seen between -0.8 and 0. The other terms are drawn as before."""
    terms = gw.REWARD_TERMS
    collision = terms.index("collision")
    ranged = dataclasses.replace(TOY, reward_collision=(10.0, 15.0), reward_offroad=(0.0, 3.0))
    early = gw.World(
        dataclasses.replace(ranged, reward_draw=(("collision", 6.0, 10.0),)), toy_world.maps
    )
    state = jax.jit(early.reset)(key)
    weights = np.asarray(state.agents.reward_weights)
    valid = np.asarray(state.agents.valid)
    assert valid.sum() >= 4
    drawn = weights[valid, collision]
    assert drawn.min() >= 6.0 and drawn.max() <= 10.0 and np.ptp(drawn) > 0.5
    later = np.asarray(jax.jit(gw.World(ranged, toy_world.maps).reset)(key).agents.reward_weights)
    assert np.allclose(np.delete(weights, collision, 1), np.delete(later, collision, 1))
    seen = np.asarray(early.observe(state).ego)[valid]
    # The weights close the ego features, normalised by the ranges of `ranged`.
    scale = np.asarray(ranged.reward_ranges, np.float32)
    expected = (weights[valid, collision] - scale[collision, 0]) / np.ptp(scale[collision])
    assert np.allclose(seen[:, -len(terms) + collision], expected, atol=1e-6)
    assert seen[:, -len(terms) + collision].min() >= -0.8 - 1e-6
    with pytest.raises(ValueError, match="reward_draw"):
        dataclasses.replace(TOY, reward_draw=(("colision", 1.0, 2.0),))
    with pytest.raises(ValueError, match="reward_draw"):
        dataclasses.replace(TOY, reward_draw=(("collision", 3.0, 2.0),))


def test_turn_signals_on_the_ring(toy_world, toy_reset, key):
    """The ring is driven counter-clockwise (radius 30-37 m): 30 m of route turn by about 0.9
    rad, a left signal; 10 m by 0.3 rad, below the 0.5 rad a signal needs."""
    a = toy_reset(key).agents
    signals = lambda d: np.asarray(gw.turn_signals(a, toy_world.maps, 0, d))  # noqa: E731
    far = np.asarray(a.valid & (a.route_length - a.route_s > 30.0))
    assert far.any()
    np.testing.assert_array_equal(signals(30.0)[:, 0], far)  # nearer the end: less turn ahead
    assert not signals(30.0)[:, 1].any() and not signals(10.0).any()
    with pytest.raises(ValueError, match="turn_signal_distance"):
        dataclasses.replace(TOY, turn_signal_distance=-1.0)


def test_observed_agents_show_their_turn_signals(village_world, village_rollout):
    """With indicators each observed agent gains (left, right) after its 8 features, the rest of
    the observation unchanged; in a town some agents signal left, some right, none both."""
    final, obs = village_rollout[1], village_rollout[3]
    cfg = dataclasses.replace(village_world.config, turn_signal_distance=30.0)
    signalling = gw.World(cfg, village_world.maps)
    seen = jax.jit(jax.vmap(signalling.observe))(final)
    for name in ("ego", "route", "lane_points", "stop_lines", "agents_valid"):
        np.testing.assert_array_equal(getattr(seen, name), getattr(obs, name))
    np.testing.assert_array_equal(seen.agents[..., :8], obs.agents)
    lights = np.asarray(seen.agents[..., 8:])[np.asarray(seen.agents_valid)]
    assert set(np.unique(lights)) <= {0.0, 1.0} and lights.sum(-1).max() == 1
    assert lights[:, 0].any() and lights[:, 1].any()


def test_observed_agents_are_the_nearest_within_range(village_world, village_rollout):
    """`observed_agents` against a numpy sort: per agent the K nearest other valid agents within
    the observation range, nearest first; the observation's `agents` rows are theirs."""
    final, obs = village_rollout[1], village_rollout[3]
    cfg = village_world.config
    idx, ok = jax.jit(jax.vmap(lambda s: gw.observed_agents(s.agents, cfg)))(final)
    np.testing.assert_array_equal(ok, obs.agents_valid)
    x, y, valid = (
        np.asarray(v, np.float64) for v in (final.agents.x, final.agents.y, final.agents.valid)
    )
    k = cfg.num_nearest_agents
    for w in range(x.shape[0]):
        for i in np.flatnonzero(valid[w]):
            d2 = (x[w] - x[w, i]) ** 2 + (y[w] - y[w, i]) ** 2
            near = [j for j in np.argsort(d2, kind="stable") if j != i and valid[w, j]]
            near = [j for j in near if d2[j] < cfg.observation_range**2][:k]
            assert list(np.asarray(idx[w, i])[np.asarray(ok[w, i])]) == near
            # The first observed row is that agent's offset in the ego frame: its distance.
            if near:
                np.testing.assert_allclose(
                    np.hypot(*np.asarray(obs.agents[w, i, 0, :2])), np.sqrt(d2[near[0]]), rtol=1e-4
                )


def test_observed_stop_lines_show_their_lights_age(village_world, village_rollout):
    """With `observe_light_age` each observed stop line gains its light's age (s / 10, capped at
    1) after its 7 features, the rest of the observation unchanged; the next stop line's age is
    the one `light_state_and_age` gives for its signal group."""
    final, obs = village_rollout[1], village_rollout[3]
    cfg = dataclasses.replace(village_world.config, observe_light_age=True)
    seen = jax.jit(jax.vmap(gw.World(cfg, village_world.maps).observe))(final)
    for name in ("ego", "route", "agents", "lane_points", "stop_lines_valid"):
        np.testing.assert_array_equal(getattr(seen, name), getattr(obs, name))
    np.testing.assert_array_equal(seen.stop_lines[..., :7], obs.stop_lines)
    maps = village_world.maps

    def expected(state):
        a = state.agents
        _, line, _ = gw.next_stop_line(a, a.route_s, False, state.lights, maps, state.map_id, cfg)
        safe = jnp.maximum(line, 0)
        inter = jnp.where(line >= 0, maps.stop_line_intersection[state.map_id, safe], -1)
        _, age = gw.light_state_and_age(
            state.lights, inter, maps.stop_line_phase[state.map_id, safe], cfg
        )
        return jnp.minimum(age / 10.0, 1.0)

    first = np.asarray(seen.stop_lines_valid[..., 0])
    ages = np.asarray(seen.stop_lines[..., 0, 7])[first]
    np.testing.assert_allclose(ages, np.asarray(jax.vmap(expected)(final))[first], atol=1e-6)
    assert ((ages > 0) & (ages < 1)).any() and ages.min() >= 0 and ages.max() <= 1
