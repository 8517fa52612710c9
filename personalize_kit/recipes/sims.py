"""SIMS (``aws-sims``): items related to a given item, from their co-occurrence in users' histories.

Training:

1. users whose history length (number of interactions) lies outside the
   ``min``/``max_user_history_length_percentile`` of all history lengths are left out;
2. then items whose number of interactions (by the users kept) lies outside the
   ``min``/``max_item_interaction_count_percentile`` of all items' counts are left out (on both sides:
   they are neither queried nor recommended from co-occurrence, only through the popular fallback);
3. ``count(a, b)`` = distinct users who interacted with both ``a`` and ``b``; pairs with fewer than
   ``min_cointeraction_count`` are dropped;
4. ``similarity(a, b) = count(a, b) / (users(a) * users(b)) ** popularity_discount_factor``: with 0 the
   items most often seen together (mostly popular items) come first, with 1 the items whose users
   mostly also had ``a``, whatever their popularity.

The :data:`MAX_NEIGHBOURS` most similar items of each item are kept. At serving time an item's list is
filled up with the most popular items (unique users over all interactions) when it has fewer related
items than asked for, and entirely for an item the model does not know. The service gives no scores.

>>> frame = pd.DataFrame({"USER_ID": ["u1", "u1", "u2", "u2", "u3"], "ITEM_ID": ["a", "b", "a", "b", "c"],
...                       "TIMESTAMP": [1, 2, 3, 4, 5]})
>>> model = Sims().fit(frame, hyperparameters={"min_cointeraction_count": "2"})
>>> model.recommend(item_id="a", n=2)
[('b', None), ('c', None)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from personalize_kit.exceptions import RecipeInputError
from personalize_kit.recipes.base import Range, Ranked, Recipe

__all__ = ["MAX_NEIGHBOURS", "Sims", "as_csr", "top_per_row"]

#: Related items kept per item: the most GetRecommendations can ask for (numResults <= 500).
MAX_NEIGHBOURS = 500
#: Items whose co-occurrence rows are computed at once (bounds memory on large catalogues).
_BLOCK_ITEMS = 2048


class Sims(Recipe):
    """``aws-sims``: item-to-item similarity from co-occurrence, with a popularity discount.

    ``recommend(item_id=...)`` returns related items (never the item itself), filled up with popular
    items; ``recommend(user_id=...)`` without an item and ``rank`` raise :class:`RecipeInputError`,
    as the service answers such calls with ``InvalidInputException``.

    >>> frame = pd.DataFrame({"USER_ID": list("xxyyz"), "ITEM_ID": list("abacc"), "TIMESTAMP": range(5)})
    >>> Sims().fit(frame, hyperparameters={"min_cointeraction_count": "1"}).recommend(item_id="b", n=2)
    [('a', None), ('c', None)]
    """

    name = "aws-sims"
    recipe_type = "RELATED_ITEMS"
    default_hyperparameters: ClassVar[Mapping[str, str]] = {
        "popularity_discount_factor": "0.5",
        "min_cointeraction_count": "3",
        "min_user_history_length_percentile": "0.005",
        "max_user_history_length_percentile": "0.995",
        "min_item_interaction_count_percentile": "0.01",
        "max_item_interaction_count_percentile": "0.9",
    }
    #: ``name -> (value type, lower bound, upper bound)``, value types as the service names them.
    hyperparameter_ranges: ClassVar[Mapping[str, Range]] = {
        "popularity_discount_factor": ("continuous", 0.0, 1.0),
        "min_cointeraction_count": ("integer", 0, 10),
        "min_user_history_length_percentile": ("continuous", 0.0, 1.0),
        "max_user_history_length_percentile": ("continuous", 0.0, 1.0),
        "min_item_interaction_count_percentile": ("continuous", 0.0, 1.0),
        "max_item_interaction_count_percentile": ("continuous", 0.0, 1.0),
    }

    def __init__(self) -> None:
        self._items = np.array([], dtype=str)
        self._popular = np.array([], dtype=np.int64)
        self._indptr = np.zeros(1, dtype=np.int64)
        self._indices = np.array([], dtype=np.int32)
        self._data = np.array([], dtype=np.float32)
        self._hyperparameters: dict[str, str] = dict(self.default_hyperparameters)
        self._position: dict[str, int] | None = None

    # ------------------------------------------------------------------------------ hyperparameters

    @property
    def hyperparameters(self) -> dict[str, str]:
        """The hyperparameters the model was trained with, defaults filled in."""
        return dict(self._hyperparameters)

    # ---------------------------------------------------------------------------------------- fit

    def fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        hyperparameters: Mapping[str, str] | None = None,
    ) -> Sims:
        self._hyperparameters = self.resolved_hyperparameters(hyperparameters)
        params = {key: float(value) for key, value in self._hyperparameters.items()}

        missing = [c for c in ("USER_ID", "ITEM_ID") if c not in interactions.columns]
        if missing:
            raise RecipeInputError(f"interactions lack the column(s) {', '.join(missing)} that {self.name} needs")
        user_codes, user_ids = pd.factorize(interactions["USER_ID"].astype(str).to_numpy())
        item_codes, item_ids = pd.factorize(interactions["ITEM_ID"].astype(str).to_numpy(), sort=True)
        n_users, n_items = len(user_ids), len(item_ids)
        self._items = np.asarray(item_ids, dtype=str)
        self._position = None

        everyone = _distinct_pairs(user_codes, item_codes, n_items)
        popularity = np.bincount(everyone[1], minlength=n_items)
        self._popular = np.lexsort((np.arange(n_items), -popularity)).astype(np.int64)

        history = np.bincount(user_codes, minlength=n_users)
        keep_user = _within(history, params, "user_history_length")
        rows = keep_user[user_codes]
        counts = np.bincount(item_codes[rows], minlength=n_items)
        present = counts > 0
        keep_item = np.zeros(n_items, dtype=bool)
        keep_item[present] = _within(counts[present], params, "item_interaction_count")
        rows &= keep_item[item_codes]
        users, items_kept = _distinct_pairs(user_codes[rows], item_codes[rows], n_items)

        self._indptr, self._indices, self._data = _neighbours(
            users,
            items_kept,
            n_users,
            n_items,
            min_count=int(params["min_cointeraction_count"]),
            discount=params["popularity_discount_factor"],
        )
        return self

    # ------------------------------------------------------------------------------------ serving

    @property
    def catalogue(self) -> np.ndarray:
        return self._items

    def related(self, item_id: str) -> list[tuple[str, float]]:
        """The item's related items with their similarity, most similar first (no popular fill).

        >>> frame = pd.DataFrame({"USER_ID": list("xxyy"), "ITEM_ID": list("abab"), "TIMESTAMP": range(4)})
        >>> Sims().fit(frame, hyperparameters={"min_cointeraction_count": "1"}).related("a")
        [('b', 1.0)]
        """
        index = self._index().get(str(item_id))
        if index is None:
            return []
        lo, hi = int(self._indptr[index]), int(self._indptr[index + 1])
        names = self._items[self._indices[lo:hi]].tolist()
        return list(zip(names, self._data[lo:hi].astype(float).tolist(), strict=True))

    def recommend(
        self,
        *,
        user_id: str | None = None,
        item_id: str | None = None,
        n: int = 25,
        recent_events: pd.DataFrame | None = None,
        exclude: Sequence[str] = (),
    ) -> Ranked:
        if item_id is None:
            raise RecipeInputError(
                f"{self.name} recommends items related to an item: pass item_id (GetRecommendations itemId); "
                "for recommendations for a user, use a User-Personalization recipe"
            )
        item_id = str(item_id)
        skip = set(exclude)
        skip.add(item_id)
        out: Ranked = []
        seen: set[str] = set()
        index = self._index().get(item_id)
        candidates: list[np.ndarray] = []
        if index is not None:
            candidates.append(self._indices[int(self._indptr[index]) : int(self._indptr[index + 1])])
        candidates.append(self._popular)
        for block in candidates:
            for name in self._items[block].tolist():
                if len(out) >= n:
                    return out
                if name not in skip and name not in seen:
                    seen.add(name)
                    out.append((name, None))
        return out

    def rank(self, user_id: str, items: Sequence[str], recent_events: pd.DataFrame | None = None) -> Ranked:
        raise RecipeInputError(
            f"{self.name} is a RELATED_ITEMS recipe and cannot rank items for a user "
            "(GetPersonalizedRanking); use a Personalized-Ranking recipe"
        )

    def _index(self) -> dict[str, int]:
        if self._position is None:
            self._position = {name: i for i, name in enumerate(self._items.tolist())}
        return self._position

    # ---------------------------------------------------------------------------------- save/load

    def _save_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            "items": self._items.astype(str),
            "popular": self._popular,
            "indptr": self._indptr,
            "indices": self._indices,
            "data": self._data,
        }
        return arrays, {"hyperparameters": self._hyperparameters, "max_neighbours": MAX_NEIGHBOURS}

    @classmethod
    def _from_arrays(cls, arrays: Mapping[str, np.ndarray], settings: Mapping[str, Any]) -> Sims:
        model = cls()
        model._items = np.asarray(arrays["items"]).astype(str)
        model._popular = np.asarray(arrays["popular"]).astype(np.int64)
        model._indptr = np.asarray(arrays["indptr"]).astype(np.int64)
        model._indices = np.asarray(arrays["indices"]).astype(np.int32)
        model._data = np.asarray(arrays["data"]).astype(np.float32)
        model._hyperparameters = dict(cls.default_hyperparameters) | dict(settings.get("hyperparameters", {}))
        return model


def _distinct_pairs(users: np.ndarray, items: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (user, item) code pairs, sorted by user then item."""
    keys = np.unique(users.astype(np.int64) * max(n_items, 1) + items.astype(np.int64))
    return keys // max(n_items, 1), keys % max(n_items, 1)


