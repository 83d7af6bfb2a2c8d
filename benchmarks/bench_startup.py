"""Start-up and re-run cost of the suite (issue 7's targets), measured in fresh processes.

Each figure is one subprocess, timed by wall clock, its peak memory read from the kernel
(``RUSAGE_CHILDREN`` of a wrapper process that runs only that command):

* ``floor``       — ``pytest --co`` of ``claims/test_jft_untestable.py`` with ``--noconftest``: pytest, the
  claims plugin and the paper data, nothing of the measurement library;
* ``collect``     — ``pytest --co -q claims/ -p no:xdist``: what every run and every xdist worker pays;
* ``help``        — ``pytest --help``; and whether it (or ``collect``) imported torch;
* ``main cold`` / ``main cached`` (with ``--main-job``) — the README's main job, ``pytest claims/ -n 2 --dist worksteal``,
  first with an empty ``--claims-cache``, then again on the cache it filled.

Targets (docs/DESIGN.md): collect ≤ 1.5 × floor and ≤ 400 MB per process; help imports no torch;
main cached ≤ 25 % of main cold. Not a timed test: figures go to stdout as JSON lines and, with
``--out``, to a file. Best of ``--repeat`` runs for the collection figures (the machine may be busy).

    .venv/bin/python benchmarks/bench_startup.py                 # collection figures (~1 min)
    .venv/bin/python benchmarks/bench_startup.py --main-job      # + cold and cached main job (~4 min on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs one command and reports its peak RSS: RUSAGE_CHILDREN of this wrapper covers that command only.
WRAPPER = """
import resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
elapsed = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"{elapsed} {peak_kib} {done.returncode}")
sys.stderr.write(done.stdout[-2000:] + done.stderr[-2000:])
"""

# pytest in-process, then: did anything import torch?
TORCH_PROBE = """
import sys, pytest
pytest.main(sys.argv[1:])
print("TORCH_IMPORTED=" + str("torch" in sys.modules))
"""


def measure(command: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-c", WRAPPER, *command], check=False, cwd=ROOT, capture_output=True,
                          text=True)
    elapsed, peak_kib, returncode = done.stdout.split()
    if int(returncode) not in (0, 5):  # 5: no tests collected
        raise RuntimeError(f"{' '.join(command)} exited {returncode}:\n{done.stderr}")
    return {"seconds": round(float(elapsed), 2), "peak_mb": round(int(peak_kib) / 1024, 1)}


def best_of(command: list[str], repeat: int) -> dict:
    runs = [measure(command) for _ in range(repeat)]
    return {"seconds": min(r["seconds"] for r in runs), "peak_mb": max(r["peak_mb"] for r in runs),
            "runs": [r["seconds"] for r in runs]}


def imports_torch(args: list[str]) -> bool:
    done = subprocess.run([sys.executable, "-c", TORCH_PROBE, *args], check=False, cwd=ROOT, capture_output=True,
                          text=True)
    marker = [line for line in done.stdout.splitlines() if line.startswith("TORCH_IMPORTED=")]
    if not marker:
        raise RuntimeError(f"pytest {' '.join(args)} did not finish:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return marker[-1].endswith("True")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per collection figure (best is reported)")
    parser.add_argument("--main-job", action="store_true", help="also time the main job cold and cached")
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    pytest_cmd = [sys.executable, "-m", "pytest"]
    figures: dict[str, dict] = {}
    figures["floor"] = best_of(pytest_cmd + ["--co", "-q", "--noconftest", "-p", "no:xdist",
                                             "claims/test_jft_untestable.py"], args.repeat)
    figures["collect"] = best_of(pytest_cmd + ["--co", "-q", "-p", "no:xdist", "claims/"], args.repeat)
    figures["collect"]["x_floor"] = round(figures["collect"]["seconds"] / figures["floor"]["seconds"], 2)
    figures["collect"]["imports_torch"] = imports_torch(["--co", "-q", "-p", "no:xdist", "claims/"])
    figures["help"] = {**best_of(pytest_cmd + ["--help"], 1), "imports_torch": imports_torch(["--help"])}
    if args.main_job:
        with tempfile.TemporaryDirectory() as scratch:
            job = pytest_cmd + ["claims/", "-n", "2", "--dist", "worksteal", "-q", f"--claims-cache={scratch}/cache",
                                f"--claims-report-dir={scratch}/reports"]
            start = time.perf_counter()
            figures["main_cold"] = measure(job)
            figures["main_cached"] = measure(job)
            figures["main_cached"]["x_cold"] = round(figures["main_cached"]["seconds"]
                                                     / figures["main_cold"]["seconds"], 3)
            figures["main_cold"]["total_seconds_both"] = round(time.perf_counter() - start, 1)
    for name, values in figures.items():
        print(json.dumps({"figure": name, **values}))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
