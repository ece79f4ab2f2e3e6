"""Precache: score every new revision once with the models configured for its kind of edit.

ORES's event kinds: `edit` (every new revision), `main_edit` (namespace 0), `bot_edit` or
`nonbot_edit`, and for a page creation also `page_creation`, `main_creation`,
`bot_page_creation` or `nonbot_page_creation`. The configuration maps a wiki to its models
and the kinds each is precached on, e.g. `{"enwiki": {"damaging": ["edit"]}}`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache

from wikiloom.errors import AppError, BadRequest
from wikiloom.scoring.scores import Scorer, ScoreRequest
from wikiloom.wiki.events import WikiChange, parse_change

LOG = logging.getLogger(__name__)
EVENT_KINDS = frozenset(
    {
        "edit", "main_edit", "bot_edit", "nonbot_edit", "page_creation", "main_creation",
        "bot_page_creation", "nonbot_page_creation",
    }
)  # fmt: skip
Config = Mapping[str, Mapping[str, Sequence[str]]]
#: Revisions remembered as scored, so that a repeated event is not scored twice.
SEEN = 100_000


def check_config(config: Config) -> None:
    """Refuse a precache configuration that names an unknown kind of event."""
    for wiki, models in config.items():
        for model, kinds in models.items():
            unknown = sorted(set(kinds) - EVENT_KINDS)
            if unknown:
                raise BadRequest(
                    f"precache of {wiki} {model}: unknown events {unknown}; "
                    f"known: {', '.join(sorted(EVENT_KINDS))}"
                )


def change_kinds(change: WikiChange) -> set[str]:
    """The ORES event kinds of a new revision."""
    kinds = {"edit", "bot_edit" if change.bot else "nonbot_edit"}
    if change.namespace == 0:
        kinds.add("main_edit")
    if change.kind == "create" or not change.parent_id:
        kinds |= {"page_creation", "bot_page_creation" if change.bot else "nonbot_page_creation"}
        if change.namespace == 0:
            kinds.add("main_creation")
    return kinds


def _change_of(event: Mapping[str, Any]) -> WikiChange | None:
    """A new revision from an event: revision-create, page_change or recentchange."""
    if "database" in event and "$schema" not in event:
        # ORES's own precache body: a revision-create event without its schema line.
        event = {**event, "$schema": "/mediawiki/revision/create/1.1.0"}
    try:
        return parse_change(event)
    except (KeyError, TypeError, ValueError) as error:
        raise BadRequest(f"Could not read the event: missing or bad {error}") from None


def precache_models(event: Mapping[str, Any], config: Config) -> tuple[str, int, list[str]] | None:
    """The wiki, rev_id and models to score for an event; None when nothing is configured."""
    change = _change_of(event)
    if change is None or change.kind not in ("edit", "create"):
        return None
    return plan_for(change, config)


def plan_for(change: WikiChange, config: Config) -> tuple[str, int, list[str]] | None:
    """The models configured for a change's kinds of event on its wiki."""
    models = config.get(change.wiki)
    if not models:
        return None
    kinds = change_kinds(change)
    names = [name for name, on in models.items() if kinds & set(on)]
    return (change.wiki, change.rev_id, names) if names else None


@dataclass
class PrecacheCounts:
    """What a precache run did."""

    changes: int = 0
    scored: int = 0
    skipped: int = 0
    failed: int = 0


async def precache_stream(
    changes: AsyncIterator[WikiChange],
    scorer: Scorer,
    config: Config,
    *,
    counts: PrecacheCounts | None = None,
    limit: int | None = None,
) -> PrecacheCounts:
    """Score each new revision of a stream once, with the models configured for it.

    The wiki's states are looked up for every change, so a model paused (or retired) on
    the wiki is skipped from the next change on; a failure is logged and the stream goes
    on. `limit` stops after that many changes (for tests).
    """
    counts = counts or PrecacheCounts()
    seen: LRUCache[tuple[str, int], bool] = LRUCache(maxsize=SEEN)
    async for change in changes:
        counts.changes += 1
        plan = plan_for(change, config) if change.kind in ("edit", "create") else None
        key = (change.wiki, change.rev_id)
        if plan is None or key in seen:
            counts.skipped += 1
        else:
            seen[key] = True
            wiki, rev_id, names = plan
            available = (await scorer.models(wiki)).served  # now: a pause stops it at once
            served = [available[name] for name in names if name in available]
            if not served:
                counts.skipped += 1
            else:
                try:
                    asked = tuple(model.name for model in served)
                    await scorer.score(
                        ScoreRequest(wiki, (rev_id,), models=asked, precache=True), served
                    )
                    counts.scored += 1
                except AppError as error:
                    counts.failed += 1
                    LOG.warning("precache of %s %s failed: %s", wiki, rev_id, error.message)
        if limit is not None and counts.changes >= limit:
            break
    return counts
