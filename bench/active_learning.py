"""Active learning, simulated on real labels: how many labels each query strategy needs.

For each dataset, seed and strategy of `wikiloom.learn.sampling.STRATEGIES`, a simulated
campaign starts from 20 random labels (one of each class, the rest uniform) and asks for
batches (20 labels while it has fewer than 100, 50 while fewer than 500, then 100) up to
`--budget` labels, each the best of a random sample of 5,000 unlabeled rows (all of them when
fewer) as a campaign round picks them: ranked by the strategy's informativeness, then, for
every strategy but random, re-ranked by `wikiloom.learn.batches.diverse` (the batch spread
over k-means clusters of the most informative rows; `--plain` leaves it out); after each
batch the classifier is fitted on the labeled rows and its ROC-AUC measured on the evaluation
split, which the strategies never see. Every strategy of a seed starts from the same 20
labels.

* `editquality`: pool = the enwiki editquality training split (14,979 edits, 9 revscoring
  features, `reverted`), evaluation = its testing split (4,862).
* `pan`: the PAN vandalism features (7,812 edits, 12 features, `class`), split 70/30,
  stratified, anew for each seed; infinities are read as missing.

Figures, per dataset and strategy: the labels needed to reach 95 % of the ROC-AUC of the
classifier fitted on the whole pool (median over seeds and per seed; a seed that never gets
there within the budget counts as not reached) and its ratio to random's (goal: <= 0.5); the
area under the learning curve (the mean ROC-AUC over the budget) and its ratio to random's;
the labels at which the stabilizing-predictions rule (`should_stop` over the evaluation rows'
predicted classes, not their labels) would stop: counting every pair of consecutive models
(`argmax`), and counting from the first model that predicts both classes (`informed`).
Learning curves (mean +- one standard deviation over the seeds) go to
bench/results/active_learning-<dataset>-<classifier>[-plain].svg.

The classifier is the one a campaign round fits (`wikiloom.learn.rounds.round_estimator`:
wikiloom's booster, leaves of 5 rows growing to 50 at 1,000 labels, one thread, without the
5 calibration folds, whose monotone maps leave a binary ROC-AUC unchanged), or with
`--classifier hgb` a plain `HistGradientBoostingClassifier(max_iter=100)`.
The data is read from ../shared/data (or WIKILOOM_SHARED_DATA), as bench/training.py does.
"""

from __future__ import annotations

import multiprocessing
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from common import emit, machine, note, parser
from training import PAN, PAN_FEATURES, TESTING, TRAINING, pan_file
from wikiloom.learn.batches import diverse
from wikiloom.learn.datasets import read_dataset
from wikiloom.learn.estimators import one_thread
from wikiloom.learn.rounds import round_estimator
from wikiloom.learn.sampling import STRATEGIES, informativeness, prediction_agreement, should_stop

HERE = Path(__file__).resolve().parent
DATASETS = ("editquality", "pan")
CLASSIFIERS = ("wiki", "hgb")
START = 20
TARGET = 0.95
GOAL = 0.5
STOP_RULES = {
    "argmax": "models' predicted classes (p > 0.5) on the evaluation rows",
    "informed": "models' predicted classes, from the first model predicting both classes",
}
#: Unlabeled rows scored each round at most (a random sample of them), as a large campaign would.
CANDIDATES = 5_000


@dataclass(frozen=True)
class Split:
    """A pool to label and an evaluation split, both with their labels."""

    X_pool: np.ndarray
    y_pool: np.ndarray
    X_eval: np.ndarray
    y_eval: np.ndarray


@dataclass(frozen=True)
class Job:
    """One simulated campaign, or (strategy None) the classifier fitted on the whole pool."""

    dataset: str
    seed: int
    strategy: str | None
    classifier: str
    budget: int
    diverse: bool = True


def classifier(name: str, seed: int, labels: int) -> Any:
    """The classifier a campaign fits on `labels` labeled rows (unfitted)."""
    if name == "wiki":
        return round_estimator(labels, seed)
    return HistGradientBoostingClassifier(max_iter=100, random_state=seed)


def missing(X: np.ndarray) -> np.ndarray:
    """The matrix with infinities as missing values (NaN), which the boosters handle."""
    return np.where(np.isfinite(X), X, np.nan)


