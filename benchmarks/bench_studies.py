"""Cold and cached cost of the CPU studies (FLOP counts, Table 1, §3.2, small data), one JSON line per study.

Each study runs what its claim tests need — every Table 6 model's FLOP count at the pre-training
resolution; Table 1's three ViTs; ViT-B/16 moved from 224 to 384 px; the whole small-data design and its
models' facts — in a fresh interpreter, twice on the same new cache folder:

* ``cold``   — an empty cache: everything is computed (the small-data study trains its 30 runs on a
  process pool of one worker per free core);
* ``cached`` — the folder the cold run filled: everything is read.

Per run: wall time of the whole process (interpreter start and imports included: that is what a test
process pays), its peak RSS, the largest peak RSS of its pool workers (small data), how many of its cache entries
existed before it started, and whether it imported torch. Not a timed test: the figures go to stdout as
JSON lines and, with ``--out``, to a file.

    .venv/bin/python benchmarks/bench_studies.py                        # all four (~6 min on 2 cores, cold small data)
    .venv/bin/python benchmarks/bench_studies.py --studies flops,posemb  # a subset
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ("flops", "table1", "posemb", "small_data")


def _pretraining_resolution() -> int:
    import paper

    return int(paper.number(table="Appendix B.1", column="pre-training resolution").value)


def _run_flops(cache: Path) -> tuple[int, int]:
    import paper
    from measure.studies.flops import CACHE_FOLDER, FlopCounts

    counts, resolution = FlopCounts(cache / CACHE_FOLDER), _pretraining_resolution()
    models = sorted({n.model for n in paper.numbers(table="Table 6", metric="exaflops")})
    before = sum(counts.records.is_complete(m, resolution) for m in models)
    for model in models:
        counts.forward(model, resolution)
    return before, len(models)


def _run_table1(cache: Path) -> tuple[int, int]:
    from measure.studies.table1 import CACHE_FOLDER, Table1Counts

    counts, resolution = Table1Counts(cache / CACHE_FOLDER), _pretraining_resolution()
    models = ("ViT-B/16", "ViT-L/16", "ViT-H/14")  # claims/test_table1_variants.py's COUNTED_MODEL
    before = sum(counts.records.is_complete(m, resolution) for m in models)
    for model in models:
        counts.facts(model, resolution)
    return before, len(models)


def _run_posemb(cache: Path) -> tuple[int, int]:
    import paper
    from measure.studies.posemb.study import CACHE_FOLDER, PosembStudy

    study = PosembStudy(cache / CACHE_FOLDER)
    fine = int(paper.number(table="Appendix B.1.1", column="fine-tuning resolution").value)
    args = ("vit_base_patch16_224", _pretraining_resolution(), fine, 0)
    before = int(study.records.cache.is_complete(study.key(*args)))
    study.transfer(*args)
    return before, 1


def _run_small_data(cache: Path) -> tuple[int, int]:
    from measure.run.cache import ChunkCache
    from measure.studies.small_data.design import CACHE_FOLDER, STUDY
    from measure.studies.small_data.pool import cache_key
    from measure.studies.small_data.study import SmallDataStudy

    study = SmallDataStudy(STUDY, cache / CACHE_FOLDER)
    specs = STUDY.specs()
    before = sum(ChunkCache(study.cache_root).is_complete(cache_key(s)) for s in specs)
    for model in STUDY.models:
        for size in STUDY.sizes:
            study.correctness(model, size)
        study.model_facts(model)
    return before, len(specs)


def child(study: str, cache: Path) -> None:
    """Run one study on ``cache`` in this process and print what it cost."""
    sys.path.insert(0, str(ROOT))
    runner = {"flops": _run_flops, "table1": _run_table1, "posemb": _run_posemb, "small_data": _run_small_data}[study]
    before, total = runner(cache)
    figures = {"entries_cached_before": before, "entries": total, "imported_torch": "torch" in sys.modules,
               "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if study == "small_data":  # its process pool; elsewhere the only child is a fork torch's import makes (ldconfig)
        figures["workers_peak_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    print(json.dumps(figures))


def measure(study: str, cache: Path) -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", study, str(cache)], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{study} on {cache} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return {"seconds": round(seconds, 2), **json.loads(done.stdout.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", default=",".join(STUDIES), help=f"comma separated, from {', '.join(STUDIES)}")
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON-lines file")
    parser.add_argument("--child", nargs=2, metavar=("STUDY", "CACHE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return 0
    studies = [s.strip() for s in args.studies.split(",") if s.strip()]
    unknown = sorted(set(studies) - set(STUDIES))
    if unknown:
        parser.error(f"unknown studies {unknown}; choose from {', '.join(STUDIES)}")
    lines = []
    for study in studies:
        with tempfile.TemporaryDirectory(prefix=f"bench-{study}-") as folder:
            cold = measure(study, Path(folder))
            cached = measure(study, Path(folder))
        line = {"study": study, "cold": cold, "cached": cached,
                "cached_over_cold": round(cached["seconds"] / cold["seconds"], 3)}
        lines.append(line)
        print(json.dumps(line), flush=True)
    if args.out:
        args.out.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
