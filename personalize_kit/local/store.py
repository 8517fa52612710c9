"""The mirror's own copy of the data: dataset rows (parquet) and recorded events (JSON Lines).

Like the service, the mirror copies data at import time, so that it outlives the S3 objects it came
from (moto's S3 does not outlive its process).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from personalize_kit.local.state import StateStore, atomic_write

#: Columns of the interactions the recipes read.
INTERACTION_COLUMNS = ("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE")
ID_COLUMN = {"INTERACTIONS": None, "ITEMS": "ITEM_ID", "USERS": "USER_ID"}


def dataset_path(store: StateStore, dataset_group: str, dataset_type: str) -> Path:
    return store.path("data", dataset_group, f"{dataset_type}.parquet")


def read_dataset(store: StateStore, dataset_group: str, dataset_type: str) -> pd.DataFrame | None:
    """The stored rows of a dataset, or ``None`` when nothing was imported."""
    path = dataset_path(store, dataset_group, dataset_type)
    if not path.exists():
        return None
    return pd.read_parquet(path)


def write_dataset(store: StateStore, dataset_group: str, dataset_type: str, frame: pd.DataFrame) -> None:
    """Replace the stored rows of a dataset atomically."""
    buffer = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(buffer, index=False)
    atomic_write(dataset_path(store, dataset_group, dataset_type), lambda fh: fh.write(buffer.getvalue()))


def merge_rows(old: pd.DataFrame | None, new: pd.DataFrame, dataset_type: str) -> pd.DataFrame:
    """Add ``new`` rows to ``old``; for items and users a row replaces the one with the same id."""
    if old is None or old.empty:
        return new.reset_index(drop=True)
    merged = pd.concat([old, new], ignore_index=True)
    id_column = ID_COLUMN[dataset_type]
    if id_column is not None:
        merged = merged.drop_duplicates(subset=[id_column], keep="last")
    return merged.reset_index(drop=True)


def delete_dataset(store: StateStore, dataset_group: str, dataset_type: str) -> None:
    dataset_path(store, dataset_group, dataset_type).unlink(missing_ok=True)


def events_path(store: StateStore, dataset_group: str) -> Path:
    return store.path("events", f"{dataset_group}.jsonl")


def append_events(store: StateStore, dataset_group: str, rows: list[dict[str, Any]]) -> None:
    """Append events (dicts with the interaction columns) under the state lock, in one write."""
    path = events_path(store, dataset_group)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows).encode()
    with store.lock(), open(path, "ab") as fh:
        fh.write(payload)


def read_events(store: StateStore, dataset_group: str) -> pd.DataFrame:
    """Every event recorded for a dataset group (a torn last line of a killed writer is skipped)."""
    path = events_path(store, dataset_group)
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    frame = pd.DataFrame(rows, columns=list(INTERACTION_COLUMNS) if not rows else None)
    for column in INTERACTION_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    return frame


class EventLog:
    """The events of one dataset group by user, kept up to date by reading only what was appended.

    The events file only grows (PutEvents appends whole lines under the state lock), so each look reads
    the bytes added since the previous one; a file that shrank or was replaced is read again from the
    start. A line without its newline (a writer killed mid-line) is left for the next look.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.identity: tuple[int, int] | None = None
        self.by_user: dict[str, list[dict[str, Any]]] = {}

    def _refresh(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self.offset, self.identity, self.by_user = 0, None, {}
            return
        identity = (stat.st_dev, stat.st_ino)
        if identity != self.identity or stat.st_size < self.offset:
            self.offset, self.identity, self.by_user = 0, identity, {}
        if stat.st_size == self.offset:
            return
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read(stat.st_size - self.offset)
        complete = chunk.rfind(b"\n") + 1
        for line in chunk[:complete].splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if row.get("USER_ID") is not None:
                self.by_user.setdefault(str(row["USER_ID"]), []).append(row)
        self.offset += complete

    def user_events(self, user_id: str) -> list[dict[str, Any]]:
        """The user's events in the order they were recorded."""
        self._refresh()
        return self.by_user.get(user_id, [])


def interactions(store: StateStore, dataset_group: str, *, with_events: bool = True) -> pd.DataFrame:
    """Imported interactions plus (by default) the events recorded since, with the recipe columns."""
    parts = []
    imported = read_dataset(store, dataset_group, "INTERACTIONS")
    if imported is not None:
        parts.append(imported)
    if with_events:
        events = read_events(store, dataset_group)
        if not events.empty:
            parts.append(events[list(INTERACTION_COLUMNS)])
    if not parts:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in INTERACTION_COLUMNS})
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[frame["ITEM_ID"].notna() & frame["USER_ID"].notna()].reset_index(drop=True)
    frame["USER_ID"] = frame["USER_ID"].astype(str)
    frame["ITEM_ID"] = frame["ITEM_ID"].astype(str)
    frame["TIMESTAMP"] = pd.to_numeric(frame["TIMESTAMP"]).astype("int64")
    for column in ("EVENT_TYPE", "EVENT_VALUE"):
        if column not in frame.columns:
            frame[column] = None
    return frame


def remove_dataset_group(store: StateStore, dataset_group: str) -> None:
    """Delete the data and events of a dataset group."""
    events_path(store, dataset_group).unlink(missing_ok=True)
    folder = store.path("data", dataset_group)
    if folder.exists():
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
