"""Face projects: a Wikidata item, the Commons categories to crawl, members, settings, progress."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wikiloom.db import utcnow
from wikiloom.errors import BadRequest, Conflict, Forbidden, NotFound
from wikiloom.faces.tables import (
    PROJECT_STATES,
    DepictsEdit,
    Face,
    FaceImage,
    FaceProject,
    FaceProjectMember,
)
from wikiloom.labels.users import ensure_user

QID = re.compile(r"Q[1-9][0-9]{0,11}")
#: Category depth at most: Commons trees grow fast (depth 3 can be thousands of categories).
MAX_DEPTH = 5
MAX_CATEGORIES = 20
MAX_IMAGES = 50_000
#: Settings a project's owner may change, and their checks.
SETTINGS = ("name", "label", "status", "target_precision", "random_fraction", "max_images",
            "retention_days")  # fmt: skip


@dataclass(frozen=True)
class Category:
    """A Commons category to crawl, with the depth of subcategories to follow."""

    name: str
    depth: int = 0


@dataclass(frozen=True)
class Progress:
    """How far a project has come: images, faces, answers and edits."""

    images: dict[str, int]
    faces: int
    answered: dict[str, int]
    unanswered: int
    edits: dict[str, int]
    threshold: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The progress as JSON."""
        return asdict(self)


@dataclass(frozen=True)
class ProjectSettings:
    """What a new project is made of; checked by `check_settings`."""

    wiki: str
    qid: str
    name: str
    categories: tuple[Category, ...]
    label: str | None = None
    target_precision: float = 0.99
    random_fraction: float = 0.1
    max_images: int = 2000
    retention_days: int | None = 365


def categories_of(value: object) -> tuple[Category, ...]:
    """Read categories from JSON: names, or {"name", "depth"} objects; refuse anything else."""
    if isinstance(value, str | Mapping):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        raise BadRequest("categories must be a non-empty list of category names")
    found: list[Category] = []
    for entry in value:
        name, depth = (entry, 0) if isinstance(entry, str) else (None, None)
        if isinstance(entry, Mapping):
            name, depth = entry.get("name"), entry.get("depth", 0)
        if not isinstance(name, str) or not name.strip():
            raise BadRequest(f"a category needs a name, not {entry!r}")
        if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= MAX_DEPTH:
            raise BadRequest(f"category depth must be 0 to {MAX_DEPTH}, not {depth!r}")
        clean = name.strip().removeprefix("Category:").strip().replace("_", " ")
        if not clean or any(c in clean for c in "#<>[]|{}\n\r\t"):
            raise BadRequest(f"not a category name: {name!r}")
        found.append(Category(clean[0].upper() + clean[1:], depth))
    if len(found) > MAX_CATEGORIES:
        raise BadRequest(f"a project crawls at most {MAX_CATEGORIES} categories, not {len(found)}")
    return tuple(dict.fromkeys(found))


def check_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check project settings (any subset of `SETTINGS`); answer them cleaned."""
    unknown = set(values) - set(SETTINGS)
    if unknown:
        raise BadRequest(f"unknown project settings: {', '.join(sorted(unknown))}")
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key == "name":
            if not isinstance(value, str) or not value.strip() or len(value) > 255:
                raise BadRequest("a project name is 1 to 255 characters")
            clean[key] = value.strip()
        elif key == "label":
            if value is not None and (not isinstance(value, str) or len(value) > 255):
                raise BadRequest("a label is text of 255 characters at most")
            clean[key] = value.strip() if isinstance(value, str) and value.strip() else None
        elif key == "status":
            if value not in PROJECT_STATES:
                raise BadRequest(f"status is one of {', '.join(PROJECT_STATES)}, not {value!r}")
            clean[key] = value
        elif key == "target_precision":
            clean[key] = _fraction(key, value, low=0.5, high=1.0, open_low=False)
        elif key == "random_fraction":
            clean[key] = _fraction(key, value, low=0.0, high=0.5, open_low=False)
        elif key == "max_images":
            clean[key] = _count(key, value, MAX_IMAGES)
        elif key == "retention_days":
            clean[key] = None if value is None else _count(key, value, 36_500)
    return clean


def create_project(
    session: Session, settings: ProjectSettings, user_id: int, user_name: str | None = None
) -> FaceProject:
    """Create a project owned by the user; a duplicate (wiki, item, name) is a Conflict."""
    qid = item_of(settings.qid)
    clean = check_settings(
        {
            "name": settings.name,
            "label": settings.label,
            "target_precision": settings.target_precision,
            "random_fraction": settings.random_fraction,
            "max_images": settings.max_images,
            "retention_days": settings.retention_days,
        }
    )
    categories = categories_of([asdict(category) for category in settings.categories])
    exists = session.scalar(
        select(FaceProject.id).where(
            FaceProject.wiki == settings.wiki,
            FaceProject.qid == qid,
            FaceProject.name == clean["name"],
        )
    )
    if exists is not None:
        raise Conflict(f"project {clean['name']!r} for {qid} exists already (id {exists})")
    ensure_user(session, user_id, user_name)
    now = utcnow()
    project = FaceProject(
        wiki=settings.wiki,
        qid=qid,
        categories=[asdict(category) for category in categories],
        status="active",
        created_by=user_id,
        created=now,
        **clean,
    )
    session.add(project)
    session.flush()
    session.add(FaceProjectMember(project_id=project.id, user_id=user_id, role="owner", added=now))
    session.flush()
    return project


def item_of(qid: object) -> str:
    """A Wikidata item id, checked (Q42)."""
    if not isinstance(qid, str) or not QID.fullmatch(qid.strip().upper()):
        raise BadRequest(f"not a Wikidata item id (Q followed by digits): {qid!r}")
    return qid.strip().upper()


def get_project(session: Session, project_id: int) -> FaceProject:
    """The project, or NotFound."""
    project = session.get(FaceProject, project_id)
    if project is None:
        raise NotFound(f"project_id={project_id} does not exist")
    return project


def list_projects(session: Session, *, wiki: str | None = None) -> list[FaceProject]:
    """Every project (of a wiki), newest first."""
    query = select(FaceProject).order_by(FaceProject.id.desc())
    if wiki is not None:
        query = query.where(FaceProject.wiki == wiki)
    return list(session.scalars(query))


def update_project(
    session: Session, project_id: int, user_id: int, values: Mapping[str, Any]
) -> FaceProject:
    """Change a project's settings (its owners only)."""
    project = get_project(session, project_id)
    require_role(session, project_id, user_id, owner=True)
    for key, value in check_settings(values).items():
        setattr(project, key, value)
    session.flush()
    return project


