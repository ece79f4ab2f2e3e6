"""Plots of a campaign's statistics as inline SVG: progress, agreement, label distribution.

Each function returns an `<svg>` element ready to sit inside an HTML page: no XML prolog,
ids prefixed by `ident` (several plots share one page), `role="img"` and a `<title>` that
names the plot. Text stays text (`svg.fonttype: none`), so the browser shapes every script
and the SVG is smaller; matplotlib's SVG writer escapes it (field names, label values), and
the title is escaped here. The caller passes every text already translated.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import dates, rc_context
from matplotlib.figure import Figure

from wikiloom import svg
from wikiloom.labels.agreement import Alpha

#: Krippendorff's rule of thumb: α ≥ 0.8 reliable, 0.667 ≤ α < 0.8 tentative conclusions.
ALPHA_LINES = (0.667, 0.8)
#: The most values a distribution plot shows (the page's table lists them all).
MAX_VALUES = 25
_IDENT = re.compile(r"[A-Za-z][\w-]*")
#: rc_context changes matplotlib's global settings: one SVG at a time, so that each restores
#: what it found.
_RC_LOCK = threading.Lock()
_COLOR = "#36c"
_NEEDED_COLOR = "#d33"


def inline_svg(figure: Figure, ident: str, title: str) -> str:
    """The figure as an `<svg role="img">` element titled `title`, its ids prefixed."""
    if not _IDENT.fullmatch(ident):
        raise ValueError(f"{ident!r} is not an id prefix (a letter, then letters, digits, _ or -)")
    buffer = io.StringIO()
    with _RC_LOCK, rc_context({"svg.fonttype": "none", "svg.hashsalt": ident}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return svg.inline_svg(buffer.getvalue(), ident, title=title)


def _figure(width: float, height: float) -> tuple[Figure, Any]:
    figure = Figure(figsize=(width, height), dpi=100)
    axes = figure.add_subplot()
    axes.grid(alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes


def progress_svg(
    labels_per_day: Mapping[dt.date, int],
    labels_needed: int,
    *,
    ident: str,
    title: str,
    labels_text: str,
    needed_text: str,
) -> str:
    """Cumulative labels per UTC day against the labels the campaign needs."""
    days = sorted(labels_per_day)
    totals = np.cumsum([labels_per_day[day] for day in days]).tolist()
    figure, axes = _figure(6.4, 3.0)
    if days:
        start = days[0] - dt.timedelta(days=1)  # nothing was labeled before the first day
        axes.plot([start, *days], [0, *totals], "-o", color=_COLOR, lw=1.8, ms=3, label=labels_text)
        axes.set_xlim(start, days[-1] + dt.timedelta(days=1))
    if labels_needed:
        axes.axhline(labels_needed, ls="--", color=_NEEDED_COLOR, lw=1, label=needed_text)
    axes.set_ylim(0, max([labels_needed, *totals, 1]) * 1.08)
    span = (days[-1] - days[0]).days if days else 0
    # matplotlib.dates has no type hints.
    locator = (
        dates.DayLocator()  # type: ignore[no-untyped-call]
        if span <= 8
        else dates.AutoDateLocator(minticks=3, maxticks=8)  # type: ignore[no-untyped-call]
    )
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axes.set_ylabel(labels_text)
    if days or labels_needed:
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return inline_svg(figure, ident, title)


def agreement_svg(alphas: Mapping[str, Alpha], *, ident: str, title: str, xlabel: str) -> str:
    """Krippendorff's α of each field with its 95 % interval (fields where α is undefined
    are left out), beside the 0.667 and 0.8 rules of thumb."""
    shown = [(name, a) for name, a in alphas.items() if a.alpha is not None]
    figure, axes = _figure(6.4, 0.9 + 0.45 * max(1, len(shown)))
    positions = list(range(len(shown)))
    values = [float(a.alpha or 0.0) for _, a in shown]
    low = [v - (a.low if a.low is not None else v) for v, (_, a) in zip(values, shown, strict=True)]
    high = [
        (a.high if a.high is not None else v) - v for v, (_, a) in zip(values, shown, strict=True)
    ]
    axes.barh(positions, values, color=_COLOR, height=0.6)
    axes.errorbar(values, positions, xerr=[low, high], fmt="none", ecolor="#202122", capsize=4)
    for line in ALPHA_LINES:
        axes.axvline(line, ls="--", color="grey", lw=0.8)
    axes.axvline(0, color="#202122", lw=0.8)
    lowest = min([0.0, *(v - d for v, d in zip(values, low, strict=True))])
    axes.set_xlim(lowest - 0.05, 1.02)
    axes.set_yticks(positions, [name for name, _ in shown])
    axes.set_ylim(-0.6, max(0, len(shown) - 1) + 0.6)
    axes.invert_yaxis()
    axes.set_xlabel(xlabel)
    return inline_svg(figure, ident, title)


def labeler_agreement_svg(
    rates: Mapping[str, Sequence[float]], *, ident: str, title: str, xlabel: str
) -> str:
    """Each labeler's agreement with the others' consensus, one dot per labeler, a row per
    field, and the median as a bar."""
    shown = [(name, list(values)) for name, values in rates.items() if values]
    figure, axes = _figure(6.4, 0.9 + 0.45 * max(1, len(shown)))
    jitter = np.random.default_rng(0)
    for row, (_, values) in enumerate(shown):
        spread = jitter.uniform(-0.18, 0.18, len(values))
        axes.plot(values, row + spread, "o", color=_COLOR, alpha=0.6, ms=4)
        middle = float(np.median(values))
        axes.plot([middle, middle], [row - 0.3, row + 0.3], color="#202122", lw=2)
    axes.set_xlim(-0.02, 1.02)
    axes.set_yticks(range(len(shown)), [name for name, _ in shown])
    axes.set_ylim(-0.6, max(0, len(shown) - 1) + 0.6)
    axes.invert_yaxis()
    axes.set_xlabel(xlabel)
    return inline_svg(figure, ident, title)


def distribution_svg(counts: Mapping[str, int], *, ident: str, title: str, xlabel: str) -> str:
    """How often each value was given, most frequent first (at most `MAX_VALUES` values)."""
    shown = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_VALUES]
    figure, axes = _figure(6.4, 0.7 + 0.35 * max(1, len(shown)))
    positions = list(range(len(shown)))
    axes.barh(positions, [n for _, n in shown], color=_COLOR, height=0.6)
    axes.set_yticks(positions, [name for name, _ in shown])
    axes.set_ylim(-0.6, max(0, len(shown) - 1) + 0.6)
    axes.invert_yaxis()
    axes.set_xlabel(xlabel)
    axes.xaxis.get_major_locator().set_params(integer=True)
    return inline_svg(figure, ident, title)


def learning_curve_svg(
    points: Sequence[tuple[int, float | None, float | None]],
    *,
    ident: str,
    title: str,
    xlabel: str,
    roc_text: str,
    pr_text: str,
) -> str:
    """The holdout ROC-AUC and PR-AUC of each active-learning round, (labels, ROC, PR),
    against the labels its model was fitted on; rounds without a figure are left out."""
    figure, axes = _figure(6.4, 3.0)
    for column, text, style in ((1, roc_text, "-o"), (2, pr_text, "--s")):
        shown = [(point[0], point[column]) for point in points if point[column] is not None]
        if shown:
            xs, ys = zip(*shown, strict=True)
            axes.plot(xs, ys, style, color=_COLOR if column == 1 else _NEEDED_COLOR, lw=1.8, ms=4,
                      label=text)  # fmt: skip
    axes.set_ylim(0, 1.02)
    axes.set_xlabel(xlabel)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return inline_svg(figure, ident, title)
