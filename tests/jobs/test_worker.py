"""Jobs on real workers and real brokers: a worker killed mid-job, a job delivered twice.

The workers are `wikiloom worker` processes; the brokers are the Redis and RabbitMQ of this
machine and the embedded SQLite transport; the wiki is the local MediaWiki.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.jobs.test_training import labelled_campaign
from tests.learn.rounds_support import label, make_campaign
from tests.support.mediawiki import USER_AGENT, MediaWiki, history_dump
from tests.support.workers import Workers, job_settings, reachable_broker, workers_of
from wikiloom.config import Settings
from wikiloom.db import transaction
from wikiloom.errors import ServiceUnavailable
from wikiloom.jobs.engine import create_celery, enqueue
from wikiloom.jobs.runs import get_run
from wikiloom.jobs.tables import DONE, JobRun
from wikiloom.labels.campaigns import create_campaign
from wikiloom.labels.tables import CampaignRound
from wikiloom.labels.tasks import insert_tasks
from wikiloom.learn.featuresets import feature_set
from wikiloom.learn.featurestore import store_vectors
from wikiloom.learn.registry import get_model, versions_of
from wikiloom.learn.tables import FeatureVector

pytestmark = pytest.mark.slow

#: Revisions of the killed job: 10 batches of 3, at least 0.6 s apart (the politeness gate).
REVISIONS, BATCH, INTERVAL = 30, 3, 0.6


@pytest.fixture(scope="module")
def revisions(mediawiki: MediaWiki) -> list[int]:
    """Thirty imported revisions of two pages of the local wiki."""
    tag = uuid.uuid4().hex[:6]
    prefix = f"Worker page {tag}"
    editors = [f"Worker editor {tag} {n}" for n in range(2)]
    mediawiki.create_users(editors)
    mediawiki.import_dump(history_dump(prefix, pages=2, revisions=15, editors=editors))
    rev_ids = [rev_id for p in range(2) for rev_id in mediawiki.history(f"{prefix} {p}")]
    assert len(rev_ids) == REVISIONS
    return rev_ids


def wait_for(predicate: object, timeout: float, message: str, workers: Workers) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {name}\n{log}" for name, log in workers.logs().items())
            raise AssertionError(f"{message}\n{logs}")
        time.sleep(0.1)


def run_of(sessions: sessionmaker[Session], key: str) -> JobRun | None:
    with transaction(sessions) as session:
        return session.get(JobRun, key)


def task_campaign(sessions: sessionmaker[Session], wiki: str, rev_ids: list[int]) -> int:
    with transaction(sessions, write=True) as session:
        campaign = create_campaign(
            session, wiki=wiki, name=f"Crawl {uuid.uuid4().hex[:6]}", form="damaging_and_goodfaith",
            view="DiffToPrevious", labels_per_task=1, tasks_per_assignment=10,
            known_forms=["damaging_and_goodfaith"],
        )  # fmt: skip
        insert_tasks(session, campaign.id, (orjson.dumps({"rev_id": r}) for r in rev_ids))
        return campaign.id


@pytest.mark.parametrize(
    ("settings", "broker"),
    # Redis gives the job back after its visibility timeout, RabbitMQ when the connection
    # drops; the SQLite transport never does: there the scheduler's `recover` sends it again.
    [("postgres", "redis"), ("mariadb", "rabbitmq"), ("sqlite", "sqlite")],
    indirect=["settings"],
)
def test_a_job_whose_worker_is_killed_completes_on_another_once(
    settings: Settings,
    sessions: sessionmaker[Session],
    mediawiki: MediaWiki,
    revisions: list[int],
    broker: str,
    tmp_path: Path,
) -> None:
    url = reachable_broker(broker, tmp_path)
    local = job_settings(
        settings, url,
        user_agent=USER_AGENT, wikis={mediawiki.dbname: mediawiki.api_url},
        job_batch_size=BATCH, wiki_job_interval=INTERVAL,
        job_stale_after=2.0, job_visibility_timeout=4.0,
    )  # fmt: skip
    campaign_id = task_campaign(sessions, mediawiki.dbname, revisions)
    with workers_of(local, tmp_path) as workers:
        first, second = workers.start("first", "second")
        if broker == "sqlite":
            workers.start_scheduler()
        key = enqueue(create_celery(local), "extract_features", campaign_id=campaign_id)

        def stored() -> dict[int, dt.datetime]:
            with transaction(sessions) as session:
                rows = session.execute(select(FeatureVector.rev_id, FeatureVector.created))
                return dict(rows.all())

        def two_batches_in() -> bool:
            run = run_of(sessions, key)
            return run is not None and run.progress.get("stored", 0) >= 2 * BATCH

        wait_for(two_batches_in, 30, "the job never got two batches in", workers)
        run = run_of(sessions, key)
        assert run is not None
        holder = first if first.holds(int(run.worker.rsplit(":", 1)[1])) else second
        survivor = second if holder is first else first
        holder.kill()
        before = stored()
        assert 2 * BATCH <= len(before) < REVISIONS, "the kill must land mid-job"

        def done() -> bool:
            run = run_of(sessions, key)
            return run is not None and run.status == DONE

        wait_for(done, 60, "the job did not complete on the surviving worker", workers)
        finished = run_of(sessions, key)
        assert finished is not None
        assert survivor.holds(int(finished.worker.rsplit(":", 1)[1]))
        assert finished.attempts >= 2
        after = stored()
        assert sorted(after) == sorted(revisions)  # nothing lost
        assert {rev_id: after[rev_id] for rev_id in before} == before  # nothing redone
        assert finished.progress["stored"] == REVISIONS  # each revision stored once
        assert finished.result["stored"] == REVISIONS


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_training_job_delivered_three_times_registers_one_version(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    rev_ids = list(range(1000, 1040))
    campaign_id = labelled_campaign(sessions, "testwiki", rev_ids)
    features = feature_set("ores.enwiki.demo", "en")
    width = len(features.get_feature_names_out())
    with transaction(sessions, write=True) as session:
        vectors = {
            rev_id: [float(position % 2), *[float(rev_id % 7)] * (width - 1)]
            for position, rev_id in enumerate(rev_ids)
        }
        store_vectors(session, "testwiki", features.name, features.version, width, vectors)
    local = job_settings(settings, reachable_broker("sqlite", tmp_path))
    with workers_of(local, tmp_path) as workers:
        workers.start("only", concurrency=2)
        app = create_celery(local)
        arguments = {"campaign_id": campaign_id, "field": "damaging", "feature_set": features.name}
        keys = {enqueue(app, "train", key="train-once", **arguments) for _ in range(3)}
        assert keys == {"train-once"}
        wait_for(lambda: (r := run_of(sessions, "train-once")) is not None and r.status == DONE,
                 90, "the training job did not finish", workers)  # fmt: skip
        enqueue(app, "train", key="train-once", **arguments)  # once more, after it is done
        time.sleep(2)
        with transaction(sessions) as session:
            model = get_model(session, "testwiki", "damaging")
            assert [v.version for v in versions_of(session, model)] == ["1.0"]
            run = get_run(session, "train-once")
            assert run.result == {"wiki": "testwiki", "model": "damaging", "version": "1.0"}
            assert session.scalar(select(func.count()).select_from(JobRun)) == 1


def test_enqueueing_to_a_broker_that_is_down_fails_loudly(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=f"sqlite:///{tmp_path}/w.db",
        broker_url="redis://127.0.0.1:1/0",
    )
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match="broker refused export"):
        enqueue(create_celery(settings), "export", campaign_id=1)
    assert time.monotonic() - started < 15


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_the_scheduler_retrains_a_campaign_after_every_n_new_labels(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    campaign_id = make_campaign(sessions, 300, deleted=(), retrain_every=40)
    label(sessions, campaign_id, 1, 60)
    local = job_settings(settings, reachable_broker("sqlite", tmp_path), round_check_interval=1.0)

    def rounds() -> list[tuple[int, int]]:
        with transaction(sessions) as session:
            query = select(CampaignRound.number, CampaignRound.labeled_tasks)
            return [tuple(row) for row in session.execute(query.order_by(CampaignRound.number))]

    with workers_of(local, tmp_path) as workers:
        workers.start("only", concurrency=2)
        workers.start_scheduler()
        wait_for(lambda: rounds() == [(1, 60)], 60, "no round after 60 labels", workers)
        time.sleep(3)  # three more ticks: the campaign is not due again
        assert rounds() == [(1, 60)]
        label(sessions, campaign_id, 2, 40)
        wait_for(lambda: len(rounds()) == 2, 60, "no round after 40 more labels", workers)
        assert rounds() == [(1, 60), (2, 100)]
        with transaction(sessions) as session:
            keys = session.scalars(select(JobRun.key).where(JobRun.name == "round"))
            assert set(keys) == {f"round:{campaign_id}:60", f"round:{campaign_id}:100"}
