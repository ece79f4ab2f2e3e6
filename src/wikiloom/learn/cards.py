"""Model cards (Mitchell et al., 2019) for every version: JSON, Markdown and wikitext."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from wikiloom.learn.audit import audit_path
from wikiloom.learn.governance import CLOSED, Request, actor_of, request_page
from wikiloom.learn.tables import Model, ModelEvent, ModelVersion
from wikiloom.learn.thresholds import ThresholdQuery
from wikiloom.wiki.client import WikiClient

#: The thresholds MediaWiki's ORES extension names, with its default queries (damaging).
NAMED_THRESHOLDS = (
    ("likelygood", "false", "maximum recall @ precision >= 0.995"),
    ("maybebad", "true", "maximum filter_rate @ recall >= 0.9"),
    ("likelybad", "true", "maximum recall @ precision >= 0.6"),
    ("verylikelybad", "true", "maximum recall @ precision >= 0.9"),
)
SECTIONS = (
    ("model_details", "Model details"),
    ("intended_use", "Intended use"),
    ("factors", "Factors"),
    ("metrics", "Metrics"),
    ("evaluation_data", "Evaluation data"),
    ("training_data", "Training data"),
    ("ethical_considerations", "Ethical considerations"),
    ("caveats", "Caveats and recommendations"),
    ("governance", "Governance"),
)


def _labels(version: ModelVersion) -> list[str]:
    """The version's labels as ORES keys them."""
    return ["true" if v is True else "false" if v is False else str(v) for v in version.labels]


def thresholds_of(statistics: Mapping[str, Any]) -> dict[str, Any]:
    """The named thresholds of a binary model: query, label and the chosen table entry."""
    tables = statistics.get("thresholds", {})
    if set(tables) != {"true", "false"}:
        return {}
    named = {}
    for name, label, query in NAMED_THRESHOLDS:
        entry = ThresholdQuery.parse(query).evaluate(tables[label])
        named[name] = {"label": label, "query": query, "entry": entry}
    return named


def model_card(
    model: Model,
    version: ModelVersion,
    events: Sequence[ModelEvent],
    requests: Sequence[Request] = (),
) -> dict[str, Any]:
    """The card of one version as JSON-ready sections (its governance: the model's log and
    change requests)."""
    statistics, provenance = version.statistics, version.provenance
    extra = statistics.get("extra", {})
    labels = _labels(version)
    binary = set(labels) == {"true", "false"}
    target = model.target
    data = provenance.get("training_data", {})
    return {
        "model_details": {
            "wiki": model.wiki,
            "name": model.name,
            "version": version.version,
            "predicts": target,
            "labels": labels,
            "description": model.description,
            "type": version.estimator.get("type"),
            "backend": version.estimator.get("backend"),
            "params": version.estimator.get("params", {}),
            "features": version.features,
            "feature_set": version.feature_set,
            "feature_set_version": version.feature_set_version,
            "trained": version.created.isoformat(),
            "trained_by": version.created_by,
            "environment": version.estimator.get("environment", {}),
            "file": {"format": "skops", "bytes": version.size, "sha256": version.sha256},
        },
        "intended_use": {
            "primary_uses": [
                f"Rank {model.wiki} edits by the probability that they are {target}, so that "
                "patrollers review the likeliest first"
                if binary
                else f"Estimate the {target} class ({', '.join(labels)}) of a revision",
                "Filter recent changes at one of the named thresholds below",
            ],
            "primary_users": ["patrollers and their tools", "bots", "researchers"],
            "out_of_scope": [
                "Acting on an edit or a person without human review",
                "Judging editors rather than edits",
                f"Wikis other than {model.wiki}, and content unlike the training data",
            ],
        },
        "factors": {
            "relevant": [
                "whether the editor is anonymous (an IP) or registered, and their tenure",
                "the namespace and kind of page",
                "the language and script of the text",
            ],
            "evaluated": statistics.get("factors", {}),
        },
        "metrics": {
            "roc_auc": statistics.get("roc_auc", {}).get("labels"),
            "pr_auc": statistics.get("pr_auc", {}).get("labels"),
            "accuracy": statistics.get("accuracy", {}).get("micro"),
            "brier": extra.get("brier", {}).get("labels"),
            "log_loss": extra.get("log_loss"),
            "calibration_error": extra.get("calibration_error", {}).get("labels"),
            "thresholds": thresholds_of(statistics),
        },
        "evaluation_data": statistics.get("evaluation", {}),
        "training_data": {
            "source": data,
            "observations": provenance.get("observations"),
            "label_counts": provenance.get("label_counts"),
            "campaign": provenance.get("campaign"),
            "seed": provenance.get("seed"),
        },
        "ethical_considerations": [
            "Anonymous editors are a large share of damaging edits and of good ones; a model "
            "that leans on anonymity flags good-faith newcomers. Compare the factors above "
            "before choosing a threshold.",
            "Scores are probabilities, not verdicts: every action on a score needs a human.",
            "Labels come from volunteers whose judgements differ; see the agreement figures "
            "of the training data.",
        ],
        "caveats": [
            "Figures are measured on the evaluation data described above; a different "
            "population of edits gives different figures.",
            "Retrain when the wiki's editing patterns, policies or tools change.",
            "Disagree with a score? Report it through the feedback route; disputes feed the "
            "next training round.",
        ],
        "governance": governance(model, version, events, requests),
    }


