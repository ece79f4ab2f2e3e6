"""What the pause switch costs: a registry lookup of the wiki's model states per request.

A paused model must stop answering at the next request in every process, so the model pool
asks the registry once per scoring request (`ModelPool(state_ttl=0)`, the default): one
indexed query of the wiki's model names, states and current versions. Three figures per
tier, each beside its baseline measured in the same run:

* `model_states_lookup`: `ModelPool.models(wiki)` asked of the registry (the sample model
  and 9 more on the wiki), against the same call answered from memory (`state_ttl=60`, the
  old behaviour's best case) and against a bare `SELECT 1` transaction (the floor of any
  database round trip);
* `cached_score_in_process`: `Scorer.score` of one cached revision (the lookup runs in a
  thread, as in the server) with `state_ttl=0` against `state_ttl=60`;
* `cached_score_http`: `GET /v3/scores/enwiki/<rev_id>/reverted/` of a cached score through
  the whole application in process (httpx's ASGI transport), `state_ttl=0` against 60.

    .venv/bin/python bench/model_states.py [--quick] [--tiers sqlite,postgres,mariadb]
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from common import emit, fresh_database, make_settings, note, parser, percentile, tiers


def timed(call: Callable[[], Any], repeats: int) -> list[float]:
    """Microseconds of each call (after a few warm-up calls)."""
    for _ in range(20):
        call()
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1e6)
    return out


async def timed_async(call: Callable[[], Awaitable[Any]], repeats: int) -> list[float]:
    """Microseconds of each awaited call (after a few warm-up calls)."""
    for _ in range(20):
        await call()
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        await call()
        out.append((time.perf_counter() - started) * 1e6)
    return out


def figure(name: str, measured: list[float], baseline: list[float], **context: Any) -> None:
    median, base = statistics.median(measured), statistics.median(baseline)
    emit(
        name, median, "us", p99_us=percentile(measured, 0.99), baseline_us=base,
        baseline_p99_us=percentile(baseline, 0.99), ratio=median / base, samples=len(measured),
        **context,
    )  # fmt: skip


def run(tier: str, repeats: int) -> None:
    import httpx
    from sqlalchemy import text
    from tests.support.models import SAMPLE, offline_client, register

    from wikiloom.db import make_engine, session_factory, transaction
    from wikiloom.http import create_app
    from wikiloom.learn.datasets import read_dataset
    from wikiloom.learn.featuresets import feature_set_of_columns
    from wikiloom.learn.registry import create_model
    from wikiloom.learn.training import TrainingOptions, train
    from wikiloom.scoring.cache import MemoryScoreCache
    from wikiloom.scoring.loaded import ModelPool
    from wikiloom.scoring.scores import Scorer, ScoreRequest

    dataset = read_dataset(SAMPLE, "reverted")
    trained = train(dataset, TrainingOptions(params={"max_iter": 20}),
                    feature_set=feature_set_of_columns(dataset.features))  # fmt: skip
    rev_id = dataset.ids[0]  # type: ignore[index]
    with fresh_database(tier) as url:
        settings = make_settings(url)
        engine = make_engine(settings)
        sessions = session_factory(engine)
        register(sessions, trained, "enwiki")
        with transaction(sessions, write=True) as session:
            for n in range(9):  # a wiki with ten models
                create_model(session, "enwiki", f"other{n}", "damaging")
        context = {"tier": tier, "models_on_wiki": 10}

        fresh, remembered = ModelPool(sessions), ModelPool(sessions, state_ttl=60.0)

        def select_one() -> None:
            with transaction(sessions) as session:
                session.execute(text("SELECT 1"))

        lookups = timed(lambda: fresh.models("enwiki"), repeats)
        figure("model_states_lookup", lookups, timed(lambda: remembered.models("enwiki"),
               repeats), **context)  # fmt: skip
        figure("model_states_lookup_vs_select_1", lookups, timed(select_one, repeats), **context)

        async def in_process() -> None:
            scorers = [
                Scorer(ModelPool(sessions, state_ttl=ttl), MemoryScoreCache(), sessions,
                       offline_client)
                for ttl in (0.0, 60.0)
            ]  # fmt: skip
            request = ScoreRequest("enwiki", (rev_id,), models=("reverted",))
            now = await timed_async(lambda: scorers[0].score(request), repeats)
            cached = await timed_async(lambda: scorers[1].score(request), repeats)
            figure("cached_score_in_process", now, cached, **context)

        async def over_asgi() -> None:
            results = []
            path = f"/v3/scores/enwiki/{rev_id}/reverted/?format=json"
            for ttl in (0.0, 60.0):
                app = create_app(settings)
                pool = ModelPool(app.state.sessions, state_ttl=ttl)
                app.state.scorer = Scorer(pool, MemoryScoreCache(), app.state.sessions,
                                          offline_client)  # fmt: skip
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
                    results.append(await timed_async(lambda c=client: c.get(path), repeats))
                app.state.engine.dispose()
            figure("cached_score_http", results[0], results[1], **context)

        asyncio.run(in_process())
        asyncio.run(over_asgi())
        engine.dispose()


def main() -> None:
    options = parser(__doc__ or "")
    args = options.parse_args()
    repeats = 300 if args.quick else 2000
    for tier in tiers(args.tiers):
        note(f"{tier}: {repeats} requests per figure")
        run(tier, repeats)


if __name__ == "__main__":
    main()