def role_of(session: Session, project_id: int, user_id: int | None) -> str | None:
    """The user's role in the project: owner, member or None."""
    if user_id is None:
        return None
    return session.scalar(
        select(FaceProjectMember.role).where(
            FaceProjectMember.project_id == project_id, FaceProjectMember.user_id == user_id
        )
    )


def require_role(session: Session, project_id: int, user_id: int, *, owner: bool = False) -> str:
    """The user's role, or Forbidden when they are not a member (an owner, with `owner`)."""
    get_project(session, project_id)
    role = role_of(session, project_id, user_id)
    if role is None or (owner and role != "owner"):
        needed = "owners" if owner else "members"
        raise Forbidden(f"only the project's {needed} may do this (project_id={project_id})")
    return role


def add_member(
    session: Session,
    project_id: int,
    by_user: int,
    user_id: int,
    user_name: str | None = None,
    role: str = "member",
) -> None:
    """Add (or change the role of) a member; owners only."""
    require_role(session, project_id, by_user, owner=True)
    if role not in ("owner", "member"):
        raise BadRequest(f"role is owner or member, not {role!r}")
    ensure_user(session, user_id, user_name)
    member = session.get(FaceProjectMember, (project_id, user_id))
    if member is None:
        session.add(
            FaceProjectMember(project_id=project_id, user_id=user_id, role=role, added=utcnow())
        )
    else:
        member.role = role
    session.flush()


def remove_member(session: Session, project_id: int, by_user: int, user_id: int) -> None:
    """Remove a member; owners only, and never the last owner."""
    require_role(session, project_id, by_user, owner=True)
    member = session.get(FaceProjectMember, (project_id, user_id))
    if member is None:
        raise NotFound(f"user {user_id} is not a member of project_id={project_id}")
    if member.role == "owner":
        owners = session.scalar(
            select(func.count()).where(
                FaceProjectMember.project_id == project_id, FaceProjectMember.role == "owner"
            )
        )
        if owners == 1:
            raise Conflict("the last owner of a project cannot leave it")
    session.delete(member)
    session.flush()


def members(session: Session, project_id: int) -> list[tuple[int, str]]:
    """The project's members (user id, role)."""
    rows = session.execute(
        select(FaceProjectMember.user_id, FaceProjectMember.role)
        .where(FaceProjectMember.project_id == project_id)
        .order_by(FaceProjectMember.added, FaceProjectMember.user_id)
    )
    return [(int(user), str(role)) for user, role in rows]


def progress(session: Session, project_id: int) -> Progress:
    """Count the project's images by state, faces by answer, edits by state."""
    project = get_project(session, project_id)
    images = _counts(session, FaceImage.status, FaceImage.project_id == project_id)
    answered = _counts(
        session, Face.answer, Face.project_id == project_id, Face.answer.is_not(None)
    )
    faces = session.scalar(select(func.count()).where(Face.project_id == project_id)) or 0
    rows = session.execute(
        select(DepictsEdit.action, DepictsEdit.status, func.count())
        .where(DepictsEdit.project_id == project_id)
        .group_by(DepictsEdit.action, DepictsEdit.status)
    )
    edits = {f"{action}_{status}": int(count) for action, status, count in rows}
    return Progress(
        images=images,
        faces=int(faces),
        answered=answered,
        unanswered=int(faces) - sum(answered.values()),
        edits=edits,
        threshold=project.threshold,
    )


def project_json(project: FaceProject, progress_: Progress | None = None) -> dict[str, Any]:
    """A project as JSON (never any face encoding)."""
    found: dict[str, Any] = {
        "id": project.id,
        "wiki": project.wiki,
        "qid": project.qid,
        "name": project.name,
        "label": project.label,
        "categories": project.categories,
        "status": project.status,
        "target_precision": project.target_precision,
        "random_fraction": project.random_fraction,
        "max_images": project.max_images,
        "retention_days": project.retention_days,
        "created_by": project.created_by,
        "created": project.created.isoformat(),
        "crawled": None if project.crawled is None else project.crawled.isoformat(),
        "threshold": project.threshold,
    }
    if progress_ is not None:
        found["progress"] = progress_.as_dict()
    return found


def _counts(session: Session, column: Any, *where: Any) -> dict[str, int]:
    rows = session.execute(select(column, func.count()).where(*where).group_by(column))
    return {str(key): int(count) for key, count in rows}


def _fraction(key: str, value: object, *, low: float, high: float, open_low: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"{key} must be a number, not {value!r}")
    number = float(value)
    if not (low < number if open_low else low <= number) or not number < high:
        raise BadRequest(f"{key} must lie in [{low}, {high}), not {value!r}")
    return number


def _count(key: str, value: object, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= high:
        raise BadRequest(f"{key} must be a whole number from 1 to {high}, not {value!r}")
    return value
