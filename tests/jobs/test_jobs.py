"""The export, crawl and precache jobs, called as a worker calls them (with a claimed run)."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.jobs.test_training import labelled_campaign
from tests.support.mediawiki import USER_AGENT, MediaWiki
from tests.support.models import SAMPLE, make_scorer, register
from wikiloom.config import Settings
from wikiloom.db import transaction
from wikiloom.errors import BadRequest
from wikiloom.jobs.crawl import crawl_recent_changes
from wikiloom.jobs.export import export_campaign
from wikiloom.jobs.precache import precache_revisions
from wikiloom.jobs.runs import Run, claim, get_run
from wikiloom.jobs.tables import DONE
from wikiloom.labels.campaigns import create_campaign
from wikiloom.labels.tables import Task
from wikiloom.learn.datasets import read_dataset
from wikiloom.learn.registry import TrainedModel
from wikiloom.scoring.cache import score_key


def claimed(sessions: sessionmaker[Session], key: str, name: str) -> Run:
    with transaction(sessions, write=True) as session:
        found = claim(session, key, name, {}, stale_after=60, worker="test:1")
    return Run(found.key, "test:1", found.attempts, found.progress)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_an_export_appears_whole_and_pseudonymous(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    campaign_id = labelled_campaign(sessions, "enwiki", [11, 12, 13])
    local = settings.model_copy(update={"export_dir": tmp_path / "out", "secret_key": "s"})
    result = export_campaign(local, sessions, campaign_id, run=claimed(sessions, "e1", "export"))
    path = Path(result["path"])
    assert path.parent == (tmp_path / "out").resolve()
    lines = [orjson.loads(line) for line in path.read_text().splitlines()]
    assert result["lines"] == len(lines) == 6  # 3 tasks x 2 labelers
    assert {line["user_id"] for line in lines} != {1, 2}  # keyed hashes, not user ids
    assert all(line.get("user") is None for line in lines)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no partial file left
    with transaction(sessions) as session:
        run = get_run(session, "e1")
        assert (run.status, run.result) == (DONE, result)
    with pytest.raises(BadRequest, match="needs WIKILOOM_SECRET_KEY"):
        export_campaign(settings.model_copy(update={"export_dir": tmp_path}), sessions, 1)
    with pytest.raises(BadRequest, match="unknown export format 'xml'"):
        export_campaign(local, sessions, campaign_id, fmt="xml")


def test_a_crawl_adds_the_wikis_new_edits_once(
    settings: Settings, sessions: sessionmaker[Session], mediawiki: MediaWiki
) -> None:
    local = settings.model_copy(
        update={
            "user_agent": USER_AGENT,
            "wikis": {mediawiki.dbname: mediawiki.api_url},
            "wiki_job_interval": 0.0,
        }
    )
    with transaction(sessions, write=True) as session:
        campaign = create_campaign(
            session, wiki=mediawiki.dbname, name=f"Crawl {uuid.uuid4().hex[:6]}",
            form="damaging_and_goodfaith", view="DiffToPrevious", labels_per_task=1,
            tasks_per_assignment=10, known_forms=["damaging_and_goodfaith"],
        )  # fmt: skip
        campaign_id = campaign.id
    first = crawl_recent_changes(local, sessions, campaign_id, limit=5, namespaces=None)
    assert (first["found"], first["added"]) == (5, 5)
    again = crawl_recent_changes(
        local, sessions, campaign_id, limit=8, namespaces=None, run=claimed(sessions, "c", "crawl")
    )
    assert again["added"] == again["found"] - 5  # the five known revisions are not added again
    with transaction(sessions) as session:
        rev_ids = [t["rev_id"] for t in session.scalars(select(Task.data))]
        assert len(rev_ids) == len(set(rev_ids)) == 5 + again["added"]
        assert get_run(session, "c").result == again
    with pytest.raises(BadRequest, match="a crawl takes 1 to 5000 revisions, not 0"):
        crawl_recent_changes(local, sessions, campaign_id, limit=0)


@pytest.mark.anyio
@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_a_precache_batch_scores_with_the_served_models_only(
    settings: Settings, sessions: sessionmaker[Session], sample_trained: TrainedModel
) -> None:
    register(sessions, sample_trained, "enwiki")
    scorer = make_scorer(sessions)
    rev_ids = list(read_dataset(SAMPLE, "reverted").ids[:3])  # type: ignore[index]
    local = settings.model_copy(
        update={"user_agent": USER_AGENT, "precache": {"enwiki": {"reverted": ["edit"]}}}
    )
    result = await precache_revisions(local, sessions, "enwiki", rev_ids, scorer=scorer)
    assert result == {"wiki": "enwiki", "scored": 3, "models": ["reverted"]}
    keys = [score_key("enwiki", "reverted", rev_id, "1.0") for rev_id in rev_ids]
    assert set(scorer.cache.get_many(keys)) == set(keys)
    none = await precache_revisions(
        local, sessions, "enwiki", rev_ids, models=["damaging"], scorer=scorer
    )
    assert none == {"wiki": "enwiki", "scored": 0, "models": []}  # not served on enwiki
    with pytest.raises(BadRequest, match="at least one rev_id"):
        await precache_revisions(local, sessions, "enwiki", [], scorer=scorer)
