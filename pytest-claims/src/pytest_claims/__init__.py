"""pytest-claims: judge a paper's claims from measurements and report, claim by claim, what holds.

A claim test is marked ``@pytest.mark.claim("id")`` and records exactly one check through the
``claim_check`` fixture (see docs/PLUGIN.md). Importing this package is cheap: scipy, matplotlib
and jinja2 are loaded only when something is judged or rendered.
"""

from __future__ import annotations

from .check import ClaimCheck
from .errors import ClaimsError
from .records import Alternate, CheckRecord, ClaimRecord, Measurement, PaperValue, Plan, Source
from .summary import Summary
from .table import frame  # pandas is imported when a table is made, not here

__all__ = ["Alternate", "CheckRecord", "ClaimCheck", "ClaimRecord", "ClaimsError", "Measurement", "PaperValue", "Plan",
           "Source", "Summary", "frame"]
