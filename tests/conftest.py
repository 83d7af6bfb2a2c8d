"""Fixtures shared by the project's own tests: the tiny world of tests/tier_world.py."""

from __future__ import annotations

import pytest

# Imported once for the whole session: pytester's in-process runs restore sys.modules afterwards, and scipy's
# lazily imported submodules (its vendored array_api_compat) do not survive being dropped and re-imported
# ("No module named 'array_api_compat'" in the plugin's statistics, depending on test order).
import scipy.stats  # noqa: F401


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory):
    from tests.tier_world import build_world

    return build_world(tmp_path_factory.mktemp("tier_world"))


@pytest.fixture
def trusted(world, monkeypatch: pytest.MonkeyPatch):
    from tests.tier_world import trust

    return trust(world, monkeypatch)
