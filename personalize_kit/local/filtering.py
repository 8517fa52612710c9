"""Filters as the mirror applies them: evaluated over the candidates of each request.

The expression language is :mod:`personalize_kit.filters`; this module feeds it the mirror's data as it
is now: the Items and Users datasets (loaded once per process while unchanged, so each filter's binding
to the catalogue is reused) and the current user's interactions, imported and recorded (index reads).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd

from personalize_kit.filters import FilterExpression, FilterSyntaxError, InvalidFilterValuesError, parse_filter
from personalize_kit.local import store
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.exceptions import InvalidInputException
from personalize_kit.local.resources import Resource

_local = threading.local()


def _parsed(expression: str) -> FilterExpression:
    """The parsed filter, one per thread (a parsed filter caches its binding to the catalogue, which is not
    thread-safe)."""
    cache = _local.__dict__.setdefault("parsed", {})
    if expression not in cache:
        if len(cache) > 256:
            cache.clear()
        cache[expression] = parse_filter(expression)
    return cache[expression]


def _frame(frame: pd.DataFrame | None, id_column: str) -> pd.DataFrame:
    if frame is None:
        return pd.DataFrame({id_column: pd.Series(dtype=str)})
    return frame


_EMPTY: dict[str, pd.DataFrame] = {}


def mask(
    backend: PersonalizeBackend,
    filter_record: Resource,
    candidates: list[str],
    *,
    user_id: str | None,
    values: dict[str, str] | None,
    item_id: str | None = None,
) -> np.ndarray:
    """Which ``candidates`` the filter keeps for ``user_id`` (``numpy`` bool array)."""
    attrs = filter_record.attrs
    group = attrs["datasetGroupArn"].split("/")[1]
    expression = _parsed(attrs["filterExpression"])
    unknown = sorted(set(values or {}) - set(expression.parameters))
    if unknown:
        raise InvalidInputException(
            f"filterValues has parameters {', '.join(unknown)} that the filter {attrs['filterArn']} does not use."
        )
    items = store.read_dataset(backend, group, "ITEMS")
    if items is None:
        items = _EMPTY.setdefault("ITEMS", _frame(None, "ITEM_ID"))
    try:
        kept: Any = expression.evaluate(
            np.asarray(candidates, dtype=str),
            user_id=user_id,
            items=items,
            users=_frame(store.read_dataset(backend, group, "USERS"), "USER_ID"),
            interactions=store.user_interactions(backend, group, user_id),
            values=dict(values or {}),
            item_id=item_id,
        )
    except (InvalidFilterValuesError, FilterSyntaxError) as exc:
        raise InvalidInputException(str(exc)) from exc
    return np.asarray(kept, dtype=bool)
