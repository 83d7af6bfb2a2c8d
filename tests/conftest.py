"""Fixtures shared by the project's own tests: the tiny world of tests/tier_world.py."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory):
    from tests.tier_world import build_world

    return build_world(tmp_path_factory.mktemp("tier_world"))


@pytest.fixture
def trusted(world, monkeypatch: pytest.MonkeyPatch):
    from tests.tier_world import trust

    return trust(world, monkeypatch)
