"""Evaluation of parsed filter expressions over a catalogue, per recommendation request.

The semantics are described in :mod:`personalize_kit.filters.language`; :class:`BoundFilter` caches per
catalogue what does not change between requests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from personalize_kit.exceptions import InvalidFilterValuesError
from personalize_kit.filters.language import (
    ACTION_INTERACTIONS,
    CURRENT_ITEM,
    INTERACTIONS,
    ITEM_ID,
    MAX_INTERACTIONS_PER_EVENT_TYPE,
    SUBJECTS,
    And,
    Comparison,
    Condition,
    FieldRef,
    FilterExpression,
    FilterPart,
    Number,
    Or,
    Param,
    _comparisons,
    parse_filter_values,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

_ITEM_ID_COLUMN = SUBJECTS[ITEM_ID][2]


class _Column:
    """Derived data of one Items column: numeric view and an inverted index of its (split) values."""

    def __init__(self, series: pd.Series) -> None:
        self.is_numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
        self._series = series
        self._numeric: NDArray[np.float64] | None = None
        self._index: dict[str, NDArray[np.intp]] | None = None

    @property
    def numeric(self) -> NDArray[np.float64]:
        if self._numeric is None:
            num = pd.to_numeric(self._series, errors="coerce")
            self._numeric = np.asarray(num.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
        return self._numeric

    @property
    def index(self) -> dict[str, NDArray[np.intp]]:
        if self._index is None:
            s = self._series
            present = s.notna().to_numpy()
            rows = np.flatnonzero(present)
            texts = s[present].astype(str)
            split = texts.str.split("|")
            lengths = split.str.len().to_numpy()
            flat = np.fromiter((v for parts in split for v in parts), dtype=object, count=int(lengths.sum()))
            owners = np.repeat(rows, lengths)
            keep = flat != ""
            flat, owners = flat[keep], owners[keep]
            codes, uniques = pd.factorize(flat)
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
            self._index = {str(u): owners[order[bounds[k] : bounds[k + 1]]] for k, u in enumerate(uniques)}
        return self._index

    def value_at(self, row: int) -> list[str] | None:
        """The value(s) of one row, split on ``|``; None when null."""
        v = self._series.iloc[row]
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            return None
        return [p for p in str(v).split("|") if p != ""]


class BoundFilter:
    """A :class:`FilterExpression` bound to one Items frame; evaluate it per request.

    Cached per binding: the split values and numeric view of each Items column the filter reads,
    the masks of parts without parameters, and the positions of the last candidates array (reused when
    the same ``numpy`` array object is passed again: do not modify a candidates array in place between
    calls). A binding is not thread-safe; give each thread its own.
    """

    def __init__(self, expression: FilterExpression, items: pd.DataFrame | None) -> None:
        self.expression = expression
        self._id = SUBJECTS[expression.subject][2]  # ITEM_ID, or ACTION_ID (then ``items`` are actions)
        self._items = items
        self._items_len = -1 if items is None else len(items)
        if items is None or self._id not in items.columns:
            frame = pd.DataFrame({self._id: pd.Series([], dtype=object)})
        else:
            frame = items.drop_duplicates(self._id, keep="last") if not items[self._id].is_unique else items
        self._frame = frame.reset_index(drop=True)
        self._n = len(self._frame)
        self._item_index = pd.Index(self._frame[self._id].astype(str).to_numpy(dtype=object))
        self._columns: dict[str, _Column | None] = {}
        self._literal_masks: dict[int, NDArray[np.bool_]] = {}
        self._candidates_key: object = None
        self._candidates: tuple[NDArray[np.intp], pd.Index] | None = None
        self._users_ref: object = None  # keeps the frame alive so that its id stays unique
        self._users_id = 0
        self._users_index: pd.Index | None = None
        self._users_len = -1

    def is_bound_to(self, items: pd.DataFrame | None) -> bool:
        """True when ``items`` is the frame this binding was built from (same object, same length)."""
        return items is self._items and (items is None or len(items) == self._items_len)

    # -- lookups
    def column(self, name: str) -> _Column | None:
        """The Items column for ``name`` (exact, else the one case-insensitive match), or None."""
        if name not in self._columns:
            self._columns[name] = None
            actual = _resolve_column(self._frame.columns, name)
            if actual is not None:
                self._columns[name] = _Column(self._frame[actual])
        return self._columns[name]

    def _candidate_data(self, candidates: Any) -> tuple[NDArray[np.intp], pd.Index]:
        if candidates is self._candidates_key and self._candidates is not None:
            return self._candidates
        arr = np.asarray(candidates, dtype=object)
        if arr.ndim != 1:
            raise ValueError(f"candidates must be a 1-D array of item ids, got shape {arr.shape}")
        positions = self._item_index.get_indexer(arr) if self._n else np.full(len(arr), -1, dtype=np.intp)
        data = (np.asarray(positions, dtype=np.intp), pd.Index(arr))
        if isinstance(candidates, np.ndarray):
            self._candidates_key, self._candidates = candidates, data
        return data

    # -- evaluation
    def evaluate(
        self,
        candidates: Sequence[str] | NDArray[Any],
        *,
        user_id: str | None = None,
        users: pd.DataFrame | None = None,
        interactions: pd.DataFrame | None = None,
        values: Mapping[str, str] | None = None,
        item_id: str | None = None,
    ) -> NDArray[np.bool_]:
        """Boolean mask over ``candidates``; see :meth:`FilterExpression.evaluate`.

        Example:
            >>> from personalize_kit.filters import parse_filter
            >>> expr = parse_filter('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")')
            >>> seen = pd.DataFrame({"USER_ID": ["u"], "ITEM_ID": ["a"], "TIMESTAMP": [1], "EVENT_TYPE": ["watch"]})
            >>> expr.bind(None).evaluate(np.array(["a", "b"]), user_id="u", interactions=seen).tolist()
            [False, True]
        """
        positions, cand_index = self._candidate_data(candidates)
        n_cand = len(positions)
        params = parse_filter_values(values)
        recent: tuple[NDArray[Any], NDArray[Any]] | None = None
        include: NDArray[np.bool_] | None = None
        exclude = np.zeros(n_cand, dtype=bool)
        for k, part in enumerate(self.expression.parts):
            missing = sorted(part.parameters - params.keys())
            if missing:
                if part.action == "EXCLUDE":
                    continue
                names = ", ".join(f"${m}" for m in missing)
                raise InvalidFilterValuesError(
                    f"filterValues has no value for {names}, which the INCLUDE expression "
                    f"'{part.text or part}' needs; add {', '.join(repr(m) for m in missing)} to filterValues "
                    "(parameter names are case-sensitive and written without '$')"
                )
            uses_current_item = any(
                isinstance(v, FieldRef) and v.dataset == CURRENT_ITEM for c in part.comparisons() for v in c.values
            )
            if uses_current_item and item_id is None:
                raise InvalidFilterValuesError(
                    f"The expression '{part.text or part}' uses CurrentItem, which needs the itemId of a "
                    "related-items request; this request has none"
                )
            if part.user_condition is not None and not self._user_holds(part.user_condition, user_id, users, params):
                continue
            if part.dataset in (INTERACTIONS, ACTION_INTERACTIONS):
                if recent is None:
                    recent = _recent_interactions(interactions, user_id, self._id)
                mask = self._interactions_mask(part.condition, recent, cand_index, params)
            else:
                mask = self._items_mask(k, part, params, item_id)[positions]
            if part.action == "INCLUDE":
                include = mask if include is None else include | mask
            else:
                exclude |= mask
        result = np.ones(n_cand, dtype=bool) if include is None else include.copy()
        result &= ~exclude
        return result

    # Items conditions are evaluated over the whole catalogue plus one trailing "empty item" row
    # (index -1), which stands for candidates that are not in the Items data.
    def _items_mask(
        self, k: int, part: FilterPart, params: Mapping[str, tuple[str, ...]], item_id: str | None
    ) -> NDArray[np.bool_]:
        literal = not part.parameters and not any(
            isinstance(v, FieldRef) for c in _comparisons(part.condition) for v in c.values
        )
        if literal and k in self._literal_masks:
            return self._literal_masks[k]
        mask = self._items_condition(part.condition, params, item_id)
        if literal:
            self._literal_masks[k] = mask
        return mask

    def _items_condition(
        self, cond: Condition, params: Mapping[str, tuple[str, ...]], item_id: str | None
    ) -> NDArray[np.bool_]:
        if isinstance(cond, And):
            masks = [self._items_condition(t, params, item_id) for t in cond.terms]
            return np.logical_and.reduce(masks)
        if isinstance(cond, Or):
            masks = [self._items_condition(t, params, item_id) for t in cond.terms]
            return np.logical_or.reduce(masks)
        column = self.column(cond.field.field)
        out = np.zeros(self._n + 1, dtype=bool)
        if column is None:
            return out
        operands = self._operands(cond, params, item_id)
        if cond.op in ("IN", "NOT IN"):
            out = self._in_mask(column, operands)
            return ~out if cond.op == "NOT IN" else out
        if operands is None or not operands:
            return out
        if cond.op == "=" and not column.is_numeric:
            return self._in_mask(column, operands)
        number = _single_number(cond, operands)
        out[: self._n] = _compare(column.numeric, cond.op, number)
        return out

    def _in_mask(self, column: _Column, operands: list[str] | None) -> NDArray[np.bool_]:
        out = np.zeros(self._n + 1, dtype=bool)
        if not operands:
            return out
        if column.is_numeric:
            wanted = [f for f in (_to_float(v) for v in operands) if f is not None]
            out[: self._n] = np.isin(column.numeric, np.asarray(wanted, dtype=np.float64))
            return out
        index = column.index
        for v in operands:
            rows = index.get(v)
            if rows is not None:
                out[rows] = True
        return out

    def _operands(
        self, cond: Comparison, params: Mapping[str, tuple[str, ...]], item_id: str | None
    ) -> list[str] | None:
        """The comparison's right-hand values as strings; None when a CurrentItem value is null."""
        out: list[str] = []
        for v in cond.values:
            if isinstance(v, Param):
                out.extend(params[v.name])
            elif isinstance(v, Number):
                out.append(v.text or repr(v.value))
            elif isinstance(v, FieldRef):
                current = self._current_item_values(v.field, item_id)
                if current is None:
                    return None
                out.extend(current)
            else:
                out.append(v)
        return out

    def _current_item_values(self, name: str, item_id: str | None) -> list[str] | None:
        column = self.column(name)
        if column is None or item_id is None:
            return None
        row = self._item_index.get_indexer([item_id])[0]
        return None if row < 0 else column.value_at(int(row))

    def _user_holds(
        self,
        cond: Condition,
        user_id: str | None,
        users: pd.DataFrame | None,
        params: Mapping[str, tuple[str, ...]],
    ) -> bool:
        if user_id is None or users is None:
            return False
        frame = cast("pd.DataFrame", users)
        if "USER_ID" not in frame.columns:
            return False
        index = self._users_index
        if index is None or self._users_id != id(frame) or self._users_len != len(frame):
            index = pd.Index(frame["USER_ID"].astype(str).to_numpy(dtype=object))
            self._users_ref, self._users_id, self._users_index, self._users_len = frame, id(frame), index, len(frame)
        hits = np.flatnonzero(index.to_numpy() == user_id)
        if len(hits) == 0:
            return False
        row = frame.iloc[int(hits[-1])]
        return _user_condition(cond, row, frame.columns, params)

    def _interactions_mask(
        self,
        cond: Condition,
        recent: tuple[NDArray[Any], NDArray[Any]],
        cand_index: pd.Index,
        params: Mapping[str, tuple[str, ...]],
    ) -> NDArray[np.bool_]:
        if isinstance(cond, And):
            return np.logical_and.reduce([self._interactions_mask(t, recent, cand_index, params) for t in cond.terms])
        if isinstance(cond, Or):
            return np.logical_or.reduce([self._interactions_mask(t, recent, cand_index, params) for t in cond.terms])
        item_ids, event_types = recent
        wanted: list[str] = []
        for v in cond.values:
            if isinstance(v, Param):
                wanted.extend(params[v.name])
            elif isinstance(v, Number):
                wanted.append(v.text)
            elif isinstance(v, str):
                wanted.append(v)
        folded = {_fold_event_type(w, self._id) for w in wanted}
        if "*" in folded:
            rows = np.ones(len(event_types), dtype=bool)
        else:
            rows = np.isin(event_types, np.asarray(sorted(folded), dtype=object))
        if cond.op == "NOT IN":
            rows = ~rows
        matched = pd.unique(item_ids[rows])
        out = np.zeros(len(cand_index), dtype=bool)
        if len(matched) == 0:
            return out
        if cand_index.is_unique:
            pos = cand_index.get_indexer(matched)
            out[pos[pos >= 0]] = True
        else:
            out = np.asarray(cand_index.isin(matched), dtype=bool)
        return out


