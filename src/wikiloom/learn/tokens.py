"""Wikitext tokens: one fast regular expression splits a text into typed tokens.

Every character of a text belongs to exactly one token, so joining the tokens gives the text
back. Types follow the usage of revscoring's `deltas.wikitext_split` where the edit-quality
features depend on them: a `word` starts with a letter (or underscore, or a mark of an Indic,
Thai, Hebrew, Arabic ... script) and goes on over letters, digits and marks, with inner
apostrophes (`ain't`) and a final one before whitespace (`peoples'`); `m80` is a word, `80`
a `number`; Chinese and Japanese characters are one `cjk` token each; Hangul words are words.
Markup gets types of its own (`dbrack_open` for `[[`, `ref_open` for `<ref name="a">`,
`bold` for `'''`, ...), and whatever matches nothing else is a one-character `etc`.
"""

from __future__ import annotations

import functools
import re

#: Marks and letters of scripts whose vowel signs Python's `\w` leaves out (combining
#: diacritics, Hebrew points, Arabic harakat, Indic matras and viramas, Thai, Lao, Tibetan,
#: Myanmar and Khmer signs, zero-width (non-)joiners), so that a word does not break on them.
MARKS = (
    "\u0300-\u036f\u0483-\u0489\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7"
    "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e4\u06e7\u06e8\u06ea-\u06ed"
    "\u0900-\u0963\u0971-\u097f\u0980-\u09e3\u09f0-\u09ff\u0a00-\u0a63\u0a70-\u0a7f"
    "\u0a80-\u0ae3\u0af0-\u0aff\u0b00-\u0b63\u0b70-\u0b7f\u0b80-\u0be3\u0bf0-\u0bff"
    "\u0c00-\u0c63\u0c70-\u0c7f\u0c80-\u0ce3\u0cf0-\u0cff\u0d00-\u0d63\u0d70-\u0d7f"
    "\u0d80-\u0df3\u0e31\u0e34-\u0e3a\u0e47-\u0e4e\u0eb1\u0eb4-\u0ebc\u0ec8-\u0ecd"
    "\u0f18\u0f19\u0f35\u0f37\u0f39\u0f71-\u0f84\u0f86\u0f87\u0f8d-\u0fbc"
    "\u102b-\u103e\u1056-\u1059\u17b4-\u17d3\u200c\u200d"
)
#: Hiragana, katakana and CJK ideographs: one token per character (no spaces between words).
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"

PLAIN_PROTOCOLS = "bitcoin|geo|magnet|mailto|news|sips?|sms|tel|urn|xmpp"
SLASHED_PROTOCOLS = "https?|ftps?|git|gopher|ircs?|mms|nntp|redis|sftp|ssh|svn|telnet|worldwind"
URL = (
    rf"(?:(?:(?:{SLASHED_PROTOCOLS}):)?//|(?:{PLAIN_PROTOCOLS}):)"
    r"[^\s/$.?#\[\]|<>{}][^\s\[\]|<>{}]*"
)
WORD = rf"(?:[^\W\d{CJK}]|[{MARKS}])[\w{MARKS}]*(?:['’](?:[\w{MARKS}]+|(?=\s|$)))*"
#: `WORD` with possessive repeats: each repeat stops before a character the next part must
#: start with (an apostrophe is not a word character), so giving back never helps; faster.
FAST_WORD = rf"(?:[^\W\d{CJK}]|[{MARKS}])[\w{MARKS}]*+(?:['’](?:[\w{MARKS}]++|(?=\s|$)))*+"
#: What every `URL` starts with: `//`, or a protocol (3 to 9 small letters) and a colon.
URL_START = r"(?=//|[a-z]{3,9}:)"

