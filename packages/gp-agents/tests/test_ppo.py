"""PPO arithmetic against references: GAE with episode ends (numpy), the loss on a hand case."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gp_agents import gae, ppo_loss


def _gae_reference(rewards, values, dones, last_value, gamma, lam):
    """Textbook backward loop, one slot at a time."""
    horizon = rewards.shape[0]
    adv = np.zeros_like(rewards)
    for slot in np.ndindex(rewards.shape[1:]):
        running = 0.0
        for t in reversed(range(horizon)):
            next_v = last_value[slot] if t == horizon - 1 else values[(t + 1, *slot)]
            if dones[(t, *slot)]:
                next_v, running = 0.0, 0.0
            delta = rewards[(t, *slot)] + gamma * next_v - values[(t, *slot)]
            running = delta + gamma * lam * running
            adv[(t, *slot)] = running
    return adv, adv + values


def test_gae_matches_numpy_reference_with_dones(key):
    k_r, k_v, k_d, k_l = jax.random.split(key, 4)
    shape = (12, 3, 5)  # time, worlds, agents
    rewards = jax.random.normal(k_r, shape)
    values = jax.random.normal(k_v, shape)
    dones = jax.random.bernoulli(k_d, 0.2, shape)
    last_value = jax.random.normal(k_l, shape[1:])
    adv, targets = jax.jit(gae, static_argnums=(4, 5))(
        rewards, values, dones, last_value, 0.97, 0.9
    )
    ref_adv, ref_targets = _gae_reference(
        *(np.asarray(x, np.float64) for x in (rewards, values)),
        np.asarray(dones),
        np.asarray(last_value, np.float64),
        0.97,
        0.9,
    )
    assert np.asarray(dones).any() and not np.asarray(dones).all()
    # float32 recursion of 12 steps vs float64: 1e-5.
    np.testing.assert_allclose(adv, ref_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(targets, ref_targets, rtol=1e-5, atol=1e-5)


def test_gae_lambda_one_no_dones_is_discounted_return():
    rewards = jnp.array([1.0, 2.0, 3.0])
    values = jnp.zeros(3)
    adv, _ = gae(rewards, values, jnp.zeros(3, bool), jnp.float32(10.0), 0.5, 1.0)
    # 1 + .5*2 + .25*3 + .125*10, then 2 + .5*3 + .25*10, then 3 + .5*10
    np.testing.assert_allclose(adv, [4.0, 6.0, 8.0], rtol=1e-6)


def test_ppo_loss_hand_case():
    # Two transitions kept, one masked out (its huge numbers must not matter).
    log_prob = jnp.log(jnp.array([0.6, 0.2, 0.5]))
    old_log_prob = jnp.log(jnp.array([0.4, 0.4, 1e-6]))
    advantages = jnp.array([1.0, -2.0, 1e6])
    value = jnp.array([1.0, 0.0, 1e3])
    targets = jnp.array([2.0, 1.0, 0.0])
    entropy = jnp.array([0.5, 1.5, 100.0])
    axis_entropy = jnp.array([[0.1, 0.4], [0.5, 1.0], [100.0, 100.0]])
    mask = jnp.array([True, True, False])
    loss = functools.partial(
        ppo_loss,
        log_prob,
        old_log_prob,
        advantages,
        value,
        targets,
        entropy,
        clip_eps=0.2,
        vf_coef=0.5,
        ent_coef=0.01,
        entropy_floor_coef=2.0,
    )
    terms = loss(axis_entropy, mask, entropy_floor=0.5)
    # ratios 1.5 (clipped to 1.2, A=+1 -> min(1.5, 1.2) = 1.2) and 0.5 (clipped 0.8, A=-2 ->
    # min(-1.0, -1.6) = -1.6): policy loss = -(1.2 - 1.6) / 2 = 0.2.
    np.testing.assert_allclose(terms.policy, 0.2, rtol=1e-6)
    np.testing.assert_allclose(terms.value, 0.5 * (1.0 + 1.0) / 2, rtol=1e-6)
    np.testing.assert_allclose(terms.entropy, 1.0, rtol=1e-6)
    np.testing.assert_allclose(terms.clip_fraction, 1.0, rtol=1e-6)
    kl = ((1.5 - 1 - np.log(1.5)) + (0.5 - 1 - np.log(0.5))) / 2
    np.testing.assert_allclose(terms.approx_kl, kl, rtol=1e-5)
    # Mean longitudinal entropy (0.1 + 0.5) / 2 = 0.3 is 0.2 below the floor of 0.5.
    np.testing.assert_allclose(terms.axis_entropy, [0.3, 0.7], rtol=1e-6)
    np.testing.assert_allclose(terms.floor_penalty, 0.2, rtol=1e-6)
    np.testing.assert_allclose(terms.total, 0.2 + 0.5 * 0.5 - 0.01 * 1.0 + 2.0 * 0.2, rtol=1e-6)
    # Above the floor the hinge is silent.
    above = loss(axis_entropy, mask, entropy_floor=0.25)
    np.testing.assert_allclose(above.floor_penalty, 0.0)
    np.testing.assert_allclose(above.total, 0.2 + 0.5 * 0.5 - 0.01 * 1.0, rtol=1e-6)
    # No floor: nothing is added, even for a Beta's negative differential entropies.
    beta_like = loss(axis_entropy - 10.0, mask, entropy_floor=0.0)
    np.testing.assert_allclose(beta_like.floor_penalty, 0.0)
    np.testing.assert_allclose(beta_like.total, above.total, rtol=1e-6)
    # An action space without the two axes: no per-axis terms, and no floor allowed.
    none = loss(None, mask, entropy_floor=0.0)
    np.testing.assert_allclose(none.axis_entropy, [0.0, 0.0])
    np.testing.assert_allclose(none.total, above.total, rtol=1e-6)
    with pytest.raises(ValueError, match="floor"):
        loss(None, mask, entropy_floor=0.5)