def _resolve_column(columns: Iterable[Any], name: str) -> str | None:
    cols = [str(c) for c in columns]
    if name in cols:
        return name
    folded = [c for c in cols if c.casefold() == name.casefold()]
    return folded[0] if len(folded) == 1 else None


def _to_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _single_number(cond: Comparison, operands: list[str]) -> float:
    if len(operands) != 1:
        raise InvalidFilterValuesError(f"{cond} needs exactly one value, got {len(operands)}: {', '.join(operands)}")
    number = _to_float(operands[0])
    if number is None:
        raise InvalidFilterValuesError(f"{cond} compares numbers, but the value {operands[0]!r} is not a number")
    return number


def _compare(array: NDArray[np.float64], op: str, number: float) -> NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        if op == "=":
            return array == number
        if op == "<":
            return array < number
        if op == "<=":
            return array <= number
        if op == ">":
            return array > number
        return array >= number


def _user_condition(cond: Condition, row: pd.Series, columns: pd.Index, params: Mapping[str, tuple[str, ...]]) -> bool:
    if isinstance(cond, And):
        return all(_user_condition(t, row, columns, params) for t in cond.terms)
    if isinstance(cond, Or):
        return any(_user_condition(t, row, columns, params) for t in cond.terms)
    name = _resolve_column(columns, cond.field.field)
    if name is None:
        return False
    raw = row[name]
    if raw is None or raw is pd.NA or (isinstance(raw, float) and math.isnan(raw)):
        user_values: list[str] = []
    elif isinstance(raw, (int, float, np.integer, np.floating)) and not isinstance(raw, bool):
        user_values = [repr(float(raw))]
    else:
        user_values = [p for p in str(raw).split("|") if p != ""]
    operands: list[str] = []
    for v in cond.values:
        if isinstance(v, Param):
            operands.extend(params[v.name])
        elif isinstance(v, Number):
            operands.append(v.text)
        elif isinstance(v, str):
            operands.append(v)
    numeric_user = [_to_float(u) for u in user_values]
    if cond.op in ("IN", "NOT IN") or (cond.op == "=" and any(f is None for f in numeric_user)):
        wanted = set(operands)
        numbers = {f for f in (_to_float(o) for o in operands) if f is not None}
        hit = any(
            u in wanted or (f is not None and f in numbers) for u, f in zip(user_values, numeric_user, strict=True)
        )
        return not hit if cond.op == "NOT IN" else hit
    if not operands:
        return False
    number = _single_number(cond, operands)
    return any(f is not None and bool(_compare(np.array([f]), cond.op, number)[0]) for f in numeric_user)


