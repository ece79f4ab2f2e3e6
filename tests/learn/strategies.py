"""Hypothesis strategies the feature tests share: wikitexts made of pieces, and edits of them."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st


def texts_of(pieces: Sequence[str]) -> st.SearchStrategy[str]:
    """Texts of up to 40 of the pieces, in any order."""
    return st.lists(st.sampled_from(pieces), max_size=40).map("".join)


def edits_of(
    texts: st.SearchStrategy[str], inserts: Sequence[str]
) -> st.SearchStrategy[tuple[str, str]]:
    """A text and an edit of it: characters deleted or `inserts` inserted, or a rewrite."""

    @st.composite
    def edit(draw: st.DrawFn) -> tuple[str, str]:
        parent = draw(texts)
        if draw(st.integers(0, 4)) == 0:
            return parent, draw(texts)
        pieces = list(parent)
        for _ in range(draw(st.integers(0, 4))):
            position = draw(st.integers(0, len(pieces)))
            if pieces and draw(st.booleans()):
                del pieces[min(position, len(pieces) - 1)]
            else:
                pieces.insert(position, draw(st.sampled_from(list(inserts))))
        return parent, "".join(pieces)

    return edit()