def _entry(event: ModelEvent) -> dict[str, Any]:
    return {
        "at": event.at.isoformat(),
        "kind": event.kind,
        "old": event.old,
        "new": event.new,
        "actor": event.actor,
        "reason": event.reason,
    }


def governance(
    model: Model, version: ModelVersion, events: Sequence[ModelEvent], requests: Sequence[Request]
) -> dict[str, Any]:
    """The governance section: the state on the wiki and its last change, the change
    requests (open ones first), where the audit log is, and the log itself."""
    changes = [event for event in events if event.kind in ("status", "created")]
    ordered = [r for r in requests if r.status not in CLOSED] + [
        r for r in requests if r.status in CLOSED
    ]
    return {
        "status": model.status,
        "current": model.current_version_id == version.id,
        "last_change": _entry(changes[-1]) if changes else None,
        "change_requests": [
            {
                "id": r.id,
                "title": r.title,
                "kind": r.kind,
                "status": r.status,
                "outcome": r.outcome,
                "opened": r.created.isoformat(),
                "author": actor_of(r.user_id, r.user_name),
                "decided": None if r.decided is None else r.decided.isoformat(),
                "decided_by": r.decided_by,
                "url": request_page(r.wiki, r.model, r.id),
            }
            for r in ordered
        ],
        "audit_log": audit_path(model.wiki, model.name),
        "log": [_entry(event) for event in events],
    }


class _Writer:
    """How one markup writes headings, key-value tables and lists."""

    def __init__(
        self,
        heading: Callable[[int, str], str],
        table: Callable[[Sequence[tuple[str, str]]], str],
        bullet: str,
        escape: Callable[[str], str] = lambda text: text,
    ) -> None:
        self.heading, self.table, self.bullet = heading, table, bullet
        self.escape = escape

    def items(self, values: Sequence[Any]) -> str:
        return "".join(f"{self.bullet} {self.escape(_text(value))}\n" for value in values) + "\n"


