"""Fixtures shared by the plugin's own tests."""

from __future__ import annotations

# Imported once for the whole session: pytester's in-process runs restore sys.modules afterwards, and scipy's
# lazily imported submodules (its vendored array_api_compat) do not survive being dropped and re-imported
# ("No module named 'array_api_compat'" in the plugin's statistics, depending on test order).
import scipy.stats  # noqa: F401
