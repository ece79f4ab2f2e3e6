"""Depicts statements to Commons: queued when a user sends a project's edits, written by a job.

`queue_edits` turns the project's matches into one `depicts_edits` row per file and item (a
unique key across projects, so a file is never edited twice for one item); `write_edits`
writes them as the user who sent them: `wbgetclaims` first (a statement already there is
recorded, not added again), then `wbeditentity` on `M<page_id>`, one edit per file, each
committed before the next. A worker killed between the edit and its commit finds the
statement at the next `wbgetclaims`: nothing is written twice. A face answered "no" after
its file was edited queues the removal of the statement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.db import insert_ignore, transaction, utcnow
from wikiloom.errors import BadRequest, Unauthenticated, WikiError
from wikiloom.faces.projects import get_project, require_role
from wikiloom.faces.tables import DepictsEdit, Face, FaceImage, FaceProject
from wikiloom.wiki.client import WikiClient
from wikiloom.wiki.wikibase import add_depicts, remove_depicts

#: What a human sees in the file's history.
ADD_SUMMARY = 'Adding depicts (P180) {qid}{label}: face {how} in wikiloom project "{name}"'
REMOVE_SUMMARY = (
    'Removing depicts (P180) {qid}{label}: a human rejected the face in wikiloom project "{name}"'
)
#: Errors after which an edit is given up (the wiki said no; trying again will not help).
FINAL_ERRORS = frozenset({"permissiondenied", "protectedpage", "no-such-entity", "blocked",
                          "abusefilter-disallowed", "readonly-permanent"})  # fmt: skip
MAX_ATTEMPTS = 3
#: Seconds a writer's claim on an edit lasts before another writer may take it over.
LEASE = 300.0

ClientFor = Callable[[int], Awaitable[WikiClient]]
Turn = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Queued:
    """What sending a project's edits queued, and the precision it was sent at."""

    additions: int
    removals: int
    precision: float | None
    model_matches: bool


def matched_pages(session: Session, project: FaceProject) -> tuple[list[tuple[int, int]], bool]:
    """(page_id, face_id) of the files with a face taken as the item, and whether the model's
    matches count: they do only once its estimated precision reaches the project's target."""
    threshold = project.threshold or {}
    trusted = bool(threshold.get("reached")) and threshold.get("value") is not None
    taken = Face.answer == "yes"
    if trusted:
        taken = or_(taken, and_(Face.answer.is_(None), Face.score >= float(threshold["value"])))
    rows = session.execute(
        select(FaceImage.page_id, func.min(Face.id))
        .join(Face, Face.image_id == FaceImage.id)
        .where(FaceImage.project_id == project.id, FaceImage.depicted.is_(False), taken)
        .group_by(FaceImage.page_id)
        .order_by(FaceImage.page_id)
    ).all()
    return [(int(page_id), int(face_id)) for page_id, face_id in rows], trusted


def queue_edits(session: Session, project_id: int, user_id: int) -> Queued:
    """Queue the project's additions and removals, to be written as `user_id`."""
    project = get_project(session, project_id)
    require_role(session, project_id, user_id)
    if project.status != "active":
        raise BadRequest(f"project_id={project_id} is {project.status}: activate it first")
    pages, trusted = matched_pages(session, project)
    precision = (project.threshold or {}).get("precision") if trusted else None
    now = utcnow()
    rows = [
        {"project_id": project_id, "face_id": face_id, "wiki": project.wiki, "page_id": page_id,
         "qid": project.qid, "action": "add", "status": "pending", "user_id": user_id,
         "precision": precision, "attempts": 0, "created": now}
        for page_id, face_id in pages
    ]  # fmt: skip
    before = _count(session, project_id)
    if rows:
        session.execute(insert_ignore(session, DepictsEdit.__table__), rows)
    added = _count(session, project_id) - before
    removals = _queue_removals(session, project, {page for page, _ in pages}, user_id)
    return Queued(added, removals, precision, trusted)


def _queue_removals(session: Session, project: FaceProject, kept: set[int], user_id: int) -> int:
    """Queue removals for files this project edited whose faces humans now all reject."""
    edited = session.execute(
        select(DepictsEdit.page_id, DepictsEdit.face_id).where(
            DepictsEdit.project_id == project.id,
            DepictsEdit.action == "add",
            DepictsEdit.status == "done",
            DepictsEdit.rev_id.is_not(None),  # an edit of ours, not a statement found there
        )
    ).all()
    candidates = [page for page, _ in edited if page not in kept]
    if not candidates:
        return 0
    answers = session.execute(
        select(FaceImage.page_id, Face.answer)
        .join(Face, Face.image_id == FaceImage.id)
        .where(FaceImage.project_id == project.id, FaceImage.page_id.in_(candidates))
    ).all()
    by_page: dict[int, list[str | None]] = {}
    for page_id, answer in answers:
        by_page.setdefault(int(page_id), []).append(answer)
    rejected = [page for page, found in by_page.items() if found and all(a == "no" for a in found)]
    if not rejected:
        return 0
    now = utcnow()
    before = _count(session, project.id)
    session.execute(
        insert_ignore(session, DepictsEdit.__table__),
        [
            {"project_id": project.id, "face_id": None, "wiki": project.wiki, "page_id": page,
             "qid": project.qid, "action": "remove", "status": "pending", "user_id": user_id,
             "precision": None, "attempts": 0, "created": now}
            for page in rejected
        ],
    )  # fmt: skip
    return _count(session, project.id) - before


