"""SVG documents made by matplotlib, as elements of an HTML page.

A page may hold several plots: each gets its ids (and the references to them) prefixed, loses
the document's prolog, metadata and style (the page's CSS applies), and becomes an image with
an accessible name. `direction="ltr"` keeps matplotlib's left-to-right text layout in place on
right-to-left pages.
"""

from __future__ import annotations

import html
import re

_ID = re.compile(r'(?<=\s)id="([^"]+)"')
_REFERENCE = re.compile(r'(href="#|url\(#)([^")]+)')
_BOILERPLATE = re.compile(
    r"<metadata>.*?</metadata>\s*|<defs>\s*<style[^>]*>.*?</style>\s*</defs>\s*"
    r"|<style[^>]*>.*?</style>\s*",
    re.DOTALL,
)


def inline_svg(
    svg: str, prefix: str, *, title: str | None = None, labelled_by: str | None = None
) -> str:
    """`svg` as an `<svg role="img">` element, its ids prefixed with `prefix-`.

    With `title` it is named by a `<title>` of its own; otherwise by the element whose id is
    `labelled_by` (a caption on the page).
    """
    body = _BOILERPLATE.sub("", svg[svg.index("<svg") :])
    body = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', body)
    body = _REFERENCE.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", body)
    named_by = f"{prefix}-title" if title is not None else labelled_by
    opening = body.index(">", body.index("<svg"))
    head = f' role="img" aria-labelledby="{html.escape(named_by or "")}" direction="ltr"'
    titled = f'<title id="{prefix}-title">{html.escape(title)}</title>' if title is not None else ""
    return body[:opening] + head + ">" + titled + body[opening + 1 :]
