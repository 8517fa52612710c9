"""The mirror's incremental reader of recorded events."""

from __future__ import annotations

import json

from personalize_kit.local.store import EventLog


def line(user, item, ts):
    return json.dumps({"USER_ID": user, "ITEM_ID": item, "TIMESTAMP": ts, "EVENT_TYPE": "watch"}) + "\n"


def test_reads_only_what_was_appended_and_keeps_users_apart(tmp_path):
    path = tmp_path / "events.jsonl"
    log = EventLog(path)
    assert log.user_events("u1") == []  # no file yet
    path.write_text(line("u1", "a", 1) + line("u2", "b", 2))
    assert [e["ITEM_ID"] for e in log.user_events("u1")] == ["a"]
    offset = log.offset
    with open(path, "a") as handle:
        handle.write(line("u1", "c", 3))
    assert [e["ITEM_ID"] for e in log.user_events("u1")] == ["a", "c"]
    assert log.offset == offset + len(line("u1", "c", 3))
    assert [e["ITEM_ID"] for e in log.user_events("u2")] == ["b"]


def test_a_torn_last_line_waits_for_its_end(tmp_path):
    path = tmp_path / "events.jsonl"
    log = EventLog(path)
    whole = line("u1", "a", 1)
    path.write_text(whole[:10])
    assert log.user_events("u1") == [] and log.offset == 0
    path.write_text(whole)
    assert [e["ITEM_ID"] for e in log.user_events("u1")] == ["a"]


def test_a_replaced_or_shrunk_file_is_read_again(tmp_path):
    path = tmp_path / "events.jsonl"
    log = EventLog(path)
    path.write_text(line("u1", "a", 1) + line("u1", "b", 2))
    assert len(log.user_events("u1")) == 2
    replacement = tmp_path / "new.jsonl"
    replacement.write_text(line("u1", "z", 9))
    replacement.replace(path)
    assert [e["ITEM_ID"] for e in log.user_events("u1")] == ["z"]
    path.unlink()
    assert log.user_events("u1") == []