def split(dataset: str, seed: int) -> Split:
    """The pool and evaluation split of a dataset (PAN's is drawn anew for each seed)."""
    if dataset == "editquality":
        training, testing = read_dataset(TRAINING, "reverted"), read_dataset(TESTING, "reverted")
        X_eval = testing.columns(training.features)
        return Split(missing(training.X), training.y.astype(bool), missing(X_eval), testing.y)
    with tempfile.TemporaryDirectory() as folder:
        pan = read_dataset(pan_file(Path(folder)), "class", features=PAN_FEATURES)
    y = pan.y.astype(str) == "1"
    X_pool, X_eval, y_pool, y_eval = train_test_split(
        missing(pan.X), y, test_size=0.3, stratify=y, random_state=seed
    )
    return Split(X_pool, y_pool, X_eval, y_eval)


def first_labels(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """START random rows: one of each class (where it has one), the rest uniform."""
    chosen = [int(rng.choice(np.flatnonzero(y == label))) for label in np.unique(y)]
    rest = np.setdiff1d(np.arange(len(y)), chosen)
    chosen += rng.choice(rest, START - len(chosen), replace=False).tolist()
    return np.array(chosen)


def batch_size(labeled: int) -> int:
    """Labels asked for in the next round."""
    return 20 if labeled < 100 else 50 if labeled < 500 else 100


def campaign(job: Job, data: Split) -> dict[str, Any]:
    """Simulate one campaign; answer its learning curve and its stopping agreements."""
    assert job.strategy is not None
    rng = np.random.default_rng([job.seed, STRATEGIES.index(job.strategy)])
    labeled = first_labels(data.y_pool, np.random.default_rng(job.seed))
    budget = min(job.budget, len(data.y_pool))
    sizes: list[int] = []
    aucs: list[float] = []
    agreements: dict[str, list[float]] = {rule: [] for rule in STOP_RULES}
    stops: dict[str, int | None] = dict.fromkeys(STOP_RULES)
    previous: np.ndarray | None = None
    while True:
        unlabeled = np.setdiff1d(np.arange(len(data.y_pool)), labeled)
        if len(unlabeled) > CANDIDATES:  # score a random sample of the unlabeled rows
            unlabeled = np.sort(rng.choice(unlabeled, CANDIDATES, replace=False))
        X, y = data.X_pool[labeled], data.y_pool[labeled]
        estimator = classifier(job.classifier, job.seed, len(labeled))
        if job.strategy == "density":  # its density sees the candidates alone, so fit apart
            found = informativeness(
                job.strategy, estimator, X, y, data.X_pool[unlabeled], random_state=rng
            )
            scores = found.scores
            eval_proba = clone(estimator).fit(X, y).predict_proba(data.X_eval)
        else:  # one fit scores the candidates and the evaluation rows (scores unused)
            found = informativeness(
                job.strategy,
                estimator,
                X,
                y,
                np.vstack([data.X_pool[unlabeled], data.X_eval]),
                random_state=rng,
            )
            scores = found.scores[: len(unlabeled)]
            eval_proba = found.proba[len(unlabeled) :]
        positive = list(found.classes).index(True)
        sizes.append(len(labeled))
        aucs.append(float(roc_auc_score(data.y_eval, eval_proba[:, positive])))
        predicted = eval_proba[:, positive] > 0.5
        if previous is not None:
            agreement = prediction_agreement(previous, predicted)
            varied = len(np.unique(previous)) > 1 or len(np.unique(predicted)) > 1
            for rule in STOP_RULES:
                if rule == "argmax" or varied or agreements[rule]:
                    agreements[rule].append(agreement)
                if stops[rule] is None and should_stop(agreements[rule]):
                    stops[rule] = len(labeled)
        previous = predicted
        if len(labeled) >= budget:
            break
        size = min(batch_size(len(labeled)), budget - len(labeled))
        if job.diverse and job.strategy != "random":
            scores = diverse(scores, data.X_pool[unlabeled], size, random_state=rng)
        order = np.lexsort((rng.random(len(scores)), -scores))  # ties in random order
        labeled = np.concatenate([labeled, unlabeled[order[:size]]])
    return {"sizes": sizes, "aucs": aucs, "stops": stops}


def run(job: Job) -> tuple[Job, dict[str, Any], float]:
    """Run one job in a worker process, one thread; answer its result and CPU seconds."""
    began = time.process_time()
    data = split(job.dataset, job.seed)
    with one_thread():
        if job.strategy is None:
            model = classifier(job.classifier, job.seed, len(data.y_pool))
            model.fit(data.X_pool, data.y_pool)
            proba = model.predict_proba(data.X_eval)[:, list(model.classes_).index(True)]
            result: dict[str, Any] = {"auc": float(roc_auc_score(data.y_eval, proba))}
        else:
            result = campaign(job, data)
    return job, result, time.process_time() - began


def reached(sizes: Sequence[int], aucs: Sequence[float], target: float) -> int | None:
    """The first label count whose ROC-AUC reaches `target`, or None."""
    for size, auc in zip(sizes, aucs, strict=True):
        if auc >= target:
            return size
    return None


def median(values: Sequence[int | None]) -> float | None:
    """The median, a value None counting as more than any other; None if it is one of those."""
    ordered = sorted(values, key=lambda value: (value is None, value or 0))
    middle = len(ordered) // 2
    pair = ordered[middle : middle + 1] if len(ordered) % 2 else ordered[middle - 1 : middle + 1]
    if any(value is None for value in pair):
        return None
    return float(np.mean([value for value in pair if value is not None]))


def area(sizes: Sequence[int], aucs: Sequence[float]) -> float:
    """The area under a learning curve divided by its width: the mean ROC-AUC over the budget."""
    x, y = np.asarray(sizes, float), np.asarray(aucs, float)
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0]))


