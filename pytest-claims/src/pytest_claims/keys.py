"""Names the hooks (``plugin``) and the controller share: stash keys and the xdist output key.

Both import this module and neither imports the other's names, so the dependency runs one way:
``plugin`` registers the ``controller``; the controller reads what the hooks left under these keys.
"""

from __future__ import annotations

import pytest

from .catalog import Catalog
from .config import ClaimsConfig

CONFIG_KEY = pytest.StashKey[ClaimsConfig]()
CATALOG_KEY = pytest.StashKey[Catalog]()
COLLECTED_KEY = pytest.StashKey[list]()  # one dict per claim-marked item collected, deselected ones included
ALL_ITEMS_KEY = pytest.StashKey[list]()  # every item collected, before any plugin deselects
WORKEROUTPUT_KEY = "claims_collected"  # the COLLECTED_KEY list, sent by an xdist worker to the controller
