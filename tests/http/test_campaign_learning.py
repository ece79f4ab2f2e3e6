"""Active learning over HTTP: the organizer settings, the campaign JSON and the pages."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.http.conftest import client_for
from tests.learn.rounds_support import anonymous_damaging, label, make_campaign
from wikiloom.config import Settings
from wikiloom.db import transaction
from wikiloom.learn.rounds import run_round

NEW = {
    "name": "Active 2027",
    "form": "damaging_and_goodfaith",
    "view": "DiffToPrevious",
    "labels_per_task": "1",
    "tasks_per_assignment": "10",
}
Factory = sessionmaker[Session]


@pytest.fixture
def admin_settings(app_settings: Settings) -> Settings:
    return app_settings.model_copy(update={"admins": ["Boss"]})


@pytest.mark.anyio
async def test_organizers_choose_the_sampling_and_see_it_in_the_campaign(
    admin_settings: Settings,
) -> None:
    async with client_for(admin_settings, 1, "Boss") as boss:
        fields = {"sampling": "margin", "learning_field": "damaging", "holdout_fraction": "0.1"}
        created = await boss.post("/campaigns/enwiki/", data={**NEW, **fields})
        assert created.status_code == 200, created.text
        campaign = created.json()["campaign"]
        assert campaign["learning"] == {
            "sampling": "margin", "holdout_fraction": 0.1, "retrain_every": 50,
            "learning_field": "damaging", "feature_set": "editquality", "rounds": 0,
            "last_round": None, "stop_suggested": False,
        }  # fmt: skip
        settings = f"/campaigns/enwiki/{campaign['id']}/settings/"
        change = {"retrain_every": "20", "sampling": "committee", "feature_set": "ores.enwiki.demo"}
        edited = (await boss.post(settings, data=change)).json()["campaign"]["learning"]
        assert (edited["retrain_every"], edited["sampling"]) == (20, "committee")
        assert (edited["feature_set"], edited["learning_field"]) == ("ores.enwiki.demo", "damaging")
        cleared = await boss.post(settings, data={"learning_field": ""})
        assert cleared.status_code == 400
        assert "sampling 'committee' needs a learning_field" in cleared.json()["error"]["message"]
        random = await boss.post(settings, data={"learning_field": "", "sampling": "random"})
        assert random.json()["campaign"]["learning"]["learning_field"] is None
        name_only = await boss.post(settings, data={"name": "Renamed"})
        assert name_only.json()["campaign"]["learning"]["sampling"] == "random"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sampling": "margin"}, "sampling 'margin' needs a learning_field"),
        ({"learning_field": "verdict"}, "'verdict' is not a field of the form"),
        ({"holdout_fraction": "1"}, "holdout_fraction must be at least 0 and below 1"),
        ({"holdout_fraction": "some"}, "holdout_fraction must be a number, not 'some'"),
        ({"retrain_every": "0"}, "retrain_every must be a positive integer"),
        ({"retrain_every": "often"}, '"retrain_every" must be an integer'),
        ({"feature_set": "words"}, "unknown feature_set 'words'"),
    ],
)
async def test_bad_learning_settings_are_refused(
    admin_settings: Settings, change: dict[str, str], message: str
) -> None:
    async with client_for(admin_settings, 1, "Boss") as boss:
        answer = await boss.post("/campaigns/enwiki/", data={**NEW, **change})
        assert answer.status_code == 400
        assert message in answer.json()["error"]["message"]


@pytest.mark.anyio
async def test_the_manage_page_shows_the_learning_settings(
    admin_settings: Settings, sessions: Factory
) -> None:
    campaign_id = make_campaign(sessions, 20, sampling="entropy", holdout_fraction=0.15)
    async with client_for(admin_settings, 1, "Boss") as boss:
        page = (await boss.get(f"/ui/enwiki/campaigns/{campaign_id}/manage/")).text
    form = page[page.index('id="campaign-learning"') :]
    form = form[: form.index("</form>")]
    assert re.search(r'<option value="entropy" selected>Highest entropy first</option>', form)
    assert re.search(r'<option value="damaging" selected>damaging</option>', form)
    assert 'name="holdout_fraction" value="0.15"' in form
    assert 'name="retrain_every" value="50"' in form
    assert '<option value="ores.enwiki.demo" selected>' in form
    assert "⧼" not in page


@pytest.mark.anyio
async def test_the_statistics_page_shows_the_rounds_and_the_stop(
    admin_settings: Settings, sessions: Factory
) -> None:
    campaign_id = make_campaign(sessions, 300)
    url = f"/ui/enwiki/campaigns/{campaign_id}/"
    async with client_for(admin_settings, None) as anonymous:
        before = (await anonymous.get(url)).text
    assert 'id="learning-no-rounds"' in before
    assert "once 20 tasks are labeled" in before
    label(sessions, campaign_id, 1, 100, anonymous_damaging())
    with transaction(sessions, write=True) as session:
        for _ in range(4):  # no new labels: the last three agree fully
            run_round(session, campaign_id)
    async with client_for(admin_settings, None) as anonymous:
        page = (await anonymous.get(url)).text
    section = page[page.index('id="learning"') :]
    section = section[: section.index("</section>")]
    assert "Smallest margin first" in section
    assert re.search(r'id="learning-holdout">20\s?%<', section)
    assert "The model has stopped changing: labeling more is unlikely to help." in section
    rows = re.findall(r'<tr data-round="(\d+)">(.*?)</tr>', section, re.DOTALL)
    assert [number for number, _ in rows] == ["1", "2", "3", "4"]
    cells = re.findall(r'<td class="num">([^<]*)</td>', rows[-1][1])
    assert cells[-2] == "1"  # the agreement of round 4 with round 3
    roc = float(cells[2])
    assert 0.5 < roc <= 1
    svg = re.search(
        r'<figure class="wl-plot" id="figure-learning">\s*(<svg\b.*?</svg>)', section, re.DOTALL
    )
    assert svg is not None
    ET.fromstring(svg.group(1))
    assert "⧼" not in page

    async with client_for(admin_settings, 1, "Boss") as boss:
        edit = f"/campaigns/enwiki/{campaign_id}/settings/"
        refused = await boss.post(edit, data={"holdout_fraction": "0.3"})
        assert refused.status_code == 409
        kept = await boss.post(edit, data={"holdout_fraction": "0.2", "retrain_every": "10"})
        learning = kept.json()["campaign"]["learning"]
    assert (learning["rounds"], learning["stop_suggested"]) == (4, True)
    async with client_for(admin_settings, None) as anonymous:
        shown = (await anonymous.get(f"/campaigns/enwiki/{campaign_id}/?learning")).json()
    assert shown["learning"] == learning
    assert set(shown["campaign"]) >= {"id", "name", "labels_per_task"}  # Wiki labels' keys
    assert learning["last_round"]["agreement"] == 1.0
    assert learning["last_round"]["labeled_tasks"] == 100  # a few without features
