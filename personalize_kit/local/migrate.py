"""Move a state directory of the previous layout (``state.json``, ``events/*.jsonl``) into ``mirror.db``.

Runs when a state directory is opened, once: the move happens in one write transaction that also records
that it was done, so two processes opening the directory at once migrate it once, and a process killed
half-way leaves the old files as they were. The old files are then renamed ``*.migrated`` (kept, not
deleted), and one line says what was moved.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from personalize_kit.exceptions import StateError
from personalize_kit.kinds import KINDS
from personalize_kit.local.db import EVENT_FIELDS, INSERT_EVENT
from personalize_kit.local.resources import Resource

if TYPE_CHECKING:
    from personalize_kit.local.state import StateDir

logger = logging.getLogger(__name__)

LEGACY_STATE = "state.json"
LEGACY_EVENTS = "events"
_DONE_KEY = "migrated_from_state_json"


def migrate(state: StateDir) -> None:
    """Migrate ``state``'s old files into its database if there are any (see the module docstring)."""
    legacy = state.root / LEGACY_STATE
    if not legacy.exists():
        return
    with state.db.write() as conn:
        done = conn.execute("SELECT value FROM meta WHERE key = ?", (_DONE_KEY,)).fetchone()
        counts = (0, 0) if done else _move(conn, legacy, state.root / LEGACY_EVENTS)
        conn.execute("INSERT OR REPLACE INTO meta VALUES (?, '1')", (_DONE_KEY,))
    for path in (legacy, state.root / LEGACY_EVENTS):
        with contextlib.suppress(FileNotFoundError):  # another process opening the directory renamed it first
            path.rename(path.with_name(path.name + ".migrated"))
    if not done:
        logger.warning(
            "migrated state directory %s to %s: %d resources, %d events (the old files are kept as *.migrated)",
            state.root,
            state.db.path.name,
            *counts,
        )


def _move(conn: sqlite3.Connection, legacy: Path, events: Path) -> tuple[int, int]:
    resources = _legacy_resources(legacy)
    for arn, record in resources.items():
        resource = Resource(KINDS[record["kind"]], arn, record["attrs"], record.get("tags") or [], {})
        resource.internal = dict(record.get("internal") or {})
        conn.execute("INSERT OR REPLACE INTO resources VALUES (?, ?, ?, ?, ?, ?, ?, ?)", resource._row())
    moved = 0
    for log in sorted(events.glob("*.jsonl")) if events.is_dir() else []:
        rows = [_event_row(log.stem, row) for row in _legacy_events(log)]
        conn.executemany(INSERT_EVENT, rows)
        moved += len(rows)
    return len(resources), moved


def _legacy_resources(path: Path) -> dict[str, dict[str, Any]]:
    try:
        state = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StateError(
            f"{path}: the old state file cannot be read for migration ({exc}); move it away to start empty"
        ) from exc
    resources = state.get("resources") if isinstance(state, dict) else None
    if not isinstance(resources, dict) or not all(
        isinstance(r, dict) and r.get("kind") in KINDS and isinstance(r.get("attrs"), dict) for r in resources.values()
    ):
        raise StateError(f"{path}: not a state file of the mirror (unexpected shape); move it away to start empty")
    return resources


def _legacy_events(path: Path) -> list[dict[str, Any]]:
    rows = []
    for line in path.read_bytes().splitlines():
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue  # a torn line of a killed writer
        if isinstance(row, dict) and row.get("USER_ID") is not None and row.get("TIMESTAMP") is not None:
            rows.append(row)
    return rows


def _event_row(group: str, row: dict[str, Any]) -> tuple[Any, ...]:
    values = [row.get(key) for key, _ in EVENT_FIELDS]
    values[0] = str(values[0])
    values[2] = int(float(values[2]))
    return (group, *values)


__all__ = ["migrate"]
