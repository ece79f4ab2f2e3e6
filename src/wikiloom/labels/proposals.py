"""Form proposals: forms written in the form builder, checked, stored and reviewed by admins.

A proposal is never installed by the server: forms are files deployed by operators. An
accepted proposal is a form an admin agreed to deploy.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import orjson
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from wikiloom.db import utcnow
from wikiloom.errors import BadRequest, Conflict, NotFound
from wikiloom.labels.events import record_event
from wikiloom.labels.forms import Form, FormProblem, parse_form
from wikiloom.labels.tables import ACCEPTED, PENDING, REJECTED, FormProposal
from wikiloom.labels.users import ensure_user

#: The largest form YAML accepted, in UTF-8 bytes.
MAX_YAML_BYTES = 100 * 1024
#: The largest i18n accepted, in bytes of its JSON.
MAX_I18N_BYTES = 256 * 1024
#: How deep collections may nest in a form's YAML (real forms nest about 8 levels).
MAX_DEPTH = 40
#: How many YAML nodes a form may have, counting what aliases repeat.
MAX_NODES = 50_000
MAX_NOTE = 2000
MAX_KEY = 64
MAX_ID = 2**31 - 1
KEY = re.compile(r"[a-z0-9_]+")
LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8}){0,3}")
MESSAGE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}")
I18n = dict[str, dict[str, str]]


class TooLarge(BadRequest):
    """An input is larger than its limit."""

    code = "too large"
    status = 413


@dataclass(frozen=True)
class FormSource:
    """A form's YAML text and messages, checked: `form` is what they load as."""

    text: str
    form: Form

    @property
    def key(self) -> str:
        """The form's key (its file name)."""
        return self.form.key


@dataclass(frozen=True)
class Proposal:
    """A proposed form with its review (the `reviewer`, `reviewed` and `comment` fields)."""

    id: int
    key: str
    yaml: str
    i18n: I18n
    note: str
    user_id: int
    user_name: str | None
    created: dt.datetime
    status: str
    reviewer_id: int | None
    reviewer_name: str | None
    reviewed: dt.datetime | None
    comment: str | None


