"""Filters as the mirror applies them: parse at CreateFilter, evaluate over candidates at serving time.

The expression language lives in :mod:`personalize_kit.local.filters`; this module connects it to the
mirror's data (items, users, interactions including recorded events) and to the service's errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from personalize_kit.exceptions import FilterSyntaxError, InvalidFilterValuesError
from personalize_kit.local import store
from personalize_kit.local.exceptions import InvalidInputException
from personalize_kit.local.models import PersonalizeBackend


def _parse(expression: str) -> Any:
    from personalize_kit.local.filters import parse_filter

    return parse_filter(expression)


#: Dataset names of filter expressions -> dataset types.
_DATASET_TYPES = {
    "items": "ITEMS",
    "interactions": "INTERACTIONS",
    "currentuser": "USERS",
    "users": "USERS",
    "currentitem": "ITEMS",
}


def check_expression(expression: str, fields: dict[str, set[str]] | None = None) -> None:
    """Raise :class:`InvalidInputException` for a malformed expression or a field no schema declares.

    ``fields`` maps each dataset type of the dataset group (``ITEMS`` ...) to its schema's field names.
    """
    try:
        parsed = _parse(expression)
    except FilterSyntaxError as exc:
        raise InvalidInputException(f"Invalid filter expression: {exc}") from exc
    if fields is None:
        return
    for dataset, field in sorted(parsed.fields):
        dataset_type = _DATASET_TYPES.get(dataset.lower())
        if dataset_type is None:
            continue
        if dataset_type not in fields:
            raise InvalidInputException(
                f"Invalid filter expression: it uses {dataset}.{field} but the dataset group has no "
                f"{dataset_type} dataset."
            )
        if field not in fields[dataset_type]:
            raise InvalidInputException(
                f"Invalid filter expression: {dataset}.{field} is not a field of the {dataset_type} dataset's "
                f"schema ({', '.join(sorted(fields[dataset_type]))})."
            )


def _frame(frame: pd.DataFrame | None, id_column: str) -> pd.DataFrame:
    if frame is None:
        return pd.DataFrame({id_column: pd.Series(dtype=str)})
    return frame


def mask(
    backend: PersonalizeBackend,
    filter_record: dict[str, Any],
    candidates: list[str],
    *,
    user_id: str | None,
    values: dict[str, str] | None,
    item_id: str | None = None,
) -> np.ndarray:
    """Which ``candidates`` the filter keeps for ``user_id`` (``numpy`` bool array)."""
    attrs = filter_record["attrs"]
    group = attrs["datasetGroupArn"].split("/")[1]
    expression = _parse(attrs["filterExpression"])
    unknown = sorted(set(values or {}) - set(expression.parameters))
    if unknown:
        raise InvalidInputException(
            f"filterValues has parameters {', '.join(unknown)} that the filter {attrs['filterArn']} does not use."
        )
    try:
        kept = expression.evaluate(
            np.asarray(candidates, dtype=str),
            user_id=user_id,
            items=_frame(store.read_dataset(backend.store, group, "ITEMS"), "ITEM_ID"),
            users=_frame(store.read_dataset(backend.store, group, "USERS"), "USER_ID"),
            interactions=store.interactions(backend.store, group),
            values=dict(values or {}),
            item_id=item_id,
        )
    except (InvalidFilterValuesError, FilterSyntaxError) as exc:
        raise InvalidInputException(str(exc)) from exc
    return np.asarray(kept, dtype=bool)