def plot(
    dataset: str, curves: dict[str, list[dict[str, Any]]], target: float, name: str, seeds: int
) -> Path:
    """Write the dataset's learning curves (mean +- one standard deviation) as SVG."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 4.8), dpi=100)
    axes = figure.add_subplot()
    for strategy, runs in curves.items():
        sizes = np.asarray(runs[0]["sizes"])
        aucs = np.asarray([run_["aucs"] for run_ in runs])
        mean, spread = aucs.mean(axis=0), aucs.std(axis=0)
        (line,) = axes.plot(sizes, mean, label=strategy, linewidth=1.4)
        axes.fill_between(sizes, mean - spread, mean + spread, color=line.get_color(), alpha=0.12)
    axes.axhline(target, color="black", linestyle="--", linewidth=0.8, label="95 % of full data")
    axes.set(
        title=f"{dataset}: ROC-AUC on the evaluation split ({seeds} seeds, {name})",
        xlabel="labels",
        ylabel="ROC-AUC",
        xscale="log",
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize="small")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    path = results / f"active_learning-{dataset}-{name}.svg"
    figure.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None})
    return path


def report(
    dataset: str,
    full: dict[int, float],
    curves: dict[str, list[dict[str, Any]]],
    seeds: Sequence[int],
    context: dict[str, Any],
) -> None:
    """Emit a dataset's figures: full-data ROC-AUC, labels to 95 %, areas, stops."""
    targets = {seed: TARGET * full[seed] for seed in seeds}
    emit(
        f"{dataset}.full_data.roc_auc",
        float(np.mean(list(full.values()))),
        "",
        per_seed=full,
        **context,
    )
    labels: dict[str, list[int | None]] = {}
    areas: dict[str, list[float]] = {}
    for strategy, runs in curves.items():
        labels[strategy] = [
            reached(run_["sizes"], run_["aucs"], targets[seed])
            for seed, run_ in zip(seeds, runs, strict=True)
        ]
        areas[strategy] = [area(run_["sizes"], run_["aucs"]) for run_ in runs]
    base_labels, base_area = median(labels["random"]), float(np.mean(areas["random"]))
    for strategy, runs in curves.items():
        needed = median(labels[strategy])
        ratio = needed / base_labels if needed is not None and base_labels else None
        emit(
            f"{dataset}.{strategy}.labels_to_95pct",
            needed,
            "labels",
            per_seed=labels[strategy],
            ratio_to_random=round(ratio, 3) if ratio is not None else None,
            goal=f"<= {GOAL} x random",
            goal_met=ratio is not None and ratio <= GOAL,
            note="None: not reached within the budget by most seeds",
            **context,
        )
        mean_area = float(np.mean(areas[strategy]))
        emit(
            f"{dataset}.{strategy}.curve_area",
            mean_area,
            "mean ROC-AUC",
            per_seed=[round(value, 4) for value in areas[strategy]],
            ratio_to_random=round(mean_area / base_area, 4),
            **context,
        )
        emit(
            f"{dataset}.{strategy}.final_roc_auc",
            float(np.mean([run_["aucs"][-1] for run_ in runs])),
            "",
            labels=runs[0]["sizes"][-1],
            **context,
        )
        for rule, meaning in STOP_RULES.items():
            stops = [run_["stops"][rule] for run_ in runs]
            emit(
                f"{dataset}.{strategy}.stop_labels.{rule}",
                median(stops),
                "labels",
                per_seed=stops,
                roc_auc_at_stop=[
                    None if stop is None else round(run_["aucs"][run_["sizes"].index(stop)], 4)
                    for stop, run_ in zip(stops, runs, strict=True)
                ],
                rule=f"should_stop(kappa of consecutive {meaning}, 0.99, 3)",
                **context,
            )


