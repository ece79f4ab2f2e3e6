"""The wikitext tokenizer: types, non-Latin scripts, round trips, the word scanner."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from wikiloom.learn.tokens import (
    LEXICON,
    TOKEN_RE,
    URL,
    WORD,
    WORD_SCAN_RE,
    is_uppercase_word,
    token_type,
    tokenize,
)

#: Pieces that make the tokenizer's hard cases likely in generated texts.
PIECES = [
    "a",
    "Bé",
    " ",
    "\n",
    "\n\n",
    "\r\n",
    "'",
    "''",
    "'''",
    "’",
    "<",
    ">",
    "<ref name=x>",
    "</ref>",
    "<ref/>",
    "<b",
    "&amp;",
    "&",
    "http://q.z/x?y=1",
    "//",
    "mailto:",
    "[[",
    "]]",
    "{{",
    "}}",
    "{|",
    "|}",
    "|",
    "==",
    "5",
    "m80",
    "_",
    "\u0301",
    "克",
    "。",
    "है।",
    "!!",
    # Where the quicker patterns (`FAST_WORD`, `URL_START`) must agree with the plain ones.
    "HTTP://",
    "Tel:",
    "xhttp://",
    "worldwind://",
    "abcdefghij:",
    "gopher:",
    "ſ",
    "K",
    "\xa0",
    "don’t",
    "'x",
    "&#x41;",
]
texts = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=30).map("".join)
#: The plain scanner `WORD_SCAN_RE` replaced (no possessive repeats, the loose URL lookahead).
PLAIN_SCAN_RE = re.compile(
    f"(?:{dict(LEXICON)['url']})|(?:{dict(LEXICON)['tag']})|(?:{dict(LEXICON)['entity']})|({WORD})"
)


def test_words_numbers_and_punctuation() -> None:
    text = "As a sentence, this 34 includes m80 ain't peoples' d’encyclopédie."
    assert tokenize(text) == [
        ("As", "word"),
        (" ", "whitespace"),
        ("a", "word"),
        (" ", "whitespace"),
        ("sentence", "word"),
        (",", "comma"),
        (" ", "whitespace"),
        ("this", "word"),
        (" ", "whitespace"),
        ("34", "number"),
        (" ", "whitespace"),
        ("includes", "word"),
        (" ", "whitespace"),
        ("m80", "word"),  # a letter first: one word
        (" ", "whitespace"),
        ("ain't", "word"),  # an inner apostrophe
        (" ", "whitespace"),
        ("peoples'", "word"),  # a final apostrophe before whitespace
        (" ", "whitespace"),
        ("d’encyclopédie", "word"),
        (".", "period"),
    ]


def test_markup() -> None:
    text = "==Head==\n\n'''b''' [[foo|bar]] {{cite|x}} <ref name=\"a\">y</ref><ref name=b/> &nbsp;"
    assert tokenize(text) == [
        ("==", "equals"),
        ("Head", "word"),
        ("==", "equals"),
        ("\n\n", "break"),
        ("'''", "bold"),
        ("b", "word"),
        ("'''", "bold"),
        (" ", "whitespace"),
        ("[[", "dbrack_open"),
        ("foo", "word"),
        ("|", "bar"),
        ("bar", "word"),
        ("]]", "dbrack_close"),
        (" ", "whitespace"),
        ("{{", "dcurly_open"),
        ("cite", "word"),
        ("|", "bar"),
        ("x", "word"),
        ("}}", "dcurly_close"),
        (" ", "whitespace"),
        ('<ref name="a">', "ref_open"),
        ("y", "word"),
        ("</ref>", "ref_close"),
        ("<ref name=b/>", "ref_singleton"),
        (" ", "whitespace"),
        ("&nbsp;", "entity"),
    ]


def test_urls_tables_and_comments() -> None:
    text = "[https://example.org/a?b=c x] //cdn.org mailto:a@b.org {|\n|}<!-- c -->"
    assert tokenize(text) == [
        ("[", "brack_open"),
        ("https://example.org/a?b=c", "url"),  # the bracket ends it
        (" ", "whitespace"),
        ("x", "word"),
        ("]", "brack_close"),
        (" ", "whitespace"),
        ("//cdn.org", "url"),
        (" ", "whitespace"),
        ("mailto:a@b.org", "url"),
        (" ", "whitespace"),
        ("{|", "tab_open"),
        ("\n", "whitespace"),
        ("|}", "tab_close"),
        ("<!--", "comment_start"),
        (" ", "whitespace"),
        ("c", "word"),
        (" ", "whitespace"),
        ("-->", "comment_end"),
    ]


def test_non_latin_scripts() -> None:
    # Hindi: vowel signs and the virama stay inside words; the danda is punctuation.
    assert tokenize("क्रियाशील है।") == [
        ("क्रियाशील", "word"),
        (" ", "whitespace"),
        ("है", "word"),
        ("।", "danda"),
    ]
    # Arabic with harakat, Hebrew, Cyrillic, Greek, Hangul: one word each.
    for word in ("أميَّة", "הידוע", "Википедия", "Βικιπαίδεια", "위키백과의"):
        assert tokenize(word) == [(word, "word")]
    # Chinese and Japanese: one token per character, their punctuation apart.
    assert tokenize("克·科伊尔 し。") == [
        ("克", "cjk"),
        ("·", "etc"),
        ("科", "cjk"),
        ("伊", "cjk"),
        ("尔", "cjk"),
        (" ", "whitespace"),
        ("し", "cjk"),
        ("。", "japan_punct"),
    ]


def test_empty_text() -> None:
    assert tokenize("") == []


def test_uppercase_words() -> None:
    assert is_uppercase_word("LOOMS")
    assert is_uppercase_word("ÉTÉ")
    assert not is_uppercase_word("A")  # one character
    assert not is_uppercase_word("Loom")
    assert not is_uppercase_word("M80")  # a digit has no case, as in revscoring


@settings(max_examples=300, deadline=None)
@given(texts)
def test_tokens_join_back_into_the_text(text: str) -> None:
    tokens = tokenize(text)
    assert "".join(token for token, _ in tokens) == text
    assert all(token for token, _ in tokens)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_word_scanner_finds_exactly_the_word_tokens(text: str) -> None:
    scanned = [word for word in WORD_SCAN_RE.findall(text) if word]
    assert scanned == [token for token, kind in tokenize(text) if kind == "word"]


@settings(max_examples=500, deadline=None)
@given(texts)
def test_tokenize_is_the_plain_tokenization(text: str) -> None:
    # `tokenize` splits with the group-less `SPLIT_RE` and types each token on its own.
    plain = [(match.group(), match.lastgroup) for match in TOKEN_RE.finditer(text)]
    assert tokenize(text) == plain
    assert WORD_SCAN_RE.findall(text) == PLAIN_SCAN_RE.findall(text)


def test_token_types_alone() -> None:
    assert token_type("peoples'") == "word"  # the end of a string passes for a space
    assert token_type("http://x.org") == "url"
    assert token_type("HTTP") == "word"
    assert token_type('<ref name="a b">') == "ref_open"
    assert token_type("\n\n") == "break"
    assert tokenize("HTTP://x.org") == [("HTTP", "word"), (":", "colon"), ("//x.org", "url")]
    assert re.fullmatch(URL, "mailto:a@b.org")
