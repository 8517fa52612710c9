"""The mirror's database: one SQLite file in the state directory, shared by threads and processes.

``mirror.db`` holds the resource records and the event streams (PutEvents, PutItems, PutUsers). It is
opened in WAL mode (readers never wait for a writer, a writer never blocks readers), with a busy timeout
so that writers of several processes queue instead of failing, and one connection per thread (and per
process: a connection is never used across ``fork``). Every write runs in ``BEGIN IMMEDIATE`` and is
committed before the API answers; a process killed in the middle of a transaction leaves no trace of it,
and the next process opens the file without a repair step (SQLite rolls the journal back itself).

Imported datasets and trained models stay files (Parquet, ``.npz``, JSON) next to it, written atomically
and named from their records.

Tables::

    resources(arn, kind, region, status, created, attrs, tags, internal)   one row per resource
    events(seq, dataset_group, user_id, item_id, ts, event_type, ...)      PutEvents, in arrival order
    records(seq, dataset_group, dataset_type, record_id, fields)           PutItems / PutUsers / PutActions;
                                     PutActionInteractions (record_id: the user)
    meta(key, value)                 schema version; resources_generation, counted up by triggers on
                                     every change of ``resources`` (see ``resources.Snapshot``)

Indexes make "the newest N events of user U in dataset group G" and a filter's look at one user's
interactions index reads, whatever the number of events stored.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from personalize_kit.exceptions import StateError
from personalize_kit.local import cpus

logger = logging.getLogger(__name__)

DB_FILE = "mirror.db"
#: Version of the tables below; a database of another version is refused with what to do.
SCHEMA_VERSION = 1
#: Seconds a writer waits for another writer's transaction before giving up.
BUSY_TIMEOUT_SECONDS = 60.0

#: The columns of an event: its field in the API's terms (as the recipes read it) and its column in ``events``.
EVENT_FIELDS = (
    ("USER_ID", "user_id"),
    ("ITEM_ID", "item_id"),
    ("TIMESTAMP", "ts"),
    ("EVENT_TYPE", "event_type"),
    ("EVENT_VALUE", "event_value"),
    ("SESSION_ID", "session_id"),
    ("EVENT_ID", "event_id"),
    ("RECOMMENDATION_ID", "recommendation_id"),
    ("IMPRESSION", "impression"),
    ("PROPERTIES", "properties"),
)
#: Adds one event (``dataset_group`` first, then :data:`EVENT_FIELDS`).
INSERT_EVENT = (
    f"INSERT INTO events (dataset_group, {', '.join(c for _, c in EVENT_FIELDS)}) "
    f"VALUES ({', '.join('?' * (len(EVENT_FIELDS) + 1))})"
)
#: Adds a batch of events in one step of SQLite: ``dataset_group`` and a JSON array of rows, each the
#: values of :data:`EVENT_FIELDS` in order (a step per row would hand the GIL to other threads each time).
INSERT_EVENTS = (
    f"INSERT INTO events (dataset_group, {', '.join(c for _, c in EVENT_FIELDS)}) SELECT ?, "
    + ", ".join(f"json_extract(value, '$[{k}]')" for k in range(len(EVENT_FIELDS)))
    + " FROM json_each(?) ORDER BY CAST(key AS INTEGER)"
)

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS resources (
    arn TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    region TEXT NOT NULL,
    status TEXT,
    created REAL NOT NULL,
    attrs TEXT NOT NULL,
    tags TEXT NOT NULL,
    internal TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS resources_by_kind ON resources (kind, region, created);
CREATE INDEX IF NOT EXISTS resources_by_status ON resources (status);
INSERT OR IGNORE INTO meta VALUES ('resources_generation', '0');
CREATE TRIGGER IF NOT EXISTS resources_added AFTER INSERT ON resources BEGIN {bump}; END;
CREATE TRIGGER IF NOT EXISTS resources_changed AFTER UPDATE ON resources BEGIN {bump}; END;
CREATE TRIGGER IF NOT EXISTS resources_removed AFTER DELETE ON resources BEGIN {bump}; END;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset_group TEXT NOT NULL,
    user_id TEXT NOT NULL,
    item_id TEXT,
    ts INTEGER NOT NULL,
    event_type TEXT,
    event_value REAL,
    session_id TEXT,
    event_id TEXT,
    recommendation_id TEXT,
    impression TEXT,
    properties TEXT
);
CREATE INDEX IF NOT EXISTS events_by_user ON events (dataset_group, user_id, ts);
CREATE INDEX IF NOT EXISTS events_by_user_type ON events (dataset_group, user_id, event_type, ts);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset_group TEXT NOT NULL,
    dataset_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    fields TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_dataset ON records (dataset_group, dataset_type, seq);
CREATE INDEX IF NOT EXISTS records_by_id ON records (dataset_group, dataset_type, record_id, seq);
""".replace("{bump}", "UPDATE meta SET value = value + 1 WHERE key = 'resources_generation'")


