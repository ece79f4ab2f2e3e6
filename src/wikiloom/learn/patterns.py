"""Regular expressions of word lists, read cautiously: what their matches can hold.

The word lists scan only where an edit changed a text, which is exact only when a
pattern's matches are bounded: `within_lines` (no match holds a newline or looks past
one), `barriers` (the punctuation no match holds or looks at), `starts_with_word` (every
match starts with a word character) and `first_letter` (the letter every match starts
with). Each reads the pattern's text and answers no where it is unsure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

#: Escapes that match no newline and depend on none: words, digits, non-spaces, boundaries.
LINE_ESCAPES = frozenset("wdSbB")
FLAGS = frozenset("aiLmsux-")
#: What a barrier can be: ASCII whitespace and punctuation (none of them has a case).
BARRIER_CANDIDATES = frozenset("\t\n !\"#$%&'()*+,-./:;<=>?@[\\]^`{|}~")
#: What an ASCII letter matches with `re.IGNORECASE` besides itself and its upper case.
CASE_VARIANTS = {"i": "\u0130\u0131", "k": "\u212a", "s": "\u017f"}
QUANTIFIER_RE = re.compile(r"\{(?:\d+(?:,\d*)?|,\d+)\}")


def within_lines(pattern: str) -> bool:
    """Whether no match of a pattern can hold a newline or look past one (a cautious check).

    True when every character the pattern can match is a literal (not a control character),
    `.` (no DOTALL), `\\w`, `\\d`, `\\S` or a non-negated class of those, with no anchors
    (`^`, `$`, `\\A`, `\\Z`), inline flags, code escapes, back references or `\\s`.
    """
    in_class = False
    index = 0
    while index < len(pattern):
        char, following = pattern[index], pattern[index + 1 : index + 2]
        if ord(char) < 0x20:
            return False
        if char == "\\":
            if not following or (
                following.isalnum()
                and (following not in LINE_ESCAPES or (in_class and following in "bB"))
            ):
                return False  # in a class, \\b is a backspace (which could start a range)
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            if following == "^":
                return False
            in_class = True
            index += following == "]"  # a "]" first in a class is a literal
        elif char in "^$" or (char + following == "(?" and pattern[index + 2 : index + 3] in FLAGS):
            return False  # an anchor, or inline flags: "(?" and a flag letter
        index += 1
    return True


def matchable(pattern: str) -> frozenset[str] | None:
    """The `BARRIER_CANDIDATES` a pattern could match or look at, or None for any (cautious).

    The literals, escaped characters, classes (with ranges) and `\\s` of the pattern count;
    `\\w`, `\\d` and boundaries match none; `.`, negated classes, other escapes and group
    syntax other than `(?:`, `(?=`, `(?!`, `(?<=`, `(?<!` and `(?P<name>` give None.
    """
    found: set[str] = set()
    in_class, class_start, index = False, 0, 0
    while index < len(pattern):
        char, following = pattern[index], pattern[index + 1 : index + 2]
        if char == "\\":
            if following == "s":
                found.update("\t\n ")
            elif following in ("w", "d") or (following in ("b", "B") and not in_class):
                pass
            elif not following or following.isalnum():
                return None
            else:
                found.add(following)
            index += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
            elif following == "-" and pattern[index + 2 : index + 3] not in ("", "]", "\\"):
                high = pattern[index + 2]
                found.update(c for c in BARRIER_CANDIDATES if char <= c <= high)
                index += 3
                continue
            elif char == "-" and index != class_start and following != "]":
                return None  # a range from an escape: not worth reading
            else:
                found.add(char)
        elif char == "[":
            if following == "^":
                return None
            in_class, class_start = True, index + 1
            if following == "]":
                found.add("]")
                index += 1
        elif char + following == "(?":
            rest = pattern[index + 2 :]
            if rest.startswith("P<") and ">" in rest:
                index += 2 + rest.index(">") + 1
                continue
            prefix = next((p for p in (":", "=", "!", "<=", "<!") if rest.startswith(p)), None)
            if prefix is None:
                return None
            index += 2 + len(prefix)
            continue
        elif char == "{" and (quantifier := QUANTIFIER_RE.match(pattern, index)):
            index = quantifier.end()
            continue
        elif char == ".":
            return None
        elif char not in "()|?*+^$":
            found.add(char)
        index += 1
    return frozenset(found & BARRIER_CANDIDATES)


def barriers(patterns: Sequence[str]) -> str:
    """The characters no pattern can match or look at (none when one could be any), sorted."""
    found: set[str] = set()
    for pattern in patterns:
        characters = matchable(pattern)
        if characters is None:
            return ""
        found |= characters
    return "".join(sorted(BARRIER_CANDIDATES - found))


def starts_with_word(pattern: str) -> bool:
    """Whether every match of a pattern starts with a word character (a cautious check)."""
    alternatives = _alternatives(pattern)
    for alternative in alternatives:
        first = 2 if alternative[:2] in ("\\w", "\\d") else 1
        if alternative[:1] == "(":
            close = _closing(alternative)
            inner = alternative[3 if alternative[:3] == "(?:" else 1 : close]
            if close is None or inner.startswith("?") or not starts_with_word(inner):
                return False
            first = close + 1
        elif not (first == 2 or alternative[:1].isalnum() or alternative[:1] == "_"):
            return False
        if alternative[first : first + 1] in ("?", "*") or alternative[first : first + 2] in (
            "{0",
            "{,",
        ):
            return False
    return bool(alternatives)


def _structure(pattern: str) -> Iterator[tuple[int, str, int]]:
    """Each character of a pattern outside escapes and classes, with the group depth after it."""
    depth, index, in_class = 0, 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 1
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            index += pattern[index + 1 : index + 2] == "]"
        else:
            if char in "()":
                depth += 1 if char == "(" else -1
            yield index, char, depth
        index += 1


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a pattern (split at each "|" outside groups and classes)."""
    found, start = [], 0
    for index, char, depth in _structure(pattern):
        if char == "|" and depth == 0:
            found.append(pattern[start:index])
            start = index + 1
    return [*found, pattern[start:]]


def _closing(pattern: str) -> int | None:
    """Where the group that opens a pattern closes, or None."""
    for index, char, depth in _structure(pattern):
        if char in "()" and depth == 0:
            return index
    return None


def first_letter(pattern: str) -> str | None:
    """The letter every match of a pattern starts with, where that is plain to see."""
    if not pattern[:1].isalpha() or pattern[1:2] in ("?", "*", "{"):
        return None
    depth, escaped, in_class = 0, False, False
    for char in pattern:  # a top-level "|" would let a match start otherwise
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char in "()":
            depth += 1 if char == "(" else -1
        elif char == "|" and depth == 0:
            return None
    return pattern[0].lower()
