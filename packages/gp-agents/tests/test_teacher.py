"""Teacher policy: permutation invariance of the set encoders, heads for both action kinds."""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from gp_agents import (
    POLICY_SCOPES,
    SET_NAMES,
    Categorical,
    ScaledBeta,
    SetEncoder,
    TeacherConfig,
    TeacherPolicy,
    axis_entropies,
    masked_max_pool,
)

# float32 sums/maxima of a few hundred terms: agreement well below 1e-5 relative.
TOL = 1e-5


def test_masked_max_pool_ignores_invalid_rows_and_order(key):
    features = jax.random.normal(key, (7, 5))
    valid = jnp.array([True, False, True, True, False, True, False])
    pooled = masked_max_pool(features, valid)
    expected = np.asarray(features)[np.asarray(valid)].max(axis=0)
    np.testing.assert_allclose(pooled, expected, rtol=0, atol=0)
    perm = jax.random.permutation(jax.random.key(1), 7)
    np.testing.assert_array_equal(masked_max_pool(features[perm], valid[perm]), pooled)
    # Invalid rows can hold anything, even huge values, without changing the result.
    poisoned = jnp.where(valid[:, None], features, 1e30)
    np.testing.assert_array_equal(masked_max_pool(poisoned, valid), pooled)


def test_masked_max_pool_gradient_and_batches(key):
    """The pool's gradient is max's (all of it to the arg-max row of each feature, none to
    invalid rows) and NaN or inf in invalid rows reaches neither the value nor the gradient;
    leading batch axes give what vmap gives."""
    k_f, k_v, k_w = jax.random.split(key, 3)
    features = jax.random.normal(k_f, (3, 7, 5))
    valid = jax.random.uniform(k_v, (3, 7)) < 0.6
    valid = valid.at[:, 0].set(True).at[2].set(False)  # the last set is empty
    weights = jax.random.normal(k_w, (3, 5))

    def loss(pool, f):
        return jnp.sum(weights * pool(f, valid))

    def reference(f, v):
        pooled = jnp.max(jnp.where(v[..., None], f, -jnp.inf), axis=-2)
        return jnp.where(jnp.any(v, axis=-1)[..., None], pooled, 0.0)

    grad = jax.grad(loss, argnums=1)(masked_max_pool, features)
    np.testing.assert_array_equal(grad, jax.grad(loss, argnums=1)(reference, features))
    assert np.all(np.asarray(grad)[~np.asarray(valid)] == 0.0)
    np.testing.assert_array_equal(
        masked_max_pool(features, valid), jax.vmap(masked_max_pool)(features, valid)
    )
    poisoned = jnp.where(valid[..., None], features, jnp.array([jnp.nan, jnp.inf, -jnp.inf, 0, 1]))
    np.testing.assert_array_equal(
        masked_max_pool(poisoned, valid), masked_max_pool(features, valid)
    )
    np.testing.assert_array_equal(jax.grad(loss, argnums=1)(masked_max_pool, poisoned), grad)


def test_masked_max_pool_of_empty_set_is_zero(key):
    pooled = masked_max_pool(jax.random.normal(key, (4, 3)), jnp.zeros(4, bool))
    np.testing.assert_array_equal(pooled, np.zeros(3, np.float32))


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_set_encoder_is_permutation_invariant(key, depth):
    k_enc, k_x, k_perm = jax.random.split(key, 3)
    encoder = SetEncoder(6, 16, 8, depth, key=k_enc)
    assert len(encoder.element_mlp.layers) == depth + 1  # hidden layers + the output layer
    elements = jax.random.normal(k_x, (10, 6))
    valid = jnp.arange(10) < 7
    perm = jax.random.permutation(k_perm, 10)
    np.testing.assert_allclose(
        encoder(elements[perm], valid[perm]), encoder(elements, valid), rtol=TOL, atol=TOL
    )


