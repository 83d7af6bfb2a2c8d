"""Project-level pytest wiring: the measurement fixtures and the options that say where resources are.

The claim-verification plugin itself (`pytest_claims`) is loaded through its pytest11 entry point;
this file only adds what is specific to this paper's suite.
"""

from __future__ import annotations

pytest_plugins = ["fixtures.environment", "fixtures.options", "fixtures.measurement", "fixtures.studies",
                  "fixtures.reproducibility", "fixtures.scheduling"]
