"""``python -m pytest_claims``: work with reports after the run.

    merge DIR... --out DIR   join the reports of a run's shards into one report (+ a history row)
    table PATH --csv OUT     one row per check (and run) of a claims.json or a history database, as CSV
    durations PATH... --out FILE   the checks' recorded durations for pytest-split (--durations-path)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .changes import FAIL_ON

EXIT_PARTIAL = 3  # merge: checks missing or in conflict; the report says which
LISTED = 20  # missing checks named in the terminal; the report lists them all


def _merge(args: argparse.Namespace) -> int:
    from .changes import alerts
    from .files import write_json
    from .history import HistoryError
    from .merge import MergeError, merge_documents, read_shard
    from .nightly import record_and_compare
    from .report import render
    from .text import change_lines, partial_headline

    try:
        document = merge_documents([read_shard(Path(p)) for p in args.shards])
    except MergeError as exc:
        print(f"merge refused: {exc}", file=sys.stderr)
        return 2
    except (KeyError, TypeError, AttributeError) as exc:  # valid JSON, but not the report pytest-claims writes
        print(f"merge refused: a shard's claims.json is malformed ({type(exc).__name__}: {exc}); rerun the shard",
              file=sys.stderr)
        return 2
    if args.sections:
        _answer_sections(document, args.sections)
    status, history = 0, None
    if args.history.strip().lower() != "none":
        path = Path(args.history) if args.history else args.out / "history.sqlite"
        try:
            history = record_and_compare(document, path, source="merge")
        except HistoryError as exc:
            print(f"history not written: {exc}", file=sys.stderr)
    write_json(document, args.out / "claims.json")
    html = render(args.out / "claims.json", args.out / "index.html")
    run = document["run"]
    print(f"merged {len(args.shards)} shard reports: {document['summary']['n_checks']} checks")
    for line in verdict_table(document):
        print(line)
    headline = partial_headline(run)
    if headline:
        print(headline)
        missing = run["not_executed_checks"]
        for nodeid in missing[:LISTED]:
            print(f"  missing: {nodeid}")
        if len(missing) > LISTED:
            print(f"  ... and {len(missing) - LISTED} more (all listed in the report)")
        for conflict in run["merged"]["conflicts"]:
            print(f"  conflict: {conflict['nodeid']}: {conflict['results']}")
        status = EXIT_PARTIAL
    for problem in run.get("problems") or ():
        print(problem)
    found = alerts((history or {}).get("changes"), args.fail_on)
    for line, _ in change_lines(history, args.fail_on, len(found)):
        print(line)
    if found:
        status = status or 1
    elif args.fail_on and history is None:  # a gate that cannot compare fails; it never passes unchecked
        print(f"--fail-on {args.fail_on}: cannot compare the merged run with its history, so it fails")
        status = status or 1
    print(f"claims report: {html} (data: {args.out / 'claims.json'})")
    return status


def verdict_table(document: dict) -> list[str]:
    """Each claim's verdict and check counts, one line each (the terminal summary of a pytest run)."""
    from .records import LABELS

    claims = document.get("claims") or []
    width = max((len(c["id"]) for c in claims), default=0)
    lines = []
    for claim in claims:
        counts = ", ".join(f"{n} {LABELS.get(v, v)}" for v, n in (claim.get("counts") or {}).items() if n) or "no checks"
        lines.append(f"{LABELS.get(claim['verdict'], claim['verdict']):<13}{claim['id']:<{width}}  {counts}")
    return lines


def _answer_sections(document: dict, modules: list[str]) -> None:
    """The project's sections answered from the merged run, as its ``pytest_claims_sections`` hooks answer them in
    a pytest run (``config`` is None: a merge runs outside pytest)."""
    import importlib

    from .sections import SectionError, collect_sections

    try:
        results = [importlib.import_module(name).pytest_claims_sections(config=None, document=document)
                   for name in modules]
        document["sections"] = collect_sections(results)
    except (ImportError, AttributeError, SectionError) as exc:
        document["sections"] = []
        document["run"].setdefault("problems", []).append(f"report sections left out: {type(exc).__name__}: {exc}")
        return
    document["run"]["problems"] = [p for p in document["run"].get("problems") or ()
                                   if not p.startswith("report sections left out")]
    if not document["run"]["problems"]:
        del document["run"]["problems"]


