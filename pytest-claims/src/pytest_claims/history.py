"""The run history: every run's checks in one SQLite file (default ``reports/history.sqlite``).

A run is written in one transaction (``BEGIN IMMEDIATE`` … ``COMMIT``), so a run killed while writing
leaves the database as it was before: SQLite rolls the unfinished transaction back from its journal the
next time the file is opened. Runs are compared only within one *configuration* (``configuration_key``,
a digest of what the project's ``pytest_claims_configuration`` hook returned: tiers, data, recipe).
The schema is documented in docs/PLUGIN.md (History); ``SCHEMA_VERSION`` changes with it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

from .errors import ClaimsError
from .rows import CHECK_COLUMNS, claim_verdicts, document_rows

SCHEMA_VERSION = 1
SQLITE_HEADER = b"SQLite format 3\x00"

_RUN_COLUMNS = ("timestamp", "git_commit", "git_dirty", "partial", "not_executed", "configuration_key",
                "configuration", "environment", "summary", "source")
_CHECK_TYPES = {"executed": "INTEGER NOT NULL", "paper_value": "REAL", "paper_std": "REAL",
                "measured_value": "REAL", "measured_low": "REAL", "measured_high": "REAL",
                "measured_n": "INTEGER", "duration": "REAL", "claim": "TEXT NOT NULL", "check": "TEXT NOT NULL",
                "nodeid": "TEXT NOT NULL", "verdict": "TEXT NOT NULL"}
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TEXT NOT NULL,
    git_commit TEXT,
    git_dirty INTEGER,
    partial INTEGER NOT NULL,
    not_executed INTEGER NOT NULL,
    configuration_key TEXT NOT NULL,
    configuration TEXT NOT NULL,
    environment TEXT NOT NULL,
    summary TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_configuration ON runs (configuration_key, partial, id);
CREATE TABLE IF NOT EXISTS claims (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    claim TEXT NOT NULL,
    verdict TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (run_id, claim)
);
CREATE TABLE IF NOT EXISTS checks (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    {", ".join(f'"{c}" {_CHECK_TYPES.get(c, "TEXT")}' for c in CHECK_COLUMNS)},
    PRIMARY KEY (run_id, nodeid)
);
"""


class HistoryError(ClaimsError, RuntimeError):
    """The history file cannot be used; the message names the file and what to do."""


def configuration_key(configuration: Mapping[str, Any]) -> str:
    """A digest of a run's configuration: runs with equal keys are comparable."""
    text = json.dumps(configuration, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def connect(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """Open (and, with ``create``, make) the history database at ``path``."""
    path = Path(path)
    if not path.exists() and not create:
        raise HistoryError(f"{path}: no history database here (a run writes one with --claims-history PATH)")
    if path.exists() and path.stat().st_size and _header(path) != SQLITE_HEADER:
        raise HistoryError(f"{path} is not an SQLite database; point --claims-history at a new file or 'none'")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Several shards or runs may share one file on a persistent volume: wait for the writer's lock.
    conn = sqlite3.connect(path, timeout=120, isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        version = _schema_version(conn)
        if version is None:  # one transaction: the schema lands whole or not at all
            conn.executescript(f"BEGIN IMMEDIATE; {SCHEMA} INSERT OR IGNORE INTO meta "
                               f"VALUES ('schema_version', '{SCHEMA_VERSION}'); COMMIT;")
        elif version > SCHEMA_VERSION:
            raise HistoryError(f"{path} was written by a newer pytest-claims (history schema {version}, this one "
                               f"reads {SCHEMA_VERSION}); upgrade pytest-claims or use another --claims-history file")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise HistoryError(f"{path}: {exc}; point --claims-history at a new file or 'none'") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _header(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(len(SQLITE_HEADER))


def _schema_version(conn: sqlite3.Connection) -> int | None:
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not exists:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else None


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)


def record_run(path: Path, document: Mapping[str, Any], source: str = "pytest") -> int:
    """Append one run (its claims and every check) in one transaction; returns the run's id."""
    run = document.get("run") or {}
    env = document.get("environment") or {}
    git = env.get("git") or {}
    configuration = run.get("configuration") or {}
    values = (env.get("timestamp") or "", git.get("commit"), None if git.get("dirty") is None else int(git["dirty"]),
              int(bool(run.get("partial"))), int(run.get("not_executed") or 0), configuration_key(configuration),
              _dump(configuration), _dump(env), _dump(document.get("summary") or {}), source)
    with closing(connect(path)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = conn.execute(f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) VALUES "
                                  f"({', '.join('?' * len(_RUN_COLUMNS))})", values)
            run_id = int(cursor.lastrowid)
            conn.executemany("INSERT INTO claims VALUES (?, ?, ?, ?)",
                             [(run_id, cid, v, r) for cid, (v, r) in claim_verdicts(document).items()])
            columns = ", ".join(f'"{c}"' for c in CHECK_COLUMNS)
            conn.executemany(f"INSERT INTO checks (run_id, {columns}) VALUES (?{', ?' * len(CHECK_COLUMNS)})",
                             [(run_id, *(_cell(row[c]) for c in CHECK_COLUMNS))
                              for row in document_rows(document).values()])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return run_id


def _cell(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def _run(row: sqlite3.Row) -> dict[str, Any]:
    run = dict(row)
    for key in ("configuration", "environment", "summary"):
        run[key] = json.loads(run[key])
    run["partial"] = bool(run["partial"])
    return run


def runs(conn: sqlite3.Connection, key: str | None = None, *, complete: bool = False,
         before: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Runs, oldest first: of one configuration (``key``), complete ones only, earlier than run ``before``,
    the last ``limit`` of them."""
    where, args = [], []
    if key is not None:
        where.append("configuration_key = ?")
        args.append(key)
    if complete:
        where.append("partial = 0")
    if before is not None:
        where.append("id < ?")
        args.append(before)
    sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [_run(r) for r in reversed(conn.execute(sql, args).fetchall())]


def check_rows(conn: sqlite3.Connection, run_ids: Iterable[int]) -> dict[int, dict[str, dict[str, Any]]]:
    """The check rows of each run, by node id."""
    out: dict[int, dict[str, dict[str, Any]]] = {}
    for run_id in run_ids:
        rows = conn.execute("SELECT * FROM checks WHERE run_id = ?", (run_id,)).fetchall()
        out[run_id] = {r["nodeid"]: _row(r) for r in rows}
    return out


def _row(r: sqlite3.Row) -> dict[str, Any]:
    row = {c: r[c] for c in CHECK_COLUMNS}
    row["executed"] = bool(row["executed"])
    return row


def claim_rows(conn: sqlite3.Connection, run_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """Each run's claim verdicts, by claim id."""
    return {run_id: {r["claim"]: r["verdict"] for r in
                     conn.execute("SELECT claim, verdict FROM claims WHERE run_id = ?", (run_id,))}
            for run_id in run_ids}


def all_checks(path: Path) -> list[dict[str, Any]]:
    """Every check row of every run, with the run's id, time and commit in front (for ``frame``)."""
    with closing(connect(path, create=False)) as conn:
        found = conn.execute(
            "SELECT runs.id AS run, runs.timestamp, runs.git_commit, runs.partial, runs.configuration_key, checks.* "
            "FROM checks JOIN runs ON runs.id = checks.run_id ORDER BY runs.id, checks.rowid").fetchall()
    lead = ("run", "timestamp", "git_commit", "partial", "configuration_key")
    return [{**{k: r[k] for k in lead}, **_row(r)} for r in found]