def check_text(what: str, value: str, limit: int) -> str:
    """Return `value` if it has at most `limit` characters and can be stored as UTF-8."""
    if len(value) > limit:
        raise BadRequest(f"{what} must be at most {limit} characters, not {len(value)}")
    if "\x00" in value:
        raise BadRequest(f"{what} may not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise BadRequest(f"{what} is not valid Unicode (a lone surrogate)") from error
    return value


def check_key(key: str) -> str:
    """Return `key` if it can name a form file: `[a-z0-9_]+`, at most 64 characters."""
    if not KEY.fullmatch(key) or len(key) > MAX_KEY:
        raise BadRequest(f"a form key is 1 to {MAX_KEY} of a-z, 0-9 and _, not {key[:80]!r}")
    return key


def clean_i18n(value: object) -> I18n:
    """Check messages `{language: {key: text}}`; `@metadata` entries are left out."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest("i18n must be an object of languages")
    i18n: I18n = {}
    for language, messages in value.items():
        if not isinstance(language, str) or not LANGUAGE.fullmatch(language):
            raise BadRequest(f"i18n: {str(language)[:40]!r} is not a language code")
        if not isinstance(messages, dict):
            raise BadRequest(f"i18n.{language} must be an object of messages")
        i18n[language] = {}
        for key, text in messages.items():
            if key == "@metadata":
                continue
            if not isinstance(key, str) or not MESSAGE_KEY.fullmatch(key):
                raise BadRequest(f"i18n.{language}: {str(key)[:40]!r} is not a message key")
            if not isinstance(text, str):
                raise BadRequest(f'i18n.{language}: message "{key}" must be a string')
            i18n[language][key] = check_text(f'i18n.{language}: message "{key}"', text, 10_000)
    if len(orjson.dumps(i18n)) > MAX_I18N_BYTES:
        raise TooLarge(f"i18n must be at most {MAX_I18N_BYTES // 1024} KiB of JSON")
    return i18n


def _bounds(text: str, shown: str) -> None:
    """Refuse YAML that nests too deep or expands too far (aliases), before loading it.

    A syntax error ends the check quietly: loading the form reports it with its line.
    """
    anchored: dict[str, int] = {}  # anchor -> nodes it stands for
    opened: list[tuple[str | None, int]] = []  # open collections: anchor, nodes before
    nodes = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            line, column = (
                (mark.line + 1, mark.column + 1) if (mark := event.start_mark) else (1, 1)
            )
            if isinstance(event, yaml.AliasEvent):
                if any(anchor == event.anchor for anchor, _ in opened):
                    raise FormProblem(shown, line, "an alias inside its own anchor", column)
                nodes += anchored.get(event.anchor or "", 1)
            elif isinstance(event, yaml.ScalarEvent):
                nodes += 1
                if event.anchor is not None:
                    anchored[event.anchor] = 1
            elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                opened.append((event.anchor, nodes))
                nodes += 1
                if len(opened) > MAX_DEPTH:
                    problem = f"nested deeper than {MAX_DEPTH} levels"
                    raise FormProblem(shown, line, problem, column)
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)) and opened:
                anchor, before = opened.pop()
                if anchor is not None:
                    anchored[anchor] = nodes - before
            if nodes > MAX_NODES:
                problem = f"more than {MAX_NODES} values (counting what aliases repeat)"
                raise FormProblem(shown, line, problem, column)
    except yaml.YAMLError:
        return


def load_source(text: str, i18n: I18n, key: str = "form") -> FormSource:
    """Load a form from its YAML text; a FormProblem names the line of what is wrong."""
    check_key(key)
    if len(text.encode("utf-8", errors="surrogatepass")) > MAX_YAML_BYTES:
        raise TooLarge(f"a form's YAML must be at most {MAX_YAML_BYTES // 1024} KiB")
    shown = f"{key}.yaml"
    _bounds(text, shown)
    return FormSource(text, parse_form(key, text, i18n, shown))


def field_records(form: Form) -> list[dict[str, Any]]:
    """The named fields of a form, as JSON objects."""
    return [
        {
            "name": spec.name,
            "widget": spec.widget,
            "kind": spec.kind,
            "options": list(spec.options),
            "required": spec.required,
            "line": spec.line,
        }
        for spec in form.fields.values()
    ]


def _proposal(row: FormProposal) -> Proposal:
    return Proposal(
        id=row.id,
        key=row.form_key,
        yaml=row.yaml,
        i18n=row.i18n,
        note=row.note,
        user_id=row.user_id,
        user_name=row.user_name,
        created=row.created,
        status=row.status,
        reviewer_id=row.reviewer_id,
        reviewer_name=row.reviewer_name,
        reviewed=row.reviewed,
        comment=row.comment,
    )


def propose_form(
    session: Session,
    source: FormSource,
    *,
    note: str,
    user_id: int,
    user_name: str | None,
    now: dt.datetime | None = None,
) -> Proposal:
    """Store a checked form (see `load_source`) as a pending proposal."""
    check_text("note", note, MAX_NOTE)
    moment = now or utcnow()
    ensure_user(session, user_id, now=moment)
    row = FormProposal(
        form_key=source.key,
        yaml=source.text,
        i18n=source.form.i18n,
        note=note,
        user_id=user_id,
        user_name=user_name[:255] if user_name else None,
        created=moment,
        status=PENDING,
    )
    session.add(row)
    session.flush()
    data = {"proposal": row.id, "key": source.key}
    record_event(session, "form.proposed", user_id=user_id, data=data, now=moment)
    return _proposal(row)


def list_proposals(session: Session, status: str | None = None, limit: int = 500) -> list[Proposal]:
    """The latest `limit` proposals, newest first; only those with `status` if it is given."""
    query = select(FormProposal).order_by(FormProposal.id.desc()).limit(limit)
    if status is not None:
        query = query.where(FormProposal.status == status)
    return [_proposal(row) for row in session.scalars(query)]


def _row(session: Session, proposal_id: int, *, lock: bool = False) -> FormProposal:
    found = None
    if 0 < proposal_id <= MAX_ID:
        query = select(FormProposal).where(FormProposal.id == proposal_id)
        found = session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFound(f"proposal_id={proposal_id}")
    return found


def get_proposal(session: Session, proposal_id: int) -> Proposal:
    """One proposal (NotFound if there is none with this id)."""
    return _proposal(_row(session, proposal_id))


def review_proposal(
    session: Session,
    proposal_id: int,
    *,
    status: str,
    comment: str,
    reviewer_id: int,
    reviewer_name: str | None,
    now: dt.datetime | None = None,
) -> Proposal:
    """Accept or reject a pending proposal with a comment (Conflict once it was reviewed)."""
    if status not in (ACCEPTED, REJECTED):
        raise BadRequest(f'status must be "{ACCEPTED}" or "{REJECTED}", not {status[:40]!r}')
    check_text("comment", comment, MAX_NOTE)
    row = _row(session, proposal_id, lock=True)
    if row.status != PENDING:
        raise Conflict(f"proposal {proposal_id} was already {row.status}")
    moment = now or utcnow()
    ensure_user(session, reviewer_id, now=moment)
    row.status, row.comment, row.reviewed = status, comment, moment
    row.reviewer_id, row.reviewer_name = reviewer_id, (reviewer_name or "")[:255] or None
    session.flush()
    data = {"proposal": row.id, "key": row.form_key, "status": status}
    record_event(session, "form.reviewed", user_id=reviewer_id, data=data, now=moment)
    return _proposal(row)