def _table(args: argparse.Namespace) -> int:
    from .table import frame

    table = frame(args.path)
    if args.csv is None:
        print(table.to_string(max_rows=40, max_colwidth=40))
    else:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.csv, index=False)
        print(f"{len(table)} rows -> {args.csv}")
    return 0


def _durations(args: argparse.Namespace) -> int:
    """The last recorded duration of every check of one configuration, in pytest-split's format ({nodeid: seconds}):
    a CPU run's 0.3 s must never balance tomorrow's GPU shards, where the same check takes minutes."""
    import pandas as pd

    from .files import write_atomic
    from .history import configuration_key
    from .table import frame

    table = pd.concat([frame(path) for path in args.paths], ignore_index=True).dropna(subset=["duration"])
    key = args.configuration
    if args.like is not None:
        like = args.like / "claims.json" if args.like.is_dir() else args.like
        try:
            document = json.loads(like.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"durations: cannot read --like {like}: {exc}", file=sys.stderr)
            return 2
        key = configuration_key((document.get("run") or {}).get("configuration") or {})
    keys = table["configuration_key"].value_counts()
    if key is None and len(keys) > 1:
        listed = ", ".join(f"{k} ({n} durations)" for k, n in keys.items())
        print(f"durations: the runs given are of {len(keys)} configurations ({listed}); a check's duration depends on "
              f"it (CPU or GPU, tiers): name one with --like REPORT (a claims.json of that configuration) or "
              f"--configuration KEY", file=sys.stderr)
        return 2
    if key is not None:
        table = table[table["configuration_key"] == key]
    table = table.sort_values("run", kind="stable", na_position="last")
    found = dict(zip(table["nodeid"], table["duration"].astype(float)))
    write_atomic(args.out, json.dumps(dict(sorted(found.items())), indent=1) + "\n")
    print(f"{len(found)} durations" + (f" of configuration {key}" if key else "") + f" -> {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_claims", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    merge = sub.add_parser("merge", help="join the shard reports of one run")
    merge.add_argument("shards", nargs="+", help="each shard's report folder (or its claims.json)")
    merge.add_argument("--out", type=Path, required=True, help="folder for the merged claims.json and index.html")
    merge.add_argument("--history", default="", metavar="PATH",
                       help="history database to append the merged run to (default OUT/history.sqlite; 'none')")
    merge.add_argument("--fail-on", choices=FAIL_ON, default=None,
                       help="exit 1 on verdict flips (flip) or lost verifications (regression) since the last "
                            "comparable complete run")
    merge.add_argument("--sections", action="append", default=[], metavar="MODULE",
                       help="a module whose pytest_claims_sections answers the project's report sections from the "
                            "merged run (repeatable; e.g. fixtures.reproducibility)")
    merge.set_defaults(run=_merge)
    table = sub.add_parser("table", help="checks of a claims.json or a history database as a table")
    table.add_argument("path", type=Path, help="a claims.json (or its folder) or a history database")
    table.add_argument("--csv", type=Path, default=None, help="write CSV here (default: print)")
    table.set_defaults(run=_table)
    durations = sub.add_parser("durations", help="recorded check durations for pytest-split")
    durations.add_argument("paths", nargs="+", type=Path, help="history databases or claims.json files")
    durations.add_argument("--out", type=Path, default=Path(".test_durations"),
                           help="pytest-split durations file (default .test_durations)")
    durations.add_argument("--like", type=Path, default=None, metavar="REPORT",
                           help="only runs of the configuration of this claims.json (or its folder)")
    durations.add_argument("--configuration", default=None, metavar="KEY",
                           help="only runs of this configuration key (history table's configuration_key)")
    durations.set_defaults(run=_durations)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
