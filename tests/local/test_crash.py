"""A process killed with SIGKILL in the middle of PutEvents bursts loses no acknowledged event.

Each burst writes the keys of every acknowledged event to a side file right after the call returns; a
fresh process then counts the stored events through an export job: stored >= acknowledged, no event twice,
no row that is not exactly an event that was sent, and each next process opens the state and answers at
once (``scripts/bench_mirror.py crash`` does the same 20 times).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mirror_bench import bench


@pytest.mark.slow
def test_killed_bursts_keep_every_acknowledged_event_once(state_dir: Path, tmp_path: Path) -> None:
    deployment = bench.deploy(state_dir, recipes=("popularity",))
    result = bench.run_crash(deployment, tmp_path / "work", rounds=3)
    assert result["killed"] == 3  # each burst was still sending when it was killed
    assert result["opened_ok"] == 3, result["open_errors"]  # the next process answered and stored at once
    assert result["warnings"] == []  # nothing to repair or recover was logged
    assert result["acked"] > 0
    assert result["stored"] >= result["acked"]
    assert result["missing"] == 0
    assert result["stored_distinct"] == result["stored"]  # no event twice
    assert result["torn_or_unknown"] == 0, result["examples_torn"]


@pytest.mark.slow
def test_events_after_a_kill_are_all_stored(state_dir: Path, tmp_path: Path) -> None:
    """The first events written after a kill (where a torn tail would be) are stored, and nothing else moved."""
    deployment = bench.deploy(state_dir, recipes=("popularity",))
    bench.run_crash(deployment, tmp_path / "crash", rounds=1)
    acks = tmp_path / "after.acks"
    from personalize_kit.local import mock_personalize

    with mock_personalize(state_dir):
        writer = bench.Writer(bench.clients("personalize-events")[0], deployment, "after", 10, acks)
        assert all(writer.send() for _ in range(5)), writer.errors
    rows = bench.export_rows(deployment)
    after = [r for r in rows if r["USER_ID"].startswith("after-")]
    report = bench.audit(after, bench.read_acks([acks]), 10, deployment.items)
    assert report["acked"] == report["stored"] == report["stored_distinct"] == 50
    assert (report["missing"], report["torn_or_unknown"]) == (0, 0)
