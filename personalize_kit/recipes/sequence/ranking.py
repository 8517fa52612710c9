"""A request's steps around the sequence model's query, in few numpy passes and no pandas.

A request is small: a numpy call over a catalogue of a few thousand items costs little more than its fixed
overhead, and a Python-level helper (``np.unique``, ``np.setdiff1d``, selecting a pandas column) costs more
than the arithmetic it does, while many threads of a server share one interpreter. So a recent-events frame
is read once into plain lists, the repeat terms touch only the user's items, and the top items are picked
with one partition of the scores (ties in catalogue order, whatever ``n``).

>>> logits = np.zeros(4, np.float32)
>>> add_repeat_terms(logits, np.array([3, 1, 2, 2]), bptt=2, repeat=1.0, repeat_earlier=-1.0)
>>> logits.tolist()
[0.0, -1.0, 1.0, -1.0]
>>> top_ranked(np.array([0.1, 0.4, 0.4, 0.1]), 3, set(), ["a", "b", "c", "d"])
[('b', 0.4), ('c', 0.4), ('a', 0.1)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from personalize_kit.recipes.base import Ranked
from personalize_kit.recipes.sequence.features import NO_TIME


def add_repeat_terms(logits: np.ndarray, recent: np.ndarray, *, bptt: int, repeat: Any, repeat_earlier: Any) -> None:
    """Add, in place, ``repeat`` to the items of the newest ``bptt`` of ``recent`` (newest last) and
    ``repeat_earlier`` to the older ones not among those (each item once)."""
    if recent.size == 0:
        return
    window = recent[-bptt:].tolist()
    if recent.size > bptt:
        older = set(recent[:-bptt].tolist()).difference(window)
        if older:
            logits[list(older)] += repeat_earlier
    logits[window] += repeat  # a repeated position is written once, with one addition


def event_codes(recent_events: pd.DataFrame, index: Mapping[str, int]) -> list[tuple[int, int]]:
    """``(timestamp, catalogue position)`` of the events of items in ``index``, in the frame's order (none
    without an ``ITEM_ID`` column).

    A missing or unreadable timestamp counts as 0; without a ``TIMESTAMP`` column the events come after
    any history, in the order given. The frame is read as one array (selecting its columns by name costs
    more than a request's arithmetic).
    """
    columns = recent_events.columns.tolist()
    if "ITEM_ID" not in columns:
        return []
    values = recent_events.to_numpy(dtype=object)
    items = [str(item) for item in values[:, columns.index("ITEM_ID")].tolist()]
    if "TIMESTAMP" in columns:
        times = values[:, columns.index("TIMESTAMP")].tolist()
        if not all(type(t) is int for t in times):  # not plain ints: read as pandas reads numbers
            times = pd.to_numeric(recent_events["TIMESTAMP"], errors="coerce").fillna(0).astype(np.int64).tolist()
    else:
        times = list(range(NO_TIME - len(items), NO_TIME))
    return [(t, index[item]) for item, t in zip(items, times, strict=True) if item in index]


def merged_sequence(past: list[tuple[int, int]], events: list[tuple[int, int]], length: int) -> list[int]:
    """The newest ``length`` item codes of ``past`` followed by ``events`` (both ``(time, code)``), ordered
    by time, equal times kept in their order."""
    return [code for _, code in sorted(past + events, key=itemgetter(0))[-length:]]


def top_ranked(probabilities: np.ndarray, n: int, skip: set[int], names: Sequence[str]) -> Ranked:
    """The ``n`` best items not in ``skip`` (catalogue positions), by score then catalogue position."""
    size = probabilities.size
    want = min(size, n + len(skip))
    if want <= 0:
        return []
    if want < size:
        kth = np.partition(probabilities, size - want)[size - want]  # the want-th best score
        candidates = np.flatnonzero(probabilities >= kth)  # with every item tied with it, in catalogue order
    else:
        candidates = np.arange(size)
    scores = probabilities[candidates]
    order = np.argsort(-scores, kind="stable")
    codes, values = candidates[order].tolist(), scores[order].tolist()
    if skip:
        kept = [k for k, code in enumerate(codes) if code not in skip][:n]
        codes, values = [codes[k] for k in kept], [values[k] for k in kept]
    # named in one pass (a filter that follows asks for the whole catalogue)
    return list(zip(map(names.__getitem__, codes[:n]), values[:n], strict=True))


__all__ = ["add_repeat_terms", "event_codes", "merged_sequence", "top_ranked"]
