"""Resources as the mirror keeps them: one typed record per resource, read and written through SQL.

A :class:`Resource` is one row of the ``resources`` table: its :class:`~personalize_kit.kinds.Kind`, its
ARN, ``attrs`` (the API's camelCase fields, timestamps as epoch seconds, exactly as Describe returns
them), its tags and ``internal`` (what only the mirror needs: the process running a job, a due time).
:class:`Resources` is the view of the table an operation works with inside one transaction: records it
hands out are written back when the transaction ends, if they changed. Reads outside a transaction may
share a process's :class:`Snapshot`: rows read once are served again while the table is unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from personalize_kit.kinds import ACTIVE, KINDS, UPDATE_IN_PROGRESS, UPDATE_PENDING, Kind, kind_of_arn
from personalize_kit.local.exceptions import (
    InvalidNextTokenException,
    ResourceInUseException,
    ResourceNotFoundException,
)

#: The account of every ARN the mirror makes (moto's default account, so S3 and STS agree).
ACCOUNT_ID = "123456789012"


#: Environment variable: seconds the mirror's clock starts ahead of the machine's (subprocesses inherit it).
CLOCK_OFFSET_ENV = "PERSONALIZE_KIT_CLOCK_OFFSET"


class Clock:
    """The mirror's clock: the machine's time plus an offset that only moves forward (:meth:`advance`).

    Every due time of the mirror (a state's next step, an automatic training) is read against it, so a
    test moves days ahead at once. One per process (``CLOCK``); a new process starts at
    ``$PERSONALIZE_KIT_CLOCK_OFFSET``.
    """

    def __init__(self) -> None:
        self._offset: float | None = None

    @property
    def offset(self) -> float:
        if self._offset is None:
            raw = os.environ.get(CLOCK_OFFSET_ENV) or "0"
            try:
                self._offset = float(raw)
            except ValueError as exc:
                raise ValueError(f"${CLOCK_OFFSET_ENV} must be a number of seconds, not {raw!r}.") from exc
        return self._offset

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` ahead (never back: due times already passed stay passed).

        Advance it while no training is in progress: a training's heartbeat is read against this clock, so
        a jump longer than ``lifecycle.STALE_SECONDS`` makes it look abandoned (``CREATE FAILED``).
        """
        if seconds < 0:
            raise ValueError(f"The mirror's clock only moves forward: advance({seconds}) is negative.")
        self._offset = self.offset + float(seconds)

    def reset(self) -> None:
        """Back to ``$PERSONALIZE_KIT_CLOCK_OFFSET`` (for tests that advanced it)."""
        self._offset = None


CLOCK = Clock()


def now() -> float:
    """The mirror's current time in epoch seconds (how records store timestamps): :data:`CLOCK`."""
    return CLOCK.now()


@dataclass
class Resource:
    """One resource: typed kind, ARN, API attributes, tags and the mirror's own bookkeeping."""

    kind: Kind
    arn: str
    attrs: dict[str, Any]
    tags: list[dict[str, str]] = field(default_factory=list)
    internal: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str | None:
        return self.attrs.get("status")

    @property
    def name(self) -> str:
        """The last part of the ARN (a version's id, a job's name)."""
        return self.arn.rsplit("/", 1)[-1]

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]

    def to_dict(self) -> dict[str, Any]:
        """The resource as its Describe call returns it (a copy)."""
        return json.loads(json.dumps(self.attrs))

    def update(self, **attrs: Any) -> None:
        """Set attributes (``None`` removes one) and stamp ``lastUpdatedDateTime``."""
        for key, value in attrs.items():
            if value is None:
                self.attrs.pop(key, None)
            else:
                self.attrs[key] = value
        self.attrs["lastUpdatedDateTime"] = now()

    def require_active(self) -> None:
        """Refuse to use a resource that is not ACTIVE (being created, deleted or failed), as the service does."""
        if self.status != ACTIVE:
            raise ResourceInUseException(f"The resource {self.arn} is in {self.status} state. It must be ACTIVE.")

    @property
    def indexed_status(self) -> str | None:
        """The status the index of resources in flight sees: an update's while one is in flight."""
        member = self.kind.update_member
        update = (self.attrs.get(member) or {}).get("status") if member else None
        return update if update in (UPDATE_PENDING, UPDATE_IN_PROGRESS) else self.status

    def _row(self) -> tuple[Any, ...]:
        return (
            self.arn,
            self.kind.name,
            self.region,
            self.indexed_status,
            float(self.attrs.get("creationDateTime") or 0.0),
            json.dumps(self.attrs, sort_keys=True),
            json.dumps(self.tags),
            json.dumps(self.internal, sort_keys=True),
        )

    @classmethod
    def _from_row(cls, row: sqlite3.Row | tuple[Any, ...]) -> Resource:
        arn, kind, attrs, tags, internal = row
        return cls(KINDS[kind], arn, json.loads(attrs), json.loads(tags), json.loads(internal))