@dataclasses.dataclass(frozen=True)
class _Space:
    kind: str
    num_actions: int = 12
    low: tuple = (-4.0, -0.5)
    high: tuple = (2.0, 0.5)


def _observation(key, sizes=None):
    sizes = sizes or {
        "route": (5, 3),
        "agents": (4, 7),
        "lane_points": (6, 4),
        "road_edges": (3, 4),
        "stop_lines": (2, 5),
    }
    keys = jax.random.split(key, len(sizes) + 1)
    fields = {"ego": jax.random.normal(keys[0], (9,))}
    for (name, shape), k in zip(sizes.items(), keys[1:], strict=True):
        fields[name] = jax.random.normal(k, shape)
        fields[f"{name}_valid"] = jnp.arange(shape[0]) < shape[0] - 1
    return type("Obs", (), fields)()


def _as_module(obs):
    class Obs(eqx.Module):
        ego: jax.Array
        route: jax.Array
        route_valid: jax.Array
        agents: jax.Array
        agents_valid: jax.Array
        lane_points: jax.Array
        lane_points_valid: jax.Array
        road_edges: jax.Array
        road_edges_valid: jax.Array
        stop_lines: jax.Array
        stop_lines_valid: jax.Array

    return Obs(**{k: getattr(obs, k) for k in Obs.__annotations__})


