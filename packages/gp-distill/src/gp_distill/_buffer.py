"""A bounded aggregation buffer on device: a ring of labelled samples, the oldest overwritten."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Int, PRNGKeyArray


class SampleBuffer(eqx.Module):
    """`samples`: a pytree whose leaves have leading axis `capacity`; entries [0, size) hold
    data; `position` is where the next sample goes."""

    samples: Any
    size: Int[Array, ""]
    position: Int[Array, ""]

    @property
    def capacity(self) -> int:
        return int(jax.tree.leaves(self.samples)[0].shape[0])


def empty_buffer(example: Any, capacity: int) -> SampleBuffer:
    """A buffer for samples shaped like `example` (one sample, arrays or ShapeDtypeStructs)."""
    if capacity < 1:
        raise ValueError(f"buffer capacity must be >= 1, got {capacity}")
    samples = jax.tree.map(lambda x: jnp.zeros((capacity, *x.shape), x.dtype), example)
    return SampleBuffer(samples, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def add_samples(buffer: SampleBuffer, samples: Any, keep: Bool[Array, " n"]) -> SampleBuffer:
    """Append the samples (leading axis n <= capacity) whose `keep` is True, in order."""
    capacity = buffer.capacity
    n = keep.shape[0]
    if n > capacity:
        raise ValueError(f"adding {n} samples at once to a buffer of capacity {capacity}")
    rank = jnp.cumsum(keep.astype(jnp.int32)) - 1
    slot = jnp.where(keep, (buffer.position + rank) % capacity, capacity)  # capacity: dropped
    stored = jax.tree.map(
        lambda old, new: old.at[slot].set(new, mode="drop"), buffer.samples, samples
    )
    added = jnp.sum(keep.astype(jnp.int32))
    return SampleBuffer(
        stored,
        jnp.minimum(buffer.size + added, capacity),
        (buffer.position + added) % capacity,
    )


def sample_batch(buffer: SampleBuffer, key: PRNGKeyArray, batch_size: int) -> Any:
    """`batch_size` samples drawn uniformly with replacement from the filled entries."""
    index = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    return jax.tree.map(lambda x: x[index], buffer.samples)
