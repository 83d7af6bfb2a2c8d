"""Join the reports of the shards of one run into the report of the whole run.

Each shard (``pytest --splits N --group i``, or any other selection) writes a ``claims.json`` that lists
every check it collected, the ones it did not execute marked ``executed: false``. The merge takes each
check from the shard that executed it and re-judges every claim from the joined records. It checks
completeness against what every shard collected: a check executed by no shard stays not executed
(the merged run is partial and lists it); one executed by several shards with different results is a
conflict, recorded as an ``error`` check that names the shards and their results; shards that ran
different configurations or collected different checks are refused or noted. A complete merge is a
complete run, in the history like any other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .assemble import FORMAT, build_document
from .catalog import AppendixTable, Catalog, Claim
from .errors import ClaimsError
from .families import families_of_settings
from .records import ERROR, Alternate, CheckRecord, alternates_json
from .rows import iter_checks


class MergeError(ClaimsError, ValueError):
    """The shards cannot be joined into one run; the message says why and what to do."""


@dataclass(frozen=True)
class Shard:
    name: str  # how reports and messages refer to it (its folder)
    document: Mapping[str, Any]


def read_shard(path: Path) -> Shard:
    """A shard's report: ``path`` is its report folder (holding claims.json) or the claims.json itself."""
    path = Path(path)
    file = path / "claims.json" if path.is_dir() else path
    if not file.is_file():
        raise MergeError(f"{path}: no claims.json there; pass the --claims-report-dir of each shard")
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise MergeError(f"{file}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
                         f"the shard's report is damaged: rerun the shard") from None
    except json.JSONDecodeError as exc:
        raise MergeError(f"{file}: not a complete JSON report ({exc.msg} at line {exc.lineno}); the shard's report is "
                         f"damaged or was cut short: rerun the shard") from None
    except OSError as exc:
        raise MergeError(f"{file}: cannot be read ({exc.strerror or exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        document = document if isinstance(document, dict) else {}
        raise MergeError(f"{file}: format {document.get('format')!r}, expected {FORMAT!r}")
    return Shard(str(path), document)


def _result(check: Mapping[str, Any]) -> tuple:
    measured = check.get("measured") or {}
    return check["verdict"], measured.get("value"), measured.get("low"), measured.get("high")


def _describe(shard: str, check: Mapping[str, Any]) -> str:
    value = (check.get("measured") or {}).get("value")
    return f"{shard}: {check['verdict']}" + (f" (measured {value:g})" if isinstance(value, (int, float)) else "")


def _catalog(shards: Sequence[Shard]) -> Catalog:
    """The claims as the shards' reports describe them (every shard reads the same catalog)."""
    claims: dict[str, Claim] = {}
    for shard in shards:
        for c in shard.document.get("claims", ()):
            claims.setdefault(c["id"], Claim(c["id"], c["title"], c["statement"], c["source"],
                                             tuple(Alternate.from_json(a) for a in alternates_json(c)),
                                             dict(c.get("notes") or {})))
    appendix = tuple(AppendixTable.from_json(t) for t in shards[0].document.get("appendix") or ())
    return Catalog(Path("merged"), tuple(claims.values()), appendix, paper=shards[0].document.get("paper"))


def _environment(shards: Sequence[Shard]) -> dict[str, Any]:
    envs = [dict(s.document.get("environment") or {}) for s in shards]
    environment = dict(envs[0])
    environment["timestamp"] = max((e.get("timestamp") or "" for e in envs), default="")
    environment["shards"] = [{"name": s.name, "hostname": e.get("hostname"), "timestamp": e.get("timestamp"),
                              "git": e.get("git"), "xdist_workers": e.get("xdist_workers")}
                             for s, e in zip(shards, envs)]
    return environment


def _differing(shards: Sequence[Shard], value) -> list[str] | None:
    """The shard names grouped by ``value(document)``, where the shards differ in it (None where they agree)."""
    groups: dict[str, list[str]] = {}
    for shard in shards:
        groups.setdefault(json.dumps(value(shard.document), sort_keys=True, default=str), []).append(shard.name)
    return None if len(groups) <= 1 else [", ".join(names) for names in groups.values()]


def _catalog_text(document: Mapping[str, Any]) -> list:
    return [[c.get("id"), c.get("title"), c.get("statement"), c.get("source"), alternates_json(c)]
            for c in document.get("claims") or ()] + [document.get("appendix") or []]


def _differences(shards: Sequence[Shard]) -> list[str]:
    """What makes the shards not provably one run of one commit with one judgement: each a caveat, so the merged
    run is partial and no claim is verified from it."""
    caveats = []
    dirty = [s.name for s in shards if (((s.document.get("environment") or {}).get("git") or {}).get("dirty"))]
    if dirty:
        caveats.append(f"shard{'s' if len(dirty) != 1 else ''} {', '.join(dirty)} ran with uncommitted changes, so "
                       f"{'their' if len(dirty) != 1 else 'its'} checks may not be of the commit recorded")
    settings = _differing(shards, lambda d: (d.get("environment") or {}).get("claims_settings"))
    if settings:
        caveats.append("the shards judged with different [tool.claims] settings (tolerances, alpha, margins): "
                       + " | ".join(settings))
    catalogs = _differing(shards, _catalog_text)
    if catalogs:
        caveats.append("the shards read different claim catalogs (claims or their statements differ): "
                       + " | ".join(catalogs))
    return caveats


def _sections(shards: Sequence[Shard]) -> tuple[list, str | None]:
    """The shards' project sections, where they agree; else none, and why."""
    if _differing(shards, lambda d: d.get("sections") or []):
        return [], ("the shards' report sections differ (each answers from its own checks); pass "
                    "--sections MODULE to answer them from the merged run")
    return list(shards[0].document.get("sections") or []), None


def merge_documents(shards: Sequence[Shard]) -> dict[str, Any]:
    """The report of the whole run (``claims.json`` content) from its shards' reports."""
    if not shards:
        raise MergeError("no shard given")
    configurations = {json.dumps((s.document.get("run") or {}).get("configuration") or {}, sort_keys=True)
                      for s in shards}
    if len(configurations) > 1:
        raise MergeError("the shards ran different configurations (run.configuration differs: tiers, data or "
                         "recipe), so they are not parts of one run; merge only shards of one configuration")
    caveats = [f"shard {s.name}: {(s.document.get('run') or {}).get('caveat')}" for s in shards
               if (s.document.get("run") or {}).get("caveat")]
    commits = {((s.document.get("environment") or {}).get("git") or {}).get("commit") for s in shards}
    if len(commits) > 1:
        caveats.append(f"the shards ran different git commits ({', '.join(sorted(str(c) for c in commits))})")
    caveats += _differences(shards)

    order: dict[str, int] = {}
    executed: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    placeholder: dict[str, Mapping[str, Any]] = {}
    collected: dict[str, set[str]] = {}
    durations: dict[str, float] = {}
    for shard in shards:
        collected[shard.name] = set()
        shard_durations = (shard.document.get("run") or {}).get("durations") or {}
        for check in iter_checks(shard.document):
            nodeid = check["nodeid"]
            order.setdefault(nodeid, len(order))
            collected[shard.name].add(nodeid)
            if check.get("executed", True):
                executed.setdefault(nodeid, []).append((shard.name, check))
                if nodeid in shard_durations:
                    durations.setdefault(nodeid, shard_durations[nodeid])
            else:
                placeholder.setdefault(nodeid, check)
    every = set(order)
    uneven = {name: len(every - ids) for name, ids in collected.items() if ids != every}
    if uneven:
        caveats.append("the shards collected different checks (" + ", ".join(
            f"{name} lacks {n}" for name, n in uneven.items()) + "), so checks of some claims may be missing")

    records, conflicts, duplicates = [], [], []
    for nodeid in order:
        reports = executed.get(nodeid, [])
        if not reports:
            records.append(CheckRecord.from_json(placeholder[nodeid]))  # executed nowhere: not executed
            continue
        first = reports[0][1]
        if len({_result(c) for _, c in reports}) > 1:
            said = "; ".join(_describe(name, c) for name, c in reports)
            conflicts.append({"nodeid": nodeid, "shards": [name for name, _ in reports], "results": said})
            records.append(CheckRecord.from_json({**first, "verdict": ERROR, "outcome": "error",
                                                  "reason": f"the shards disagree: {said}"}))
            continue
        if len(reports) > 1:
            duplicates.append({"nodeid": nodeid, "shards": [name for name, _ in reports]})
        records.append(CheckRecord.from_json(first))
    if conflicts:
        caveats.append(f"{len(conflicts)} check{'s' if len(conflicts) != 1 else ''} ran in several shards "
                       f"with different results")

    selection = {"shards": [{"name": s.name, **((s.document.get("run") or {}).get("selection") or {})}
                            for s in shards]}
    configuration = (shards[0].document.get("run") or {}).get("configuration") or {}
    environment = _environment(shards)
    document = build_document(_catalog(shards), records, environment, order, "; ".join(caveats) or None,
                              selection, configuration, durations,
                              families_of_settings(environment.get("claims_settings")))
    document["run"]["merged"] = {"shards": [s.name for s in shards], "conflicts": conflicts,
                                 "duplicates": duplicates}
    document["sections"], left_out = _sections(shards)
    problems = [f"shard {s.name}: {p}" for s in shards for p in (s.document.get("run") or {}).get("problems") or ()]
    if left_out:
        problems.append(f"report sections left out: {left_out}")
    if problems:
        document["run"]["problems"] = problems
    return document
