"""Concurrent writers and readers on one state directory: no failed call, every acknowledged event stored once.

Events are counted as a user would count them: a dataset export job with ``ingestionMode=PUT``, read back
from S3 (``scripts/bench_mirror.py`` measures the same workload for 20 s).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from mirror_bench import bench

from personalize_kit.local import mock_personalize


def _run_threads(steps: list, calls: int) -> None:
    """Run each step ``calls`` times in its own thread, switching threads often to bring races out."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=bench._loop, args=(step, None, calls)) for step in steps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)


@pytest.mark.slow
def test_threads_of_one_process_lose_nothing(state_dir: Path, tmp_path: Path) -> None:
    deployment = bench.deploy(state_dir, recipes=("popularity",))
    acks = [tmp_path / f"w{t}.acks" for t in range(3)]
    with mock_personalize(state_dir):
        writers = [
            bench.Writer(bench.clients("personalize-events")[0], deployment, f"w{t}", 10, acks[t]) for t in range(3)
        ]
        users = [f"w{t}-{j}" for t in range(3) for j in range(4)] + ["nobody"]
        readers = [
            bench.Reader(bench.clients("personalize-runtime")[0], list(deployment.campaigns.values()), users, seed=t)
            for t in range(2)
        ]
        _run_threads([w.send for w in writers] + [r.read for r in readers], calls=200)
        # after the writes, a reader in the same process still answers every user
        campaign = deployment.campaigns["popularity"]
        for user in users:
            answer = readers[0].runtime.get_recommendations(campaignArn=campaign, userId=user, numResults=5)
            assert len(answer["itemList"]) == 5
    assert [(w.failed, w.errors) for w in writers] == [(0, {})] * 3
    assert [(r.failed, r.errors) for r in readers] == [(0, {})] * 2
    assert sum(w.acked for w in writers) == 3 * 200 * 10
    report = bench.audit(bench.export_rows(deployment), bench.read_acks(acks), 10, deployment.items)
    assert report["acked"] == report["stored"] == report["stored_distinct"] == 6000
    assert (report["missing"], report["duplicates"], report["torn_or_unknown"]) == (0, 0, 0)


@pytest.mark.slow
def test_processes_with_writer_and_reader_threads_on_one_state_directory(state_dir: Path, tmp_path: Path) -> None:
    deployment = bench.deploy(state_dir)  # Popularity-Count and a quickly trained User-Personalization
    calls = 60
    result = bench.run_concurrency(
        deployment, tmp_path / "work", processes=2, writers=2, readers=2, calls=calls, switch_interval=1e-5
    )
    assert result["errors"] == {}
    assert (result["put_failed"], result["get_failed"]) == (0, 0)
    assert (result["put_calls"], result["get_calls"]) == (2 * 2 * calls, 2 * 2 * calls)
    assert result["acked"] == result["stored"] == result["stored_distinct"] == 2 * 2 * calls * 10
    assert (result["missing"], result["duplicates"], result["torn_or_unknown"]) == (0, 0, 0)


def test_the_audit_sees_lost_doubled_and_torn_events() -> None:
    """The counting itself can fail: a lost, a doubled and a cut event are each reported."""
    items = [f"item{i}" for i in range(100)]
    user, events = bench.planned_call("w0", 0, 3, items)
    rows = [
        {"USER_ID": user, "ITEM_ID": e["itemId"], "TIMESTAMP": str(e["sentAt"]), "EVENT_TYPE": e["eventType"]}
        for e in events
    ]
    acked = [bench.event_key(user, e["sentAt"]) for e in events]
    assert bench.audit(rows, acked, 3, items) | {"examples_torn": []} == {
        "acked": 3,
        "acked_distinct": 3,
        "stored": 3,
        "stored_distinct": 3,
        "missing": 0,
        "duplicates": 0,
        "torn_or_unknown": 0,
        "examples_torn": [],
    }
    torn = {**rows[2], "ITEM_ID": rows[2]["ITEM_ID"][:-1]}
    report = bench.audit([rows[0], rows[0], torn], acked, 3, items)
    assert (report["missing"], report["duplicates"], report["torn_or_unknown"]) == (1, 1, 1)