#: (type, pattern) in the order they are tried at each position: the first that matches wins.
#: The common types come first (speed); a type that could match where another also does
#: comes after it (`url` before `word`, `tab_close` before `bar`, `bold` before `italic`).
LEXICON: tuple[tuple[str, str], ...] = (
    ("break", r"\r?\n(?:[^\S\n]*\r?\n)+"),
    ("whitespace", r"\r?\n|[^\S\n]+"),
    ("url", rf"(?=[a-zA-Z/]){URL}"),  # the lookahead only fails faster
    ("word", WORD),
    ("number", r"\d+"),
    ("period", r"\.+"),
    ("comma", r",+"),
    ("paren_open", r"\("),
    ("paren_close", r"\)"),
    ("dbrack_open", r"\[\["),
    ("dbrack_close", r"\]\]"),
    ("tab_open", r"\{\|"),
    ("tab_close", r"\|\}"),
    ("bar", r"\|"),
    ("equals", r"=+"),
    ("dcurly_open", r"\{\{"),
    ("dcurly_close", r"\}\}"),
    ("bold", r"'''"),
    ("italic", r"''"),
    ("comment_start", r"<!--"),
    ("comment_end", r"-->"),
    ("ref_singleton", r"(?i:<ref\b[^<>]*/>)"),
    ("ref_open", r"(?i:<ref\b[^<>]*>)"),
    ("ref_close", r"(?i:</ref\s*>)"),
    ("tag", r"</?[a-zA-Z][a-zA-Z0-9]*\b[^<>]*>"),
    ("entity", r"&(?:[a-zA-Z][a-zA-Z0-9]*|#[0-9]+|#[xX][0-9a-fA-F]+);"),
    ("curly_open", r"\{"),
    ("curly_close", r"\}"),
    ("brack_open", r"\["),
    ("brack_close", r"\]"),
    ("cjk", rf"[{CJK}]"),
    ("japan_punct", r"[\u3000-\u303f]"),
    ("qmark", r"\?+"),
    ("epoint", r"!+"),
    ("colon", r":+"),
    ("scolon", r";+"),
    ("danda", r"[।॥]"),
    ("etc", r"(?s:.)"),
)
TOKEN_RE = re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in LEXICON))
#: The same alternatives without groups, with the quicker `FAST_WORD` and `URL_START`: the
#: same matches as `TOKEN_RE` (each rewrite keeps every match), about a third faster.
FAST_LEXICON = tuple(
    (kind, {"url": URL_START + URL, "word": FAST_WORD}.get(kind, pattern))
    for kind, pattern in LEXICON
)
SPLIT_RE = re.compile("|".join(f"(?:{pattern})" for _, pattern in FAST_LEXICON))

#: Finds exactly the `word` tokens of a text (group 1; other matches leave it empty): besides
#: words it consumes only the tokens that can hold letters after their start (URLs, tags,
#: entities), and everything else holds no letter a word could start at. About twice as
#: fast as a full tokenization.
WORD_SCAN_RE = re.compile(
    f"(?:{URL_START}{URL})|(?:{dict(LEXICON)['tag']})|(?:{dict(LEXICON)['entity']})|({FAST_WORD})"
)

#: Types that are wiki markup (as revscoring's `markups` count them, plus references and tags).
MARKUP_TYPES = frozenset(
    {
        "dbrack_open",
        "dbrack_close",
        "brack_open",
        "brack_close",
        "tab_open",
        "tab_close",
        "dcurly_open",
        "dcurly_close",
        "curly_open",
        "curly_close",
        "bold",
        "italic",
        "equals",
        "bar",
        "ref_open",
        "ref_close",
        "ref_singleton",
        "tag",
        "comment_start",
        "comment_end",
    }
)
#: Types that are punctuation of running text.
PUNCTUATION_TYPES = frozenset(
    {"period", "qmark", "epoint", "comma", "colon", "scolon", "japan_punct", "danda"}
)
WHITESPACE_TYPES = frozenset({"whitespace", "break"})


#: A token: its text and its type (a name of `LEXICON`). A plain tuple, because tuples of
#: strings are made fast and left alone by the garbage collector (a NamedTuple is 2.5 x slower).
Token = tuple[str, str]


def tokenize(text: str) -> list[Token]:
    """Split a wikitext into (text, type) tokens that join back into it."""
    pieces = SPLIT_RE.findall(text)
    return list(zip(pieces, map(token_type, pieces), strict=True))


@functools.lru_cache(maxsize=1 << 16)
def token_type(token: str) -> str:
    """The type of a token of `tokenize`, which does not depend on the text around it.

    In a text, the first alternative of `LEXICON` that matches at a place makes the token
    there; on its own, the token is matched whole by that alternative and by none before it
    (each of those failed in the text, and none looks past a token's end except `word`'s
    test for a following space, which the end of a string passes too).
    """
    match = TOKEN_RE.fullmatch(token)
    return (match.lastgroup if match else None) or "etc"


def is_uppercase_word(word: str) -> bool:
    """Whether a word has two or more characters, each an upper-case letter (as revscoring's)."""
    return len(word) > 1 and all(char != char.lower() for char in word)
