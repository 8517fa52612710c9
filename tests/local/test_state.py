"""The state directory: one SQLite database, index reads, migration of the old layout, clear errors."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from personalize_kit.exceptions import StateError
from personalize_kit.local import mirror_session, store
from personalize_kit.local.control import OPERATIONS
from personalize_kit.local.state import StateDir

GROUP_ARN = "arn:aws:personalize:us-east-1:123456789012:dataset-group/old"
TRACKER_ARN = "arn:aws:personalize:us-east-1:123456789012:event-tracker/old-tracker"


def _old_layout(root: Path) -> None:
    """A state directory as the previous version of the mirror left it, a torn last event line included."""
    stamp = 1_700_000_000.0
    resources = {
        GROUP_ARN: {
            "kind": "dataset_group",
            "arn": GROUP_ARN,
            "attrs": {"name": "old", "datasetGroupArn": GROUP_ARN, "status": "ACTIVE", "creationDateTime": stamp},
            "tags": [{"tagKey": "team", "tagValue": "recs"}],
            "internal": {},
        },
        TRACKER_ARN: {
            "kind": "event_tracker",
            "arn": TRACKER_ARN,
            "attrs": {
                "name": "old-tracker",
                "eventTrackerArn": TRACKER_ARN,
                "trackingId": "track-1",
                "datasetGroupArn": GROUP_ARN,
                "status": "ACTIVE",
                "creationDateTime": stamp + 1,
            },
            "tags": [],
            "internal": {},
        },
    }
    root.mkdir(parents=True)
    (root / "state.json").write_text(json.dumps({"version": 1, "resources": resources}))
    (root / "events").mkdir()
    lines = [
        json.dumps({"USER_ID": "u1", "ITEM_ID": f"i{k}", "TIMESTAMP": 1_700_000_000 + k, "EVENT_TYPE": "watch"})
        for k in range(3)
    ]
    (root / "events" / "old.jsonl").write_text("\n".join(lines) + '\n{"USER_ID": "u1", "ITEM')


def test_an_old_state_directory_is_migrated_once_and_says_so(tmp_path: Path, caplog: Any) -> None:
    root = tmp_path / "state"
    _old_layout(root)
    with caplog.at_level(logging.WARNING, logger="personalize_kit.local.migrate"):
        personalize = mirror_session(root).client("personalize")
    messages = [r.getMessage() for r in caplog.records if r.name == "personalize_kit.local.migrate"]
    assert len(messages) == 1 and "2 resources, 3 events" in messages[0] and str(root) in messages[0]
    group = personalize.describe_dataset_group(datasetGroupArn=GROUP_ARN)["datasetGroup"]
    assert group["name"] == "old"
    assert personalize.list_tags_for_resource(resourceArn=GROUP_ARN)["tags"] == [{"tagKey": "team", "tagValue": "recs"}]
    assert [t["name"] for t in personalize.list_event_trackers()["eventTrackers"]] == ["old-tracker"]
    recent = store.recent_events(StateDir(root), "old", "u1", 10)
    assert recent is not None and recent["ITEM_ID"].tolist() == ["i0", "i1", "i2"]  # the torn line is not an event
    assert (root / "state.json.migrated").exists() and not (root / "state.json").exists()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="personalize_kit.local.migrate"):
        mirror_session(root).client("personalize").list_dataset_groups()
    assert not [r for r in caplog.records if r.name == "personalize_kit.local.migrate"]


def test_old_files_renamed_by_another_process_first_are_left_to_it(tmp_path: Path, monkeypatch: Any) -> None:
    root = tmp_path / "state"
    _old_layout(root)
    rename = Path.rename

    def another_process_first(self: Path, target: Path) -> Path:
        rename(self, target)  # the other process, between this one's transaction and its rename
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", another_process_first)
    personalize = mirror_session(root).client("personalize")
    assert [g["name"] for g in personalize.list_dataset_groups()["datasetGroups"]] == ["old"]
    assert sorted(p.name for p in root.iterdir() if "migrated" in p.name) == ["events.migrated", "state.json.migrated"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "the old state file cannot be read for migration"),
        ('{"resources": [1, 2]}', "not a state file of the mirror (unexpected shape)"),
        ('{"resources": {"arn:x": {"kind": "spaceship", "attrs": {}}}}', "not a state file of the mirror"),
    ],
)
def test_a_broken_old_state_file_is_named_with_what_to_do(tmp_path: Path, content: str, expected: str) -> None:
    root = tmp_path / "state"
    root.mkdir()
    (root / "state.json").write_text(content)
    with pytest.raises(StateError) as exc:
        StateDir(root)
    message = str(exc.value)
    assert message.startswith(f"{root / 'state.json'}: ") and expected in message and "move it away" in message
    assert "\n" not in message


def test_a_state_directory_that_is_a_file_or_a_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(StateError, match=f"state directory {path} is a file, not a directory"):
        StateDir(path)
    with pytest.raises(StateError, match="is a file, not a directory"):
        StateDir("/dev/null")
    root = tmp_path / "junk"
    root.mkdir()
    (root / "mirror.db").write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StateError, match=f"{root / 'mirror.db'}: not a mirror database .*use another --state-dir"):
        StateDir(root)


def test_a_database_of_another_version_is_refused(tmp_path: Path) -> None:
    StateDir(tmp_path)
    with sqlite3.connect(tmp_path / "mirror.db") as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StateError, match="tables version 99"):
        StateDir(tmp_path)


def test_a_failure_inside_the_mirror_is_a_modelled_error_not_a_python_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(backend: Any, params: dict) -> dict:
        raise ValueError("Length of values (50) does not match length of index (60)")

    monkeypatch.setitem(OPERATIONS, "ListSchemas", broken)
    personalize = mirror_session(tmp_path).client("personalize")
    with pytest.raises(ClientError) as exc:
        personalize.list_schemas()
    error = exc.value.response["Error"]
    assert error["Code"] == "InternalFailure"
    assert "ListSchemas: ValueError: Length of values (50)" in error["Message"] and "mirror's log" in error["Message"]
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    log = (tmp_path / "mirror.log").read_text()  # the traceback is in the mirror's log, under the reference
    reference = error["Message"].split("(reference ")[1].split()[0]
    assert reference in log and "Traceback" in log and "raise ValueError" in log


def _plan(state: StateDir, sql: str, args: tuple) -> str:
    rows = state.db.connection().execute("EXPLAIN QUERY PLAN " + sql, args).fetchall()
    return " | ".join(str(row[-1]) for row in rows)


def test_a_users_events_and_a_filters_look_at_one_user_are_index_reads(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    store.append_events(
        state,
        "g",
        [{"USER_ID": f"u{k % 7}", "ITEM_ID": f"i{k}", "TIMESTAMP": k, "EVENT_TYPE": "watch"} for k in range(50)],
    )
    plan = _plan(state, store.RECENT_EVENTS_SQL, ("g", "u1", 5))
    assert "USING INDEX events_by_user" in plan and "TEMP B-TREE" not in plan and "SCAN events" not in plan
    plan = _plan(state, "SELECT item_id FROM events WHERE dataset_group = ? AND user_id = ?", ("g", "u1"))
    assert "USING INDEX events_by_user" in plan and "SCAN events" not in plan
    recent = store.recent_events(state, "g", "u1", 3)
    assert recent is not None and recent["ITEM_ID"].tolist() == ["i29", "i36", "i43"]


def test_an_acknowledged_event_is_committed_before_the_call_answers(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    store.append_events(state, "g", [{"USER_ID": "u", "ITEM_ID": "i", "TIMESTAMP": 1, "EVENT_TYPE": "click"}])
    with sqlite3.connect(tmp_path / "mirror.db") as other:  # another connection, as another process would
        assert other.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1


def test_events_are_one_statement_committed_when_it_ends(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    statements: list[str] = []
    state.db.connection().set_trace_callback(statements.append)
    store.append_events(state, "g", [{"USER_ID": "u", "ITEM_ID": f"i{k}", "TIMESTAMP": k} for k in range(3)])
    state.db.connection().set_trace_callback(None)
    assert len(statements) == 1 and statements[0].startswith("INSERT INTO events")
    other = sqlite3.connect(state.db.path)  # another connection (another process) sees them at once
    assert other.execute("SELECT count(*) FROM events").fetchone()[0] == 3
    with pytest.raises(RuntimeError), state.db.write():  # inside a write block: part of its transaction
        store.append_events(state, "g", [{"USER_ID": "u", "ITEM_ID": "gone", "TIMESTAMP": 9}])
        raise RuntimeError("rolled back")
    assert other.execute("SELECT count(*) FROM events").fetchone()[0] == 3


def test_a_write_first_lets_waiting_threads_run_once_per_transaction(tmp_path: Path, monkeypatch):
    """Writes (mostly events) let readers waiting for the CPU go first; a nested write does not again."""
    from personalize_kit.local import cpus, db

    turns: list[str] = []
    monkeypatch.setattr(cpus, "give_way", lambda: turns.append("yield"))
    database = db.Database(tmp_path)
    turns.clear()
    database.write_one("INSERT INTO meta VALUES ('a', '1')")
    assert turns == ["yield"]
    with database.write() as conn:
        conn.execute("INSERT INTO meta VALUES ('b', '1')")
        database.write_one("INSERT INTO meta VALUES ('c', '1')")  # joins the transaction
        with database.write():
            pass
    assert turns == ["yield", "yield"]
    assert database.connection().execute("SELECT COUNT(*) FROM meta WHERE key IN ('a', 'b', 'c')").fetchone() == (3,)
