"""Features of the sequence model: metadata tokens, users' histories and training windows, from the frames.

Everything here is numpy/pandas; nothing imports TensorFlow.

>>> ptr, idx = csr([["GENRES=a", "GENRES=b"], []], {"GENRES=a": 0, "GENRES=b": 1})
>>> ptr.tolist(), idx.tolist()
([0, 2, 2], [0, 1])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from personalize_kit.exceptions import RecipeInputError

#: Columns of the Items dataset that are never item features.
ITEM_RESERVED = {"ITEM_ID", "CREATION_TIMESTAMP"}
#: Most metadata tokens kept per dataset (the most frequent ones).
MAX_TOKENS = 2000
#: Quantile bins for numeric user metadata (e.g. AGE).
NUMERIC_BINS = 5
#: Newest events of a user whose mean item vector is the user's longer-term profile (the mirror passes a
#: recipe this many recent events, ``personalize_kit.local.runtime.RECENT_EVENTS``).
PROFILE_EVENTS = 100
#: Timestamps given to events that come without one (newer than any real event).
NO_TIME = np.iinfo(np.int64).max - 1


# ------------------------------------------------------------------------------------ metadata


def split_tokens(column: str, values: pd.Series) -> list[list[str]]:
    out: list[list[str]] = []
    for value in values.tolist():
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            out.append([])
            continue
        out.append([f"{column}={part.strip()}" for part in str(value).split("|") if part.strip()])
    return out


def item_token_lists(items: pd.DataFrame | None, item_index: Mapping[str, int], n_items: int) -> list[list[str]]:
    """Metadata tokens of each catalogue item: every categorical (string) column, split on ``|``."""
    tokens: list[list[str]] = [[] for _ in range(n_items)]
    if items is None or items.empty or "ITEM_ID" not in items.columns:
        return tokens
    ids = items["ITEM_ID"].astype(str).tolist()
    for column in items.columns:
        if column in ITEM_RESERVED or pd.api.types.is_numeric_dtype(items[column]):
            continue
        for item, parts in zip(ids, split_tokens(column, items[column]), strict=True):
            index = item_index.get(item)
            if index is not None:
                tokens[index].extend(parts)
    return tokens


def user_columns(users: pd.DataFrame | None) -> list[dict[str, Any]]:
    """How each user metadata column is turned into tokens: categorical, or numeric with quantile bins."""
    if users is None or users.empty or "USER_ID" not in users.columns:
        return []
    columns: list[dict[str, Any]] = []
    for column in users.columns:
        if column == "USER_ID":
            continue
        values = users[column]
        if pd.api.types.is_numeric_dtype(values):
            numbers = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=np.float64)
            if numbers.size == 0:
                continue
            edges = np.unique(np.quantile(numbers, np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1]))
            columns.append({"name": str(column), "kind": "numeric", "edges": edges.tolist()})
        else:
            columns.append({"name": str(column), "kind": "categorical"})
    return columns


def user_token_lists(users: pd.DataFrame | None, columns: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    if users is None or not columns:
        return [], []
    ids = users["USER_ID"].astype(str).tolist()
    tokens: list[list[str]] = [[] for _ in ids]
    for spec in columns:
        name = spec["name"]
        if name not in users.columns:
            continue
        if spec["kind"] == "numeric":
            numbers = pd.to_numeric(users[name], errors="coerce").to_numpy(dtype=np.float64)
            bins = np.searchsorted(np.asarray(spec["edges"], dtype=np.float64), numbers, side="right")
            for row, (value, b) in enumerate(zip(numbers.tolist(), bins.tolist(), strict=True)):
                if not math.isnan(value):
                    tokens[row].append(f"{name}#{b}")
        else:
            for row, parts in enumerate(split_tokens(name, users[name])):
                tokens[row].extend(parts)
    return ids, tokens


def vocabulary(token_lists: Sequence[Sequence[str]], min_count: int = 1) -> dict[str, int]:
    counts: dict[str, int] = {}
    for tokens in token_lists:
        for token in set(tokens):
            counts[token] = counts.get(token, 0) + 1
    kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))[:MAX_TOKENS]
    return {token: i for i, token in enumerate(sorted(kept))}


def csr(token_lists: Sequence[Sequence[str]], vocab: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    ptr = [0]
    idx: list[int] = []
    for tokens in token_lists:
        known = sorted({vocab[t] for t in tokens if t in vocab})
        idx.extend(known)
        ptr.append(len(idx))
    return np.asarray(ptr, dtype=np.int64), np.asarray(idx, dtype=np.int32)


def csr_mean(ptr: np.ndarray, idx: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Mean of each row's token vectors (zeros for a row without tokens)."""
    n_rows = ptr.size - 1
    out = np.zeros((n_rows, vectors.shape[1]), dtype=np.float32)
    if idx.size == 0:
        return out
    counts = np.diff(ptr)
    rows = np.repeat(np.arange(n_rows), counts)
    np.add.at(out, rows, vectors[idx])
    out /= np.maximum(counts, 1)[:, None].astype(np.float32)
    return out


