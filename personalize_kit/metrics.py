"""Amazon Personalize's offline metrics (GetSolutionMetrics) and the hold-out split they are computed on.

Definitions, from the developer guide's "Evaluating a solution version with metrics":

- *relevant*: a recommended item that is in the user's truth set (the newest 10% of a test user's
  interactions); *position* 1 is the top of the list; a *query* is one user's recommendation list.
- ``precision_at_K`` = relevant items in the top K / K, averaged over queries.
- ``mean_reciprocal_rank_at_25`` = mean over queries of 1 / rank of the first relevant item in the top 25
  (0 when there is none).
- ``normalized_discounted_cumulative_gain_at_K``: each relevant item in the top K gains
  ``1 / log(1 + position)``; the sum (DCG) is divided by the ideal DCG, the DCG of a list that puts
  ``min(number relevant, K)`` relevant items on top.
- ``coverage`` = distinct items recommended over all queries / distinct items in the Interactions and
  Items datasets (the ``catalogue_size`` argument).

Conventions where the guide is silent: an item recommended twice in one list counts once (at its first
position), so every metric stays within [0, 1]; a query with no relevant item scores 0 on every metric
and still counts in the mean (:func:`evaluate_recommender` only asks about users who have truth items);
metrics are not rounded (the service shows 4 decimals).

Example:
    >>> hits = hit_matrix([["a", "b", "c", "d", "e"]], [{"b", "e"}], 5)
    >>> round(normalized_discounted_cumulative_gain_at_k(hits, relevant_counts([{"b", "e"}]), 5), 4)
    0.6241
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from personalize_kit.exceptions import EvaluationError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "METRIC_NAMES",
    "HoldoutSplit",
    "coverage",
    "evaluate_recommender",
    "hit_matrix",
    "holdout_split",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_k",
    "precision_at_k",
    "relevant_counts",
    "solution_metrics",
]

#: The keys of GetSolutionMetrics' ``metrics`` map, in the order the service lists them.
METRIC_NAMES = (
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
)
#: The cut-offs of the ranking metrics, and the longest list they look at.
CUTOFFS = (5, 10, 25)
MAX_K = 25


# ----------------------------------------------------------------------------------------- hits


def hit_matrix(recommended: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], k: int) -> NDArray[np.bool_]:
    """Boolean matrix (queries x k): True where the item at that position is relevant to that query.

    Lists longer than ``k`` are cut; shorter ones leave False columns; a repeated item counts only at
    its first position.

    Example:
        >>> hit_matrix([["a", "b", "a"]], [{"a"}], 4).tolist()
        [[True, False, False, False]]
    """
    if k < 1:
        raise EvaluationError(f"k must be at least 1, got {k}")
    if len(recommended) != len(relevant):
        raise EvaluationError(
            f"recommended has {len(recommended)} queries but relevant has {len(relevant)}; give one truth set "
            "per recommendation list, in the same order"
        )
    n_queries = len(recommended)
    rec_lists = [list(r)[:k] for r in recommended]
    rel_lists = [list(r) for r in relevant]
    rec_lengths = np.fromiter((len(r) for r in rec_lists), dtype=np.int64, count=n_queries)
    rel_lengths = np.fromiter((len(r) for r in rel_lists), dtype=np.int64, count=n_queries)
    hits = np.zeros((n_queries, k), dtype=bool)
    n_rec = int(rec_lengths.sum())
    if n_rec == 0 or int(rel_lengths.sum()) == 0:
        return hits
    flat_rec = np.fromiter(chain.from_iterable(rec_lists), dtype=object, count=n_rec)
    flat_rel = np.fromiter(chain.from_iterable(rel_lists), dtype=object, count=int(rel_lengths.sum()))
    codes, uniques = pd.factorize(np.concatenate([flat_rec, flat_rel]))
    n_codes = max(len(uniques), 1)
    query_of_rec = np.repeat(np.arange(n_queries, dtype=np.int64), rec_lengths)
    query_of_rel = np.repeat(np.arange(n_queries, dtype=np.int64), rel_lengths)
    rec_keys = query_of_rec * n_codes + codes[:n_rec]
    rel_keys = query_of_rel * n_codes + codes[n_rec:]
    is_hit = np.isin(rec_keys, rel_keys)
    first = np.zeros(n_rec, dtype=bool)
    first[np.unique(rec_keys, return_index=True)[1]] = True
    starts = np.concatenate([[0], np.cumsum(rec_lengths)[:-1]])
    positions = np.arange(n_rec) - np.repeat(starts, rec_lengths)
    hits[query_of_rec, positions] = is_hit & first
    return hits


def relevant_counts(relevant: Sequence[Collection[str]]) -> NDArray[np.int64]:
    """Number of distinct relevant items per query.

    Example:
        >>> relevant_counts([{"a", "b"}, set()]).tolist()
        [2, 0]
    """
    return np.fromiter((len(set(r)) for r in relevant), dtype=np.int64, count=len(relevant))


def _check_hits(hits: NDArray[np.bool_]) -> NDArray[np.bool_]:
    arr = np.asarray(hits)
    if arr.ndim != 2:
        raise EvaluationError(f"hits must be a 2-D (queries x positions) matrix, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise EvaluationError("cannot average a metric over zero queries: no recommendation list was given")
    return arr.astype(bool, copy=False)


def _top(hits: NDArray[np.bool_], k: int) -> NDArray[np.bool_]:
    """The first k columns, padded with False when the matrix is narrower."""
    if k < 1:
        raise EvaluationError(f"k must be at least 1, got {k}")
    top = hits[:, :k]
    if top.shape[1] < k:
        top = np.pad(top, ((0, 0), (0, k - top.shape[1])))
    return top


# -------------------------------------------------------------------------------------- metrics


def precision_at_k(hits: NDArray[np.bool_], k: int) -> float:
    """Mean over queries of (relevant items in the top k) / k.

    Example:
        >>> precision_at_k(np.array([[False, True, False, False, True]]), 5)
        0.4
    """
    top = _top(_check_hits(hits), k)
    return float(top.sum(axis=1).mean() / k)


def mean_reciprocal_rank_at_25(hits: NDArray[np.bool_]) -> float:
    """Mean over queries of 1 / position of the first relevant item in the top 25 (0 if none).

    Example:
        >>> mean_reciprocal_rank_at_25(np.array([[False, True], [False, False]]))
        0.25
    """
    top = _check_hits(hits)[:, :MAX_K]
    if top.shape[1] == 0:
        return 0.0
    any_hit = top.any(axis=1)
    first = top.argmax(axis=1)
    reciprocal = np.where(any_hit, 1.0 / (first + 1), 0.0)
    return float(reciprocal.mean())


def normalized_discounted_cumulative_gain_at_k(
    hits: NDArray[np.bool_], n_relevant: Sequence[int] | NDArray[np.integer], k: int
) -> float:
    """Mean NDCG@k with binary gains, weights ``1/log(1 + position)`` and the ideal DCG of
    ``min(n_relevant, k)`` relevant items on top; a query with no relevant item scores 0.

    Example:
        >>> round(normalized_discounted_cumulative_gain_at_k(np.array([[0, 1, 0, 0, 1]]), [2], 5), 4)
        0.6241
    """
    top = _top(_check_hits(hits), k)
    counts = np.asarray(n_relevant, dtype=np.int64)
    if counts.shape != (top.shape[0],):
        raise EvaluationError(f"n_relevant must hold one count per query ({top.shape[0]}), got shape {counts.shape}")
    discounts = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))
    dcg = top.astype(np.float64) @ discounts
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[np.clip(counts, 0, k)]
    ndcg = np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)
    return float(ndcg.mean())


def coverage(recommended: Sequence[Sequence[str]], catalogue_size: int, *, k: int = MAX_K) -> float:
    """Distinct items in the top-k lists of all queries / ``catalogue_size``.

    ``catalogue_size`` is the number of distinct item ids in the Interactions and Items datasets.

    Example:
        >>> coverage([["a", "b"], ["b", "c"]], catalogue_size=10)
        0.3
    """
    if catalogue_size < 1:
        raise EvaluationError(
            f"catalogue_size must be at least 1 (distinct items in Interactions and Items), got {catalogue_size}"
        )
    distinct = set(chain.from_iterable(list(r)[:k] for r in recommended))
    return len(distinct) / catalogue_size


def solution_metrics(
    recommended: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], *, catalogue_size: int
) -> dict[str, float]:
    """The metrics GetSolutionMetrics returns, computed from recommendation lists and truth sets.

    Example:
        >>> m = solution_metrics([["a", "b", "c", "d", "e"]], [{"b", "e"}], catalogue_size=10)
        >>> round(m["normalized_discounted_cumulative_gain_at_5"], 4), m["precision_at_5"], m["coverage"]
        (0.6241, 0.4, 0.5)
    """
    if len(recommended) == 0:
        raise EvaluationError("cannot compute metrics over zero queries: no recommendation list was given")
    hits = hit_matrix(recommended, relevant, MAX_K)
    counts = relevant_counts(relevant)
    out = {
        "coverage": coverage(recommended, catalogue_size, k=MAX_K),
        "mean_reciprocal_rank_at_25": mean_reciprocal_rank_at_25(hits),
    }
    for k in CUTOFFS:
        out[f"normalized_discounted_cumulative_gain_at_{k}"] = normalized_discounted_cumulative_gain_at_k(
            hits, counts, k
        )
    for k in CUTOFFS:
        out[f"precision_at_{k}"] = precision_at_k(hits, k)
    return {name: out[name] for name in METRIC_NAMES}


# ----------------------------------------------------------------------------------------- split


@dataclass(frozen=True)
class HoldoutSplit:
    """Personalize's evaluation split of an Interactions frame.

    - ``train``: every interaction of the users that are not held out (original row order and index);
    - ``test_input``: each held-out user's oldest interactions (about 90%), sorted by user then time;
    - ``test_truth``: each held-out user's newest interactions (about 10%), sorted by user then time;
    - ``test_users``: the held-out user ids, sorted.

    The original index labels are kept, so the three frames partition the input's rows.
    """

    train: pd.DataFrame
    test_input: pd.DataFrame
    test_truth: pd.DataFrame
    test_users: tuple[str, ...]
    seed: int = 0
    fold: int = 0

    def training_data(self, *, include_test_input: bool) -> pd.DataFrame:
        """The interactions to train on: ``train`` alone, or with ``test_input`` appended.

        Personalize trains on ``train`` alone and gives the model the test input when it asks for
        recommendations; a model that only learns users at training time (batch protocol) needs
        ``include_test_input=True`` to know the held-out users at all.

        Example:
            >>> df = pd.DataFrame({"USER_ID": list("aabb"), "ITEM_ID": list("wxyz"), "TIMESTAMP": [1, 2, 1, 2]})
            >>> split = holdout_split(df, test_user_fraction=0.5)
            >>> len(split.training_data(include_test_input=True))
            3
        """
        if not include_test_input:
            return self.train
        return pd.concat([self.train, self.test_input])

    def truth_by_user(self) -> dict[str, set[str]]:
        """Each held-out user with at least one truth interaction, mapped to the set of its truth items.

        Example:
            >>> df = pd.DataFrame({"USER_ID": list("aabb"), "ITEM_ID": list("wxyz"), "TIMESTAMP": [1, 2, 1, 2]})
            >>> holdout_split(df, test_user_fraction=0.5).truth_by_user()
            {'a': {'x'}}
        """
        truth: dict[str, set[str]] = {}
        users = self.test_truth["USER_ID"].astype(str).to_numpy()
        items = self.test_truth["ITEM_ID"].astype(str).to_numpy()
        for user, item in zip(users, items, strict=True):
            truth.setdefault(user, set()).add(item)
        return dict(sorted(truth.items()))


def holdout_split(
    interactions: pd.DataFrame,
    *,
    test_user_fraction: float = 0.1,
    input_fraction: float = 0.9,
    seed: int = 0,
    fold: int = 0,
) -> HoldoutSplit:
    """Split interactions the way Personalize does to compute solution metrics.

    ``floor(test_user_fraction x users)`` users (at least 1) are held out: the users are shuffled with
    ``seed`` and fold ``f`` takes the ``f``-th block of that size, so the folds of one seed hold disjoint
    users (there are ``users // block`` folds). A held-out user with ``n >= 2`` interactions gives its
    oldest ``floor(input_fraction x n)`` interactions, clipped to [1, n - 1], as input and the rest as
    truth: at least one truth interaction per user, e.g. n=10 -> 9 + 1, n=15 -> 13 + 2, n=2 -> 1 + 1.
    A held-out user with a single interaction has input only. Equal timestamps keep the input's row order.

    Example:
        >>> df = pd.DataFrame({"USER_ID": ["u"] * 10 + ["v"] * 10, "ITEM_ID": [str(i) for i in range(20)],
        ...                    "TIMESTAMP": list(range(20))})
        >>> s = holdout_split(df, test_user_fraction=0.5, seed=1)
        >>> len(s.train), len(s.test_input), len(s.test_truth)
        (10, 9, 1)
    """
    missing = [c for c in ("USER_ID", "ITEM_ID", "TIMESTAMP") if c not in interactions.columns]
    if missing:
        raise EvaluationError(
            f"interactions lack the column(s) {', '.join(missing)}; expected USER_ID, ITEM_ID and TIMESTAMP "
            "as in Personalize's Interactions dataset"
        )
    if not 0.0 < test_user_fraction < 1.0:
        raise EvaluationError(f"test_user_fraction must be between 0 and 1 (exclusive), got {test_user_fraction}")
    if not 0.0 < input_fraction < 1.0:
        raise EvaluationError(f"input_fraction must be between 0 and 1 (exclusive), got {input_fraction}")
    user_col = interactions["USER_ID"].astype(str)
    users = np.sort(user_col.unique())
    n_users = len(users)
    if n_users < 2:
        raise EvaluationError(f"need at least 2 users to hold some out, got {n_users}")
    block = max(1, math.floor(test_user_fraction * n_users + 1e-9))
    n_folds = n_users // block
    if not 0 <= fold < n_folds:
        raise EvaluationError(
            f"fold must be in [0, {n_folds - 1}] for {n_users} users held out {block} at a time, got {fold}"
        )
    order = np.random.default_rng(seed).permutation(n_users)
    test_users = np.sort(users[order[fold * block : (fold + 1) * block]])

    is_test = user_col.isin(test_users).to_numpy()
    train = interactions[~is_test]
    test = interactions[is_test]
    test_user_col = user_col[is_test].to_numpy()
    by_time = np.lexsort((np.arange(len(test)), test["TIMESTAMP"].to_numpy(), test_user_col))
    test = test.iloc[by_time]
    sorted_users = test_user_col[by_time]
    rank = pd.Series(sorted_users).groupby(sorted_users, sort=False).cumcount().to_numpy()
    sizes = pd.Series(sorted_users).groupby(sorted_users, sort=False).transform("size").to_numpy()
    n_input = np.floor(sizes * input_fraction + 1e-9).astype(np.int64)
    n_input = np.where(sizes >= 2, np.clip(n_input, 1, sizes - 1), sizes)
    is_input = rank < n_input
    return HoldoutSplit(
        train=train,
        test_input=test[is_input],
        test_truth=test[~is_input],
        test_users=tuple(str(u) for u in test_users),
        seed=seed,
        fold=fold,
    )


def evaluate_recommender(
    recommend: Callable[[str, int], Sequence[str]],
    split: HoldoutSplit,
    *,
    catalogue_size: int,
    k: int = MAX_K,
) -> dict[str, float]:
    """Ask ``recommend(user_id, k)`` for every held-out user with truth items and score the lists.

    ``recommend`` can wrap a local model or a campaign, e.g.
    ``lambda u, n: [i["itemId"] for i in runtime.get_recommendations(campaignArn=arn, userId=u,
    numResults=n)["itemList"]]``. Lists are cut to 25 for the metrics.

    Example:
        >>> df = pd.DataFrame({"USER_ID": list("aabb"), "ITEM_ID": list("wxyz"), "TIMESTAMP": [1, 2, 1, 2]})
        >>> split = holdout_split(df, test_user_fraction=0.5)
        >>> evaluate_recommender(lambda user, n: ["x", "w"], split, catalogue_size=4)["precision_at_5"]
        0.2
    """
    if k < 1:
        raise EvaluationError(f"k must be at least 1, got {k}")
    truth = split.truth_by_user()
    if not truth:
        raise EvaluationError(
            "no held-out user has a truth interaction (every held-out user has a single interaction); "
            "use more data or a larger test_user_fraction"
        )
    recommended: list[list[str]] = []
    for user in truth:
        items = recommend(user, k)
        if isinstance(items, str) or not isinstance(items, Sequence):
            raise EvaluationError(
                f"recommend({user!r}, {k}) returned {type(items).__name__}; it must return a list of item ids"
            )
        recommended.append([str(i) for i in items])
    return solution_metrics(recommended, list(truth.values()), catalogue_size=catalogue_size)


# ----------------------------------------------------------------------------- user segmentation


#: The share of the users the segmentation metrics look at (the top 1% of each item's segment).
SEGMENT_TOP_FRACTION = 0.01


def segment_split(interactions: pd.DataFrame, *, train_fraction: float = 0.8) -> tuple[pd.DataFrame, pd.DataFrame]:
    """USER_SEGMENTATION recipes' split: each user's oldest ``train_fraction`` of interactions train the model
    (at least one), the rest are the truth.

    Example:
        >>> df = pd.DataFrame({"USER_ID": ["u"] * 5, "ITEM_ID": list("abcde"), "TIMESTAMP": range(5)})
        >>> [len(part) for part in segment_split(df)]
        [4, 1]
    """
    users = interactions["USER_ID"].astype(str).to_numpy()
    order = np.lexsort((np.arange(len(interactions)), interactions["TIMESTAMP"].to_numpy(), users))
    ordered = interactions.iloc[order]
    by_user = pd.Series(users[order])
    rank = by_user.groupby(by_user, sort=False).cumcount().to_numpy()
    sizes = by_user.groupby(by_user, sort=False).transform("size").to_numpy()
    n_train = np.maximum(1, np.floor(sizes * train_fraction + 1e-9)).astype(np.int64)
    return ordered[rank < n_train], ordered[rank >= n_train]


def segment_metrics(segments: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], n_users: int) -> dict:
    """``hits_at_1_percent`` (relevant users in the top 1% of an item's segment) and ``recall_at_1_percent``
    (those hits over the item's relevant users), averaged over the items queried.

    Example:
        >>> segment_metrics([["a", "b"], ["d", "c"]], [{"a"}, {"d", "e"}], n_users=200)
        {'hits_at_1_percent': 1.0, 'recall_at_1_percent': 0.75}
    """
    if len(segments) == 0:
        raise EvaluationError("cannot compute segment metrics over zero items: no segment was given")
    top = max(1, math.floor(SEGMENT_TOP_FRACTION * n_users + 1e-9))
    hits = [len(set(list(segment)[:top]) & set(truth)) for segment, truth in zip(segments, relevant, strict=True)]
    recall = [h / len(truth) if truth else 0.0 for h, truth in zip(hits, relevant, strict=True)]
    return {"hits_at_1_percent": float(np.mean(hits)), "recall_at_1_percent": float(np.mean(recall))}
