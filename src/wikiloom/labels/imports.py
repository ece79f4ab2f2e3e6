"""Importing a live Wiki labels database: campaigns, tasks, worksets and labels, ids kept.

The legacy schema has no foreign keys and ours has, so the mapping is explicit:

* Campaigns, tasks and worksets keep their ids and timestamps; naive source times are read in
  `timezone` (UTC by default). Duplicate (wiki, name) get increasing `name_seq`.
* A workset task is `labeled` when its owner labeled the task, else `leased` until the workset
  expires, else `expired`. Of a user's worksets in a campaign still holding leases, only the
  newest stays open; the others expire.
* A row our keys cannot hold (a task of another campaign in a workset, a label on a missing task,
  a second workset for the same task and user, an empty workset) becomes an `import.rejected`
  event holding the source row and the reason.
* Labels outside any workset of their user get one synthetic, complete workset per user and
  campaign, with a negative id so that no legacy id can ever collide with it, named in an
  `import.synthetic_workset` event.
* Rows already present are skipped (the same id with other content is a Conflict); a label newer
  in the source replaces ours, which goes to `label_history` as a relabel.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine, exists, func, insert, select, text, update
from sqlalchemy.orm import Session

from wikiloom.db import utcnow
from wikiloom.errors import Conflict
from wikiloom.labels.tables import (
    COMPLETE,
    EXPIRED,
    LABELED,
    LEASED,
    OPEN,
    Campaign,
    Event,
    Label,
    LabelHistory,
    Task,
    User,
    Workset,
    WorksetTask,
)
from wikiloom.labels.wikilabels_source import REJECTED, ImportReport, Row, read_source

BATCH_SIZE = 5000
SYNTHETIC = "import.synthetic_workset"
DEFAULT_EXPIRY = 86400
Pair = tuple[int, int]  # (task_id, user_id)


@dataclass
class _Workset:
    id: int
    campaign_id: int
    user_id: int
    created: dt.datetime
    expires: dt.datetime
    state: str
    new: bool
    source: Row | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Slot:
    """Who holds (task, user) in our schema, and in which state."""

    workset_id: int
    state: str


def import_wikilabels(
    session: Session,
    source: Connection | Engine,
    *,
    timezone: dt.tzinfo = dt.UTC,
    seed: int = 0,
    now: dt.datetime | None = None,
) -> ImportReport:
    """Copy a Wiki labels database into ours, in the caller's transaction; report what changed."""
    return _Importer(session, timezone, seed, now or utcnow()).run(read_source(source))


def _jsonable(row: Row) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in row.items()}


def _campaign_problem(row: Row) -> str | None:
    for column in ("wiki", "name", "form", "view", "created"):
        if row[column] is None:
            return f"{column} is NULL"
    for column in ("labels_per_task", "tasks_per_assignment"):
        if row[column] is None or row[column] <= 0:
            return f"{column} is {row[column]}, not a positive integer"
    if len(row["wiki"]) > 64:
        return "wiki is longer than 64 characters"
    return None


