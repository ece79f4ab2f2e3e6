"""Revisions as wikiloom reads them, from the Action API or from XML dumps alike."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from wikiloom.wiki.users import WikiUser


@dataclass(frozen=True)
class Revision:
    """One revision with what a model needs: its text, its parent's text and its editor.

    Hidden parts (revision deletion) are None: `text`, `comment`, `user_name`. `user_id`
    is 0 for an anonymous (IP) editor; `user` holds the editor's groups, registration and
    edit count where they were looked up (the Action API), else None (dumps).
    `parent_id` is 0 for a page creation, whose `parent_text` is then "".
    """

    wiki: str
    rev_id: int
    parent_id: int
    page_id: int
    namespace: int
    title: str
    timestamp: dt.datetime
    comment: str | None
    text: str | None
    parent_text: str | None
    user_name: str | None
    user_id: int | None
    minor: bool = False
    size: int | None = None
    sha1: str | None = None
    content_model: str = "wikitext"
    user: WikiUser | None = None

    @property
    def anonymous(self) -> bool:
        """Whether an IP address made the edit."""
        return self.user_id == 0