# ------------------------------------------------------------------------------ interaction data


def clean_interactions(interactions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """User ids, item ids (str) and timestamps (int64), sorted by user then time (ties in input order)."""
    missing = [c for c in ("USER_ID", "ITEM_ID", "TIMESTAMP") if c not in interactions.columns]
    if missing:
        raise RecipeInputError(
            f"interactions lack the column(s) {', '.join(missing)}; expected USER_ID, ITEM_ID and TIMESTAMP"
        )
    users = interactions["USER_ID"].astype(str).to_numpy()
    items = interactions["ITEM_ID"].astype(str).to_numpy()
    stamps = pd.to_numeric(interactions["TIMESTAMP"], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    order = np.lexsort((np.arange(users.size), stamps, users))
    return users[order], items[order], stamps[order]


def histories(
    user_codes: np.ndarray, item_codes: np.ndarray, stamps: np.ndarray, n_users: int, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each user's newest ``length`` items and times, right-aligned, padded with -1 on the left.

    Ties in time keep the input order.
    """
    items = np.full((n_users, length), -1, dtype=np.int32)
    times = np.zeros((n_users, length), dtype=np.int64)
    if user_codes.size == 0:
        return items, times
    order = np.lexsort((np.arange(user_codes.size), stamps, user_codes))
    user_codes, item_codes, stamps = user_codes[order], item_codes[order], stamps[order]
    counts = np.bincount(user_codes, minlength=n_users)
    ends = np.cumsum(counts)
    from_end = ends[user_codes] - 1 - np.arange(user_codes.size)
    keep = from_end < length
    items[user_codes[keep], length - 1 - from_end[keep]] = item_codes[keep]
    times[user_codes[keep], length - 1 - from_end[keep]] = stamps[keep]
    return items, times


def creation_times(items: pd.DataFrame | None, catalogue: np.ndarray) -> np.ndarray:
    """Each catalogue item's ``CREATION_TIMESTAMP`` (-1 where unknown); ``catalogue`` need not be sorted."""
    created = np.full(catalogue.size, -1, dtype=np.int64)
    if items is None or "CREATION_TIMESTAMP" not in items.columns or "ITEM_ID" not in items.columns:
        return created
    stamps = pd.to_numeric(items["CREATION_TIMESTAMP"], errors="coerce")
    ok = stamps.notna().to_numpy()
    positions = pd.Index(catalogue).get_indexer(items["ITEM_ID"].astype(str).to_numpy()[ok])
    inside = positions >= 0
    created[positions[inside]] = stamps.to_numpy()[ok][inside].astype(np.int64)
    return created


def windows(
    user_codes: np.ndarray,
    item_codes: np.ndarray,
    stamps: np.ndarray,
    n_users: int,
    hp: Mapping[str, Any],
) -> dict[str, np.ndarray]:
    """Training windows: ``bptt`` inputs (item code + 1, 0 = padding) and their next items, per user.

    Windows are cut from the newest end of each history; the oldest one may be shorter (padded on the
    right). Users outside the history-length percentiles are left out. Weights are 0 on padding and,
    with ``recency_mask``, grow from 0.5 to 1 with the event's time rank in the dataset. ``context`` holds
    the user's events before each window (item code + 1, right-aligned, 0 = none), so that every position
    sees the newest :data:`PROFILE_EVENTS` events up to it.
    """
    length = int(hp["bptt"])
    counts = np.bincount(user_codes, minlength=n_users)
    active = counts[counts > 0]
    low = np.quantile(active, hp["min_user_history_length_percentile"]) if active.size else 0
    high = np.quantile(active, hp["max_user_history_length_percentile"]) if active.size else 0
    keep_user = (counts >= max(2, low)) & (counts <= max(high, 2))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.arange(user_codes.size) - starts[user_codes]
    size = counts[user_codes]
    # input positions q = 0 .. L-2 (the target is q + 1)
    is_input = (position <= size - 2) & keep_user[user_codes]
    q = position[is_input]
    rows = np.flatnonzero(is_input)
    big_l = size[is_input]
    reverse = (big_l - 2) - q
    k = reverse // length
    first_q = np.maximum(0, big_l - 1 - (k + 1) * length)
    column = q - first_q
    n_windows_per_user = np.zeros(n_users, dtype=np.int64)
    users_in = user_codes[rows]
    np.maximum.at(n_windows_per_user, users_in, k + 1)
    window_base = np.concatenate([[0], np.cumsum(n_windows_per_user)[:-1]])
    # window number: the user's oldest window first
    window = window_base[users_in] + (n_windows_per_user[users_in] - 1 - k)
    n_windows = int(n_windows_per_user.sum())
    inputs = np.zeros((n_windows, length), dtype=np.int32)
    targets = np.zeros((n_windows, length), dtype=np.int32)
    weights = np.zeros((n_windows, length), dtype=np.float32)
    inputs[window, column] = item_codes[rows] + 1
    targets[window, column] = item_codes[rows + 1]
    if hp["recency_mask"]:
        rank = np.argsort(np.argsort(stamps, kind="stable"), kind="stable") / max(1, stamps.size - 1)
        weights[window, column] = (0.5 + 0.5 * rank[rows + 1]).astype(np.float32)
    else:
        weights[window, column] = 1.0
    window_user = np.zeros(n_windows, dtype=np.int64)
    window_user[window] = users_in
    newest = np.zeros(n_windows, dtype=bool)
    newest[window[k == 0]] = True
    width = max(0, PROFILE_EVENTS - length)
    context = np.zeros((n_windows, width), dtype=np.int32)
    if width and n_windows:
        first = np.zeros(n_windows, dtype=np.int64)
        first[window[column == 0]] = rows[column == 0]
        before = first[:, None] - width + np.arange(width)[None, :]
        inside = before >= starts[window_user][:, None]
        context[inside] = item_codes[before[inside]] + 1
    return {
        "inputs": inputs,
        "targets": targets,
        "weights": weights,
        "users": window_user,
        "newest": newest,
        "context": context,
    }


@dataclass
class Encoded:
    """The frames as codes: ``arrays`` (the data arrays of the saved format), each interaction's user and item
    code (interactions sorted by user then time), and how user metadata columns became tokens."""

    arrays: dict[str, np.ndarray]
    user_codes: np.ndarray
    item_codes: np.ndarray
    user_columns: list[dict[str, Any]]


def encode(
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    stamps: np.ndarray,
    items: pd.DataFrame | None,
    users: pd.DataFrame | None,
) -> Encoded:
    """Catalogue, users, metadata tokens and item statistics of cleaned interactions (:func:`clean_interactions`)."""
    catalogue = np.unique(item_ids)
    if items is not None and "ITEM_ID" in items.columns:
        catalogue = np.union1d(catalogue, items["ITEM_ID"].astype(str).to_numpy())
    catalogue = catalogue.astype(str)
    item_codes = np.searchsorted(catalogue, item_ids).astype(np.int32)
    n_items = catalogue.size
    columns = user_columns(users)
    meta_user_ids, user_tokens = user_token_lists(users, columns)
    all_users = np.union1d(np.unique(user_ids), np.asarray(meta_user_ids, dtype=str)).astype(str)
    user_codes = np.searchsorted(all_users, user_ids).astype(np.int64)

    item_tokens = item_token_lists(items, {item: i for i, item in enumerate(catalogue.tolist())}, n_items)
    item_vocab = vocabulary(item_tokens)
    item_ptr, item_idx = csr(item_tokens, item_vocab)
    user_vocab = vocabulary(user_tokens, min_count=2)
    per_user_tokens: list[list[str]] = [[] for _ in range(all_users.size)]
    for uid, tokens in zip(meta_user_ids, user_tokens, strict=True):
        per_user_tokens[int(np.searchsorted(all_users, uid))] = tokens
    user_ptr, user_idx = csr(per_user_tokens, user_vocab)

    # item statistics for exploration
    first_seen = np.full(n_items, -1, dtype=np.int64)
    order = np.argsort(stamps, kind="stable")[::-1]
    first_seen[item_codes[order]] = stamps[order]
    arrays = {
        "items": catalogue,
        "item_token_ptr": item_ptr,
        "item_token_idx": item_idx,
        "item_token_names": np.asarray(sorted(item_vocab, key=item_vocab.__getitem__), dtype=str),
        "item_counts": np.bincount(item_codes, minlength=n_items).astype(np.int64),
        "item_first_seen": first_seen,
        "item_created": creation_times(items, catalogue),
        "users": all_users,
        "user_token_ptr": user_ptr,
        "user_token_idx": user_idx,
        "user_token_names": np.asarray(sorted(user_vocab, key=user_vocab.__getitem__), dtype=str),
    }
    return Encoded(arrays, user_codes, item_codes, columns)


__all__ = [
    "NO_TIME",
    "Encoded",
    "encode",
    "PROFILE_EVENTS",
    "clean_interactions",
    "creation_times",
    "csr",
    "csr_mean",
    "histories",
    "item_token_lists",
    "user_columns",
    "user_token_lists",
    "vocabulary",
    "windows",
]