@pytest.mark.parametrize("kind", ["discrete", "continuous"])
def test_policy_heads_shapes_and_agent_order(key, kind):
    k_obs, k_pol, k_perm = jax.random.split(key, 3)
    obs = _as_module(_observation(k_obs))
    depth = 1 if kind == "discrete" else 2  # (shallower set encoders: `element_depth`)
    cfg = dataclasses.replace(TeacherConfig.toy(), element_depth=depth)
    policy = TeacherPolicy(cfg, obs, _Space(kind), key=k_pol)
    assert {len(e.element_mlp.layers) for e in policy.encoders.values()} == {depth + 1}
    # One compiled call instead of hundreds of eagerly dispatched small ops.
    outputs = eqx.filter_jit(lambda p, o: (p.latent(o), p(o), p.value(o)))
    latent, (dist, value), value_alone = outputs(policy, obs)
    assert latent.shape == (TeacherConfig.toy().latent_size,)
    assert value.shape == ()
    np.testing.assert_allclose(value, value_alone, rtol=TOL)
    if kind == "discrete":
        assert isinstance(dist, Categorical) and dist.logits.shape == (12,)
    else:
        assert isinstance(dist, ScaledBeta) and dist.alpha.shape == (2,)
        action = dist.sample(jax.random.key(3))
        assert np.all(action >= np.array(_Space.low)) and np.all(action <= np.array(_Space.high))
    # Shuffling the other agents (with their masks) leaves every output unchanged.
    perm = jax.random.permutation(k_perm, 4)
    shuffled = eqx.tree_at(
        lambda o: (o.agents, o.agents_valid), obs, (obs.agents[perm], obs.agents_valid[perm])
    )
    np.testing.assert_allclose(outputs(policy, shuffled)[0], latent, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("kind", ["discrete", "continuous"])
def test_a_batch_of_observations_gives_what_vmap_gives(key, kind):
    """The trainer calls the policy on [worlds, agents, ...] at once (one 2-D matrix product per
    layer): outputs and parameter gradients equal those of the per-agent policy vmapped twice."""
    k_obs, k_pol = jax.random.split(key)
    one = _as_module(_observation(k_obs))
    policy = TeacherPolicy(TeacherConfig.toy(), one, _Space(kind), key=k_pol)
    keys = jax.random.split(k_obs, 6).reshape(2, 3)
    batch = jax.vmap(jax.vmap(lambda k: _as_module(_observation(k))))(keys)

    def summary(dist, value):
        fields = dist.logits if kind == "discrete" else jnp.concatenate([dist.alpha, dist.beta], -1)
        return jnp.sum(jnp.sin(fields)) + jnp.sum(jnp.cos(value))

    def batched(p):
        return summary(*p(batch)), (p(batch), p.latent(batch), p.value(batch))

    def vmapped(p):
        outputs = jax.vmap(jax.vmap(p))(batch)
        latent = jax.vmap(jax.vmap(p.latent))(batch)
        return summary(*outputs), (outputs, latent, jax.vmap(jax.vmap(p.value))(batch))

    grad_b, out_b = eqx.filter_jit(eqx.filter_grad(batched, has_aux=True))(policy)
    grad_v, out_v = eqx.filter_jit(eqx.filter_grad(vmapped, has_aux=True))(policy)
    (dist, value), latent, value_alone = out_b
    np.testing.assert_allclose(value_alone, value, rtol=TOL, atol=TOL)
    # `heads` (what a student distils) is the same three outputs from one pass.
    dist_h, latent_h, value_h = policy.heads(batch)
    heads = (dist_h, value_h), latent_h, value_h
    for got, want in zip(jax.tree.leaves(heads), jax.tree.leaves(out_b), strict=True):
        np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)
    assert value.shape == (2, 3) and latent.shape == (2, 3, TeacherConfig.toy().latent_size)
    for got, want in zip(jax.tree.leaves(out_b), jax.tree.leaves(out_v), strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)
    for got, want in zip(jax.tree.leaves(grad_b), jax.tree.leaves(grad_v), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    # The batched distribution's methods vmap like the per-agent ones.
    log_prob = jax.vmap(jax.vmap(lambda d: d.log_prob(d.mode())))(dist)
    assert log_prob.shape == (2, 3) and np.all(np.isfinite(log_prob))


def test_every_part_is_named_in_the_gradient(key):
    """Each set encoder, the ego encoder and both trunks carry a named scope into the HLO of
    the forward and backward pass: scripts/profile_teacher.py attributes op time by them."""
    k_obs, k_pol = jax.random.split(key)
    obs = _as_module(_observation(k_obs))
    policy = TeacherPolicy(TeacherConfig.toy(), obs, _Space("continuous"), key=k_pol)

    def loss(p):
        dist, value = p(obs)
        return jnp.sum(dist.alpha) + value

    # The optimised HLO, as the profile reads it (fusions keep their root op's name stack).
    text = eqx.filter_jit(eqx.filter_grad(loss)).lower(policy).compile().compiled.as_text()
    assert len(POLICY_SCOPES) == len(SET_NAMES) + 3  # every set, the ego, both trunks
    for scope in POLICY_SCOPES:
        assert f"jvp({scope})" in text, scope
        assert f"transpose(jvp({scope}))" in text, scope


def test_an_observation_of_another_layout_is_named(key):
    """A world configured otherwise than the teacher's (here: turn signals added to the other
    agents' rows) fails while tracing, naming the field, not deep inside a matrix product."""
    k_obs, k_pol = jax.random.split(key)
    obs = _as_module(_observation(k_obs))
    policy = TeacherPolicy(TeacherConfig.toy(), obs, _Space("discrete"), key=k_pol)
    wider = eqx.tree_at(lambda o: o.agents, obs, jnp.pad(obs.agents, ((0, 0), (0, 2))))
    with pytest.raises(ValueError, match="'agents' rows have 7 features, this world's have 9"):
        jax.eval_shape(policy, wider)
    with pytest.raises(ValueError, match="'ego'"):
        policy.value(eqx.tree_at(lambda o: o.ego, obs, obs.ego[:5]))


def test_beta_matches_scipy():
    alpha, beta = jnp.array([2.0, 0.7]), jnp.array([3.0, 1.5])
    low, high = jnp.array([-4.0, -0.5]), jnp.array([2.0, 0.5])
    dist = ScaledBeta(alpha, beta, low, high)
    action = jnp.array([-1.0, 0.2])
    unit = (np.asarray(action) - np.asarray(low)) / (np.asarray(high) - np.asarray(low))
    ref = scipy.stats.beta(np.asarray(alpha), np.asarray(beta))
    # gammaln/digamma in float32: 1e-5 relative.
    np.testing.assert_allclose(dist.log_prob(action), ref.logpdf(unit).sum(), rtol=1e-5)
    np.testing.assert_allclose(dist.entropy(), ref.entropy().sum(), rtol=1e-5)
    other = ScaledBeta(beta, alpha, low, high)
    grid = np.linspace(1e-4, 1 - 1e-4, 200001)
    p = scipy.stats.beta(2.0, 3.0).pdf(grid)
    q = scipy.stats.beta(3.0, 2.0).pdf(grid)
    kl0 = np.trapezoid(p * np.log(p / q), grid)
    np.testing.assert_allclose(
        ScaledBeta(alpha[:1], beta[:1], low[:1], high[:1]).kl(
            ScaledBeta(beta[:1], alpha[:1], low[:1], high[:1])
        ),
        kl0,
        rtol=1e-4,  # numerical quadrature of the reference
    )
    assert float(dist.kl(other)) > 0.0


def test_categorical_matches_numpy():
    logits = jnp.array([0.5, -1.0, 2.0])
    p = np.exp(np.asarray(logits)) / np.exp(np.asarray(logits)).sum()
    dist = Categorical(logits)
    np.testing.assert_allclose(dist.log_prob(jnp.int32(2)), np.log(p[2]), rtol=1e-6)
    np.testing.assert_allclose(dist.entropy(), -(p * np.log(p)).sum(), rtol=1e-6)
    q = np.array([0.2, 0.3, 0.5])
    other = Categorical(jnp.log(jnp.asarray(q, jnp.float32)))
    np.testing.assert_allclose(dist.kl(other), (p * np.log(p / q)).sum(), rtol=1e-5)


def test_axis_entropies_of_a_grid():
    """Marginal entropies of the accel x steer grid against numpy, and the stuck policy's
    signature: all mass on one accelerator value, steering uniform."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=6).astype(np.float32)
    p = np.exp(logits) / np.exp(logits).sum()
    rows, cols = p.reshape(2, 3).sum(1), p.reshape(2, 3).sum(0)
    h = lambda q: -(q * np.log(q)).sum()  # noqa: E731
    got = axis_entropies(Categorical(jnp.asarray(logits)), (2, 3))
    np.testing.assert_allclose(got, [h(rows), h(cols)], rtol=1e-5)
    # Independent axes: the marginals' entropies add up to the joint entropy.
    indep = np.log(np.outer([0.2, 0.8], [0.5, 0.3, 0.2])).reshape(-1)
    dist = Categorical(jnp.asarray(indep, jnp.float32))
    np.testing.assert_allclose(axis_entropies(dist, (2, 3)).sum(), dist.entropy(), rtol=1e-5)
    # Braking at -3 m/s^2 (row 1 of 7) while steering uniformly over 7 angles.
    stuck = np.full((7, 7), -1e9, np.float32)
    stuck[1] = 0.0
    got = axis_entropies(Categorical(jnp.asarray(stuck.reshape(-1))), (7, 7))
    np.testing.assert_allclose(got, [0.0, np.log(7)], atol=1e-5)
    with pytest.raises(ValueError, match="grid"):
        axis_entropies(Categorical(jnp.asarray(logits)), None)


def test_axis_entropies_of_the_beta():
    alpha, beta = jnp.array([2.0, 0.7]), jnp.array([3.0, 1.5])
    dist = ScaledBeta(alpha, beta, jnp.array([-8.0, -0.7]), jnp.array([4.0, 0.7]))
    ref = scipy.stats.beta(np.asarray(alpha), np.asarray(beta)).entropy()
    np.testing.assert_allclose(axis_entropies(dist, None), ref, rtol=1e-5)