def _count(session: Session, project_id: int) -> int:
    found = session.scalar(select(func.count()).where(DepictsEdit.project_id == project_id))
    return int(found or 0)


def pending_projects(session: Session) -> dict[int, int]:
    """Projects with edits waiting (or being written), and the id of the newest of them."""
    rows = session.execute(
        select(DepictsEdit.project_id, func.max(DepictsEdit.id))
        .where(DepictsEdit.status.in_(("pending", "writing")))
        .group_by(DepictsEdit.project_id)
    )
    return {int(project_id): int(newest) for project_id, newest in rows}


@dataclass(frozen=True)
class Written:
    """What a writing pass did."""

    added: int
    already_there: int
    removed: int
    failed: int


def summary_of(project: FaceProject, edit: DepictsEdit) -> str:
    """The edit summary of one edit."""
    label = f" ({project.label})" if project.label else ""
    if edit.action == "remove":
        return REMOVE_SUMMARY.format(qid=project.qid, label=label, name=project.name)
    how = (
        f"matched by its model at an estimated precision of {edit.precision:.1%}"
        if edit.precision is not None
        else "confirmed by a human"
    )
    return ADD_SUMMARY.format(qid=project.qid, label=label, how=how, name=project.name)


async def write_edits(
    factory: sessionmaker[Session],
    client_for: ClientFor,
    project_id: int,
    *,
    limit: int = 100,
    lease: float = LEASE,
    turn: Callable[[], Awaitable[None]] | None = None,
    committed: Callable[[Session, Written], None] | None = None,
) -> Written:
    """Write up to `limit` waiting edits of a project, each claimed and committed on its own.

    An edit is claimed first (status `writing`, committed), so two writers never write one
    edit; a claim older than `lease` seconds (its writer died) is taken over, and the
    `wbgetclaims` before every edit finds a statement the dead writer saved.
    `client_for(user_id)` gives a wiki client acting as that user (OAuth bearer token, maxlag);
    `turn` is awaited before each edit (the per-wiki politeness gate). An error the wiki gives
    for good (permissions, a missing file) fails the edit with its reason; a passing one
    (`WikiUnavailable`, a refused token) releases the edit, pending again, and propagates.
    """
    added = already = removed = failed = 0
    for _ in range(limit):
        if turn is not None:  # before the claim, so that waiting for a turn never ages it
            await turn()
        claim = _claim(factory, project_id, lease)
        if claim is None:
            break
        edit_id, user_id, wiki, page_id, qid, action, summary = claim
        outcome: dict[str, Any] = {}
        try:
            client = await client_for(user_id)
            if action == "add":
                result = await add_depicts(client, wiki, page_id, qid, summary)
                outcome = {"statement": result.statement.guid, "rev_id": result.rev_id}
            else:
                guids = await remove_depicts(client, wiki, page_id, qid, summary)
                outcome = {"statement": "|".join(guids)[:255] or None}
        except Unauthenticated as error:  # the user's tokens are gone: they must log in again
            outcome = {"error": str(error)}
        except WikiError as error:
            if error.api_code not in FINAL_ERRORS:
                _release(factory, edit_id, str(error))
                raise
            outcome = {"error": str(error)}
        except BaseException as error:
            _release(factory, edit_id, str(error) or type(error).__name__)
            raise
        with transaction(factory, write=True) as session:
            stored = session.get(DepictsEdit, edit_id)
            assert stored is not None
            if "error" in outcome:
                stored.status, stored.error = "failed", outcome["error"][:2000]
                failed += 1
            else:
                stored.status, stored.done = "done", utcnow()
                stored.statement, stored.rev_id = outcome["statement"], outcome.get("rev_id")
                if action == "remove":
                    removed += 1
                elif stored.rev_id is None:
                    already += 1
                else:
                    added += 1
            if committed is not None:
                committed(session, Written(added, already, removed, failed))
    return Written(added, already, removed, failed)


def _claim(
    factory: sessionmaker[Session], project_id: int, lease: float
) -> tuple[int, int, str, int, str, str, str] | None:
    """Claim the project's next waiting edit (or a stale claim); None when none is left."""
    now = utcnow()
    waiting = or_(
        DepictsEdit.status == "pending",
        and_(
            DepictsEdit.status == "writing",
            DepictsEdit.claimed < now - dt.timedelta(seconds=lease),
        ),
    )
    with transaction(factory, write=True) as session:
        while True:
            edit = session.scalars(
                select(DepictsEdit)
                .where(DepictsEdit.project_id == project_id, waiting)
                .order_by(DepictsEdit.id)
                .limit(1)
            ).first()
            if edit is None:
                return None
            taken = session.execute(
                update(DepictsEdit)
                .where(DepictsEdit.id == edit.id, waiting)
                .values(status="writing", claimed=now)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                summary = summary_of(get_project(session, project_id), edit)
                return (edit.id, edit.user_id, edit.wiki, edit.page_id, edit.qid, edit.action,
                        summary)  # fmt: skip
            session.expire(edit)  # another writer took it first: look again


def _release(factory: sessionmaker[Session], edit_id: int, error: str) -> None:
    """Give a claimed edit back after a passing failure; the last allowed one fails it."""
    with transaction(factory, write=True) as session:
        edit = session.get(DepictsEdit, edit_id)
        if edit is not None and edit.status == "writing":
            edit.attempts += 1
            edit.error = error[:2000]
            edit.status = "failed" if edit.attempts >= MAX_ATTEMPTS else "pending"
            edit.claimed = None
