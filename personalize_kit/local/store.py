"""The mirror's own copy of the data: imported dataset rows (Parquet) and the event streams (SQLite).

Like the service, the mirror copies data at import time, so that it outlives the S3 objects it came
from. Imported rows of each dataset are one Parquet file, replaced atomically by each import. Events
(PutEvents) and records (PutItems, PutUsers) are rows of the database, committed before the call
answers; a dataset as the recipes and filters see it is its imported rows overlaid with its records.

What a request needs is an index read: a user's newest events, one user's interactions for a filter.
Whole datasets are loaded once per process and kept while the file and the records are unchanged.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.db import EVENT_FIELDS, INSERT_EVENTS
from personalize_kit.local.state import StateDir, atomic_write
from personalize_kit.lru import LRU

#: Columns of the interactions the recipes read.
INTERACTION_COLUMNS = ("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE")
#: The column a record replaces by (``None``: records add up, as interactions do); for action interactions
#: the column a record is found by (:func:`records_of`).
ID_COLUMN = {
    "INTERACTIONS": None,
    "ITEMS": "ITEM_ID",
    "USERS": "USER_ID",
    "ACTIONS": "ACTION_ID",
    "ACTION_INTERACTIONS": None,
}
#: The column of the record id, where it is not :data:`ID_COLUMN`'s.
RECORD_ID_COLUMN = {"ACTION_INTERACTIONS": "USER_ID"}
#: Filters see the newest interactions of each event type up to this many (the service's quota).
FILTER_INTERACTIONS_PER_TYPE = 100


# ----------------------------------------------------------------------------- imported rows (files)


def dataset_path(state: StateDir, dataset_group: str, dataset_type: str) -> Path:
    return state.path("data", dataset_group, f"{dataset_type}.parquet")


def read_imported(state: StateDir, dataset_group: str, dataset_type: str) -> pd.DataFrame | None:
    """The imported rows of a dataset, or ``None`` when nothing was imported."""
    path = dataset_path(state, dataset_group, dataset_type)
    if not path.exists():
        return None
    return pd.read_parquet(path)


def write_imported(state: StateDir, dataset_group: str, dataset_type: str, frame: pd.DataFrame) -> None:
    """Replace the imported rows of a dataset atomically."""
    buffer = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(buffer, index=False)
    atomic_write(dataset_path(state, dataset_group, dataset_type), lambda fh: fh.write(buffer.getvalue()))


def merge_rows(old: pd.DataFrame | None, new: pd.DataFrame, dataset_type: str) -> pd.DataFrame:
    """Add ``new`` rows to ``old``; for items and users a row replaces the one with the same id."""
    if old is None or old.empty:
        return new.reset_index(drop=True)
    if new.empty:
        return old.reset_index(drop=True)
    merged = pd.concat([old, new], ignore_index=True)
    id_column = ID_COLUMN[dataset_type]
    if id_column is not None:
        merged = merged.drop_duplicates(subset=[id_column], keep="last")
    return merged.reset_index(drop=True)


def delete_dataset(state: StateDir, dataset_group: str, dataset_type: str) -> None:
    dataset_path(state, dataset_group, dataset_type).unlink(missing_ok=True)
    with state.db.write() as conn:
        conn.execute("DELETE FROM records WHERE dataset_group = ? AND dataset_type = ?", (dataset_group, dataset_type))
        if dataset_type == "INTERACTIONS":
            conn.execute("DELETE FROM events WHERE dataset_group = ?", (dataset_group,))


def remove_dataset_group(state: StateDir, dataset_group: str) -> None:
    """Delete the data, records and events of a dataset group."""
    with state.db.write() as conn:
        conn.execute("DELETE FROM events WHERE dataset_group = ?", (dataset_group,))
        conn.execute("DELETE FROM records WHERE dataset_group = ?", (dataset_group,))
    folder = state.path("data", dataset_group)
    if folder.exists():
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()


def delete_users(state: StateDir, dataset_group: str, user_ids: set[str]) -> int:
    """Remove every row of these users (Interactions, Users and Action interactions datasets, records, events);
    the rows removed."""
    removed = 0
    with state.db.write() as conn:
        for dataset_type in ("INTERACTIONS", "USERS", "ACTION_INTERACTIONS"):
            frame = read_imported(state, dataset_group, dataset_type)
            if frame is not None:
                keep = ~frame["USER_ID"].astype(str).isin(user_ids)
                if not keep.all():
                    removed += int((~keep).sum())
                    write_imported(state, dataset_group, dataset_type, frame[keep].reset_index(drop=True))
        marks = ",".join("?" * len(user_ids))
        removed += conn.execute(
            f"DELETE FROM records WHERE dataset_group = ? AND dataset_type IN ('USERS', 'ACTION_INTERACTIONS') "
            f"AND record_id IN ({marks})",
            (dataset_group, *user_ids),
        ).rowcount
        removed += conn.execute(
            f"DELETE FROM events WHERE dataset_group = ? AND user_id IN ({marks})", (dataset_group, *user_ids)
        ).rowcount
    return removed


# ----------------------------------------------------------------------------- PutItems / PutUsers records


def append_records(state: StateDir, dataset_group: str, dataset_type: str, rows: list[dict[str, Any]]) -> None:
    """Record PutItems/PutUsers rows (each with its id column), committed in one transaction."""
    id_column = RECORD_ID_COLUMN.get(dataset_type) or ID_COLUMN[dataset_type]
    with state.db.write() as conn:
        conn.executemany(
            "INSERT INTO records (dataset_group, dataset_type, record_id, fields) VALUES (?, ?, ?, ?)",
            [(dataset_group, dataset_type, str(row[id_column]), json.dumps(row)) for row in rows],
        )


def _records_version(state: StateDir, dataset_group: str, dataset_type: str) -> tuple[int, int]:
    """Newest record and number of records: changed by every record added or deleted."""
    row = (
        state.db.connection()
        .execute(
            "SELECT MAX(seq), COUNT(*) FROM records WHERE dataset_group = ? AND dataset_type = ?",
            (dataset_group, dataset_type),
        )
        .fetchone()
    )
    return int(row[0] or 0), int(row[1])


def _read_records(state: StateDir, dataset_group: str, dataset_type: str) -> list[dict[str, Any]]:
    rows = state.db.connection().execute(
        "SELECT fields FROM records WHERE dataset_group = ? AND dataset_type = ? ORDER BY seq",
        (dataset_group, dataset_type),
    )
    return [json.loads(fields) for (fields,) in rows]


def records_of(state: StateDir, dataset_group: str, dataset_type: str, record_id: str) -> list[dict[str, Any]]:
    """The records of one id (an action interaction's user), oldest first: an index read."""
    rows = state.db.connection().execute(
        "SELECT fields FROM records WHERE dataset_group = ? AND dataset_type = ? AND record_id = ? ORDER BY seq",
        (dataset_group, dataset_type, record_id),
    )
    return [json.loads(fields) for (fields,) in rows]


def _file_key(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def read_dataset(backend: PersonalizeBackend, dataset_group: str, dataset_type: str) -> pd.DataFrame | None:
    """A dataset as it is now: imported rows overlaid with PutItems/PutUsers records (``None``: no rows).

    The frame is loaded once per process and returned as the same object while nothing changed (so what
    is derived from it, like a filter's binding, can be cached too). Do not modify it.
    """
    state = backend.state
    key = (
        _file_key(dataset_path(state, dataset_group, dataset_type)),
        _records_version(state, dataset_group, dataset_type),
    )
    cached = backend.caches.datasets.get((dataset_group, dataset_type))
    if cached is not None and cached[0] == key:
        return cached[1]
    frame = _load_dataset(state, dataset_group, dataset_type)
    backend.caches.datasets[(dataset_group, dataset_type)] = (key, frame, None)
    return frame


def _load_dataset(state: StateDir, dataset_group: str, dataset_type: str) -> pd.DataFrame | None:
    imported = read_imported(state, dataset_group, dataset_type)
    records = _read_records(state, dataset_group, dataset_type) if dataset_type != "INTERACTIONS" else []
    if not records:
        return imported
    new = pd.DataFrame(records)
    if imported is not None:
        new = new.reindex(columns=list(imported.columns))
        new = new.astype({c: imported[c].dtype for c in imported.columns}, errors="ignore")
    return merge_rows(imported, new, dataset_type)


# ----------------------------------------------------------------------------- events


def append_events(state: StateDir, dataset_group: str, rows: list[dict[str, Any]]) -> None:
    """Record events (dicts keyed by :data:`EVENT_FIELDS` names), committed in one transaction."""
    values = json.dumps([[row.get(name) for name, _ in EVENT_FIELDS] for row in rows])
    state.db.write_one(INSERT_EVENTS, (dataset_group, values))  # one statement: all the events or none


#: A user's ``n`` newest events as one JSON array of ``[seq, user, item, ts, type, value]``: one row, so the
#: whole read is one step of SQLite (a step per row would hand the GIL to other threads a hundred times).
RECENT_EVENTS_SQL = (
    "SELECT json_group_array(json_array(seq, user_id, item_id, ts, event_type, event_value)) FROM ("
    "SELECT seq, user_id, item_id, ts, event_type, event_value FROM events "
    "WHERE dataset_group = ? AND user_id = ? ORDER BY ts DESC, seq DESC LIMIT ?)"
)


#: A user's ``n`` newest events, newest first, as one JSON array in which the events recorded after event ``?``
#: (a sequence number: a reader that kept what it read before passes the newest it knows) are written out as
#: rows of :data:`RECENT_EVENTS_SQL` and the others by their number alone. A recorded event is never changed and
#: its number never reused, so while the answer is the same text, so are the events; when it changed, the
#: known events are taken from what was kept. One statement and one step of SQLite either way.
RECENT_EVENTS_AFTER_SQL = (
    "SELECT json_group_array(CASE WHEN k.seq > ? THEN json((SELECT json_array(seq, user_id, item_id, ts, event_type, "
    "event_value) FROM events e WHERE e.seq = k.seq)) ELSE k.seq END) FROM (SELECT seq FROM events "
    "WHERE dataset_group = ? AND user_id = ? ORDER BY ts DESC, seq DESC LIMIT ?) k"
)  # which events: from the index alone; the rows written out: rowid lookups

_RECENT_COLUMNS = pd.Index(INTERACTION_COLUMNS)


def recent_events(
    state: StateDir, dataset_group: str, user_id: str, n: int, cache: LRU | None = None
) -> pd.DataFrame | None:
    """The user's ``n`` newest recorded events, oldest first (an index read), or ``None`` when there are none.

    With a ``cache``, the frame made the last time is returned again (the same object) while the events
    are the same ones, so that recipes may keep what they computed from it; when they changed, only the
    events not read before are read (:data:`RECENT_EVENTS_AFTER_SQL`: one statement in both cases).
    """
    connection = state.db.connection()
    if cache is None:
        (found,) = connection.execute(RECENT_EVENTS_SQL, (dataset_group, user_id, n)).fetchone()
        rows = json.loads(found)
        return _events_frame(rows) if rows else None
    key = (str(state.root), dataset_group, user_id, n)
    cached = cache.get(key)  # (the answer that named them, their frame, the newest event number among them)
    (found,) = connection.execute(
        RECENT_EVENTS_AFTER_SQL, (cached[2] if cached is not None else 0, dataset_group, user_id, n)
    ).fetchone()
    if cached is not None and found == cached[0]:
        return cached[1]
    rows = _known_or_none(json.loads(found), cached)
    if rows is None:  # an event read before is gone, or an older one came back: read them all
        (found,) = connection.execute(RECENT_EVENTS_SQL, (dataset_group, user_id, n)).fetchone()
        rows = json.loads(found)
    if not rows:
        return None
    frame = _events_frame(rows)  # ``rows``: now oldest first
    which = "[" + ",".join(str(row[0]) for row in reversed(rows)) + "]"  # as the statement names them, unchanged
    cache.put(key, (which, frame, max(row[0] for row in rows)))
    return frame


def _known_or_none(entries: list[Any], cached: tuple[str, pd.DataFrame, int] | None) -> list[list[Any]] | None:
    """The rows of :data:`RECENT_EVENTS_AFTER_SQL`'s ``entries``: those written out, the others (numbers) taken
    from the ``cached`` frame; ``None`` when a number is not among them."""
    numbers = [entry for entry in entries if type(entry) is int]
    if not numbers:
        return entries
    if cached is None:
        return None
    which, frame = json.loads(cached[0]), cached[1]
    known = {seq: [seq, *row] for seq, row in zip(reversed(which), frame.to_numpy().tolist(), strict=True)}
    rows = [known.get(entry) if type(entry) is int else entry for entry in entries]
    return None if any(row is None for row in rows) else rows


def _events_frame(rows: list[list[Any]]) -> pd.DataFrame:
    """Rows of ``[seq, user, item, ts, type, value]`` as a frame of the recipe columns, oldest first (``rows``
    is sorted so, in place)."""
    rows.sort(key=lambda row: (row[3], row[0]))
    # object columns: a request reads a hundred values, which pandas's string inference costs more than (and
    # the column labels are made once: inferring their type is half of making a frame)
    return pd.DataFrame([row[1:] for row in rows], columns=_RECENT_COLUMNS, dtype=object)


def read_events(state: StateDir, dataset_group: str) -> pd.DataFrame:
    """Every event recorded for a dataset group, in the order they were recorded."""
    names = [name for name, _ in EVENT_FIELDS]
    rows = state.db.connection().execute(
        f"SELECT {', '.join(c for _, c in EVENT_FIELDS)} FROM events WHERE dataset_group = ? ORDER BY seq",
        (dataset_group,),
    )
    return pd.DataFrame(rows.fetchall(), columns=names)


def newest_event(state: StateDir) -> tuple[int, int]:
    """The sequence number of the newest recorded event of any dataset group (0: none; a rowid lookup), and
    the resources' generation (a data deletion job, which removes events, changes it when it ends)."""
    found = (
        state.db.connection()
        .execute(
            "SELECT (SELECT coalesce(max(seq), 0) FROM events), "
            "(SELECT value FROM meta WHERE key = 'resources_generation')"
        )
        .fetchone()
    )
    return int(found[0]), int(found[1] or 0)


def events_since(state: StateDir, dataset_group: str, timestamp: int, *, after: int = 0) -> pd.DataFrame:
    """The recorded events of a dataset group with an item and a timestamp after ``timestamp``, in the order
    they were recorded, with the recipe columns (what Trending-Now counts without retraining); only those
    recorded after event ``after`` (a sequence number: a range of the table's rowids, so that a reader
    that keeps what it read asks only for what is new)."""
    rows = state.db.connection().execute(
        "SELECT user_id, item_id, ts, event_type, event_value FROM events "
        "WHERE seq > ? AND dataset_group = ? AND ts > ? AND item_id IS NOT NULL ORDER BY seq",
        (int(after), dataset_group, int(timestamp)),
    )
    return pd.DataFrame(rows.fetchall(), columns=list(INTERACTION_COLUMNS))


def _user_events_for_filter(state: StateDir, dataset_group: str, user_id: str) -> list[list[Any]]:
    """The user's newest :data:`FILTER_INTERACTIONS_PER_TYPE` events of each type, oldest first: read as one
    JSON array (one step of SQLite, see :data:`RECENT_EVENTS_SQL`)."""
    (found,) = (
        state.db.connection()
        .execute(
            "SELECT json_group_array(json_array(user_id, item_id, ts, event_type, seq)) FROM ("
            " SELECT user_id, item_id, ts, event_type, seq, ROW_NUMBER() OVER ("
            "  PARTITION BY lower(event_type) ORDER BY ts DESC, seq DESC) AS newest"
            " FROM events WHERE dataset_group = ? AND user_id = ? AND item_id IS NOT NULL)"
            " WHERE newest <= ?",
            (dataset_group, user_id, FILTER_INTERACTIONS_PER_TYPE),
        )
        .fetchone()
    )
    rows = sorted(json.loads(found), key=lambda row: (row[2], row[4]))
    return [row[:4] for row in rows]


def _imported_by_user(backend: PersonalizeBackend, dataset_group: str) -> tuple[pd.DataFrame, dict[str, slice]]:
    """The imported interactions sorted by user, and each user's slice of them (built once per file)."""
    state = backend.state
    key = (_file_key(dataset_path(state, dataset_group, "INTERACTIONS")), "by-user")
    cached = backend.caches.datasets.get((dataset_group, "INTERACTIONS/by-user"))
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    frame = read_imported(state, dataset_group, "INTERACTIONS")
    if frame is None or frame.empty:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in INTERACTION_COLUMNS[:4]})
    frame = frame[[c for c in INTERACTION_COLUMNS[:4] if c in frame.columns]].copy()
    for column in ("USER_ID", "ITEM_ID", "EVENT_TYPE"):  # plain str objects: what a filter compares
        if column in frame.columns:
            frame[column] = frame[column].astype(str).astype(object)
    frame = frame.sort_values("USER_ID", kind="stable").reset_index(drop=True)
    users, starts = np.unique(frame["USER_ID"].to_numpy(dtype=object), return_index=True)
    ends = np.append(starts[1:], len(frame))
    index = {str(u): slice(int(s), int(e)) for u, s, e in zip(users, starts, ends, strict=True)}
    backend.caches.datasets[(dataset_group, "INTERACTIONS/by-user")] = (key, frame, index)
    return frame, index


def user_interactions(backend: PersonalizeBackend, dataset_group: str, user_id: str | None) -> pd.DataFrame:
    """One user's interactions as filters see them: imported rows and the newest recorded events."""
    columns = list(INTERACTION_COLUMNS[:4])
    if user_id is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    imported, index = _imported_by_user(backend, dataset_group)
    parts = []
    where = index.get(str(user_id))
    if where is not None:
        parts.append(imported.iloc[where])
    events = _user_events_for_filter(backend.state, dataset_group, str(user_id))
    if events:
        parts.append(pd.DataFrame(events, columns=columns))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.concat(parts, ignore_index=True)


def interactions(state: StateDir, dataset_group: str, *, with_events: bool = True) -> pd.DataFrame:
    """Imported interactions plus (by default) the events recorded since, with the recipe columns."""
    parts = []
    imported = read_imported(state, dataset_group, "INTERACTIONS")
    if imported is not None:
        parts.append(imported)
    if with_events:
        events = read_events(state, dataset_group)
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
