"""Backups and restores on every engine: a whole database, filled through the services, round
trips to its own engine and to another one; damaged, foreign and newer files are refused with
nothing changed; the `wikiloom` command does the same."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import hashlib
import math
import os
import sqlite3
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from pydantic import SecretStr
from sqlalchemy import JSON, Engine, Text, cast, func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import fresh_database
from tests.labels.factories import GOOD_LABEL, campaign_with_tasks
from tests.learn.rounds_support import FORM, anonymous_damaging, make_campaign
from tests.support.models import SAMPLE, make_scorer, register
from wikiloom.backups import (
    batches,
    current_revision,
    decode,
    encode,
    read_header,
    scripts,
    write_backup,
)
from wikiloom.config import Settings
from wikiloom.db import Base, make_engine, session_factory, transaction
from wikiloom.errors import BadRequest, Conflict
from wikiloom.faces.answers import answer_face
from wikiloom.faces.boxes import Box
from wikiloom.faces.credentials import load_tokens, new_token_key, store_token, token_cipher
from wikiloom.faces.detection import DetectedImage
from wikiloom.faces.detection import Face as Found
from wikiloom.faces.images import NewImage, add_images, record_detection
from wikiloom.faces.projects import Category, ProjectSettings, add_member, create_project
from wikiloom.faces.scores import rescore
from wikiloom.faces.tables import Face, FaceImage
from wikiloom.faces.writer import queue_edits
from wikiloom.jobs.politeness import reserve
from wikiloom.jobs.runs import Run, claim
from wikiloom.labels.campaigns import create_campaign
from wikiloom.labels.labeling import save_label
from wikiloom.labels.organizers import add_organizer
from wikiloom.labels.proposals import load_source, propose_form
from wikiloom.labels.tables import Campaign
from wikiloom.labels.tasks import insert_tasks
from wikiloom.labels.worksets import assign_workset, workset_tasks
from wikiloom.learn.datasets import read_dataset
from wikiloom.learn.featurestore import store_vectors
from wikiloom.learn.feedback import Author, give_feedback
from wikiloom.learn.governance import comment_on, open_request
from wikiloom.learn.registry import TrainedModel, get_model, register_version
from wikiloom.learn.rounds import run_round
from wikiloom.learn.tables import FeatureVector
from wikiloom.migrations import downgrade, upgrade
from wikiloom.restores import restore_backup
from wikiloom.scoring.scores import ScoreRequest

Factory = sessionmaker[Session]
Contents = dict[str, dict[tuple[Any, ...], dict[str, Any]]]
TIERS = {"sqlite": "sqlite", "postgresql": "postgres", "mysql": "mariadb"}
#: Where each engine's backup is restored besides its own engine.
OTHER = {"sqlite": "postgres", "postgres": "mariadb", "mariadb": "sqlite"}
LABELER, ORGANIZER, OWNER, MEMBER, CRITIC = 1, 2, 101, 102, 103
TOKEN_KEY = new_token_key()
DATASET = read_dataset(SAMPLE, "reverted")
STORED = tuple(int(rev_id) for rev_id in (DATASET.ids or ())[:5])
PROPOSED_FORM = """\
name: backup_demo
fields:
  - class: FieldLayout
    label: "<q>"
    fieldWidget:
      class: ButtonSelectWidget
      name: answer
      items:
        - {class: ButtonOptionWidget, data: true, label: "<yes>"}
        - {class: ButtonOptionWidget, data: false, label: "<no>"}
