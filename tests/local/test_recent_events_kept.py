"""A user's newest events are read again only when they changed, and never served stale."""

from __future__ import annotations

import json
from pathlib import Path

from personalize_kit.local import store
from personalize_kit.local.state import StateDir
from personalize_kit.lru import LRU


def _put(state: StateDir, user: str, *events: tuple[str, int]) -> None:
    rows = [{"USER_ID": user, "ITEM_ID": item, "TIMESTAMP": ts, "EVENT_TYPE": "watch"} for item, ts in events]
    store.append_events(state, "g", rows)


def _items(frame) -> list[str]:
    return frame["ITEM_ID"].tolist()


def test_the_kept_frame_is_served_while_the_newest_events_are_the_same_ones(tmp_path: Path) -> None:
    state, cache = StateDir(tmp_path), LRU(8)
    assert store.recent_events(state, "g", "u", 3, cache) is None
    _put(state, "u", ("a", 10), ("b", 20), ("c", 30))
    first = store.recent_events(state, "g", "u", 3, cache)
    assert _items(first) == ["a", "b", "c"]
    assert store.recent_events(state, "g", "u", 3, cache) is first  # unchanged: the same object
    _put(state, "v", ("z", 40))  # another user's event changes nothing of this one's
    assert store.recent_events(state, "g", "u", 3, cache) is first
    _put(state, "u", ("old", 5))  # older than the newest three: they are still the same events
    assert store.recent_events(state, "g", "u", 3, cache) is first


def test_a_new_event_among_the_newest_gives_a_new_frame(tmp_path: Path) -> None:
    state, cache = StateDir(tmp_path), LRU(8)
    _put(state, "u", ("a", 10), ("b", 20), ("c", 30))
    first = store.recent_events(state, "g", "u", 3, cache)
    _put(state, "u", ("between", 25))  # not the newest by time, but among the newest three
    assert _items(store.recent_events(state, "g", "u", 3, cache)) == ["b", "between", "c"]
    _put(state, "u", ("same-time", 30))  # a tie on time: the later recorded counts as newer
    assert _items(store.recent_events(state, "g", "u", 3, cache)) == ["between", "c", "same-time"]
    assert _items(first) == ["a", "b", "c"]  # a frame handed out is never changed


def test_deleted_events_are_not_served_from_the_kept_frame(tmp_path: Path) -> None:
    state, cache = StateDir(tmp_path), LRU(8)
    _put(state, "u", ("a", 10), ("b", 20))
    assert _items(store.recent_events(state, "g", "u", 5, cache)) == ["a", "b"]
    store.delete_users(state, "g", {"u"})
    assert store.recent_events(state, "g", "u", 5, cache) is None
    _put(state, "u", ("a", 10), ("b", 20))  # the same events again are new records
    assert _items(store.recent_events(state, "g", "u", 5, cache)) == ["a", "b"]


def test_which_events_are_newest_is_read_from_the_index_alone(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    _put(state, "u", *((f"i{k}", k) for k in range(20)))
    plan = state.db.connection().execute("EXPLAIN QUERY PLAN " + store.RECENT_EVENTS_AFTER_SQL, (0, "g", "u", 5))
    text = " | ".join(str(row[-1]) for row in plan.fetchall())
    assert "COVERING INDEX events_by_user" in text and "TEMP B-TREE" not in text
    assert "USING INTEGER PRIMARY KEY" in text  # the rows written out: read by their number


def test_only_the_events_recorded_after_the_newest_known_are_written_out(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    _put(state, "u", ("a", 10), ("b", 20), ("c", 30))
    connection = state.db.connection()
    (found,) = connection.execute(store.RECENT_EVENTS_AFTER_SQL, (2, "g", "u", 5)).fetchone()
    assert json.loads(found) == [[3, "u", "c", 30, "watch", None], 2, 1]  # newest first


def test_one_statement_per_read_whether_the_events_changed_or_not(tmp_path: Path) -> None:
    state, cache = StateDir(tmp_path), LRU(8)
    _put(state, "u", ("a", 10), ("b", 20))
    statements: list[str] = []
    state.db.connection().set_trace_callback(statements.append)
    assert _items(store.recent_events(state, "g", "u", 5, cache)) == ["a", "b"]
    store.recent_events(state, "g", "u", 5, cache)
    state.db.connection().set_trace_callback(None)
    _put(state, "u", ("c", 30))
    state.db.connection().set_trace_callback(statements.append)
    assert _items(store.recent_events(state, "g", "u", 5, cache)) == ["a", "b", "c"]
    state.db.connection().set_trace_callback(None)
    assert len(statements) == 3


def test_events_gone_since_they_were_kept_are_read_again_in_full(tmp_path: Path) -> None:
    state, cache = StateDir(tmp_path), LRU(8)
    _put(state, "u", ("a", 10), ("b", 20), ("c", 30))
    assert _items(store.recent_events(state, "g", "u", 2, cache)) == ["b", "c"]
    state.db.connection().execute("DELETE FROM events WHERE item_id = 'c'")  # an older event comes back in
    assert _items(store.recent_events(state, "g", "u", 2, cache)) == ["a", "b"]
    state.db.connection().execute("DELETE FROM events WHERE item_id = 'a'")  # one of the kept ones is left
    assert _items(store.recent_events(state, "g", "u", 2, cache)) == ["b"]
