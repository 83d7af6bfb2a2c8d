"""Results as a table: one row per check (and run), the way results are tabulated with pandas.

``frame(path)`` reads a ``claims.json`` (one run) or a history database (every run) into a
``pandas.DataFrame`` with the columns of ``rows.CHECK_COLUMNS``, led by the run's id, time and
commit. pandas is imported only here, when a table is asked for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from .history import SQLITE_HEADER, all_checks
from .rows import CHECK_COLUMNS, document_rows

if TYPE_CHECKING:
    import pandas as pd

RUN_COLUMNS = ("run", "timestamp", "git_commit", "partial", "configuration_key")


def _is_sqlite(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def frame(path: str | Path) -> pd.DataFrame:
    """The checks of a ``claims.json`` or of a history database as a DataFrame, one row per check and run."""
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        path = path / "claims.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no claims.json or history database there")
    if _is_sqlite(path):
        rows = all_checks(path)
    else:
        from .history import configuration_key

        document = json.loads(path.read_text(encoding="utf-8"))
        env = document.get("environment") or {}
        run = document.get("run") or {}
        lead = {"run": (document.get("history") or {}).get("run"), "timestamp": env.get("timestamp"),
                "git_commit": (env.get("git") or {}).get("commit"), "partial": bool(run.get("partial")),
                "configuration_key": configuration_key(run.get("configuration") or {})}
        rows = [{**lead, **row} for row in document_rows(document).values()]
    return pd.DataFrame.from_records(rows, columns=[*RUN_COLUMNS, *CHECK_COLUMNS])
