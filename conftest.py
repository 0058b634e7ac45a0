"""Test configuration shared by every package's tests.

JAX settings must be applied before any backend starts, so they live here, at import time.
"""

import jax

# Four fake CPU devices so sharded code paths run in every test session.
jax.config.update("jax_num_cpu_devices", 4)
# Strict numerics: no silent dtype widening, no implicit rank broadcasting.
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")

import pytest  # noqa: E402


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--all",
        action="store_true",
        default=False,
        help="also run the long test matrices (tests marked 'slow')",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--all"):
        return
    skip = pytest.mark.skip(reason="long matrix: run with --all")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def key() -> jax.Array:
    """A fresh typed PRNG key; tests split it as they need."""
    return jax.random.key(0)