"""


# --- filling a database through the services ---------------------------------------------------


def fill_labels(sessions: Factory) -> int:
    """A campaign with labels (one relabelled), an active-learning round and an organizer."""
    campaign_id = make_campaign(sessions, 60, tasks_per_assignment=30, retrain_every=20)
    truth = anonymous_damaging()
    with transaction(sessions, write=True) as session:
        workset = assign_workset(session, campaign_id, LABELER)
        held = workset_tasks(session, workset.id)
        for task in held:
            data = {
                "damaging": truth.get(task.data["rev_id"], False),
                "goodfaith": True,
                "unsure": False,
            }
            save_label(
                session,
                form=FORM,
                workset_id=workset.id,
                task_id=task.id,
                user_id=LABELER,
                data=data,
            )
        save_label(
            session,
            form=FORM,
            workset_id=workset.id,
            task_id=held[0].id,
            user_id=LABELER,
            data={**GOOD_LABEL, "unsure": True},
        )
        add_organizer(session, campaign_id, ORGANIZER)
    with transaction(sessions, write=True) as session:
        run_round(session, campaign_id)
    return campaign_id


def fill_models(sessions: Factory, trained: TrainedModel) -> None:
    """A served model with its file, feedback on a score, a change request, a form proposal."""
    register(sessions, trained, "enwiki")
    with transaction(sessions, write=True) as session:
        model = get_model(session, "enwiki", "reverted")
        critic = Author(CRITIC, "Critic")
        give_feedback(
            session,
            "enwiki",
            "reverted",
            STORED[0],
            verdict="disagree",
            correct_label=True,
            comment="This was vandalism.",
            user=critic,
        )
        give_feedback(session, "enwiki", "reverted", STORED[1], verdict="agree", user=critic)
        opened = open_request(
            session,
            model,
            kind="retrain",
            title="Retrain on new labels",
            body="Vandals changed tactics.",
            user_id=CRITIC,
            user_name="Critic",
        )
        comment_on(
            session, model, opened.id, body="Seen it too.", user_id=ORGANIZER, user_name="Organizer"
        )
        source = load_source(PROPOSED_FORM, {"en": {"q": "Q?", "yes": "Yes", "no": "No"}}, "bd")
        propose_form(session, source, note="A yes/no form.", user_id=CRITIC, user_name="Critic")


def fill_jobs(sessions: Factory) -> None:
    """Job runs (done with a result, done with a JSON null, running: SQL NULL) and a gate."""
    with transaction(sessions, write=True) as session:
        for key, result in (("export:1", {"lines": 3}), ("export:2", None), ("export:3", ...)):
            claimed = claim(
                session, key, "export", {"campaign_id": 1}, stale_after=60, worker="host:1"
            )
            if result is not ...:
                Run(claimed.key, "host:1", claimed.attempts, claimed.progress).finish(
                    session, result
                )
        reserve(session, "enwiki", 0.5)


def person(seed: int, count: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(scale=0.09, size=128) + rng.normal(scale=0.03, size=(count, 128))


def fill_faces(sessions: Factory, settings: Settings) -> None:
    """A face project: members, detected images with encodings, answers, scores, edits, and
    a user's OAuth tokens (encrypted)."""
    project = ProjectSettings(
        wiki="commonswiki",
        qid="Q76",
        name="Obama",
        categories=(Category("Barack Obama", 1),),
        label="Barack Obama",
    )
    encodings = [*person(1, 6), *person(2, 4)]
    with transaction(sessions, write=True) as session:
        project_id = create_project(session, project, OWNER, "Owner").id
        add_member(session, project_id, OWNER, MEMBER, "Member")
        add_images(
            session,
            project_id,
            [NewImage(1000 + i, f"File:P{i}.jpg", None) for i in range(len(encodings))],
        )
        images = session.scalars(select(FaceImage).order_by(FaceImage.id)).all()
        for image, encoding in zip(images, encodings, strict=True):
            found = (Found(Box(10, 60, 60, 10), encoding),)
            record_detection(session, image.id, DetectedImage(500, 400, found))
        faces = list(session.scalars(select(Face.id).order_by(Face.id)))
        for face in faces[:3]:
            answer_face(session, face, MEMBER, "yes")
        for face in faces[6:8]:
            answer_face(session, face, MEMBER, "no")
        rescore(session, project_id)
        queue_edits(session, project_id, MEMBER)
        cipher = token_cipher(settings.model_copy(update={"token_key": SecretStr(TOKEN_KEY)}))
        store_token(
            session,
            cipher,
            OWNER,
            {"access_token": "owner-access", "refresh_token": "owner-refresh", "expires_in": 3600},
        )


