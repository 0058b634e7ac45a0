"""The package imports alone and exposes its version."""

import gp_eval


def test_version_is_semver():
    major, minor, patch = gp_eval.__version__.split(".")
    assert (int(major), int(minor), int(patch)) >= (0, 1, 0)
