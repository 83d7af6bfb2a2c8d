"""Hooks a project implements (in its conftest.py) to extend the plugin."""

from __future__ import annotations

import pluggy
import pytest

hookspec = pluggy.HookspecMarker("pytest")


@hookspec
def pytest_claims_environment(config: pytest.Config) -> dict:
    """Return entries for the report's environment block (e.g. ``{"device": "cpu", "seeds": {...}}``).

    Called once, on the controller, when the report is written. Values must be JSON-safe; dict values
    are merged into an existing dict entry of the same key (``seeds``, ``packages``).
    """


@hookspec
def pytest_claims_configuration(config: pytest.Config) -> dict:
    """Return what makes two runs comparable (e.g. ``{"tiers": [...], "data": {...}, "recipe": {...}}``).

    Called once, on the controller, when the report is written; the dicts of every implementation are
    merged into the report's ``run.configuration``. The history compares a run only with earlier runs
    whose configuration is equal (same keys, same values), never across unlike setups. Values must be
    JSON-safe and must not change between two runs of the same setup (no times, no temporary paths).
    """


@hookspec
def pytest_claims_sections(config: pytest.Config, document: dict) -> list:
    """Return sections for the report (``pytest_claims.sections``): questions answered from this run's
    evidence, each with links to claims and checks of ``document`` (the assembled report, read-only).

    Called once, on the controller, before the report is written; the sections of every implementation are
    stored, in order, as ``document["sections"]`` and rendered after the summary.
    """
