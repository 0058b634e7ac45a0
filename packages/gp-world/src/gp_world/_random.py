"""A counter-based hash PRNG for the hot path.

Threefry compiles to a large graph on CPU (seconds per call site); the world draws all of its
per-step randomness from one hash of (key data, counter) instead. It is elementwise, so a world
gives bit-identical draws alone or inside any vmapped batch.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Key


def _fmix32(h: Array) -> Array:
    """MurmurHash3's 32-bit finaliser: a bijective avalanche mix."""
    h = h ^ (h >> 16)
    h = h * jnp.uint32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * jnp.uint32(0xC2B2AE35)
    return h ^ (h >> 16)


def _seed(key: Key[Array, ""]) -> tuple[Array, Array]:
    data = jax.random.key_data(key).reshape(-1).astype(jnp.uint32)
    return data[0], data[-1]


def uniform(key: Key[Array, ""], shape: tuple[int, ...]) -> Array:
    """f32 in [0, 1) of `shape`, a pure function of (key, element index)."""
    a, b = _seed(key)
    count = jnp.arange(math.prod(shape), dtype=jnp.uint32)
    h = _fmix32(count * jnp.uint32(0x9E3779B9) ^ _fmix32(a ^ jnp.uint32(0x68E31DA4)))
    h = _fmix32(h ^ _fmix32(b + jnp.uint32(0x1B56C4E9)))
    u = (h >> 8).astype(jnp.float32) * (1.0 / (1 << 24))
    return u.reshape(shape)


def split(key: Key[Array, ""], num: int) -> Key[Array, " num"]:
    """`num` new keys of the same implementation, derived by hashing."""
    data = jax.random.key_data(key)
    flat = data.reshape(-1).astype(jnp.uint32)
    n = flat.shape[0]
    count = jnp.arange(num * n, dtype=jnp.uint32).reshape(num, n)
    mixed = _fmix32(
        _fmix32(flat[None, :] ^ jnp.uint32(0x2545F491)) + count * jnp.uint32(0x9E3779B9)
    )
    mixed = _fmix32(mixed ^ _fmix32(jnp.roll(flat, 1)[None, :]))
    return jax.random.wrap_key_data(
        mixed.reshape(num, *data.shape).astype(data.dtype), impl=jax.random.key_impl(key)
    )
