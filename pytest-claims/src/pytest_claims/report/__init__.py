"""The HTML report, rendered from ``claims.json`` alone: ``python -m pytest_claims.report reports/claims.json``."""

from __future__ import annotations

from .html import render, render_html

__all__ = ["render", "render_html"]
