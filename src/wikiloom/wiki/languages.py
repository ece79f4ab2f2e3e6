"""MediaWiki's languages: each one's fallback chain and writing direction.

The table (`languages.json`) is generated from MediaWiki's own language files by
`scripts/languages.py`; languages it does not name have no fallback and run left to right.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

#: Language codes MediaWiki shows message keys for instead of messages.
MESSAGE_KEYS = "qqx"
DEFAULT = "en"


@cache
def _table() -> dict[str, dict[str, Any]]:
    text = resources.files("wikiloom.wiki").joinpath("languages.json").read_text("utf-8")
    table: dict[str, dict[str, Any]] = json.loads(text)["languages"]
    return table


def normalize(code: str) -> str:
    """A language code as MediaWiki writes it: lower case, `-` between parts."""
    return code.strip().lower().replace("_", "-")


def fallback_chain(code: str) -> list[str]:
    """`code`, then its fallbacks in MediaWiki's order, then English, each once."""
    chain: list[str] = []
    pending = [normalize(code)]
    while pending:
        current = pending.pop(0)
        if current and current not in chain:
            chain.append(current)
            pending.extend(_table().get(current, {}).get("fallback", []))
    if DEFAULT not in chain:
        chain.append(DEFAULT)
    return chain


def is_rtl(code: str) -> bool:
    """Whether MediaWiki writes `code` right to left."""
    return bool(_table().get(normalize(code), {}).get("rtl", False))


def direction(code: str) -> str:
    """`rtl` or `ltr`, for an HTML `dir` attribute."""
    return "rtl" if is_rtl(code) else "ltr"