def _within(values: np.ndarray, params: Mapping[str, float], what: str) -> np.ndarray:
    """True where ``values`` lie within the ``min_/max_{what}_percentile`` of ``values`` (bounds included).

    The bounds are observed values (the lower one rounded down, the upper one up), so that nothing is
    left out of a small data set by interpolation alone.
    """
    if values.size == 0:
        return np.zeros(0, dtype=bool)
    low = np.quantile(values, params[f"min_{what}_percentile"], method="lower")
    high = np.quantile(values, params[f"max_{what}_percentile"], method="higher")
    return (values >= low) & (values <= high)


def _neighbours(
    users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, *, min_count: int, discount: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR parts (indptr, indices, similarity) of each item's :data:`MAX_NEIGHBOURS` most similar items.

    Within a row, items are ordered by similarity, then by item index, so that results are deterministic.
    """
    from scipy import sparse

    matrix = sparse.csr_matrix(
        (np.ones(users.size, dtype=np.int32), (users, items)), shape=(n_users, n_items), dtype=np.int32
    )
    by_item = matrix.T.tocsr()
    users_of = np.diff(by_item.indptr).astype(np.float64)
    weight = np.zeros(n_items, dtype=np.float64)
    weight[users_of > 0] = users_of[users_of > 0] ** -discount
    threshold = max(min_count, 1)
    lengths, indices, data = [], [], []
    for start in range(0, n_items, _BLOCK_ITEMS):
        stop = min(start + _BLOCK_ITEMS, n_items)
        block = (by_item[start:stop] @ matrix).tocoo()
        row = block.row.astype(np.int64) + start
        col = block.col.astype(np.int64)
        count = block.data
        keep = (row != col) & (count >= threshold)
        row, col = row[keep], col[keep]
        score = count[keep] * weight[row] * weight[col]
        parts = top_per_row(row - start, col, score, stop - start)
        for found, part in zip((lengths, indices, data), parts, strict=True):
            found.append(part)
    return as_csr(lengths, indices, data)


def top_per_row(
    row: np.ndarray, col: np.ndarray, score: np.ndarray, n_rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each of ``n_rows`` rows' :data:`MAX_NEIGHBOURS` best ``(col, score)`` entries, ordered by score, then
    column (deterministic): the row lengths, columns (int32) and scores (float32) of a block of CSR rows."""
    order = np.lexsort((col, -score, row))
    row, col, score = row[order], col[order], score[order]
    per_row = np.bincount(row, minlength=n_rows)
    first = np.concatenate([[0], np.cumsum(per_row)[:-1]]).astype(np.int64)
    top = (np.arange(row.size) - first[row]) < MAX_NEIGHBOURS
    return np.minimum(per_row, MAX_NEIGHBOURS), col[top].astype(np.int32), score[top].astype(np.float32)


def as_csr(
    lengths: list[np.ndarray], indices: list[np.ndarray], data: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR parts (indptr, indices, data) of blocks made by :func:`top_per_row`."""
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(lengths or [np.zeros(0, np.int64)]))]).astype(np.int64)
    empty_i, empty_f = np.zeros(0, np.int32), np.zeros(0, np.float32)
    return indptr, np.concatenate(indices or [empty_i]), np.concatenate(data or [empty_f])
