"""Filters as the mirror applies them: evaluated over the candidates of each request.

The expression language is :mod:`personalize_kit.filters`; this module feeds it the mirror's data as it
is now: the Items and Users datasets (loaded once per process while unchanged, so each filter's binding
to the catalogue is reused) and the current user's interactions, imported and recorded (index reads).
Action filters (``ActionID``) read the Actions dataset and the user's action interactions instead.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd

from personalize_kit.filters import FilterExpression, FilterSyntaxError, InvalidFilterValuesError, parse_filter
from personalize_kit.filters.language import ACTION_ID, ITEM_ID
from personalize_kit.local import actions, store
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


#: Stand-ins for a dataset with no rows (made once: building a frame costs more than a filter).
_EMPTY = {column: pd.DataFrame({column: pd.Series(dtype=str)}) for column in ("ITEM_ID", "USER_ID", "ACTION_ID")}
#: What a filter of each subject is called in the refusal of the other kind's requests.
_KINDS = {ITEM_ID: "an item filter (ItemID expressions)", ACTION_ID: "an action filter (ActionID expressions)"}


def _frame(frame: pd.DataFrame | None, id_column: str) -> pd.DataFrame:
    return _EMPTY[id_column] if frame is None else frame


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
    group = filter_record.attrs["datasetGroupArn"].split("/")[1]
    expression = checked(
        filter_record, values, ITEM_ID, "item recommendations (GetRecommendations, GetPersonalizedRanking) take"
    )
    items = _frame(store.read_dataset(backend, group, "ITEMS"), "ITEM_ID")
    return _evaluate(
        expression,
        candidates,
        user_id=user_id,
        items=items,
        users=_frame(store.read_dataset(backend, group, "USERS"), "USER_ID"),
        interactions=store.user_interactions(backend, group, user_id),
        values=dict(values or {}),
        item_id=item_id,
    )


def action_mask(
    backend: PersonalizeBackend, filter_record: Resource, candidates: list[str], *, user_id: str, values: Any
) -> np.ndarray:
    """Which action ``candidates`` an action filter keeps for ``user_id`` (``numpy`` bool array): Actions
    fields from the Actions dataset now, Action_Interactions from the user's imported and sent ones."""
    group = filter_record.attrs["datasetGroupArn"].split("/")[1]
    expression = checked(filter_record, values, ACTION_ID, "GetActionRecommendations takes")
    history = actions.user_history(backend, group, user_id)
    return _evaluate(
        expression,
        candidates,
        user_id=user_id,
        actions=_frame(store.read_dataset(backend, group, "ACTIONS"), "ACTION_ID"),
        action_interactions=history.rename(columns={"KIND": "EVENT_TYPE"}),
        users=_frame(store.read_dataset(backend, group, "USERS"), "USER_ID"),
        values=dict(values or {}),
    )


def checked(filter_record: Resource, values: dict[str, str] | None, subject: str, requests: str) -> FilterExpression:
    """The filter's parsed expression, once it is of ``subject`` and ``values`` name only its parameters."""
    attrs = filter_record.attrs
    expression = _parsed(attrs["filterExpression"])
    if expression.subject != subject:
        raise InvalidInputException(
            f"Filter {attrs['filterArn']} is {_KINDS[expression.subject]}; {requests} {_KINDS[subject]}."
        )
    unknown = sorted(set(values or {}) - set(expression.parameters))
    if unknown:
        raise InvalidInputException(
            f"filterValues has parameters {', '.join(unknown)} that the filter {attrs['filterArn']} does not use."
        )
    return expression


def _evaluate(expression: FilterExpression, candidates: list[str], **data: Any) -> np.ndarray:
    try:
        kept: Any = expression.evaluate(np.asarray(candidates, dtype=str), **data)
    except (InvalidFilterValuesError, FilterSyntaxError) as exc:
        raise InvalidInputException(str(exc)) from exc
    return np.asarray(kept, dtype=bool)
