"""The Next-Best-Action data of a dataset group: its Actions and Action interactions datasets.

Both datasets are what was imported (Parquet) overlaid with what was sent since (PutActions replaces an
action by id, PutActionInteractions adds interactions), like the Items and Interactions datasets
(:mod:`personalize_kit.local.store`). A user's action interactions are an index read, so serving does not
slow down as interactions pile up. This module also holds the checks of imported rows that the generic
data checks do not know (event types, repeat frequency) and the training of a PERSONALIZED_ACTIONS recipe.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from personalize_kit.local import store
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.recipes import Recipe
from personalize_kit.recipes.next_best_action import ACTION_EVENT_TYPES, action_history, canonical_event_type

logger = logging.getLogger(__name__)

#: REPEAT_FREQUENCY is a number of days from 1 to this.
MAX_REPEAT_FREQUENCY_DAYS = 30
_HISTORY_COLUMNS = ["USER_ID", "ACTION_ID", "TIMESTAMP", "EVENT_TYPE"]


def import_problems(frame: pd.DataFrame, dataset_type: str, file_name: str) -> list[str]:
    """One line per row problem of imported Actions / Action interactions rows (empty: fine)."""
    problems: list[str] = []
    for column in ("ACTION_ID", "USER_ID"):
        if column in frame.columns:
            missing = np.flatnonzero(frame[column].isna().to_numpy())
            if len(missing):
                problems.append(f"{file_name}:{missing[0] + 2} {column}: a value is required.")
    if dataset_type == "ACTION_INTERACTIONS":
        kinds = [canonical_event_type(v) for v in frame["EVENT_TYPE"].tolist()]
        bad = [k for k, kind in enumerate(kinds) if kind is None]
        if bad:
            problems.append(
                f"{file_name}:{bad[0] + 2} EVENT_TYPE: {frame['EVENT_TYPE'].iloc[bad[0]]!r} is not an action event "
                f"type; use {', '.join(ACTION_EVENT_TYPES)} ({len(bad)} rows)."
            )
    if dataset_type == "ACTIONS" and "REPEAT_FREQUENCY" in frame.columns:
        days = pd.to_numeric(frame["REPEAT_FREQUENCY"], errors="coerce")
        bad = np.flatnonzero((days.notna() & ((days < 1) | (days > MAX_REPEAT_FREQUENCY_DAYS))).to_numpy())
        if len(bad):
            problems.append(
                f"{file_name}:{bad[0] + 2} REPEAT_FREQUENCY: {days.iloc[bad[0]]} days; use 1 to "
                f"{MAX_REPEAT_FREQUENCY_DAYS}."
            )
    return problems


def actions_now(backend: PersonalizeBackend, group: str) -> pd.DataFrame | None:
    """The Actions dataset as it is now (imported rows and PutActions), or ``None`` when empty."""
    frame = store.read_dataset(backend, group, "ACTIONS")
    if frame is None or frame.empty:
        return None
    frame = frame.copy()
    frame["ACTION_ID"] = frame["ACTION_ID"].astype(str)
    return frame


def _imported_by_user(backend: PersonalizeBackend, group: str) -> dict[str, pd.DataFrame]:
    """Imported action interactions by user (built once per file)."""
    path = store.dataset_path(backend.state, group, "ACTION_INTERACTIONS")
    try:
        stat = path.stat()
        key: Any = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    except FileNotFoundError:
        return {}
    cached = backend.caches.datasets.get((group, "ACTION_INTERACTIONS/by-user"))
    if cached is not None and cached[0] == key:
        return cached[1]
    frame = store.read_imported(backend.state, group, "ACTION_INTERACTIONS")
    by_user = {} if frame is None else {str(u): part[_HISTORY_COLUMNS] for u, part in frame.groupby("USER_ID")}
    backend.caches.datasets[(group, "ACTION_INTERACTIONS/by-user")] = (key, by_user, None)
    return by_user


def user_history(backend: PersonalizeBackend, group: str, user_id: str) -> pd.DataFrame:
    """One user's action interactions now (imported and sent), as :func:`action_history` gives them."""
    parts = []
    imported = _imported_by_user(backend, group).get(str(user_id))
    if imported is not None:
        parts.append(imported)
    sent = store.records_of(backend.state, group, "ACTION_INTERACTIONS", str(user_id))
    if sent:
        parts.append(pd.DataFrame(sent).reindex(columns=_HISTORY_COLUMNS))
    return action_history(pd.concat(parts, ignore_index=True) if parts else None)


def all_interactions(backend: PersonalizeBackend, group: str) -> pd.DataFrame | None:
    """Every action interaction of the group (imported and sent)."""
    return store.read_dataset(backend, group, "ACTION_INTERACTIONS")


class MissingActionData(Exception):
    """A PERSONALIZED_ACTIONS training lacks data; the message is the version's failureReason."""


def fit(
    backend: PersonalizeBackend,
    group: str,
    recipe: type[Recipe],
    interactions: pd.DataFrame,
    users: pd.DataFrame | None,
    hyperparameters: dict[str, str],
    options: dict[str, Any],
) -> Recipe:
    """Train a PERSONALIZED_ACTIONS recipe on the group's item interactions, actions and action interactions."""
    actions = actions_now(backend, group)
    if actions is None:
        raise MissingActionData(
            "The dataset group has no actions: create an Actions dataset and import actions (or send them with "
            "PutActions) before training a solution of recipe aws-next-best-action."
        )
    model = recipe(**options)
    return model.fit(  # type: ignore[call-arg]
        interactions,
        None,
        users,
        hyperparameters,
        actions=actions,
        action_interactions=all_interactions(backend, group),
    )


__all__ = ["MissingActionData", "actions_now", "fit", "import_problems", "user_history"]