def fill(sessions: Factory, settings: Settings, trained: TrainedModel) -> None:
    """Every table gets rows, through the services."""
    fill_labels(sessions)
    fill_models(sessions, trained)
    fill_jobs(sessions)
    fill_faces(sessions, settings)


# --- reading and comparing databases -------------------------------------------------------------


def contents(engine: Engine) -> Contents:
    """Every table's rows by primary key; a JSON value as ("json", value), apart from NULL."""
    out: Contents = {}
    with engine.connect() as connection:
        for source in Base.metadata.sorted_tables:
            json = {c.name for c in source.columns if isinstance(c.type, JSON)}
            columns = [cast(c, Text).label(c.name) if c.name in json else c for c in source.columns]
            rows = connection.execute(select(*columns)).mappings()
            out[source.name] = {
                tuple(row[c.name] for c in source.primary_key.columns): {
                    name: ("json", orjson.loads(value))
                    if name in json and value is not None
                    else value
                    for name, value in row.items()
                }
                for row in rows
            }
    return out


def same(a: Any, b: Any, approximate: bool) -> bool:
    if approximate and isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-12)  # 6 significant digits
    return bool(a == b) and type(a) is type(b)


def assert_same(before: Contents, after: Contents, *, approximate: bool = False) -> None:
    """Equal row by row; `approximate` for floats through MariaDB's single-precision FLOAT."""
    assert set(after) == set(before)
    for name, rows in before.items():
        assert set(after[name]) == set(rows), f"{name}: other primary keys"
        for key, row in rows.items():
            other = after[name][key]
            wrong = [c for c in row if not same(row[c], other[c], approximate)]
            assert not wrong, f"{name} {key}: {[(c, row[c], other[c]) for c in wrong]}"


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[Callable[[str, str], Engine]]:
    """Open empty databases (no tables) on a tier, by name; disposed at the end."""
    engines: list[Engine] = []

    def open_database(tier: str, name: str) -> Engine:
        if tier == "sqlite":
            url = f"sqlite:///{tmp_path / name}.db"
        else:
            url = fresh_database(tier, f"wikiloom_{name}")
        engine = make_engine(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
        engines.append(engine)
        return engine

    yield open_database
    for engine in engines:
        engine.dispose()


def tier_of(engine: Engine) -> str:
    return TIERS[engine.dialect.name]


def still_works(engine: Engine, before: Contents, trained: TrainedModel) -> None:
    """New rows get fresh ids, the restored campaign hands out worksets and the restored model
    scores the restored features; the tokens still decrypt."""
    sessions = session_factory(engine)
    top = {name: max(key[0] for key in rows) for name, rows in before.items() if rows}
    with transaction(sessions, write=True) as session:
        old = session.scalars(select(Campaign.id).order_by(Campaign.id)).first()
        assert old is not None
        workset = assign_workset(session, old, 7)  # tasks nobody labeled yet
        campaign = create_campaign(
            session,
            wiki="enwiki",
            name="After the restore",
            form="damaging_and_goodfaith",
            view="DiffToPrevious",
            labels_per_task=1,
            tasks_per_assignment=2,
            known_forms=[FORM.key],
        )
        insert_tasks(session, campaign.id, [orjson.dumps({"rev_id": r}) for r in STORED], seed=1)
        fresh = assign_workset(session, campaign.id, 7)
        task = workset_tasks(session, fresh.id)[0]
        save_label(
            session, form=FORM, workset_id=fresh.id, task_id=task.id, user_id=7, data=GOOD_LABEL
        )
        version = register_version(session, get_model(session, "enwiki", "reverted"), trained)
        store_vectors(session, "enwiki", "backup.test", 1, 1, {1: [0.5]})
        vector = session.scalar(select(func.max(FeatureVector.id)))
        project = create_project(
            session,
            ProjectSettings(
                wiki="commonswiki",
                qid="Q6279",
                name="Biden",
                categories=(Category("Joe Biden", 0),),
            ),
            OWNER,
        )
        keys = Settings(token_key=SecretStr(TOKEN_KEY), _env_file=None)  # type: ignore[call-arg]
        tokens = load_tokens(session, token_cipher(keys), OWNER)
        assert tokens is not None
        assert tokens.access_token == "owner-access"
    assert workset.id > top["worksets"]
    assert campaign.id > top["campaigns"]
    assert task.id > top["tasks"]
    assert version.id > top["model_versions"]
    assert (vector or 0) > top["feature_vectors"]
    assert project.id > top["face_projects"]
    scores = asyncio.run(make_scorer(sessions).score(ScoreRequest("enwiki", STORED))).scores
    expected = trained.estimator.predict_proba(DATASET.X[:5])[:, 1]
    for rev_id, p in zip(STORED, expected, strict=True):
        assert scores[rev_id]["reverted"]["score"]["probability"]["true"] == pytest.approx(p)


def recorder(seen: set[tuple[str, str]]) -> Callable[[str, str, int, int | None], None]:
    """A progress callback that notes the (stage, table) pairs it is told of."""
    return lambda stage, table, _, __: seen.add((stage, table))


# --- round trips -------------------------------------------------------------------------------


def test_a_whole_database_round_trips_to_its_engine_and_to_another(
    engine: Engine,
    sessions: Factory,
    settings: Settings,
    sample_trained: TrainedModel,
    databases: Callable[[str, str], Engine],
    tmp_path: Path,
) -> None:
    fill(sessions, settings, sample_trained)
    before = contents(engine)
    assert [name for name, rows in before.items() if not rows] == []  # every table has rows
    seen: dict[str, int] = {}
    path = tmp_path / "wikiloom.backup"
    summary = write_backup(
        engine, path, progress=lambda _, table, rows, __: seen.__setitem__(table, rows)
    )
    assert summary.tables == {name: len(rows) for name, rows in before.items()} == seen
    assert summary.revision == scripts().get_current_head()
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # it holds users' (encrypted) tokens

    tier = tier_of(engine)
    for target_tier in (tier, OTHER[tier]):
        target = databases(target_tier, f"restored_{target_tier}")
        reported: set[tuple[str, str]] = set()
        restored = restore_backup(target, path, progress=recorder(reported))
        assert reported == {(stage, t) for stage in ("check", "restore") for t in summary.tables}
        assert restored.tables == summary.tables
        assert restored.dialect == engine.dialect.name
        approximate = "mariadb" in (tier, target_tier) and tier != target_tier
        assert_same(before, contents(target), approximate=approximate)
        still_works(target, before, sample_trained)


def test_a_backup_is_one_snapshot_while_the_app_writes(
    engine: Engine,
    sessions: Factory,
    databases: Callable[[str, str], Engine],
    tmp_path: Path,
) -> None:
    with transaction(sessions, write=True) as session:
        campaign_with_tasks(session, 5)
    before = contents(engine)
    written: list[int] = []

    def meanwhile(stage: str, table: str, rows: int, total: int | None) -> None:
        """Once the backup has begun, a campaign and its tasks are committed."""
        if not written:
            with transaction(sessions, write=True) as session:
                written.append(campaign_with_tasks(session, 3, name="written meanwhile").id)

    summary = write_backup(engine, tmp_path / "wikiloom.backup", progress=meanwhile)
    assert written
    assert summary.tables == {name: len(rows) for name, rows in before.items()}
    target = databases(tier_of(engine), "snapshot")
    restore_backup(target, tmp_path / "wikiloom.backup")
    assert_same(before, contents(target))


# --- refusals ----------------------------------------------------------------------------------


def rewrite(
    source: Path,
    out: Path,
    *,
    header: Callable[[dict[str, Any]], None] | None = None,
    rows: Callable[[str, list[Any]], list[Any]] | None = None,
    rehash: bool = True,
) -> None:
    """A copy of a backup with its header or rows changed; counts and checksums recomputed
    unless `rehash` is false."""
    meta = read_header(source)
    tables: dict[str, list[bytes]] = {entry["name"]: [] for entry in meta["tables"]}
    for entry, lines in batches(source, meta):
        tables[entry["name"]] += lines
    if rows is not None:
        tables = {
            n: [orjson.dumps(rows(n, orjson.loads(x))) + b"\n" for x in lines]
            for n, lines in tables.items()
        }
    if rehash:
        for entry in meta["tables"]:
            lines = tables[entry["name"]]
            entry["rows"], entry["sha256"] = len(lines), hashlib.sha256(b"".join(lines)).hexdigest()
    if header is not None:
        header(meta)
    with out.open("wb") as raw:
        raw.write(gzip.compress(orjson.dumps(meta) + b"\n"))
        for entry in meta["tables"]:
            marker = orjson.dumps({"table": entry["name"]}) + b"\n"
            raw.write(gzip.compress(marker + b"".join(tables.get(entry["name"], []))))


def members(path: Path) -> list[tuple[int, int]]:
    """(offset, length) of each gzip member of a file."""
    data, spans, offset = path.read_bytes(), [], 0
    while offset < len(data):
        inflater = zlib.decompressobj(wbits=31)
        inflater.decompress(data[offset:])
        length = len(data) - offset - len(inflater.unused_data)
        spans.append((offset, length))
        offset += length
    return spans


def test_damaged_foreign_and_newer_files_and_occupied_databases_are_refused(
    engine: Engine,
    sessions: Factory,
    databases: Callable[[str, str], Engine],
    tmp_path: Path,
) -> None:
    with transaction(sessions, write=True) as session:
        campaign = campaign_with_tasks(session, 8)
        workset = assign_workset(session, campaign.id, LABELER)
        task = workset_tasks(session, workset.id)[0]
        save_label(
            session,
            form=FORM,
            workset_id=workset.id,
            task_id=task.id,
            user_id=LABELER,
            data=GOOD_LABEL,
        )
    path = tmp_path / "wikiloom.backup"
    write_backup(engine, path)
    before = contents(engine)
    empty = databases(tier_of(engine), "refusing")

    def refused(file: Path, error: type[Exception], message: str, *, force: bool = True) -> None:
        """Refused, the source (even with --force) and an empty database unchanged."""
        for target in (engine, empty):
            with pytest.raises(error, match=message):
                restore_backup(target, file, force=force)
        assert_same(before, contents(engine))
        assert inspect(empty).get_table_names() == []

    with pytest.raises(Conflict, match=r"not empty: campaigns \(1 rows\), .*pass --force"):
        restore_backup(engine, path)
    assert_same(before, contents(engine))

    # A byte flipped inside the biggest table's compressed rows.
    biggest = max(range(1, len(members(path))), key=lambda i: members(path)[i][1])
    offset, length = members(path)[biggest]
    damaged = tmp_path / "damaged.backup"
    data = bytearray(path.read_bytes())
    data[offset + length // 2] ^= 0x5A
    damaged.write_bytes(bytes(data))
    name = read_header(path)["tables"][biggest - 1]["name"]
    refused(damaged, BadRequest, f"damaged.*table '{name}'")

    # A row changed, the file otherwise well formed: its table's checksum says so.
    def renamed(table: str, row: list[Any]) -> list[Any]:
        return [*row[:2], "Tampered", *row[3:]] if table == "campaigns" else row

    tampered = tmp_path / "tampered.backup"
    rewrite(path, tampered, rows=renamed, rehash=False)
    refused(tampered, BadRequest, "SHA-256 checksum of table 'campaigns' does not match")

    truncated = tmp_path / "truncated.backup"
    truncated.write_bytes(path.read_bytes()[: members(path)[-1][0] + 20])
    refused(truncated, BadRequest, "damaged")

    newer = tmp_path / "newer.backup"
    rewrite(path, newer, header=lambda meta: meta.update(revision="9999_from_the_future"))
    refused(newer, Conflict, "revision 9999_from_the_future, newer than this wikiloom")

    foreign = tmp_path / "foreign.jsonl.gz"
    foreign.write_bytes(gzip.compress(b'{"some": "json"}\n'))
    refused(foreign, BadRequest, "not a wikiloom backup")
    plain = tmp_path / "plain.txt"
    plain.write_text("campaigns,tasks\n")
    refused(plain, BadRequest, r"not a wikiloom backup \(not a gzip file\)")
    refused(tmp_path / "missing.backup", BadRequest, "cannot read")

    # --force replaces what the database holds, in the load's transaction.
    with transaction(sessions, write=True) as session:
        campaign_with_tasks(session, 3, name="made after the backup")
    restore_backup(engine, path, force=True)
    assert_same(before, contents(engine))


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_database_not_at_the_head_is_not_backed_up(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    previous = scripts().get_revision(scripts().get_current_head()).down_revision
    assert isinstance(previous, str)
    downgrade(settings.database_url, previous)
    with pytest.raises(Conflict, match=f"at schema revision {previous}.*wikiloom db upgrade"):
        write_backup(engine, tmp_path / "old.backup")
    assert not (tmp_path / "old.backup").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".old")] == []
    upgrade(settings.database_url)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_backup_of_an_older_schema_is_restored_at_its_revision_then_upgraded(
    engine: Engine,
    sessions: Factory,
    settings: Settings,
    sample_trained: TrainedModel,
    databases: Callable[[str, str], Engine],
    tmp_path: Path,
) -> None:
    fill(sessions, settings, sample_trained)
    before = contents(engine)
    path, older = tmp_path / "head.backup", tmp_path / "older.backup"
    write_backup(engine, path)
    previous = scripts().get_revision(scripts().get_current_head()).down_revision
    assert isinstance(previous, str)
    scratch = f"sqlite:///{tmp_path / 'scratch.db'}"
    upgrade(scratch, previous)
    old = make_engine(Settings(database_url=scratch, _env_file=None))  # type: ignore[call-arg]
    schema = inspect(old)
    then = {
        name: {c["name"] for c in schema.get_columns(name)} for name in schema.get_table_names()
    }
    old.dispose()
    meta = read_header(path)
    kept = {
        e["name"]: [i for i, (c, _) in enumerate(e["columns"]) if c in then.get(e["name"], ())]
        for e in meta["tables"]
    }

    def at_previous(header: dict[str, Any]) -> None:
        header["revision"] = previous
        header["tables"] = [e for e in header["tables"] if e["name"] in then]
        for entry in header["tables"]:
            entry["columns"] = [entry["columns"][i] for i in kept[entry["name"]]]

    rewrite(path, older, header=at_previous, rows=lambda n, row: [row[i] for i in kept[n]])
    target = databases("sqlite", "older")
    assert restore_backup(target, older).revision == previous
    # --force on a database at the head: emptied first, migrated down, loaded, upgraded.
    assert restore_backup(engine, older, force=True).revision == previous
    for restored in (target, engine):
        after = contents(restored)
        with restored.connect() as connection:
            assert current_revision(connection) == meta["revision"]
        for name, rows in before.items():
            if name not in then:
                assert after[name] == {}, f"{name} is newer than the backup"
                continue
            assert_same({name: project(rows, then[name])}, {name: project(after[name], then[name])})
    assert restore_backup(databases("sqlite", "head"), path).revision == meta["revision"]


def project(rows: dict[tuple[Any, ...], dict[str, Any]], columns: set[str]) -> dict[Any, Any]:
    """The rows with only these columns."""
    return {key: {c: v for c, v in row.items() if c in columns} for key, row in rows.items()}


# --- the cells -----------------------------------------------------------------------------------


def test_cells_keep_their_values_exactly() -> None:
    moment = dt.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    for codec, value, bound in [
        ("float", 0.1 + 0.2, 0.30000000000000004),
        ("float", -0.0, -0.0),
        ("float", 1e308, 1e308),
        ("float", float("inf"), float("inf")),
        ("int", 2**63 - 1, 2**63 - 1),
        ("bool", True, True),
        ("str", "ünïcødé\u200f\n\"'", "ünïcødé\u200f\n\"'"),
        ("decimal", Decimal("1.10"), Decimal("1.10")),
        ("bytes", bytes(range(256)), bytes(range(256))),
        ("datetime", moment, dt.datetime(2024, 2, 29, 21, 59, 58, 123456)),
        ("json", '{"a": [1.5, null]}', {"a": [1.5, None]}),
        ("json", None, None),
    ]:
        cell = orjson.loads(orjson.dumps(encode(codec, value)))
        restored = decode(codec, cell)
        assert restored == bound, (codec, value, restored)
        assert type(restored) is type(bound), (codec, value, restored)
    assert str(decode("float", encode("float", float("-inf")))) == "-inf"
    assert math.isnan(decode("float", orjson.loads(orjson.dumps(encode("float", float("nan"))))))
    assert decode("json", encode("json", "null")) is JSON.NULL  # JSON null, not SQL NULL


# --- the command line ---------------------------------------------------------------------------


def wikiloom(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("wikiloom")), *args]
    env = {**os.environ, "WIKILOOM_DATABASE_URL": url}
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_the_commands_round_trip_an_sqlite_database(
    engine: Engine,
    sessions: Factory,
    settings: Settings,
    sample_trained: TrainedModel,
    tmp_path: Path,
) -> None:
    fill(sessions, settings, sample_trained)
    before = contents(engine)
    source, target = settings.database_url, f"sqlite:///{tmp_path / 'restored.db'}"
    done = wikiloom("backup", "wikiloom.backup", url=source, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = sum(map(len, before.values()))
    assert f"{rows:,} rows of {len(before)} tables backed up to wikiloom.backup" in done.stdout

    done = wikiloom("restore", "wikiloom.backup", url=target, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"{rows:,} rows of {len(before)} tables restored" in done.stdout
    restored = make_engine(Settings(database_url=target, _env_file=None))  # type: ignore[call-arg]
    assert_same(before, contents(restored))

    again = wikiloom("restore", "wikiloom.backup", url=target, cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.startswith("error: the target database is not empty")
    with transaction(session_factory(restored), write=True) as session:
        campaign_with_tasks(session, 2, name="replaced by the restore")
    forced = wikiloom("restore", "wikiloom.backup", "--force", url=target, cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert_same(before, contents(restored))
    restored.dispose()

    snapshot = wikiloom("backup", "copy.db", "--format", "sqlite", url=source, cwd=tmp_path)
    assert snapshot.returncode == 0, snapshot.stderr
    with closing(sqlite3.connect(tmp_path / "copy.db")) as copy:
        assert copy.execute("SELECT COUNT(*) FROM tasks").fetchone() == (len(before["tasks"]),)
    refused = wikiloom("restore", "copy.db", url=target, cwd=tmp_path)
    assert refused.returncode == 1
    assert "is an SQLite database (such as a `--format sqlite` snapshot)" in refused.stderr