def main() -> int:
    options = parser(__doc__ or "")
    options.add_argument("--seeds", type=int, help="seeds per dataset (default 5, --quick 2)")
    options.add_argument("--budget", type=int, help="labels at most (default 1500, --quick 600)")
    options.add_argument("--classifier", choices=CLASSIFIERS, default="wiki")
    options.add_argument("--processes", type=int, default=2, help="worker processes")
    options.add_argument(
        "--plain",
        action="store_true",
        help="batches are the top of the ranking, without `batches.diverse` (the ablation)",
    )
    options.add_argument("--only", action="append", choices=DATASETS, help="only this dataset")
    options.add_argument(
        "--strategy",
        action="append",
        choices=STRATEGIES,
        help="only this strategy (repeatable; random, the baseline, is always run)",
    )
    args = options.parse_args()
    for path in (TRAINING, TESTING, PAN):
        if not path.is_file():
            emit("skipped", None, "", reason=f"no data at {path} (set WIKILOOM_SHARED_DATA)")
            print(f"[active_learning] no data at {path}", file=sys.stderr)
            return 1
    seeds = list(range(args.seeds or (2 if args.quick else 10)))
    budget = args.budget or (600 if args.quick else 1500)
    datasets = args.only or list(DATASETS)
    strategies = [s for s in STRATEGIES if s == "random" or not args.strategy or s in args.strategy]
    described = {
        "wiki": "rounds.round_estimator: wikiloom's booster as a campaign round fits it",
        "hgb": "HistGradientBoostingClassifier(max_iter=100)",
    }[args.classifier]
    context = {
        "classifier": described,
        "seeds": len(seeds),
        "budget": budget,
        "batches": "top of the ranking" if args.plain else "diverse (batches.diverse)",
    }
    emit(
        "settings",
        None,
        "",
        machine=machine(),
        start_labels=START,
        batch_sizes="20 below 100 labels, 50 below 500, then 100",
        candidates=CANDIDATES,
        strategies=strategies,
        processes=args.processes,
        threads_per_process=1,
        quick=args.quick,
        **context,
    )
    jobs = [
        Job(dataset, seed, strategy, args.classifier, budget, not args.plain)
        for dataset in datasets
        for seed in seeds
        for strategy in (None, *sorted(strategies, key=lambda s: s != "committee"))
    ]
    began = time.perf_counter()
    cpu = 0.0
    full: dict[str, dict[int, float]] = {dataset: {} for dataset in datasets}
    curves: dict[str, dict[str, list[dict[str, Any]]]] = {
        dataset: {strategy: [] for strategy in strategies} for dataset in datasets
    }
    done: dict[tuple[str, int, str | None], dict[str, Any]] = {}
    context_ = multiprocessing.get_context("spawn")
    with context_.Pool(args.processes, maxtasksperchild=None) as pool:
        for count, (job, result, seconds) in enumerate(pool.imap_unordered(run, jobs), 1):
            cpu += seconds
            done[(job.dataset, job.seed, job.strategy)] = result
            note(f"{count}/{len(jobs)} {job.dataset} seed {job.seed} {job.strategy or 'full'}")
    for dataset in datasets:
        for seed in seeds:
            full[dataset][seed] = done[(dataset, seed, None)]["auc"]
            for strategy in strategies:
                curves[dataset][strategy].append(done[(dataset, seed, strategy)])
    wall = time.perf_counter() - began
    for dataset in datasets:
        report(dataset, full[dataset], curves[dataset], seeds, context)
        target = TARGET * float(np.mean(list(full[dataset].values())))
        name = args.classifier + ("-plain" if args.plain else "")
        path = plot(dataset, curves[dataset], target, name, len(seeds))
        emit(f"{dataset}.plot", str(path.relative_to(HERE.parent)), "svg")
    emit("seconds", wall, "s", cpu_seconds=round(cpu, 1), processes=args.processes, **context)
    return 0


if __name__ == "__main__":
    sys.exit(main())