_COLUMNS = "arn, kind, attrs, tags, internal"
#: The resources in flight, with the table's generation (one row with NULLs when none is in flight).
_IN_FLIGHT_WITH_GENERATION = (
    "SELECT m.value, r.arn, r.kind, r.attrs, r.tags, r.internal FROM meta m "
    "LEFT JOIN resources r ON r.status IN ({marks}) WHERE m.key = 'resources_generation'"
)


class Snapshot:
    """Rows of the resources table read by one process, kept while the table's generation is unchanged.

    The database counts every change of the table (a trigger bumps ``meta.resources_generation`` in the
    changing transaction), so a read that learnt the generation may take rows read earlier at the same
    one instead of asking SQLite again. Rows are tuples; every reader makes its own records from them.
    """

    #: Most queries kept for one generation.
    SIZE = 4096

    def __init__(self) -> None:
        self.generation = -1
        self._rows: dict[tuple[str, tuple[Any, ...]], list[tuple[Any, ...]]] = {}
        self._lock = threading.Lock()

    def rows(self, generation: int, sql: str, args: tuple[Any, ...], conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
        with self._lock:
            if generation > self.generation:
                self.generation, self._rows = generation, {}
            found = self._rows.get((sql, args)) if generation == self.generation else None
        if found is not None:
            return found
        rows = conn.execute(sql, args).fetchall()
        with self._lock:
            if generation == self.generation and len(self._rows) < self.SIZE:
                self._rows[(sql, args)] = rows
        return rows


class Resources:
    """The resources table seen through one connection (inside a transaction when writing).

    Records handed out by :meth:`get`, :meth:`find` and :meth:`all` are remembered; :meth:`flush` (called
    when a write transaction ends) writes back those that changed. A read-only view given a ``snapshot``
    learns the table's generation with its first look at the resources in flight (:meth:`in_flight`) and
    from then on takes what the snapshot holds for that generation.
    """

    def __init__(self, conn: sqlite3.Connection, region: str, snapshot: Snapshot | None = None) -> None:
        self.conn = conn
        self.region = region
        self._seen: dict[str, tuple[Resource, tuple[Any, ...]]] = {}
        self._snapshot = snapshot
        self._generation: int | None = None
        #: Work to start once the write transaction has committed (a training the mirror started itself).
        self.after_commit: list[Callable[[], None]] = []

    @property
    def generation(self) -> int | None:
        """The table's generation this read-only view learnt (``None``: not learnt, or a view for writing)."""
        return self._generation

    def _select(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if self._snapshot is None or self._generation is None:
            return self.conn.execute(sql, args).fetchall()
        return self._snapshot.rows(self._generation, sql, args, self.conn)

    def _remember(self, resource: Resource) -> Resource:
        seen = self._seen.get(resource.arn)
        if seen is not None:
            return seen[0]
        # a read-only view (one with a snapshot) is never flushed: it needs no copy to compare against
        self._seen[resource.arn] = (resource, () if self._snapshot is not None else resource._row())
        return resource

    def get(self, arn: str) -> Resource | None:
        if arn in self._seen:
            return self._seen[arn][0]
        rows = self._select(f"SELECT {_COLUMNS} FROM resources WHERE arn = ?", (arn,))
        return self._remember(Resource._from_row(rows[0])) if rows else None

    def find(self, arn: str, kind: str, *, status: int | None = None) -> Resource:
        """The resource of ``arn`` of the given kind, or :class:`ResourceNotFoundException`."""
        found = self.get(arn)
        if found is None or found.kind.name != kind:
            raise ResourceNotFoundException.for_arn(arn, **({"status": status} if status else {}))
        return found

    def all(self, kind: str, *, region: str | None = None, **where: Any) -> list[Resource]:
        """Resources of ``kind`` whose attributes equal every ``where`` value, oldest first."""
        sql = f"SELECT {_COLUMNS} FROM resources WHERE kind = ?"
        args: list[Any] = [kind]
        if region is not None:
            sql += " AND region = ?"
            args.append(region)
        for key, value in where.items():
            if value is not None:
                sql += f" AND json_extract(attrs, '$.{key}') = ?"
                args.append(value)
        sql += " ORDER BY created, arn"
        return [self._remember(Resource._from_row(row)) for row in self._select(sql, tuple(args))]

    def in_flight(self, statuses: tuple[str, ...]) -> list[Resource]:
        """Resources whose status is one of ``statuses`` (an index read); with a snapshot, in the same
        query, the table's generation."""
        marks = ",".join("?" * len(statuses))
        if self._snapshot is None:
            rows = self.conn.execute(f"SELECT {_COLUMNS} FROM resources WHERE status IN ({marks})", statuses)
            return [self._remember(Resource._from_row(row)) for row in rows]
        found = self.conn.execute(_IN_FLIGHT_WITH_GENERATION.format(marks=marks), statuses).fetchall()
        self._generation = int(found[0][0]) if found else None
        return [self._remember(Resource._from_row(row[1:])) for row in found if row[1] is not None]

    def value(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        """The single value ``sql`` selects (with a snapshot, read once per generation of the table)."""
        rows = self._select(sql, args)
        return rows[0][0] if rows else None

    def count(self, kind: str, *, statuses: tuple[str, ...] | None = None, region: str | None = None) -> int:
        sql, args = "SELECT COUNT(*) FROM resources WHERE kind = ?", [kind]
        if region is not None:
            sql += " AND region = ?"
            args.append(region)
        if statuses is not None:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            args += list(statuses)
        return int(self.conn.execute(sql, args).fetchone()[0])

    def add(self, resource: Resource) -> Resource:
        self.conn.execute("INSERT INTO resources VALUES (?, ?, ?, ?, ?, ?, ?, ?)", resource._row())
        self._seen[resource.arn] = (resource, resource._row())
        return resource

    def delete(self, arn: str) -> None:
        self.conn.execute("DELETE FROM resources WHERE arn = ?", (arn,))
        self._seen.pop(arn, None)

    def flush(self) -> None:
        """Write back every remembered record that changed (a view made for writing, without a snapshot)."""
        if self._snapshot is not None:
            raise RuntimeError("a read-only view of the resources cannot be written back")
        for arn, (resource, before) in list(self._seen.items()):
            after = resource._row()
            if after != before:
                self.conn.execute(
                    "UPDATE resources SET status = ?, created = ?, attrs = ?, tags = ?, internal = ? WHERE arn = ?",
                    (*after[3:], arn),
                )
                self._seen[arn] = (resource, after)


def new_resource(arn: str, attrs: dict[str, Any], tags: list[dict[str, str]] | None = None) -> Resource:
    """A record for a new resource of the kind its ARN names, stamped with the creation time."""
    stamp = now()
    attrs.setdefault("creationDateTime", stamp)
    attrs.setdefault("lastUpdatedDateTime", stamp)
    return Resource(kind_of_arn(arn), arn, attrs, list(tags or []), {})


def paginate(items: list[dict[str, Any]], params: dict[str, Any], key: str) -> dict[str, Any]:
    """One page of ``items`` under ``key``, with ``nextToken`` when more remain (``maxResults`` default 100).

    >>> page = paginate([{"a": 1}, {"a": 2}, {"a": 3}], {"maxResults": 2}, "things")
    >>> page["things"], paginate([{"a": 1}, {"a": 2}, {"a": 3}], {"nextToken": page["nextToken"]}, "things")
    ([{'a': 1}, {'a': 2}], {'things': [{'a': 3}]})
    """
    size = int(params.get("maxResults") or 100)
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
            start = int(decoded["offset"])
            if decoded.get("key") != key or start < 0:
                raise ValueError(token)
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidNextTokenException("The nextToken is not valid.") from exc
    page: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        raw = json.dumps({"offset": start + size, "key": key}).encode()
        page["nextToken"] = base64.urlsafe_b64encode(raw).decode()
    return page


__all__ = [
    "ACCOUNT_ID",
    "CLOCK",
    "CLOCK_OFFSET_ENV",
    "Clock",
    "Resource",
    "Resources",
    "Snapshot",
    "new_resource",
    "now",
    "paginate",
]
