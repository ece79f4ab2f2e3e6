"""Views: how a task is shown to a labeler, and what a task's data must hold for it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wikiloom.errors import BadRequest


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _positive_ints(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(_positive_int(v) for v in value)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _box(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 4
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


_Check = Mapping[str, tuple[Any, str]]

#: Each view and the keys its tasks need: key -> (check, what the value must be).
VIEWS: Mapping[str, _Check] = {
    "View": {},
    "DiffToPrevious": {"rev_id": (_positive_int, "a positive integer")},
    "MultiDiffToPrevious": {"rev_ids": (_positive_ints, "a non-empty list of positive integers")},
    "PageAsOfRevision": {"rev_id": (_positive_int, "a positive integer")},
    "PrintablePageAsOfRevision": {"rev_id": (_positive_int, "a positive integer")},
    "ParsedWikitext": {"wikitext": (_text, "a non-empty string")},
    "RenderedHTML": {"html": (_text, "a non-empty string")},
    "UnsourcedStatement": {
        "lang": (_text, "a language code"),
        "title": (_text, "a page title"),
        "revision": (_positive_int, "a positive integer"),
    },
    "FaceOnImage": {
        "image": (_text, "a file name or image URL"),
        "box": (_box, "[top, right, bottom, left] in pixels"),
    },
}


def check_view(view: str) -> None:
    """Refuse a view name we cannot render."""
    if view not in VIEWS:
        raise BadRequest(f"unknown view {view!r}; known views: {', '.join(sorted(VIEWS))}")


def check_task_data(view: str, data: Any) -> None:
    """Refuse task data that the campaign's view could not show; the message names the key."""
    if not isinstance(data, dict):
        raise BadRequest(f"a task must be a JSON object, not {type(data).__name__}")
    for key, (check, expected) in VIEWS[view].items():
        if key not in data:
            raise BadRequest(f"the {view} view needs {key!r} in every task")
        if not check(data[key]):
            raise BadRequest(f"{key!r} must be {expected}, not {data[key]!r}")
