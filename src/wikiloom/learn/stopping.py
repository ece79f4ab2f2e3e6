"""When labeling more stops helping a campaign: the stabilizing-predictions criterion.

Each round predicts a fixed stop set of holdout tasks; when the predictions of consecutive
rounds agree (Cohen's kappa of at least `STOP_THRESHOLD`, `STOP_WINDOW` rounds in a row),
the model has stopped changing and more labels are unlikely to improve it (Bloodgood &
Vijay-Shanker 2009).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from wikiloom.learn.sampling import prediction_agreement, should_stop

#: Holdout tasks whose predictions consecutive rounds compare.
STOP_SET_SIZE = 1000
#: Agreement (kappa) consecutive rounds must reach, and in how many rounds in a row.
STOP_THRESHOLD, STOP_WINDOW = 0.99, 3


def labels_array(values: Sequence[Hashable]) -> npt.NDArray[Any]:
    """Label values as an array: booleans as bool, anything else as objects."""
    kinds = {type(value) for value in values}
    return np.asarray(values, dtype=bool if kinds == {bool} else object)


def stop_set_ids(
    previous: Iterable[str],
    candidates: Iterable[int],
    usable: Callable[[int], bool],
    size: int = STOP_SET_SIZE,
) -> list[int]:
    """The previous round's stop set (its tasks still `usable`), topped up with candidates
    in the order given (unlabeled holdout tasks by id), up to `size`, in id order."""
    chosen = [int(task_id) for task_id in previous if usable(int(task_id))][:size]
    taken = set(chosen)
    for task_id in candidates:
        if len(chosen) >= size:
            break
        if task_id not in taken and usable(task_id):
            chosen.append(task_id)
            taken.add(task_id)
    return sorted(chosen)


def stop_agreement(previous: Mapping[str, Any], current: Mapping[str, Any]) -> float | None:
    """Kappa of two rounds' stop-set predictions ({task id: label}) on the tasks both have.

    None (no evidence either way) while the current model predicts one class only: early
    models of a rare class predict "no" everywhere, round after round, and two equal
    constant predictions would count as perfect agreement long before the model learned.
    """
    common = [task_id for task_id in current if task_id in previous]
    if not common or len({repr(current[task_id]) for task_id in common}) < 2:
        return None
    before = labels_array([previous[task_id] for task_id in common])
    after = labels_array([current[task_id] for task_id in common])
    return float(prediction_agreement(before, after))


def stop_suggested(agreements: Collection[float | None]) -> bool:
    """Whether the rounds' agreements, since the last round without one, suggest stopping."""
    since: list[float] = []
    for agreement in agreements:
        since = [] if agreement is None else [*since, agreement]
    return should_stop(since, threshold=STOP_THRESHOLD, window=STOP_WINDOW)
