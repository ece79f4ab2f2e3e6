"""Label exports and campaign statistics over HTTP."""

from __future__ import annotations

import csv
import io

import orjson
import pytest

from tests.http.conftest import client_for, label_all
from tests.http.test_wikilabels import LABEL
from wikiloom.config import Settings


def report_label(user: int, task: int) -> dict[str, object]:
    """User 2 calls every even task damaging; user 1 agrees with nothing of it."""
    return {**LABEL, "damaging": user == 2 and task % 2 == 0}


@pytest.mark.anyio
async def test_export_streams_jsonl_and_csv_and_hides_users_on_request(
    app_settings: Settings,
    campaign_id: int,
) -> None:
    await label_all(app_settings, campaign_id, [1, 2], report_label)
    async with client_for(app_settings, None) as client:
        base = f"/campaigns/enwiki/{campaign_id}/export/"
        jsonl = await client.get(base)
        assert jsonl.headers["content-type"].startswith("application/x-ndjson")
        records = [orjson.loads(line) for line in jsonl.text.splitlines()]
        assert len(records) == 10
        assert {r["user_id"] for r in records} == {1, 2}
        hidden = await client.get(base, params={"pseudonymous": ""})
        pseudonyms = {orjson.loads(line)["user_id"] for line in hidden.text.splitlines()}
        assert len(pseudonyms) == 2
        assert all(isinstance(p, str) and len(p) == 16 for p in pseudonyms)
        table = await client.get(base, params={"format": "csv"})
        rows = list(csv.DictReader(io.StringIO(table.text)))
        assert len(rows) == 10
        assert {"damaging", "goodfaith", "unsure"} <= set(rows[0])
        bad = await client.get(base, params={"format": "xml"})
        assert bad.status_code == 400


@pytest.mark.anyio
async def test_statistics_report_progress_and_agreement(
    app_settings: Settings,
    campaign_id: int,
) -> None:
    await label_all(app_settings, campaign_id, [1, 2], report_label)
    async with client_for(app_settings, None) as client:
        answer = await client.get(f"/campaigns/enwiki/{campaign_id}/statistics/")
        assert answer.status_code == 200, answer.text
        stats = answer.json()["statistics"]
        assert stats["progress"]["labels"] == 10
        assert stats["progress"]["fraction"] == 1.0
        assert set(stats["fields"]) == {"damaging", "goodfaith", "unsure"}
        damaging = stats["fields"]["damaging"]
        assert set(damaging["labelers"]) == {"1", "2"}
        assert damaging["alpha"]["n_tasks"] == 5
        assert all("majority" in t and "dawid_skene" in t for t in damaging["tasks"].values())
        one = await client.get(
            f"/campaigns/enwiki/{campaign_id}/statistics/", params={"fields": "goodfaith"}
        )
        assert set(one.json()["statistics"]["fields"]) == {"goodfaith"}
        unknown = await client.get(
            f"/campaigns/enwiki/{campaign_id}/statistics/", params={"fields": "nope"}
        )
        assert unknown.status_code == 400
