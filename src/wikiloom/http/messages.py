"""UI messages: MediaWiki JSON message files (`i18n/<lang>.json`, documented in `qqq.json`).

Messages resolve through MediaWiki's language fallback chain and are formatted as MediaWiki
does: `$1`, `$2` are parameters and `{{PLURAL:$1|one|other}}` picks the form of the
language's plural rules (CLDR, through Babel), with explicit `N=text` forms first.
`uselang=qqx` shows the keys instead of the messages, as on a wiki.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError

from wikiloom.wiki.languages import MESSAGE_KEYS, fallback_chain

DIRECTORY = Path(__file__).resolve().parent / "i18n"
_PARAMETER = re.compile(r"\$(\d+)")
_PLURAL = re.compile(r"\{\{PLURAL:\s*([^|}]*)\|([^{}]*)\}\}", re.IGNORECASE)
_EXPLICIT = re.compile(r"^\s*(\d+)\s*=(.*)$", re.DOTALL)
#: CLDR's plural categories in the order MediaWiki's PLURAL forms follow.
_CATEGORIES = ("zero", "one", "two", "few", "many", "other")
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{1,8})*")


def load_messages(directory: Path = DIRECTORY) -> dict[str, dict[str, str]]:
    """Every language's messages from `directory`; the documentation (`qqq`) is left out."""
    table: dict[str, dict[str, str]] = {}
    for path in sorted(directory.glob("*.json")):
        if path.stem == "qqq":
            continue
        document = json.loads(path.read_text(encoding="utf-8"))
        table[path.stem] = {k: v for k, v in document.items() if not k.startswith("@")}
    return table


@cache
def babel_locale(language: str) -> Locale:
    """Babel's locale of a MediaWiki language code: the code, else its base, else English."""
    for code in (language.replace("-", "_"), language.split("-", maxsplit=1)[0]):
        try:
            return Locale.parse(code)
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse("en")


@cache
def _plural_tags(language: str) -> tuple[str, ...]:
    """The plural categories of `language`, in MediaWiki's form order."""
    tags = set(babel_locale(language).plural_form.tags) | {"other"}
    return tuple(tag for tag in _CATEGORIES if tag in tags)


def _plural_category(language: str, number: float) -> str:
    category: str = babel_locale(language).plural_form(number)
    return category


def plural(language: str, count: str, forms: list[str]) -> str:
    """The PLURAL form for `count` (a number as text) in `language`."""
    try:
        number = float(count.replace(",", ""))
    except ValueError:
        number = 0
    plain = []
    for form in forms:
        explicit = _EXPLICIT.match(form)
        if explicit:
            if float(explicit.group(1)) == number:
                return explicit.group(2)
        else:
            plain.append(form)
    if not plain:
        return ""
    tags = _plural_tags(language)
    category = _plural_category(language, number)
    index = tags.index(category) if category in tags else len(tags) - 1
    return plain[min(index, len(plain) - 1)]


def format_message(language: str, text: str, params: tuple[object, ...] = ()) -> str:
    """`text` with `$N` replaced by the parameters, then its PLURALs resolved."""
    values = [str(p) for p in params]

    def parameter(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 1
        return values[index] if 0 <= index < len(values) else match.group(0)

    substituted = _PARAMETER.sub(parameter, text)
    return _PLURAL.sub(
        lambda m: plural(language, m.group(1).strip(), m.group(2).split("|")), substituted
    )


def as_key(key: str, params: tuple[object, ...] = ()) -> str:
    """What MediaWiki shows for a message under `uselang=qqx`: `(key: params)`."""
    return f"({key}: {', '.join(str(p) for p in params)})" if params else f"({key})"


@dataclass(frozen=True)
class Messages:
    """The UI messages of every language, read once per application."""

    table: Mapping[str, Mapping[str, str]]
    _bundles: dict[str, dict[str, str]] = field(default_factory=dict, repr=False, compare=False)

    def languages(self) -> list[str]:
        """The languages with a message file."""
        return sorted(self.table)

    def raw(self, language: str, key: str) -> str | None:
        """The unformatted message for `key` in the first language of the chain that has it."""
        for code in fallback_chain(language):
            found = self.table.get(code, {}).get(key)
            if found is not None:
                return found
        return None

    def text(self, language: str, key: str, *params: object) -> str:
        """The message `key` in `language`, formatted; `⧼key⧽` when no language has it."""
        if language == MESSAGE_KEYS:
            return as_key(key, params)
        found = self.raw(language, key)
        return f"⧼{key}⧽" if found is None else format_message(language, found, params)

    def bundle(self, language: str, prefix: str = "") -> dict[str, str]:
        """Every message resolved for `language` (those whose key starts with `prefix`),
        unformatted: the browser formats them. Made once per language and shared: callers
        must not change it.
        """
        found = self._bundles.get(language)
        if found is None:
            keys = sorted({key for messages in self.table.values() for key in messages})
            if language == MESSAGE_KEYS:
                found = {key: f"({key})" for key in keys}
            else:
                found = {key: self.raw(language, key) or f"⧼{key}⧽" for key in keys}
            self._bundles[language] = found
        return {k: v for k, v in found.items() if k.startswith(prefix)} if prefix else found


def language_code(value: str | None) -> str | None:
    """`value` as a language code, when it looks like one (`uselang` comes from the URL)."""
    if not value:
        return None
    code = value.strip().lower().replace("_", "-")
    return code if code == MESSAGE_KEYS or _LANGUAGE_CODE.fullmatch(code) else None