def _text(value: Any) -> str:
    """A value as one line of text."""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, Mapping):
        return ", ".join(f"{key}: {_text(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_text(item) for item in value)
    return "" if value is None else str(value)


def _markdown_table(rows: Sequence[tuple[str, str]]) -> str:
    escaped = [(key, value.replace("|", "\\|")) for key, value in rows]
    cells = "".join(f"| {key} | {value} |\n" for key, value in escaped)
    return "| | |\n|---|---|\n" + cells + "\n"


def _nowiki(text: str) -> str:
    """Text that shows as it is on a wiki page: no markup, and no way out of the nowiki."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace("\n", " ")
    return f"<nowiki>{escaped}</nowiki>"


def _wikitext_table(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f"|-\n! {key}\n| {_nowiki(value)}\n" for key, value in rows)
    return '{| class="wikitable"\n' + cells + "|}\n\n"


MARKDOWN = _Writer(lambda level, text: f"{'#' * level} {text}\n\n", _markdown_table, "-")
WIKITEXT = _Writer(
    lambda level, text: f"{'=' * level} {text} {'=' * level}\n\n", _wikitext_table, "*", _nowiki
)


def render(card: Mapping[str, Any], writer: _Writer) -> str:
    """Write a card in one markup: a title, then a section per Mitchell et al. heading."""
    details = card["model_details"]
    title = f"Model card: {details['wiki']} {details['name']} {details['version']}"
    out = [writer.heading(1, title)]
    for key, heading in SECTIONS:
        out.append(writer.heading(2, heading))
        section = card[key]
        if key == "metrics":
            named = section.get("thresholds", {})
            rows = [(name, _text(value)) for name, value in section.items() if name != "thresholds"]
            out.append(writer.table(rows))
            if named:
                out.append(writer.heading(3, "Thresholds"))
                out.append(writer.table([(name, _threshold(t)) for name, t in named.items()]))
        elif key == "governance":
            out.append(_governance(section, writer))
        elif isinstance(section, Mapping):
            out.append(writer.table([(name, _text(value)) for name, value in section.items()]))
        else:
            out.append(writer.items(section))
    return "".join(out)


def _threshold(named: Mapping[str, Any]) -> str:
    entry = named.get("entry")
    if not entry:
        return f"{named['query']} (label {named['label']}): not reachable"
    return (
        f"{named['query']} (label {named['label']}): threshold {entry['threshold']}, "
        f"precision {entry['precision']}, recall {entry['recall']}, "
        f"match rate {entry['match_rate']}"
    )


def _governance(section: Mapping[str, Any], writer: _Writer) -> str:
    """The state and its last change, the change requests, the audit log's path and entries."""
    last = section.get("last_change")
    rows = [
        ("status", section["status"]),
        ("current", str(section["current"])),
        ("last change", _event(last) if last else ""),
        ("audit log", section.get("audit_log") or ""),
    ]
    out = [writer.table(rows)]
    requests = section.get("change_requests") or []
    out.append(writer.heading(3, "Change requests"))
    if requests:
        out.append(writer.items([_change_request(item) for item in requests]))
    else:
        out.append(writer.items(["none"]))
    out.append(writer.heading(3, "Audit log"))
    out.append(writer.items([_event(event) for event in section["log"]]))
    return "".join(out)


def _change_request(item: Mapping[str, Any]) -> str:
    text = (
        f"#{item['id']} {' '.join(str(item['title']).split())} ({item['kind']}, {item['status']})"
    )
    if item.get("outcome"):
        text += f": {' '.join(str(item['outcome']).split())}"
    if item.get("decided_by"):
        text += f" by {item['decided_by']}"
    return f"{text} {item['url']}"


def _event(event: Mapping[str, Any]) -> str:
    change = f"{event['old']} → {event['new']}" if event["old"] else str(event["new"])
    why = f": {event['reason']}" if event["reason"] else ""
    return f"{event['at']} {event['kind']} {change} by {event['actor'] or 'unknown'}{why}"


def card_markdown(card: Mapping[str, Any]) -> str:
    """The card in Markdown."""
    return render(card, MARKDOWN)


def card_wikitext(card: Mapping[str, Any]) -> str:
    """The card in wikitext, for a page on the wiki the model serves."""
    return render(card, WIKITEXT)


async def publish_card(
    client: WikiClient,
    wiki: str,
    title: str,
    card: Mapping[str, Any],
    *,
    summary: str | None = None,
) -> dict[str, Any]:
    """Save the card as a wiki page (the client logged in with the right to edit it)."""
    details = card["model_details"]
    text = card_wikitext(card)
    return await client.edit(
        wiki,
        title,
        text,
        summary or f"Model card of {details['wiki']} {details['name']} {details['version']}",
    )
