"""Feature extraction rate from revision records, one process (goal: >= 500 revisions/s per core).

Records are built from the real XML dump `tests/data/enwiki_sample` (206 English Wikipedia
pages, read with `wikiloom.wiki.dumps.read_dump`; redirects left out): for each article,
its text is the parent and five realistic edits of it are revisions, made with a fixed seed:

* `sentence_added`: a sentence inserted as a new line at a random line;
* `word_changed`: a random word replaced by another;
* `vandalism`: "LOOMS ARE SO BORING lol!!!!!!!" inserted at a random place;
* `section_blanked`: a random section (from one level-2 heading to the next) removed, or a
  random paragraph where the article has no two sections;
* `two_places`: a word changed near the top and a category added at the end.

Editors rotate over an IP, a newcomer, an experienced editor, a sysop and a bot.

Caching is neutralised: every revision gets its own copies of its parent's text and of its
text (new string objects, `fresh`), so that nothing kept for one text object serves
another revision (`wordcounts.lower_case` and `wordcounts.whole_counts` are kept by the
identity of the text object, and no record's text is another record's parent here, as it
is in a page history); those caches are also emptied before each timed run
(`wordcounts.clear_caches`). What is kept across revisions is per token or per word
(token types, compiled word patterns), as in any run.

Figures (median of `--repeats`, after one warm-up run):

* `ores_demo.revisions_per_second`, `editquality.revisions_per_second`: `transform` of
  all records with `OresDemoFeatures` and `EditQualityFeatures`, and per edit kind;
* `baseline.revisions_per_second`: what a straightforward implementation costs, on a
  sample of the records: tokenize both whole texts and diff them with
  `difflib.SequenceMatcher` (autojunk on, as revscoring's `deltas` uses it), nothing
  else; `ores_demo.speedup_over_baseline` compares;
* `articlequality.articles_per_second`: `ArticleQualityFeatures` over the articles.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import statistics
import time
from collections.abc import Callable, Sequence
from difflib import SequenceMatcher
from pathlib import Path

from common import ROOT, emit, note, parser
from wikiloom.learn.articlequality import ArticleQualityFeatures
from wikiloom.learn.editquality import EditQualityFeatures
from wikiloom.learn.oresfeatures import OresDemoFeatures
from wikiloom.learn.tokens import tokenize
from wikiloom.learn.wordcounts import clear_caches
from wikiloom.wiki.dumps import read_dump
from wikiloom.wiki.revisions import Revision
from wikiloom.wiki.users import WikiUser

DUMP = ROOT / "tests" / "data" / "enwiki_sample" / "enwiki-sample-206-pages.xml.bz2"
VANDALISM = "LOOMS ARE SO BORING lol!!!!!!!"
SENTENCE = "In 2015 a survey of the region found that most of its looms were still in use."
EDITORS: tuple[tuple[str, int, WikiUser | None], ...] = (
    ("127.0.0.1", 0, None),
    ("Newcomer", 11, WikiUser("Newcomer", 11, ("user", "*"), 3, "2015-05-20T10:00:00Z", True)),
    (
        "Experienced",
        12,
        WikiUser(
            "Experienced",
            12,
            ("extendedconfirmed", "autoconfirmed", "rollbacker", "user", "*"),
            25_000,
            "2008-03-01T00:00:00Z",
            True,
        ),
    ),
    (
        "Admin",
        13,
        WikiUser("Admin", 13, ("sysop", "autoconfirmed", "user", "*"), 90_000, None, True),
    ),
    (
        "Tidybot",
        14,
        WikiUser("Tidybot", 14, ("bot", "user", "*"), 1_000_000, "2012-01-01T00:00:00Z", True),
    ),
)


def sentence_added(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    at = rng.randrange(len(lines) + 1)
    return "\n".join([*lines[:at], SENTENCE, *lines[at:]])


def word_changed(text: str, rng: random.Random, within: int | None = None) -> str:
    spaces = [i for i in range(min(len(text), within or len(text))) if text[i] == " "]
    if len(spaces) < 2:
        return text + " changed"
    start = rng.choice(spaces[:-1])
    end = text.find(" ", start + 1)
    return text[: start + 1] + rng.choice(("woven", "ancient", "notable", "large")) + text[end:]


def vandalism(text: str, rng: random.Random) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + VANDALISM + text[at:]


def section_blanked(text: str, rng: random.Random) -> str:
    starts = [
        i + 1 for i in range(len(text) - 3) if text.startswith("\n==", i) and text[i + 3] != "="
    ]
    if len(starts) >= 2:
        index = rng.randrange(len(starts) - 1)
        return text[: starts[index]] + text[starts[index + 1] :]
    paragraphs = text.split("\n\n")
    if len(paragraphs) < 2:
        return text[: len(text) // 2]
    del paragraphs[rng.randrange(len(paragraphs))]
    return "\n\n".join(paragraphs)


def two_places(text: str, rng: random.Random) -> str:
    return word_changed(text, rng, within=2_000) + "\n[[Category:Looms]]"


EDITS: dict[str, Callable[[str, random.Random], str]] = {
    "sentence_added": sentence_added,
    "word_changed": word_changed,
    "vandalism": vandalism,
    "section_blanked": section_blanked,
    "two_places": two_places,
}


def fresh(text: str) -> str:
    """A copy of a text that is a string object of its own."""
    return (text + ".")[:-1]


def records(articles: Sequence[Revision], seed: int = 5) -> dict[str, list[Revision]]:
    """Five edits of every article, by kind, as revision records with parent texts.

    Each record has its own string objects for the parent's text and the text (`fresh`).
    """
    rng = random.Random(seed)
    made: dict[str, list[Revision]] = {kind: [] for kind in EDITS}
    number = 0
    for article in articles:
        parent = article.text or ""
        for kind, make in EDITS.items():
            name, user_id, user = EDITORS[number % len(EDITORS)]
            made[kind].append(
                dataclasses.replace(
                    article,
                    rev_id=10_000_000 + number,
                    parent_id=article.rev_id,
                    timestamp=dt.datetime(2015, 6, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=number),
                    comment="/* History */ copyedit" if number % 3 else "",
                    parent_text=fresh(parent),
                    text=fresh(make(parent, rng)),
                    user_name=name,
                    user_id=user_id,
                    user=user,
                )
            )
            number += 1
    return made


def baseline(revisions: Sequence[Revision]) -> None:
    """Tokenize both whole texts and diff them with difflib, as a plain implementation would."""
    for revision in revisions:
        a = [token for token, _ in tokenize(revision.parent_text or "")]
        b = [token for token, _ in tokenize(revision.text or "")]
        SequenceMatcher(None, a, b).get_opcodes()


def timed(work: Callable[[], object], repeats: int) -> float:
    """The median wall time of `repeats` runs of `work`, after one warm-up run.

    The per-text caches are emptied before each run, so that no run reuses another's.
    """
    work()
    times = []
    for _ in range(repeats):
        clear_caches()
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    options = parser(__doc__ or "")
    options.add_argument("--repeats", type=int, default=3, help="measurements per figure")
    options.add_argument("--baseline", type=int, default=200, help="records in the baseline")
    args = options.parse_args()
    if args.quick:
        args.repeats, args.baseline = 1, 50
    articles = [
        page
        for page in read_dump(Path(DUMP))
        if page.text and not page.text.lstrip().lower().startswith("#redirect")
    ]
    made = records(articles)
    everything = [revision for kind in made.values() for revision in kind]
    sizes = [len(article.text or "") for article in articles]
    context = {
        "articles": len(articles),
        "revisions": len(everything),
        "mean_parent_chars": round(statistics.mean(sizes)),
        "median_parent_chars": round(statistics.median(sizes)),
        "repeats": args.repeats,
        "processes": 1,
    }
    note(f"{len(articles)} articles, {len(everything)} revisions")
    rates = {}
    for name, transformer in (
        ("ores_demo", OresDemoFeatures()),
        ("editquality", EditQualityFeatures()),
    ):
        seconds = timed(lambda t=transformer: t.transform(everything), args.repeats)
        rates[name] = len(everything) / seconds
        by_kind = {
            kind: round(len(group) / timed(lambda t=transformer, g=group: t.transform(g), 1))
            for kind, group in made.items()
        }
        emit(
            f"{name}.revisions_per_second",
            rates[name],
            "rev/s",
            goal=500,
            goal_met=rates[name] >= 500,
            by_edit=by_kind,
            features=len(transformer.get_feature_names_out()),
            **context,
        )
    sample = everything[:: max(1, len(everything) // args.baseline)][: args.baseline]
    seconds = timed(lambda: baseline(sample), args.repeats)
    rates["baseline"] = len(sample) / seconds
    emit(
        "baseline.revisions_per_second",
        rates["baseline"],
        "rev/s",
        **{**context, "revisions": len(sample)},
    )
    emit("ores_demo.speedup_over_baseline", rates["ores_demo"] / rates["baseline"], "x")
    quality = ArticleQualityFeatures()
    seconds = timed(lambda: quality.transform(articles), args.repeats)
    emit("articlequality.articles_per_second", len(articles) / seconds, "articles/s", **context)


if __name__ == "__main__":
    main()