class _Importer:
    def __init__(self, session: Session, tz: dt.tzinfo, seed: int, now: dt.datetime) -> None:
        self.session, self.tz, self.seed, self.now = session, tz, seed, now
        self.report = ImportReport()
        self.events: list[dict[str, Any]] = []
        self.new: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.slot_updates: list[dict[str, Any]] = []
        self.closed: list[int] = []
        self.touched: set[int] = set()  # campaigns whose task counters must be recomputed
        self._load_ours()

    def _at(self, value: dt.datetime) -> dt.datetime:
        """Read a source time: naive ones are in the source server's time zone."""
        aware = value if value.tzinfo is not None else value.replace(tzinfo=self.tz)
        return aware.astimezone(dt.UTC)

    def _utc(self, value: dt.datetime | None) -> dt.datetime | None:
        return None if value is None else self._at(value)

    def _load_ours(self) -> None:
        s = self.session
        self.campaigns = {
            cid: (wiki, created, expiry)
            for cid, wiki, created, expiry in s.execute(
                select(Campaign.id, Campaign.wiki, Campaign.created, Campaign.workset_expiry)
            )
        }
        names = select(Campaign.wiki, Campaign.name, func.max(Campaign.name_seq))
        self.name_seq: dict[tuple[str, str], int] = {
            (wiki, name): seq
            for wiki, name, seq in s.execute(names.group_by(Campaign.wiki, Campaign.name))
        }
        # dict(result) would take the Result for a mapping (it has keys()): go through .all().
        self.task_campaign: dict[int, int] = dict(
            s.execute(select(Task.id, Task.campaign_id)).all()
        )
        self.worksets = {
            w.id: _Workset(w.id, w.campaign_id, w.user_id, w.created, w.expires, w.state, False)
            for w in s.execute(select(Workset.__table__))
        }
        self.synthetic = {
            (w.user_id, w.campaign_id): w.id for w in self.worksets.values() if w.id < 0
        }
        self.next_synthetic = min([0, *self.worksets]) - 1
        self.slots: dict[Pair, _Slot] = {}
        self.pairs: set[Pair] = set()  # (workset_id, task_id)
        self.positions: Counter[int] = Counter()
        wt = WorksetTask.__table__.c
        for wid, tid, uid, position, state in s.execute(
            select(wt.workset_id, wt.task_id, wt.user_id, wt.position, wt.state)
        ):
            self.slots[(tid, uid)] = _Slot(wid, state)
            self.pairs.add((wid, tid))
            self.positions[wid] = max(self.positions[wid], position + 1)
        labels = select(Label.task_id, Label.user_id, Label.data, Label.timestamp)
        self.labels: dict[Pair, tuple[Any, dt.datetime]] = {
            (t, u): (data, ts) for t, u, data, ts in s.execute(labels)
        }
        # Labels the user withdrew here (by skipping) must not come back from the source.
        skips = select(LabelHistory.task_id, LabelHistory.user_id, LabelHistory.timestamp)
        self.withdrawn: dict[Pair, dt.datetime] = {}
        for t, u, ts in s.execute(skips.where(LabelHistory.reason == "skip")):
            self.withdrawn[(t, u)] = max(ts, self.withdrawn.get((t, u), ts))
        self.rejected_keys = {
            data.get("key") for data in s.scalars(select(Event.data).where(Event.type == REJECTED))
        }
        self.users = set(s.scalars(select(User.id)))

    def _reject(self, table: str, key: object, row: Row, why: str, detail: str = "") -> None:
        name = f"{table}:{key}"
        if name in self.rejected_keys:
            self.report.skipped["rejected rows (recorded earlier)"] += 1
            return
        self.rejected_keys.add(name)
        self.report.rejected[(table, why)] += 1
        campaign_id = row.get("campaign_id")
        reason = f"{why}: {detail}" if detail else why
        data = {"key": name, "table": table, "row": _jsonable(row), "reason": reason}
        known = campaign_id if campaign_id in self.campaigns else None
        self._event(REJECTED, row.get("user_id"), known, data)

    def _event(self, type: str, user_id: int | None, campaign_id: int | None, data: Any) -> None:
        event = {"type": type, "timestamp": self.now, "user_id": user_id}
        self.events.append(event | {"campaign_id": campaign_id, "data": data})

    def _same(self, table: str, key: int, ours: object, theirs: object) -> None:
        if ours != theirs:
            raise Conflict(
                f"{table} id {key} exists in wikiloom as {ours!r} but is {theirs!r} in the "
                "source; the import keeps ids and cannot proceed"
            )
        self.report.skipped[table] += 1

    def run(self, source: dict[str, list[Row]]) -> ImportReport:
        self._campaigns(source["campaign"])
        self._tasks(source["task"])
        labels = self._valid_labels(source["label"])
        self._worksets(source["workset"], source["workset_task"], labels)
        self._labels(labels)
        self._users([*source["workset"], *source["label"]])
        self._write()
        return self.report

    def _campaigns(self, rows: list[Row]) -> None:
        for row in rows:
            cid = row["id"]
            if cid in self.campaigns:
                theirs = (row["wiki"], self._utc(row["created"]))
                self._same("campaigns", cid, self.campaigns[cid][:2], theirs)
                continue
            problem = _campaign_problem(row)
            if problem is not None:
                self._reject("campaign", cid, row, "not valid for our schema", problem)
                continue
            key, created = (row["wiki"], row["name"]), self._at(row["created"])
            seq = self.name_seq[key] + 1 if key in self.name_seq else 0
            self.name_seq[key] = seq
            self.campaigns[cid] = (row["wiki"], created, DEFAULT_EXPIRY)
            kept = {k: row[k] for k in ("id", "wiki", "name", "form", "view", "info_url")}
            ours = {"name_seq": seq, "active": bool(row["active"]), "created": created}
            ours |= {k: row[k] for k in ("labels_per_task", "tasks_per_assignment")}
            ours |= {"workset_expiry": DEFAULT_EXPIRY, "sampling": "random"}
            self.new["campaigns"].append(kept | ours | {"holdout_fraction": 0.2})

    def _tasks(self, rows: list[Row]) -> None:
        for row in rows:
            tid, cid = row["id"], row["campaign_id"]
            if tid in self.task_campaign:
                self._same("tasks", tid, self.task_campaign[tid], cid)
            elif cid not in self.campaigns:
                self._reject("task", tid, row, "campaign not imported", f"campaign_id={cid}")
            else:
                self.task_campaign[tid] = cid
                self.touched.add(cid)
                # Seeded per task id, so that a later run gives the same task the same priority.
                priority = random.Random(f"{self.seed}:{tid}").random()
                task = {"id": tid, "campaign_id": cid, "data": row["data"], "assigned": 0}
                self.new["tasks"].append({**task, "priority": priority})

    def _valid_labels(self, rows: list[Row]) -> dict[Pair, Row]:
        valid: dict[Pair, Row] = {}
        for row in rows:
            key = (row["task_id"], row["user_id"])
            if row["task_id"] not in self.task_campaign:
                self._reject(
                    "label", f"{key[0]}:{key[1]}", row, "task does not exist (or was rejected)"
                )
            elif row["timestamp"] is None:
                self._reject("label", f"{key[0]}:{key[1]}", row, "timestamp is NULL")
            else:
                valid[key] = {**row, "timestamp": self._at(row["timestamp"])}
        return valid

    def _new_workset(self, row: Row) -> _Workset | None:
        missing = [k for k in ("user_id", "campaign_id", "created", "expires") if row[k] is None]
        if missing:
            self._reject("workset", row["id"], row, "not valid for our schema", f"{missing} NULL")
        elif row["campaign_id"] not in self.campaigns:
            self._reject("workset", row["id"], row, "campaign not imported")
        else:
            created, expires = self._at(row["created"]), self._at(row["expires"])
            return _Workset(
                row["id"], row["campaign_id"], row["user_id"], created, expires, "", True, row
            )
        return None

    def _worksets(self, rows: list[Row], members: list[Row], labels: dict[Pair, Row]) -> None:
        source_ids = set()
        for row in rows:
            wid = row["id"]
            source_ids.add(wid)
            if wid in self.worksets:
                ours = self.worksets[wid]
                theirs = (row["campaign_id"], row["user_id"], self._utc(row["created"]))
                self._same("worksets", wid, (ours.campaign_id, ours.user_id, ours.created), theirs)
            elif (workset := self._new_workset(row)) is not None:
                self.worksets[wid] = workset
        for row in members:
            wid, tid = row["workset_id"], row["task_id"]
            if (wid, tid) in self.pairs:
                self.report.skipped["workset_tasks"] += 1
                continue
            key, workset = f"{wid}:{tid}", self.worksets.get(wid)
            if workset is None:
                why = "workset not imported" if wid in source_ids else "workset does not exist"
                self._reject("workset_task", key, row, why)
                continue
            campaign_id = self.task_campaign.get(tid)
            if campaign_id != workset.campaign_id:
                detail = f"task in campaign {campaign_id}, workset in {workset.campaign_id}"
                self._reject("workset_task", key, row, "task of another campaign", detail)
                continue
            pair = (tid, workset.user_id)
            if pair in self.slots:
                detail = f"kept in workset {self.slots[pair].workset_id}"
                self._reject("workset_task", key, row, "task and user already in a workset", detail)
                continue
            self._add_slot(workset, pair, labels.get(pair))
        for workset in [w for w in self.worksets.values() if w.new and not w.rows]:
            del self.worksets[workset.id]
            assert workset.source is not None
            self._reject("workset", workset.id, workset.source, "no importable task")
        self._states()

    def _add_slot(self, workset: _Workset, pair: Pair, label: Row | None) -> None:
        if label is not None or pair in self.labels:
            state = LABELED
            when = label["timestamp"] if label is not None else self.labels[pair][1]
        elif workset.expires > self.now and workset.state in ("", OPEN):
            state, when = LEASED, workset.created
        else:
            state, when = EXPIRED, min(workset.expires, self.now)
        row: dict[str, Any] = {"workset_id": workset.id, "task_id": pair[0], "user_id": pair[1]}
        row |= {"campaign_id": workset.campaign_id, "state": state, "updated": when}
        row["position"] = self.positions[workset.id]
        self.positions[workset.id] += 1
        self.slots[pair] = _Slot(workset.id, state)
        workset.rows.append(row)
        self.new["workset_tasks"].append(row)
        self.touched.add(workset.campaign_id)

    def _states(self) -> None:
        """Open only the newest workset of a user in a campaign that still holds leases."""
        contenders: dict[Pair, list[_Workset]] = defaultdict(list)
        for workset in self.worksets.values():
            leased = any(row["state"] == LEASED for row in workset.rows)
            if (workset.new and leased) or (not workset.new and workset.state == OPEN):
                contenders[(workset.campaign_id, workset.user_id)].append(workset)
        for group in contenders.values():
            winner = max(group, key=lambda w: (w.created, w.id))
            if not any(w.new for w in group):
                continue
            for workset in group:
                if workset is winner:
                    workset.state = OPEN
                    continue
                for row in workset.rows:
                    if row["state"] == LEASED:
                        row["state"], row["updated"] = EXPIRED, self.now
                if not workset.new:
                    self.closed.append(workset.id)
                    self.touched.add(workset.campaign_id)
                workset.state = EXPIRED
        for workset in self.worksets.values():
            if workset.new and workset.state == "":
                done = all(row["state"] == LABELED for row in workset.rows)
                workset.state = COMPLETE if done else EXPIRED

    def _labels(self, labels: dict[Pair, Row]) -> None:
        orphans: dict[Pair, list[Row]] = defaultdict(list)
        for pair, row in labels.items():
            ours = self.labels.get(pair)
            if ours is not None:
                if ours == (row["data"], row["timestamp"]):
                    self.report.skipped["labels"] += 1
                elif row["timestamp"] >= ours[1]:
                    self.new["label_history"].append(
                        {"task_id": pair[0], "user_id": pair[1], "data": ours[0]}
                        | {"timestamp": ours[1], "replaced": self.now, "reason": "relabel"}
                    )
                    self.new["label_updates"].append(dict(row))
                else:
                    self.report.skipped["labels (newer in wikiloom)"] += 1
                continue
            if row["timestamp"] <= self.withdrawn.get(pair, row["timestamp"] - dt.timedelta(1)):
                self.report.skipped["labels (withdrawn in wikiloom)"] += 1
                continue
            self.new["labels"].append(dict(row))
            slot = self.slots.get(pair)
            if slot is None:
                orphans[(pair[1], self.task_campaign[pair[0]])].append(row)
            elif slot.state != LABELED:
                slot.state = LABELED
                key: dict[str, Any] = {"workset_id": slot.workset_id, "task_id": pair[0]}
                self.slot_updates.append(key | {"state": LABELED, "updated": row["timestamp"]})
                self.touched.add(self.task_campaign[pair[0]])
        for (user_id, campaign_id), rows in sorted(orphans.items()):
            self._synthetic(user_id, campaign_id, rows)

    def _synthetic(self, user_id: int, campaign_id: int, labels: list[Row]) -> None:
        wid = self.synthetic.get((user_id, campaign_id))
        if wid is None:
            wid, self.next_synthetic = self.next_synthetic, self.next_synthetic - 1
            created = min(row["timestamp"] for row in labels)
            expires = created + dt.timedelta(seconds=self.campaigns[campaign_id][2])
            workset = _Workset(wid, campaign_id, user_id, created, expires, COMPLETE, True)
            self.worksets[wid] = workset
            self.synthetic[(user_id, campaign_id)] = wid
        workset = self.worksets[wid]
        for row in sorted(labels, key=lambda r: r["task_id"]):
            self._add_slot(workset, (row["task_id"], user_id), row)
        task_ids = [row["task_id"] for row in labels]
        reason = "labels outside any workset of their user"
        self._event(
            SYNTHETIC,
            user_id,
            campaign_id,
            {"workset_id": wid, "task_ids": task_ids} | {"reason": reason},
        )

    def _users(self, rows: list[Row]) -> None:
        """Create a user for every user id met, first seen when their first row was made."""
        first: dict[int, dt.datetime] = {}
        for row in rows:
            when = self._utc(row.get("created") or row.get("timestamp")) or self.now
            if row["user_id"] is not None and row["user_id"] not in self.users:
                first[row["user_id"]] = min(when, first.get(row["user_id"], when))
        self.new["users"] = [
            {"id": u, "name": None, "created": t} for u, t in sorted(first.items())
        ]

    def _insert(self, entity: type[Any], name: str, rows: list[dict[str, Any]]) -> None:
        chunks = iter(rows)
        while chunk := list(islice(chunks, BATCH_SIZE)):
            # Core, not ORM: the ORM would turn an explicit None into the column default.
            self.session.execute(insert(entity.__table__), chunk)
        self.report.copied[name] += len(rows)

    def _write(self) -> None:
        s, new = self.session, self.new
        self._insert(Campaign, "campaigns", new["campaigns"])
        self._insert(User, "users", new["users"])
        self._insert(Task, "tasks", new["tasks"])
        if self.closed:  # before inserting the new open worksets: one open per user
            leases = WorksetTask.workset_id.in_(self.closed), WorksetTask.state == LEASED
            s.execute(update(WorksetTask).where(*leases).values(state=EXPIRED, updated=self.now))
            closing = update(Workset).where(Workset.id.in_(self.closed))
            s.execute(closing.values(state=EXPIRED, open_key=None))
            self.report.updated["worksets closed (a newer one is open)"] += len(self.closed)
        rows = [
            {"id": w.id, "campaign_id": w.campaign_id, "user_id": w.user_id, "state": w.state}
            | {
                "created": w.created,
                "expires": w.expires,
                "open_key": 1 if w.state == OPEN else None,
            }
            for w in self.worksets.values()
            if w.new
        ]
        self._insert(Workset, "worksets", rows)
        self._insert(WorksetTask, "workset_tasks", new["workset_tasks"])
        self._insert(Label, "labels", new["labels"])
        for entity, changes in ((WorksetTask, self.slot_updates), (Label, new["label_updates"])):
            if changes:  # ORM bulk UPDATE by primary key
                s.execute(update(entity), changes)
        self.report.updated["workset_tasks labeled"] += len(self.slot_updates)
        self.report.updated["labels"] += len(new["label_updates"])
        self._insert(LabelHistory, "label_history", new["label_history"])
        leased = exists().where(WorksetTask.workset_id == Workset.id, WorksetTask.state == LEASED)
        labeled = Workset.id.in_({u["workset_id"] for u in self.slot_updates})
        completed = s.execute(
            update(Workset)
            .where(Workset.state == OPEN, labeled, ~leased)
            .values(state=COMPLETE, open_key=None)
            .execution_options(synchronize_session=False)
        )
        self.report.updated["worksets completed"] += completed.rowcount  # type: ignore[attr-defined]
        self._insert(Event, "events", self.events)
        self._recount()

    def _recount(self) -> None:
        """Set each touched task's counter to its live leases, and resync PostgreSQL's ids."""
        if self.touched:
            live = (
                select(func.count())
                .where(WorksetTask.task_id == Task.id, WorksetTask.state.in_((LEASED, LABELED)))
                .correlate(Task)
                .scalar_subquery()
            )
            self.session.execute(
                update(Task)
                .where(Task.campaign_id.in_(self.touched))
                .values(assigned=live)
                .execution_options(synchronize_session=False)
            )
        if self.session.get_bind().dialect.name == "postgresql":
            for table in ("campaigns", "tasks", "worksets"):
                self.session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"GREATEST(COALESCE(MAX(id), 0), 0) + 1, false) FROM {table}"
                    )
                )
