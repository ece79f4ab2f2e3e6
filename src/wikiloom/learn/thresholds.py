"""ORES's threshold query language and its ``model_info`` path lookups.

A query such as ``maximum recall @ precision >= 0.9`` scans one label's threshold table,
keeps the entries whose condition statistic satisfies the bound, and picks the entry with
the largest (or smallest) target statistic; ties go to the larger threshold for ``maximum``
and the smaller one for ``minimum``, as revscoring's ``max``/``min`` over
``(target, threshold)`` do. Paths are dotted (``statistics.roc_auc``); a segment holding dots
is quoted (``statistics.thresholds.true."maximum recall @ precision >= 0.9"``) and several
paths are joined with ``|``. As in ORES, the answer is the sub-tree of every path merged into
one tree, queries under a label answer a list in request order (``None`` when unsatisfiable),
a query directly under ``statistics`` answers ``{micro, macro, labels}`` of the chosen
thresholds (revscoring's ``optimize_from`` returns the threshold, as its tests and ORES's
assert), and ``statistics`` without a deeper path leaves out the large ``thresholds`` tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wikiloom.errors import BadRequest
from wikiloom.learn.statistics import FIELDS, ores_round

DIRECTIONS = ("maximum", "minimum")
OPERATORS = (">=", "<=")
SYNTAX = "(maximum|minimum) <target_stat> @ <cond_stat> (>=|<=) <number>"

_CONDITION = re.compile(r"(?P<stat>!?[^\s<>=!]+)\s*(?P<op>[<>=!]*)\s*(?P<value>.*)")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?")
_SEGMENT = r"""(?:"[^"]*"|'[^']*'|[^.'"]+)"""
_PATH = re.compile(rf"{_SEGMENT}(?:\.{_SEGMENT})*")
_FIELD = re.compile(r"""(?:"[^"]*"|'[^']*'|[^|'"])+""")


def _bad_query(text: str, problem: str) -> BadRequest:
    """Build the error for a malformed threshold query."""
    return BadRequest(f"Bad threshold query {text!r}: {problem}; expected {SYNTAX!r}")


def _stat(text: str, name: str, role: str) -> str:
    """Check that a statistic name is one a threshold entry holds."""
    if name not in FIELDS:
        raise _bad_query(text, f"unknown {role} statistic {name!r} (known: {', '.join(FIELDS)})")
    return name


@dataclass(frozen=True)
class ThresholdQuery:
    """A parsed threshold query: optimise `target` subject to `condition` compared to `value`."""

    maximize: bool
    target: str
    condition: str
    greater: bool
    value: float

    @classmethod
    def parse(cls, text: str) -> ThresholdQuery:
        """Parse a query case-insensitively, naming what is wrong when it is malformed."""
        normalized = text.strip().lower()
        left, at, right = normalized.partition("@")
        if not at or "@" in right:
            raise _bad_query(text, "it needs exactly one '@'")
        words = left.split()
        if not words or words[0] not in DIRECTIONS:
            found = words[0] if words else ""
            raise _bad_query(text, f"{found!r} is not 'maximum' or 'minimum'")
        if len(words) != 2:
            raise _bad_query(text, "give one target statistic between the direction and '@'")
        target = _stat(text, words[1], "target")
        match = _CONDITION.fullmatch(right.strip())
        if match is None:
            raise _bad_query(text, "give a condition statistic after '@'")
        condition = _stat(text, match["stat"], "condition")
        if not match["op"]:
            raise _bad_query(text, f"missing operator after {condition!r} (use >= or <=)")
        if match["op"] not in OPERATORS:
            raise _bad_query(text, f"bad operator {match['op']!r} (use >= or <=)")
        if _NUMBER.fullmatch(match["value"]) is None:
            raise _bad_query(text, f"bad number {match['value']!r}")
        return cls(
            words[0] == "maximum", target, condition, match["op"] == ">=", float(match["value"])
        )

    def __str__(self) -> str:
        """Write the query in its canonical form."""
        direction = "maximum" if self.maximize else "minimum"
        operator = ">=" if self.greater else "<="
        return f"{direction} {self.target} @ {self.condition} {operator} {self.value}"

    def satisfied(self, entry: Mapping[str, Any]) -> bool:
        """Tell whether an entry meets the condition and has a target value."""
        value, target = entry.get(self.condition), entry.get(self.target)
        if value is None or target is None:
            return False
        return bool(value >= self.value if self.greater else value <= self.value)

    def evaluate(self, table: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
        """Return the optimal entry of a threshold table, or None when none satisfies."""
        best: Mapping[str, Any] | None = None
        best_key: tuple[float, float] = (0.0, 0.0)
        for entry in table:
            if not self.satisfied(entry):
                continue
            key = (entry[self.target], entry["threshold"])
            if best is None or (key > best_key if self.maximize else key < best_key):
                best, best_key = entry, key
        return best


def is_query(segment: str) -> bool:
    """Tell whether a path segment is meant as a threshold query."""
    words = segment.strip().lower().split(maxsplit=1)
    return bool(words) and words[0] in DIRECTIONS


def split_path(path: str) -> list[str]:
    """Split a dotted model_info path into segments; quoted segments may hold dots."""
    if _PATH.fullmatch(path) is None:
        raise BadRequest(f"Could not parse model_info path {path!r}: empty segment or bad quotes")
    return [
        segment[1:-1] if segment[0] in "'\"" else segment for segment in re.findall(_SEGMENT, path)
    ]


def split_fields(spec: str) -> list[str]:
    """Split a ``model_info`` parameter on ``|`` outside quotes; empty means everything."""
    if not spec.strip():
        return []
    if re.fullmatch(rf"{_FIELD.pattern}(?:\|{_FIELD.pattern})*", spec) is None:
        raise BadRequest(f"Could not parse model_info {spec!r}: empty path or bad quotes")
    return _FIELD.findall(spec)


def _lookup_error(key: str) -> BadRequest:
    """Build ORES's error for a path that names nothing."""
    return BadRequest(f"Model information could not be retrieved for {key!r}")


