"""The plugin's one exception root: every error `pytest_claims` raises on purpose derives from `ClaimsError`, so a
caller (a nightly job, a report merger) can catch "ours" without listing classes. Each class also keeps the builtin
it always was (LookupError, ValueError, RuntimeError), so existing `except` clauses still match."""

from __future__ import annotations


class ClaimsError(Exception):
    """The root of the plugin's errors (configuration, catalog, sections, history, merging reports)."""
