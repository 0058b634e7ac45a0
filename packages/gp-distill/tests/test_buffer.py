"""The aggregation buffer against a Python list reference: order, overwrite, masks, sampling."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gp_distill as gd


def test_ring_matches_a_list_reference(key):
    capacity = 7
    buffer = gd.empty_buffer({"x": jax.ShapeDtypeStruct((2,), jnp.float32)}, capacity)
    add = jax.jit(gd.add_samples)
    reference: list[float] = []
    rng = np.random.default_rng(0)
    for chunk in range(6):
        values = np.arange(5, dtype=np.float32) + 10 * chunk
        keep = rng.random(5) < 0.6
        buffer = add(buffer, {"x": jnp.stack([values, -values], -1)}, jnp.asarray(keep))
        reference.extend(values[keep].tolist())
        kept = reference[-capacity:]
        assert int(buffer.size) == len(kept)
        # The ring holds the newest `capacity` kept samples, oldest overwritten first.
        stored = np.asarray(buffer.samples["x"][: int(buffer.size), 0])
        assert sorted(stored.tolist()) == sorted(kept)
        assert int(buffer.position) == len(reference) % capacity
    # Samples come only from filled entries, with their pairing intact.
    batch = gd.sample_batch(buffer, key, 64)["x"]
    assert set(np.asarray(batch[:, 0]).tolist()) <= set(reference[-capacity:])
    np.testing.assert_array_equal(batch[:, 1], -batch[:, 0])


def test_rejects_oversized_chunks():
    buffer = gd.empty_buffer({"x": jax.ShapeDtypeStruct((), jnp.float32)}, 4)
    with pytest.raises(ValueError, match="capacity"):
        gd.add_samples(buffer, {"x": jnp.zeros((5,))}, jnp.ones((5,), bool))
