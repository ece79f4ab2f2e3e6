"""Plots of a model version: ROC, precision-recall and calibration, as SVG (matplotlib, no GUI)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

from wikiloom.errors import NotFound

PLOTS = ("roc", "precision_recall", "calibration")


def _table(statistics: Mapping[str, Any], label: str) -> Sequence[Mapping[str, Any]]:
    """One label's threshold table, or `NotFound` naming the labels there are."""
    tables = statistics.get("thresholds", {})
    if label not in tables:
        raise NotFound(f"no label {label!r} in the statistics; labels: {sorted(tables)}")
    table: Sequence[Mapping[str, Any]] = tables[label]
    return table


def _svg(figure: Figure) -> str:
    """The figure as an SVG document."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue()


def _figure(title: str, xlabel: str, ylabel: str) -> tuple[Figure, Any]:
    """A small square figure with one set of axes on [0, 1]²."""
    figure = Figure(figsize=(4.2, 4.0), dpi=100)
    axes = figure.add_subplot()
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel, xlim=(0, 1), ylim=(0, 1.02))
    axes.grid(alpha=0.3)
    return figure, axes


def roc_svg(statistics: Mapping[str, Any], label: str) -> str:
    """The ROC curve of one label (recall against false-positive rate)."""
    table = _table(statistics, label)
    points = sorted((row["fpr"], row["recall"]) for row in table if row["fpr"] is not None)
    auc = statistics.get("roc_auc", {}).get("labels", {}).get(label)
    figure, axes = _figure(f"ROC, {label} (AUC {auc})", "false-positive rate", "recall")
    axes.plot([0, *(x for x, _ in points), 1], [0, *(y for _, y in points), 1], lw=1.5)
    axes.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8)
    return _svg(figure)


def precision_recall_svg(statistics: Mapping[str, Any], label: str) -> str:
    """The precision-recall curve of one label."""
    table = _table(statistics, label)
    points = sorted(
        (row["recall"], row["precision"])
        for row in table
        if row["recall"] is not None and row["precision"] is not None
    )
    auc = statistics.get("pr_auc", {}).get("labels", {}).get(label)
    base = statistics.get("rates", {}).get("population", {}).get(label)
    figure, axes = _figure(f"Precision-recall, {label} (AUC {auc})", "recall", "precision")
    axes.plot([x for x, _ in points], [y for _, y in points], lw=1.5)
    if base is not None:
        axes.axhline(base, ls="--", color="grey", lw=0.8, label=f"base rate {base}")
        axes.legend(loc="upper right")
    return _svg(figure)


def calibration_svg(statistics: Mapping[str, Any], label: str) -> str:
    """The reliability diagram of one label: observed rate against mean probability per bin."""
    bins = statistics.get("extra", {}).get("reliability", {}).get("labels", {}).get(label)
    if bins is None:
        raise NotFound(f"no calibration bins for label {label!r}")
    shown = [row for row in bins if row["count"]]
    error = statistics["extra"].get("calibration_error", {}).get("labels", {}).get(label)
    title = f"Calibration, {label} (ECE {error:.3f})" if error is not None else "Calibration"
    figure, axes = _figure(title, "mean predicted probability", "observed rate")
    axes.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8)
    axes.plot(
        [row["mean_probability"] for row in shown], [row["rate"] for row in shown], marker="o"
    )
    return _svg(figure)


def plot_svg(statistics: Mapping[str, Any], kind: str, label: str) -> str:
    """One plot by name: `roc`, `precision_recall` or `calibration`."""
    makers = {
        "roc": roc_svg,
        "precision_recall": precision_recall_svg,
        "calibration": calibration_svg,
    }
    if kind not in makers:
        raise NotFound(f"no plot {kind!r}; plots: {', '.join(PLOTS)}")
    return makers[kind](statistics, label)