def _whole(node: Any, path: tuple[str, ...]) -> Any:
    """Return a node as ORES formats it without a deeper path (statistics omit thresholds)."""
    if isinstance(node, Mapping):
        hidden = {"thresholds"} if path == ("statistics",) else set()
        return {k: _whole(v, (*path, k)) for k, v in node.items() if k not in hidden}
    return node


def _entry(entry: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """Format a chosen threshold entry: the threshold first, then the stats (or those asked)."""
    names = list(fields) or [name for name in entry if name != "threshold"]
    unknown = [name for name in names if name not in FIELDS]
    if unknown:
        raise _lookup_error(unknown[0])
    return {"threshold": entry["threshold"], **{n: ores_round(entry.get(n)) for n in names}}


def _queries(table: Sequence[Mapping[str, Any]], tree: Mapping[str, Any]) -> list[Any]:
    """Answer every query asked of one label's table, in request order."""
    answers: list[Any] = []
    for key, sub in tree.items():
        chosen = ThresholdQuery.parse(key).evaluate(table)
        answers.append(None if chosen is None else _entry(chosen, sub))
    return answers


def _query_block(statistics: Mapping[str, Any], key: str) -> dict[str, Any]:
    """Answer a query over every label: the chosen thresholds as ``{micro, macro, labels}``."""
    query = ThresholdQuery.parse(key)
    tables = statistics.get("thresholds")
    if not isinstance(tables, Mapping):
        raise _lookup_error(key)
    values: dict[str, Any] = {}
    for label, table in tables.items():
        chosen = query.evaluate(table)
        values[label] = None if chosen is None else chosen["threshold"]
    counts, rates = statistics.get("counts", {}), statistics.get("rates", {})
    if rates.get("population", {}) == rates.get("sample", {}):
        weights = [counts.get("labels", {}).get(label, 0) for label in values]
    else:
        weights = [counts.get("n", 0) * rates["population"].get(label, 0) for label in values]
    micro = macro = None
    if all(value is not None for value in values.values()):
        if sum(weights):
            micro = sum(v * w for v, w in zip(values.values(), weights, strict=True)) / sum(weights)
        macro = sum(values.values()) / len(values) if values else None
    return {
        "micro": ores_round(micro),
        "macro": ores_round(macro),
        "labels": {label: ores_round(value) for label, value in values.items()},
    }


def _select(node: Any, tree: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """Format the parts of `node` that `tree` names, as ORES does."""
    if not tree:
        return _whole(node, path)
    if isinstance(node, list) and path[:2] == ("statistics", "thresholds"):
        return _queries(node, tree)
    if not isinstance(node, Mapping):
        raise _lookup_error(next(iter(tree)))
    selected: dict[str, Any] = {}
    for key, sub in tree.items():
        if key in node:
            selected[key] = _select(node[key], sub, (*path, key))
        elif path == ("statistics",) and is_query(key):
            selected[key] = _select(_query_block(node, key), sub, (*path, key))
        else:
            raise _lookup_error(key)
    return selected


def model_info_path(model_info: Mapping[str, Any], paths: str | Sequence[str]) -> dict[str, Any]:
    """Answer ORES's ``model_info`` parameter (``|``-joined dotted paths) for one model's info."""
    fields = split_fields(paths) if isinstance(paths, str) else list(paths)
    tree: dict[str, Any] = {}
    for field in fields:
        branch = tree
        for segment in split_path(field):
            branch = branch.setdefault(segment, {})
    return dict(_select(model_info, tree, ()))