def _fold_event_type(event_type: str, id_column: str) -> str:
    """An event type as filters compare it: case-folded; for actions, ``_`` is a space too (NOT_TAKEN is
    Not taken, as PutActionInteractions and imports accept both)."""
    if id_column == _ITEM_ID_COLUMN:
        return event_type.casefold()
    return " ".join(event_type.replace("_", " ").casefold().split())


def _recent_interactions(
    interactions: pd.DataFrame | None, user_id: str | None, id_column: str
) -> tuple[NDArray[Any], NDArray[Any]]:
    """The user's item (action) ids and folded event types, keeping the newest 100 per event type.

    Ties in TIMESTAMP are broken by row order: a later row counts as newer.
    """
    empty = (np.array([], dtype=object), np.array([], dtype=object))
    if interactions is None or user_id is None or len(interactions) == 0:
        return empty
    df = interactions
    if "USER_ID" in df.columns:
        ids = df["USER_ID"]
        if not pd.api.types.is_string_dtype(ids.dtype):
            ids = ids.astype(str)
        own = (ids == str(user_id)).to_numpy(dtype=bool)
        if not own.all():
            df = df[own]
    if len(df) == 0 or id_column not in df.columns:
        return empty
    item_ids = df[id_column].astype(str).to_numpy(dtype=object)
    if "EVENT_TYPE" in df.columns:
        event_types = df["EVENT_TYPE"].astype(str).str.casefold()
        if id_column != _ITEM_ID_COLUMN:
            event_types = event_types.str.replace("_", " ").str.split().str.join(" ")
        event_types = event_types.to_numpy(dtype=object)
    else:
        event_types = np.full(len(df), "", dtype=object)
    if len(df) > MAX_INTERACTIONS_PER_EVENT_TYPE:
        codes, _ = pd.factorize(event_types)
        counts = np.bincount(codes)
        if counts.max() > MAX_INTERACTIONS_PER_EVENT_TYPE:
            ts = df["TIMESTAMP"].to_numpy() if "TIMESTAMP" in df.columns else np.zeros(len(df))
            newest_first = np.lexsort((np.arange(len(df)), ts))[::-1]
            type_codes = codes[newest_first]
            by_type = np.argsort(type_codes, kind="stable")
            starts = np.repeat(np.cumsum(counts) - counts, counts)
            rank = np.empty(len(df), dtype=np.int64)
            rank[by_type] = np.arange(len(df)) - starts
            keep = newest_first[rank < MAX_INTERACTIONS_PER_EVENT_TYPE]
            item_ids, event_types = item_ids[keep], event_types[keep]
    return item_ids, event_types
