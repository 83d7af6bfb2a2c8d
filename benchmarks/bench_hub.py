"""How long an unreachable hub costs a run (the speed targets the hub tests used to assert).

* ``closed port``  — four uncached checkpoints asked of a hub on a closed port: one refused connection, then every
  load answers at once (target: under 3 s for the four);
* ``silent hub``   — two uncached checkpoints asked of a hub that accepts the connection but never answers, with a
  0.5 s probe timeout: one timeout per run (target: between 0.4 and 1.5 s for the two);
* ``offline suite`` (with ``--suite``) — the offline claim suite of tests/test_claim_suite.py (no checkpoints, no
  data, no hub): collection dominates, the hub is never waited on (target: under 60 s).

The behaviour (one attempt per run, what each message asks for) is tested in tests/test_checkpoints.py and
tests/test_claim_suite.py; these are the figures, printed as JSON lines, never asserted in a test.

    .venv/bin/python benchmarks/bench_hub.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

UNCACHED = ("vit_l16-i21k", "bit_m_r152x4-i21k", "vit_l16-i21k-hf", "bit_s_r50x1-i1k")


def _timed_loads(hub, keys) -> float:
    from measure.errors import Missing
    from measure.models.loaders import load_model
    from measure.models.registry import by_key

    started = time.perf_counter()
    for key in keys:
        try:
            load_model(by_key(key), hub)
        except Missing:
            pass
    return time.perf_counter() - started


def closed_port(folder: Path) -> dict:
    from measure.models.hub import HubAccess

    os.environ["HF_ENDPOINT"] = "http://127.0.0.1:9"
    hub = HubAccess(offline=False, cache_dir=folder / "hf", files_dir=folder / "files")
    return {"figure": "closed port", "seconds": _timed_loads(hub, UNCACHED), "target_below_s": 3.0,
            "attempts": hub.attempts}


def silent_hub(folder: Path) -> dict:
    from measure.models.hub import HubAccess
    from tests.fake_checkpoints import SilentPort

    with SilentPort() as port:
        hub = HubAccess(offline=False, endpoint=port.url, cache_dir=folder, probe_timeout=0.5)
        seconds = _timed_loads(hub, UNCACHED[:2])
    return {"figure": "silent hub", "seconds": seconds, "target_s": [0.4, 1.5], "attempts": hub.attempts}


def offline_suite() -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "tests/test_claim_suite.py", "-q", "-n", "0", "-k",
                           "offline_machine_lists_every_check"], cwd=ROOT, capture_output=True, text=True, check=False)
    return {"figure": "offline suite", "seconds": time.perf_counter() - started, "target_below_s": 60.0,
            "returncode": done.returncode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", action="store_true", help="also time the offline claim suite (~1 min)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = [closed_port(Path(tmp) / "closed"), silent_hub(Path(tmp) / "silent")]
    if args.suite:
        figures.append(offline_suite())
    for figure in figures:
        print(json.dumps(figure))


if __name__ == "__main__":
    main()
