"""Toy paired data shared by the shift and adapter tests (built once: rendering compiles)."""

import jax
import pytest

import gp_adapt as ga
from gp_adapt import testing
from gp_adapt.config import DomainShift

TOY_SCENES = 24
TOY_HEIGHT, TOY_WIDTH = 24, 32


@pytest.fixture(scope="session")
def toy_pairs():
    """{"scenes": rendered scenes (N,), "shifted": their severity-4 synthetic images}."""
    scenes = testing.toy_scenes(jax.random.key(0), TOY_SCENES, TOY_WIDTH, TOY_HEIGHT)
    shift = DomainShift.at(4)
    keys = jax.random.split(jax.random.key(1), TOY_SCENES)
    shifted = jax.jit(jax.vmap(lambda k, s: ga.shifted_view(k, s, shift, backend="xla")))(
        keys, scenes
    )
    return {"scenes": scenes, "shifted": shifted, "shift": shift}
