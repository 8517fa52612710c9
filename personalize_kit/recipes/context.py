"""Contextual metadata (GetRecommendations and GetPersonalizedRanking ``context``) for the user recipes.

A model learns, from the categorical metadata columns of the interactions (``DEVICE``, ``LOCATION`` ...),
one term per ``FIELD=value`` token and item: the smoothed log-lift of the item under that value,
``log p(item | value) - log p(item)`` with ``p(item | value) = (n(item, value) + m p(item)) / (n(value) + m)``
(``m`` = :data:`SMOOTHING` pseudo-interactions spread as the item popularity ``p``, so a rare value moves
little). At serving, the tokens of the request's ``context`` add ``weight x`` their terms to the logits
before the softmax. ``weight`` is chosen on a validation split (each sampled user's newest interaction with
a context value, the lift learned without those rows) among :data:`WEIGHTS`: the one giving the held-out
items the highest mean log-probability; 0 when context does not help. Without ``context`` nothing changes.

>>> frame = pd.DataFrame({"USER_ID": ["u"] * 4, "ITEM_ID": ["a", "a", "b", "b"], "TIMESTAMP": [1, 2, 3, 4],
...                       "DEVICE": ["mobile", "mobile", "desktop", "desktop"]})
>>> learned = learn(frame, ["DEVICE"], {"a": 0, "b": 1})
>>> [str(t) for t in learned["context_names"]]
['DEVICE=desktop', 'DEVICE=mobile']
>>> bool(learned["context_lift"][1, 0] > 0 > learned["context_lift"][1, 1])
True
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from personalize_kit.data.schemas import RESERVED_KEYWORDS

logger = logging.getLogger(__name__)

#: Pseudo-interactions of the prior of ``p(item | value)`` (spread as the item popularity).
SMOOTHING = 10.0
#: Candidate weights of the context term, the first (0) meaning "context does not help".
WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
#: Most values of one field that get a term (the most frequent); others are served without one.
MAX_VALUES = 200
#: Most held-out interactions the weight is chosen on.
VALIDATION_ROWS = 500
#: Arrays a model saves for its context term (old model files have none and serve without context).
ARRAYS = ("context_names", "context_lift")


def fields_of(interactions: pd.DataFrame) -> list[str]:
    """The contextual fields of ``interactions``: ``attrs["context_fields"]`` when the caller knows them (the
    Interactions schema's categorical metadata fields), else the string columns that are not reserved."""
    given = interactions.attrs.get("context_fields")
    if given is not None:
        return [f for f in given if f in interactions.columns]
    return [c for c in interactions.columns if c not in RESERVED_KEYWORDS and _strings(interactions[c])]


def _strings(column: pd.Series) -> bool:
    """Whether ``column`` holds strings (categorical values), not numbers, and not only nulls."""
    present = column.dropna()
    return len(present) > 0 and (pd.api.types.is_string_dtype(column) or present.map(type).eq(str).all())


def _tokens(interactions: pd.DataFrame, fields: Sequence[str]) -> pd.DataFrame:
    """Long frame of ``(row, token)`` for the non-null context values, ``token`` = ``FIELD=value``."""
    parts = []
    for field in fields:
        values = interactions[field]
        present = values.notna() & (values.astype(str) != "")
        kept = values[present].astype(str)
        frequent = kept.value_counts().index[:MAX_VALUES]
        kept = kept[kept.isin(frequent)]
        parts.append(pd.DataFrame({"row": kept.index.to_numpy(), "token": field + "=" + kept.to_numpy(dtype=object)}))
    if not parts:
        return pd.DataFrame({"row": pd.Series(dtype=np.int64), "token": pd.Series(dtype=object)})
    return pd.concat(parts, ignore_index=True)


def learn(interactions: pd.DataFrame, fields: Sequence[str], item_index: Mapping[str, int]) -> dict[str, np.ndarray]:
    """``context_names`` (tokens, sorted) and ``context_lift`` (tokens x items, float32); empty without values."""
    frame = interactions.reset_index(drop=True)
    n_items = len(item_index)
    codes = frame["ITEM_ID"].astype(str).map(item_index)
    counts = np.bincount(codes.dropna().astype(np.int64), minlength=n_items).astype(np.float64)
    prior = (counts + 1.0) / (counts.sum() + n_items)
    tokens = _tokens(frame, fields)
    tokens["item"] = codes.to_numpy()[tokens["row"].to_numpy()] if len(tokens) else []
    tokens = tokens.dropna(subset=["item"])
    names = np.asarray(sorted(set(tokens["token"].tolist())), dtype=str)
    if names.size == 0:
        return {"context_names": names, "context_lift": np.zeros((0, n_items), np.float32)}
    token_codes = pd.Index(names).get_indexer(tokens["token"])
    joint = np.zeros((names.size, n_items))
    np.add.at(joint, (token_codes, tokens["item"].to_numpy(dtype=np.int64)), 1.0)
    given = (joint + SMOOTHING * prior) / (joint.sum(axis=1, keepdims=True) + SMOOTHING)
    return {"context_names": names, "context_lift": (np.log(given) - np.log(prior)).astype(np.float32)}


def term(arrays: Mapping[str, np.ndarray], context: Mapping[str, str] | None, n_items: int) -> np.ndarray | None:
    """The sum of the lifts of ``context``'s known tokens over ``n_items`` items (items newer than the
    terms get 0), unweighted; ``None`` when no token of ``context`` was learned."""
    if not context or "context_names" not in arrays:
        return None
    names, lift = arrays["context_names"], arrays["context_lift"]
    where = pd.Index(names).get_indexer([f"{key}={value}" for key, value in context.items()])
    where = where[where >= 0]
    if where.size == 0:
        return None
    out = np.zeros(n_items, np.float32)
    width = min(n_items, lift.shape[1])
    out[:width] = lift[where, :width].sum(axis=0)
    return out


def holdout(interactions: pd.DataFrame, fields: Sequence[str], seed: int = 0) -> pd.Index:
    """Row labels of the validation rows: the newest interaction with a context value of up to
    :data:`VALIDATION_ROWS` users who have an earlier interaction."""
    has_value = interactions[list(fields)].notna().any(axis=1)
    ordered = interactions.sort_values("TIMESTAMP", kind="stable")
    earlier = ordered.groupby("USER_ID").cumcount() > 0
    candidates = ordered[has_value.loc[ordered.index] & earlier]
    newest = candidates.groupby("USER_ID").tail(1)
    if len(newest) > VALIDATION_ROWS:
        newest = newest.sample(VALIDATION_ROWS, random_state=seed)
    return newest.index


def choose_weight(base: np.ndarray, lifts: np.ndarray, targets: np.ndarray) -> float:
    """The weight of :data:`WEIGHTS` whose ``base + weight x lifts`` (rows x items logits) gives ``targets`` the
    highest mean log-softmax; the smallest among equals, 0 when none beats leaving context out."""
    rows = np.arange(targets.size)
    best, chosen = -np.inf, 0.0
    for weight in WEIGHTS:
        logits = base + weight * lifts
        top = logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
        score = float(np.mean(logits[rows, targets] - log_norm))
        if score > best + 1e-6:
            best, chosen = score, weight
    return chosen


def fit(
    interactions: pd.DataFrame,
    item_index: Mapping[str, int],
    base_logits: Callable[[str, pd.DataFrame], np.ndarray],
) -> tuple[dict[str, np.ndarray], float]:
    """The context arrays of a model and their weight (see the module's description); ``({}, 0.0)`` when the
    interactions carry no context. ``base_logits(user, earlier_events)`` is the model's logits over its
    catalogue for a user whose events are ``earlier_events``."""
    fields = fields_of(interactions)
    if not fields:
        return {}, 0.0
    frame = interactions.reset_index(drop=True)
    learned = learn(frame, fields, item_index)
    if learned["context_names"].size == 0:
        return {}, 0.0
    held = holdout(frame, fields)
    if held.empty:
        return learned, 0.0
    trained = learn(frame.drop(index=held), fields, item_index)
    by_user = frame.sort_values("TIMESTAMP", kind="stable").groupby("USER_ID")
    base, lifts, targets = [], [], []
    for label in held.tolist():
        row = frame.loc[label]
        events = by_user.get_group(row["USER_ID"])
        earlier = events[events["TIMESTAMP"] <= row["TIMESTAMP"]].drop(index=label)
        values = {f: str(row[f]) for f in fields if pd.notna(row[f])}
        lift = term(trained, values, len(item_index))
        base.append(base_logits(str(row["USER_ID"]), earlier))
        lifts.append(np.zeros(len(item_index), np.float32) if lift is None else lift)
        targets.append(item_index[str(row["ITEM_ID"])])
    weight = choose_weight(np.asarray(base), np.asarray(lifts), np.asarray(targets))
    logger.debug("context fields %s: weight %s on %d held-out interactions", fields, weight, len(targets))
    return learned, weight


def attach(model: Any, interactions: pd.DataFrame) -> None:
    """Learn the context term of a fitted sequence model (its ``_arrays``, ``_settings`` and ``_item_index``),
    its base logits for a user being those of a visitor whose events are the user's earlier ones."""
    for name in ARRAYS:
        model._arrays.pop(name, None)
    model._settings.pop("context_weight", None)

    def base_logits(user: str, events: pd.DataFrame) -> np.ndarray:
        return model._logits(*model._compute_state(None, events, None))

    arrays, weight = fit(interactions, model._item_index, base_logits)
    if arrays:
        model._arrays.update(arrays)
        model._settings["context_weight"] = weight


def apply(
    arrays: Mapping[str, np.ndarray],
    settings: Mapping[str, Any],
    logits: np.ndarray,
    context: Mapping[str, str] | None,
    codes: np.ndarray | None = None,
) -> np.ndarray:
    """``logits`` (over the catalogue, or over its positions ``codes``) with the weighted term of ``context``."""
    weight = float(settings.get("context_weight") or 0.0)
    if not weight or not context:
        return logits
    extra = term(arrays, context, int(arrays["items"].size))
    if extra is None:
        return logits
    return logits + weight * (extra if codes is None else extra[codes])


__all__ = ["ARRAYS", "apply", "attach", "WEIGHTS", "choose_weight", "fields_of", "fit", "holdout", "learn", "term"]