#: One lock per database file and process: this process's writers queue on it (woken as soon as the
#: writer before them commits) instead of on SQLite's busy handler, which sleeps 1, 2, 5, 10, 15... ms
#: between tries; writers of other processes still meet at SQLite's lock.
_WRITE_LOCKS: dict[Path, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _forget_write_locks() -> None:  # a child of fork() starts with none held
    global _WRITE_LOCKS_GUARD
    _WRITE_LOCKS.clear()
    _WRITE_LOCKS_GUARD = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_write_locks)


def _readers_first() -> None:
    """Let the threads waiting for the CPU run before this write (:func:`~personalize_kit.local.cpus.give_way`).

    Writes are mostly events, which a service sends and forgets; reads are what its users wait for. Under
    both at once, writers went on holding the CPU and the interpreter between their calls while readers
    waited: in the concurrency benchmark (3 processes x 2 writer and 2 reader threads, 2 cores) reads had a
    p99 of 31 ms without this and 22.1-23.1 ms with it (three runs), and more calls were answered in all
    (74,000-79,000 against 65,000: more reads, fewer writes).
    """
    cpus.give_way()


def _write_lock(path: Path) -> threading.Lock:
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(path, threading.Lock())


class Database:
    """``mirror.db`` of one state directory: a connection per thread, write transactions, the tables.

    >>> import tempfile
    >>> db = Database(Path(tempfile.mkdtemp()))
    >>> with db.write() as conn:
    ...     _ = conn.execute("INSERT INTO meta VALUES ('demo', '1')")
    >>> db.connection().execute("SELECT value FROM meta WHERE key = 'demo'").fetchone()[0]
    '1'
    """

    def __init__(self, root: Path) -> None:
        self.path = (root / DB_FILE).absolute()
        self._local = threading.local()
        self._create()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use; a new one after ``fork``)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = self._open()
            self._local.conn, self._local.pid, self._local.depth = conn, os.getpid(), 0
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
            self._use_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from exc
        return conn

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        """Put the file in WAL mode (once per file: the mode is kept in it), waiting for other processes.

        SQLite answers ``database is locked`` at once, without its busy timeout, to a connection that turns
        a new file to WAL while another connection does the same (each holds the read lock the other's change
        must wait for, so waiting could never end). Processes that open a new state directory at one moment
        meet there; the one refused tries again until the other's change is done.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
        pause = 0.001
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(2 * pause, 0.05)

    def _unusable(self, exc: sqlite3.DatabaseError) -> StateError:
        return StateError(f"{self.path}: not a mirror database ({exc}); move the file away or use another --state-dir")

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), committed when the block ends, rolled back on error.

        Re-entrant within a thread: an inner block joins the outer transaction.
        """
        conn = self.connection()
        if self._local.depth:
            self._local.depth += 1
            try:
                yield conn
            finally:
                self._local.depth -= 1
            return
        _readers_first()
        lock = _write_lock(self.path)
        if not lock.acquire(timeout=BUSY_TIMEOUT_SECONDS):
            raise sqlite3.OperationalError(f"database is locked: no write on {self.path} for {BUSY_TIMEOUT_SECONDS} s")
        try:
            conn.execute("BEGIN IMMEDIATE")
            self._local.depth = 1
            try:
                yield conn
            except BaseException:
                self._local.depth = 0
                conn.execute("ROLLBACK")
                raise
            self._local.depth = 0
            conn.execute("COMMIT")
        finally:
            lock.release()

    def write_one(self, sql: str, args: tuple[object, ...] = ()) -> int:
        """Run one writing statement as its own transaction, committed when it ends; the rows it changed.

        What :meth:`write` does for one statement, without its ``BEGIN IMMEDIATE`` and ``COMMIT`` round trips
        (two steps of SQLite fewer, each of which lets other threads take the interpreter): SQLite makes the
        statement a transaction of its own, taking the write lock before it reads anything (so it waits for
        other writers as ``BEGIN IMMEDIATE`` does) and committing, or leaving no trace, when it ends. Inside
        a :meth:`write` block it joins that transaction.
        """
        conn = self.connection()
        if self._local.depth:
            return conn.execute(sql, args).rowcount
        _readers_first()
        lock = _write_lock(self.path)
        if not lock.acquire(timeout=BUSY_TIMEOUT_SECONDS):
            raise sqlite3.OperationalError(f"database is locked: no write on {self.path} for {BUSY_TIMEOUT_SECONDS} s")
        try:
            return conn.execute(sql, args).rowcount
        finally:
            lock.release()

    def _create(self) -> None:
        try:
            with self.write() as conn:
                for statement in filter(str.strip, _TABLES.split(";\n")):
                    conn.execute(statement)
                found = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                if found is None:
                    conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                elif int(found[0]) != SCHEMA_VERSION:
                    raise StateError(
                        f"{self.path}: made by another version of personalize_kit (tables version {found[0]}, "
                        f"this one reads {SCHEMA_VERSION}); use a new --state-dir or that version"
                    )
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from exc


__all__ = ["DB_FILE", "EVENT_FIELDS", "INSERT_EVENT", "INSERT_EVENTS", "Database"]
