"""Sections a project adds to the report: questions answered from the run's own evidence, with links.

A project implements ``pytest_claims_sections(config, document)`` (hookspecs.py) and returns a list of
sections, each a mapping::

    {"id": "reproducibility", "title": "...", "intro": "...",           # intro optional
     "items": [{"question": "...", "answer": "...", "verdict": "verified",   # verdict optional
                "links": [{"text": "...", "claim": "claim-id"},             # one target each: a claim,
                          {"text": "...", "check": "<node id>"},           # a check of this report,
                          {"text": "...", "href": "#missing"}]}]}           # or a fragment / http(s) URL

The controller calls the hook once, after the report document is assembled (the project can read every
verdict), validates what it returns and stores it as ``document["sections"]``, which the HTML renders after the
summary — from the JSON alone, like everything else. A shard merge does not call the hook (it runs outside
pytest): a merged report has no sections.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import ClaimsError
from .records import VERDICTS, json_safe

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_HREF = re.compile(r"^(#|https?://)")


class SectionError(ClaimsError, ValueError):
    """A section returned by pytest_claims_sections is malformed; the message names the field."""


def _text(value: Any, where: str, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SectionError(f"{where} must be a non-empty string, got {value!r}")
    return value.strip()


def _link(link: Any, where: str) -> dict[str, str]:
    if not isinstance(link, Mapping):
        raise SectionError(f"{where} must be a mapping with text and one of claim, check, href; got {link!r}")
    targets = [key for key in ("claim", "check", "href") if link.get(key) is not None]
    if len(targets) != 1:
        raise SectionError(f"{where} needs exactly one target (claim, check or href), got {sorted(targets)}")
    target = targets[0]
    value = _text(link[target], f"{where}.{target}")
    if target == "href" and not _HREF.match(value):
        raise SectionError(f"{where}.href must be a fragment (#...) or an http(s) URL, got {value!r}")
    return {"text": _text(link.get("text"), f"{where}.text"), target: value}


def section(data: Any, where: str = "section") -> dict[str, Any]:
    """One validated, JSON-safe section."""
    if not isinstance(data, Mapping):
        raise SectionError(f"{where} must be a mapping (id, title, intro, items), got {type(data).__name__}")
    sid = _text(data.get("id"), f"{where}.id")
    if not _ID.match(sid):
        raise SectionError(f"{where}.id {sid!r} must start with a letter and hold letters, digits, - or _ only")
    items = data.get("items")
    if not isinstance(items, list) or not items:
        raise SectionError(f"{where}.items must be a non-empty list of questions and answers")
    out_items = []
    for i, item in enumerate(items):
        at = f"{where}.items[{i}]"
        if not isinstance(item, Mapping):
            raise SectionError(f"{at} must be a mapping (question, answer, links, verdict)")
        verdict = item.get("verdict")
        if verdict is not None and verdict not in VERDICTS:
            raise SectionError(f"{at}.verdict must be one of {VERDICTS} or absent, got {verdict!r}")
        out_items.append({"question": _text(item.get("question"), f"{at}.question"),
                          "answer": _text(item.get("answer"), f"{at}.answer"), "verdict": verdict,
                          "links": [_link(link, f"{at}.links[{j}]") for j, link in enumerate(item.get("links") or ())]})
    return json_safe({"id": sid, "title": _text(data.get("title"), f"{where}.title"),
                      "intro": _text(data.get("intro"), f"{where}.intro", optional=True), "items": out_items})


def collect_sections(results: Iterable[Any]) -> list[dict[str, Any]]:
    """The sections of every hook implementation, validated, in order; ids must be unique."""
    out: list[dict[str, Any]] = []
    for result in results:
        if result is None:
            continue
        if isinstance(result, Mapping) or not isinstance(result, (list, tuple)):
            raise SectionError(f"pytest_claims_sections must return a list of sections, got {type(result).__name__}")
        out += [section(s, f"section {len(out) + i}") for i, s in enumerate(result)]
    ids = [s["id"] for s in out]
    if len(set(ids)) != len(ids):
        raise SectionError(f"section ids must be unique, got {ids}")
    return out
