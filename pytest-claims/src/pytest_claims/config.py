"""The judgement settings: ``[tool.claims]`` of the rootdir's pyproject.toml.

They are recorded with every result, so a verdict can always be traced to the tolerance, alpha or
margin that decided it.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ClaimsError

DEFAULT_ALPHA = 0.05
DEFAULT_REPORT_DIR = "reports"
TOLERANCE_PARTS = ("abs", "rel", "sigmas", "digits")
KNOWN_KEYS = ("catalog", "numbers", "report_dir", "alpha", "tolerances", "margins", "packages", "families", "provide",
              "consistency_families")
PROVIDE_KEYS = ("fold", "beyond", "advice")
# A check's family: the first [tool.claims.families] entry one of whose patterns matches its tier (or, for a
# check that was not decided, its plan's tier); checks no pattern matches are in this one.
OTHER_FAMILY = "other"
Families = tuple[tuple[str, tuple[str, ...]], ...]


class ClaimsConfigError(ClaimsError, LookupError):
    """A setting is missing, unknown or malformed; the message says what to write where."""

    def __str__(self) -> str:  # LookupError would repr() a single argument
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class ClaimsConfig:
    pyproject: Path | None
    catalog: Path | None
    report_dir: Path
    alpha: float
    tolerances: Mapping[str, Mapping[str, float]]
    margins: Mapping[str, float]
    packages: tuple[str, ...] = ()
    project_dependencies: tuple[str, ...] = ()
    families: Families = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    numbers: Path | None = None  # the paper's numbers CSV (pytest_claims.paper), for the paper_numbers fixture

    @property
    def where(self) -> str:
        return str(self.pyproject) if self.pyproject else "pyproject.toml"

    def tolerance(self, name: str):
        """The named tolerance as a ``rules.Tolerance``."""
        from .rules import Tolerance  # scipy is imported only by runs that judge something

        return Tolerance(name, **self.tolerance_parts(name))

    def tolerance_parts(self, name: str) -> dict[str, float]:
        """The named tolerance's abs, rel and sigmas (0 where not set), and digits where set, without judging
        anything."""
        if name not in self.tolerances:
            raise ClaimsConfigError(_unknown("tolerance", name, self.tolerances, f"[tool.claims.tolerances] in {self.where}"))
        parts = {part: float(self.tolerances[name].get(part, 0.0)) for part in TOLERANCE_PARTS}
        if not parts["digits"]:  # tolerances without it keep their recorded shape
            del parts["digits"]
        return parts

    def margin(self, name: str) -> float:
        if name not in self.margins:
            raise ClaimsConfigError(_unknown("margin", name, self.margins, f"[tool.claims.margins] in {self.where}"))
        return self.margins[name]


def _unknown(what: str, name: str, known: Mapping, where: str) -> str:
    names = ", ".join(sorted(known)) or "(none)"
    return f"unknown {what} {name!r}; {where} defines: {names}. Use one of those or add {name!r} there."


def parse_families(table: Any, where: str = "[tool.claims.families]") -> Families:
    """``{name: [shell-style patterns of tier text]}`` in the order written (see OTHER_FAMILY)."""
    if not isinstance(table, Mapping):
        raise ClaimsConfigError(f"families in {where} must be a table of name = [patterns], got {table!r}")
    out = []
    for name, patterns in table.items():
        if isinstance(patterns, str) or not isinstance(patterns, list) or not patterns or not all(
                isinstance(p, str) and p.strip() for p in patterns):
            raise ClaimsConfigError(f"family {name!r} in {where} must be a non-empty list of tier patterns "
                                    f"(e.g. [\"eval*\"]), got {patterns!r}")
        if name == OTHER_FAMILY:
            raise ClaimsConfigError(f"family name {OTHER_FAMILY!r} in {where} is reserved for checks no pattern "
                                    f"matches; choose another name")
        out.append((str(name), tuple(patterns)))
    return tuple(out)


def parse_provide(table: Any, where: str = "[tool.claims.provide]") -> dict[str, Any]:
    """How the report's "what to provide" groups the needs of checks that did not run (docs/PLUGIN.md):
    ``fold``: [{prefix, command, says}] — needs starting with ``prefix`` fold under the one ``command`` that provides
    them all, listed first; ``beyond``: texts marking a need no user can provide (what the suite does not implement);
    ``advice``: texts marking a need that only speeds a run (listed last)."""
    if not isinstance(table, Mapping) or set(table) - set(PROVIDE_KEYS):
        raise ClaimsConfigError(f"{where} takes {', '.join(PROVIDE_KEYS)}, got {table!r}")
    for fold in table.get("fold", []):
        if not isinstance(fold, Mapping) or set(fold) != {"prefix", "command", "says"} or not all(
                isinstance(v, str) and v.strip() for v in fold.values()):
            raise ClaimsConfigError(f"each fold in {where} is {{prefix = \"...\", command = \"...\", says = \"...\"}}, "
                                    f"got {fold!r}")
    for key in ("beyond", "advice"):
        texts = table.get(key, [])
        if not isinstance(texts, list) or not all(isinstance(t, str) and t.strip() for t in texts):
            raise ClaimsConfigError(f"{key} in {where} must be a list of non-empty texts, got {texts!r}")
    return dict(table)


def _number(value: Any, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ClaimsConfigError(f"{what} in {where} must be a finite number >= 0, got {value!r}")
    return float(value)


def _dependency_names(project: Mapping) -> tuple[str, ...]:
    names = []
    for spec in project.get("dependencies", ()):
        name = spec.split(";")[0]
        for stop in "<>=!~[ (":
            name = name.split(stop)[0]
        if name.strip():
            names.append(name.strip())
    return tuple(names)


def load_config(rootdir: Path, pyproject: Path | None = None) -> ClaimsConfig:
    """Read ``[tool.claims]`` from ``pyproject`` (default: rootdir/pyproject.toml). Missing → defaults."""
    rootdir = Path(rootdir)
    path = pyproject if pyproject is not None else rootdir / "pyproject.toml"
    data: Mapping[str, Any] = {}
    if path.is_file():
        with path.open("rb") as fh:
            try:
                data = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise ClaimsConfigError(f"{path} is not valid TOML: {exc}") from None
    else:
        path = None
    where = f"[tool.claims] in {path or 'pyproject.toml'}"
    table = data.get("tool", {}).get("claims", {})
    unknown = sorted(set(table) - set(KNOWN_KEYS))
    if unknown:
        raise ClaimsConfigError(f"unknown key(s) {unknown} in {where}; known keys: {', '.join(KNOWN_KEYS)}")
    base = path.parent if path else rootdir

    alpha = table.get("alpha", DEFAULT_ALPHA)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 0.5:
        raise ClaimsConfigError(f"alpha in {where} must lie strictly between 0 and 0.5, got {alpha!r}")

    tolerances: dict[str, dict[str, float]] = {}
    for name, parts in table.get("tolerances", {}).items():
        if not isinstance(parts, Mapping):
            raise ClaimsConfigError(f"tolerance {name!r} in {where} must be a table like {{abs = 0.5}}, got {parts!r}")
        bad = sorted(set(parts) - set(TOLERANCE_PARTS))
        if bad:
            raise ClaimsConfigError(
                f"tolerance {name!r} in {where} has unknown part(s) {bad}; use any of {', '.join(TOLERANCE_PARTS)}"
            )
        tolerances[name] = {k: _number(v, f"tolerance {name!r} {k}", where) for k, v in parts.items()}

    margins = {name: _number(v, f"margin {name!r}", where) for name, v in table.get("margins", {}).items()}

    packages = table.get("packages", [])
    if not isinstance(packages, list) or not all(isinstance(p, str) for p in packages):
        raise ClaimsConfigError(f"packages in {where} must be a list of distribution names, got {packages!r}")

    parse_provide(table.get("provide", {}), f"[tool.claims.provide] in {path or 'pyproject.toml'}")
    families = parse_families(table.get("families", {}), f"[tool.claims.families] in {path or 'pyproject.toml'}")
    consistency = table.get("consistency_families", [])
    if not isinstance(consistency, list) or not all(isinstance(f, str) and f in dict(families) for f in consistency):
        raise ClaimsConfigError(f"consistency_families in {where} must list names of [tool.claims.families] "
                                f"({', '.join(dict(families)) or 'none defined'}), got {consistency!r}")

    catalog, numbers = table.get("catalog"), table.get("numbers")
    if numbers is not None and not (isinstance(numbers, str) and numbers.strip()):
        raise ClaimsConfigError(f"numbers in {where} must be the path of the paper's numbers CSV, got {numbers!r}")
    return ClaimsConfig(
        pyproject=path,
        catalog=(base / catalog) if catalog else None,
        report_dir=base / table.get("report_dir", DEFAULT_REPORT_DIR),
        alpha=float(alpha),
        tolerances=tolerances,
        margins=margins,
        packages=tuple(packages),
        project_dependencies=_dependency_names(data.get("project", {})),
        families=families,
        settings=dict(table),
        numbers=(base / numbers) if numbers else None,
    )
