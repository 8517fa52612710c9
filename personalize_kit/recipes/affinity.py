"""User segmentation (``USER_SEGMENTATION``): the users most likely to interact with an item, or with the
items that have given attributes.

Both recipes learn the same latent-factor model of the users' interactions:

1. ``X[user, item] = log(1 + number of interactions)``, normalised by the square roots of the user's and
   the item's totals (``D_u^-1/2 X D_i^-1/2``), so a small group of users with a taste of its own weighs as
   much in the factors as a large one;
2. that matrix is factorised into ``hidden_dimension`` factors with weight decay: the exact minimiser of
   ``|X - A B^T|^2 + lam (|A|^2 + |B|^2)`` is the truncated SVD with every singular value ``s`` shrunk to
   ``max(s - lam, 0)`` (``lam`` is :data:`SHRINK` of the largest one), so weak, noisy directions drop out
   and a user who never saw an item still scores high on it when their taste is that of its users;
3. a user's affinity to an item is ``A[user] . B[item]`` with the normalisation undone (active users and
   popular items weigh more, as they interact more); to a set of items, the mean over the set.

Item-Affinity answers ``segment(item_id=...)``; Item-Attribute-Affinity answers
``segment(item_attributes='ITEMS.GENRES = "Comedy" AND ITEMS.PRICE = 3')`` with the items of the Items
dataset matching every condition (a multi-valued categorical value ``Comedy|Action`` matches both
``"Comedy"`` and ``"Action"``) and needs an Items dataset with a metadata column. Users come best first;
ties by user id. Neither recipe serves GetRecommendations or GetPersonalizedRanking (the service
deploys no campaign for them): ``recommend`` and ``rank`` raise :class:`RecipeInputError`.

>>> frame = pd.DataFrame({"USER_ID": ["a", "a", "b", "b", "c"], "ITEM_ID": ["x", "y", "x", "y", "z"],
...                       "TIMESTAMP": range(5)})
>>> [user for user, _ in ItemAffinity().fit(frame).segment(item_id="x", n=2)]
['a', 'b']
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import sparse

from personalize_kit.exceptions import RecipeInputError
from personalize_kit.recipes.base import Range, Ranked, Recipe

__all__ = ["SHRINK", "ItemAffinity", "ItemAttributeAffinity", "parse_item_attributes"]

#: Weight decay of the factorisation, as a fraction of the largest singular value.
SHRINK = 0.3
#: Items columns that are no metadata (the service's reserved fields).
_RESERVED = ("ITEM_ID", "CREATION_TIMESTAMP")
_CONDITION = re.compile(
    r'^\s*ITEMS\.([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|(-?[0-9]+(?:\.[0-9]+)?))\s*$', re.IGNORECASE
)


def parse_item_attributes(expression: str) -> list[tuple[str, str]]:
    """``(column, value)`` conditions of an ``itemAttributes`` expression (``=`` joined by ``AND``).

    >>> parse_item_attributes('ITEMS.genres = "Comedy" AND ITEMS.year = 1999')
    [('genres', 'Comedy'), ('year', '1999')]
    """
    conditions = []
    for part in re.split(r"\s+AND\s+", expression.strip(), flags=re.IGNORECASE):
        match = _CONDITION.match(part)
        if match is None:
            raise RecipeInputError(
                f'itemAttributes condition {part.strip()[:100]!r} is not of the form ITEMS.COLUMN = "value" '
                "(conditions are joined with AND; only = is supported)"
            )
        column, text, number = match.groups()
        conditions.append((column, text.replace('\\"', '"') if text is not None else number))
    return conditions


def _factorise(matrix: sparse.csr_matrix, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """User and item factors of ``matrix`` (randomised truncated SVD, singular values soft-thresholded)."""
    k = max(1, min(k, *matrix.shape))
    rng = np.random.default_rng(seed)
    width = min(k + 10, min(matrix.shape))
    basis, _ = np.linalg.qr(matrix @ rng.standard_normal((matrix.shape[1], width)))
    for _ in range(4):  # power iterations sharpen the spectrum
        basis, _ = np.linalg.qr(matrix.T @ basis)
        basis, _ = np.linalg.qr(matrix @ basis)
    left, values, right = np.linalg.svd(np.asarray((matrix.T @ basis).T), full_matrices=False)
    left, values, right = basis @ left[:, :k], values[:k], right[:k].T
    shrunk = np.maximum(values - SHRINK * (values[0] if values.size else 0.0), 0.0)
    keep = shrunk > 0
    root = np.sqrt(shrunk[keep])
    return (left[:, keep] * root).astype(np.float32), (right[:, keep] * root).astype(np.float32)


class ItemAffinity(Recipe):
    """``aws-item-affinity``: the users most likely to interact with an item (see the module docstring)."""

    name = "aws-item-affinity"
    recipe_type = "USER_SEGMENTATION"
    reads_recent_events = False
    default_hyperparameters: ClassVar[Mapping[str, str]] = {"hidden_dimension": "149"}
    hyperparameter_ranges: ClassVar[Mapping[str, Range]] = {"hidden_dimension": ("integer", 32, 256)}

    def __init__(self) -> None:
        self._users = np.array([], dtype=str)
        self._items = np.array([], dtype=str)
        self._user_factors = np.zeros((0, 0), dtype=np.float32)
        self._item_factors = np.zeros((0, 0), dtype=np.float32)

    def fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        hyperparameters: Mapping[str, str] | None = None,
    ) -> ItemAffinity:
        settings = {**self.default_hyperparameters, **(hyperparameters or {})}
        pairs = interactions[["USER_ID", "ITEM_ID"]].astype(str)
        user_codes, user_ids = pd.factorize(pairs["USER_ID"], sort=True)
        item_codes, item_ids = pd.factorize(pairs["ITEM_ID"], sort=True)
        counts = sparse.csr_matrix(
            (np.ones(len(pairs), dtype=np.float64), (user_codes, item_codes)), shape=(len(user_ids), len(item_ids))
        )
        counts.sum_duplicates()
        counts.data = np.log1p(counts.data)
        user_root = np.sqrt(np.asarray(counts.sum(axis=1)).ravel())
        item_root = np.sqrt(np.asarray(counts.sum(axis=0)).ravel())
        normalised = sparse.csr_matrix(sparse.diags(1 / user_root) @ counts @ sparse.diags(1 / item_root))
        user_factors, item_factors = _factorise(normalised, int(settings["hidden_dimension"]))
        self._users = np.asarray(user_ids, dtype=str)
        self._items = np.asarray(item_ids, dtype=str)
        self._user_factors = user_factors * user_root[:, None].astype(np.float32)
        self._item_factors = item_factors * item_root[:, None].astype(np.float32)
        return self

    @property
    def catalogue(self) -> np.ndarray:
        return self._items

    @property
    def users(self) -> np.ndarray:
        """Every user the model can put in a segment."""
        return self._users

    def _ranked(self, item_vector: np.ndarray, n: int) -> Ranked:
        scores = self._user_factors @ item_vector
        order = np.lexsort((self._users, -scores))[: max(0, n)]
        return [(str(self._users[i]), float(scores[i])) for i in order]

    def _item_rows(self, item_ids: Sequence[str]) -> np.ndarray:
        position = {item: i for i, item in enumerate(self._items.tolist())}
        return np.array([position[item] for item in item_ids if item in position], dtype=np.int64)

    def segment_of_items(self, item_ids: Sequence[str], n: int = 25) -> Ranked:
        """The ``n`` users most likely to interact with the items (those the model knows), best first."""
        rows = self._item_rows([str(item) for item in item_ids])
        if rows.size == 0:
            return []
        return self._ranked(self._item_factors[rows].mean(axis=0), n)

    def segment(self, *, item_id: str | None = None, item_attributes: str | None = None, n: int = 25) -> Ranked:
        """The ``n`` users most likely to interact with ``item_id``, best first, with their affinity."""
        if item_id is None or item_attributes is not None:
            raise RecipeInputError(f"an input line of a {self.name} job needs itemId (and no itemAttributes)")
        if not self._item_rows([str(item_id)]).size:
            raise RecipeInputError(f"itemId {item_id} is not in the solution version's training data")
        return self.segment_of_items([str(item_id)], n)

    def recommend(
        self,
        *,
        user_id: str | None = None,
        item_id: str | None = None,
        n: int = 25,
        recent_events: pd.DataFrame | None = None,
        exclude: Sequence[str] = (),
    ) -> Ranked:
        raise RecipeInputError(f"{self.name} makes user segments: use a batch segment job")

    def rank(self, user_id: str, items: Sequence[str], recent_events: pd.DataFrame | None = None) -> Ranked:
        raise RecipeInputError(f"{self.name} makes user segments: use a batch segment job")

    def _save_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            "users": self._users.astype(str),
            "items": self._items.astype(str),
            "user_factors": self._user_factors,
            "item_factors": self._item_factors,
        }
        return arrays, {}

    @classmethod
    def _from_arrays(cls, arrays: Mapping[str, np.ndarray], settings: Mapping[str, Any]) -> ItemAffinity:
        model = cls()
        model._users = np.asarray(arrays["users"]).astype(str)
        model._items = np.asarray(arrays["items"]).astype(str)
        model._user_factors = np.asarray(arrays["user_factors"], dtype=np.float32)
        model._item_factors = np.asarray(arrays["item_factors"], dtype=np.float32)
        return model


class ItemAttributeAffinity(ItemAffinity):
    """``aws-item-attribute-affinity``: the users most likely to interact with the items having attributes.

    >>> frame = pd.DataFrame({"USER_ID": ["a", "a", "b", "b"], "ITEM_ID": ["x", "y", "z", "w"],
    ...                       "TIMESTAMP": range(4)})
    >>> items = pd.DataFrame({"ITEM_ID": ["x", "y", "z", "w"], "GENRE": ["Comedy|Action", "Comedy", "Drama", "Drama"]})
    >>> model = ItemAttributeAffinity().fit(frame, items)
    >>> [user for user, _ in model.segment(item_attributes='ITEMS.GENRE = "Comedy"', n=1)]
    ['a']
    """

    name = "aws-item-attribute-affinity"

    def __init__(self) -> None:
        super().__init__()
        self._attribute_items = np.array([], dtype=str)
        self._columns: dict[str, np.ndarray] = {}

    def fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        hyperparameters: Mapping[str, str] | None = None,
    ) -> ItemAttributeAffinity:
        columns = [c for c in (items.columns if items is not None else ()) if c not in _RESERVED]
        if items is None or not columns:
            raise RecipeInputError(
                f"Recipe {self.name} needs an Items dataset with at least one metadata column besides "
                f"{' and '.join(_RESERVED)}: import one into the dataset group and train again"
            )
        super().fit(interactions, items, users, hyperparameters)
        rows = items.drop_duplicates("ITEM_ID", keep="last")
        self._attribute_items = rows["ITEM_ID"].astype(str).to_numpy(dtype=str)
        self._columns = {c: rows[c].map(lambda v: "" if pd.isna(v) else str(v)).to_numpy(dtype=str) for c in columns}
        return self

    def _matching(self, conditions: list[tuple[str, str]]) -> list[str]:
        keep = np.ones(len(self._attribute_items), dtype=bool)
        by_name = {c.lower(): c for c in self._columns}
        for column, value in conditions:
            name = by_name.get(column.lower())
            if name is None:
                raise RecipeInputError(
                    f"ITEMS.{column} is not a column of the Items dataset ({', '.join(sorted(self._columns))})"
                )
            values = self._columns[name]
            keep &= np.array([value in cell.split("|") or _same_number(cell, value) for cell in values.tolist()])
        return self._attribute_items[keep].tolist()

    def segment(self, *, item_id: str | None = None, item_attributes: str | None = None, n: int = 25) -> Ranked:
        """The ``n`` users most likely to interact with the items matching ``item_attributes``."""
        if not isinstance(item_attributes, str) or item_id is not None:
            raise RecipeInputError(f"an input line of a {self.name} job needs itemAttributes (and no itemId)")
        ranked = self.segment_of_items(self._matching(parse_item_attributes(item_attributes)), n)
        if not ranked and n > 0:
            raise RecipeInputError(f"no item of the training data matches itemAttributes {item_attributes[:200]}")
        return ranked

    def _save_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, settings = super()._save_arrays()
        arrays["attribute_items"] = self._attribute_items.astype(str)
        for k, (_, values) in enumerate(sorted(self._columns.items())):
            arrays[f"column_{k}"] = values.astype(str)
        return arrays, {**settings, "columns": sorted(self._columns)}

    @classmethod
    def _from_arrays(cls, arrays: Mapping[str, np.ndarray], settings: Mapping[str, Any]) -> ItemAttributeAffinity:
        model = cls()
        base = ItemAffinity._from_arrays(arrays, settings)
        model._users, model._items = base._users, base._items
        model._user_factors, model._item_factors = base._user_factors, base._item_factors
        model._attribute_items = np.asarray(arrays["attribute_items"]).astype(str)
        model._columns = {c: np.asarray(arrays[f"column_{k}"]).astype(str) for k, c in enumerate(settings["columns"])}
        return model


def _same_number(cell: str, value: str) -> bool:
    try:
        return float(cell) == float(value)
    except ValueError:
        return False
