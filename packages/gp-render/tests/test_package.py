"""The package imports alone and exposes its version."""

import gp_render


def test_version_is_semver():
    major, minor, patch = gp_render.__version__.split(".")
    assert (int(major), int(minor), int(patch)) >= (0, 1, 0)
