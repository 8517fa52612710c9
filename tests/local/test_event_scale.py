"""Many recorded events: users with long histories are served right, filters see every event, a fresh
process reads them all, and the export counts them exactly (``scripts/bench_mirror.py scale`` times it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mirror_bench import bench, fake_aws_env

from personalize_kit.local import mock_personalize

HEAVY = 2_000
BULK = 6_000
N = 25
FILTER_WINDOW = 100


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A Popularity-Count campaign; user ``heavy`` with 2,000 events (half of them watches) on 40 of the 100
    items; 6,000 events of 60 other users."""
    with fake_aws_env():
        deployment = bench.deploy(tmp_path_factory.mktemp("scale") / "state", recipes=("popularity",))
        with mock_personalize(deployment.state_dir):
            (events,) = bench.clients("personalize-events")
            heavy = bench.record(events, deployment.tracking_id, ["heavy"], HEAVY, deployment.items[:40])
            bulk_users = [f"bulk-{j}" for j in range(60)]
            bench.record(
                events, deployment.tracking_id, bulk_users, BULK, deployment.items, start_ts=bench.START_TS + HEAVY
            )
        # the service's filters count the 100 newest interactions per user and event type
        newest = heavy["watched"]["heavy"][-FILTER_WINDOW:]
        yield {"deployment": deployment, "watched": set(newest), "ever_watched": set(heavy["watched"]["heavy"])}


def _recommend(runtime: Any, campaign: str, user: str, **extra: Any) -> list[str]:
    return [e["itemId"] for e in runtime.get_recommendations(campaignArn=campaign, userId=user, **extra)["itemList"]]


def test_an_interactions_filter_sees_every_recorded_event(recorded: dict[str, Any]) -> None:
    deployment, watched = recorded["deployment"], recorded["watched"]
    campaign = deployment.campaigns["popularity"]
    assert 0 < len(watched) < len(recorded["ever_watched"]) <= 40  # older watches fall out of the window
    with mock_personalize(deployment.state_dir):
        (runtime,) = bench.clients("personalize-runtime")
        everything = _recommend(runtime, campaign, "heavy", numResults=len(deployment.items))
        assert sorted(everything) == sorted(deployment.items)
        filtered = _recommend(runtime, campaign, "heavy", numResults=N, filterArn=deployment.filter_arn)
        assert filtered == [item for item in everything if item not in watched][:N]
        # a user with no events is not filtered at all, and is served the same list as before
        assert _recommend(runtime, campaign, "nobody", numResults=N, filterArn=deployment.filter_arn) == everything[:N]


def test_a_fresh_process_reads_every_recorded_event(recorded: dict[str, Any]) -> None:
    deployment, watched = recorded["deployment"], recorded["watched"]
    campaign = deployment.campaigns["popularity"]
    out = bench.run_child(["_first", deployment.state_dir, campaign, "heavy", deployment.filter_arn])
    first = json.loads(out.splitlines()[-1])
    with mock_personalize(deployment.state_dir):
        (runtime,) = bench.clients("personalize-runtime")
        everything = _recommend(runtime, campaign, "heavy", numResults=len(deployment.items))
    assert first["items"] == everything[:N]
    assert first["filtered_items"] == [item for item in everything if item not in watched][:N]


def test_the_export_counts_every_recorded_event_once(recorded: dict[str, Any]) -> None:
    rows = bench.export_rows(recorded["deployment"])
    assert len(rows) == HEAVY + BULK
    assert len({bench.event_key(r["USER_ID"], r["TIMESTAMP"]) for r in rows}) == HEAVY + BULK
    assert sum(1 for r in rows if r["USER_ID"] == "heavy") == HEAVY
    assert {r["ITEM_ID"] for r in rows if r["USER_ID"] == "heavy"} <= set(recorded["deployment"].items[:40])


@pytest.mark.slow
def test_user_personalization_reads_a_long_history_by_its_newest_events(state_dir: Path) -> None:
    """A user with 3,000 events is served as a user who has only the newest 100 of them (the profile's size)."""
    deployment = bench.deploy(state_dir, recipes=("user-personalization",))
    campaign = deployment.campaigns["user-personalization"]
    history = [
        {"eventType": "click", "itemId": deployment.items[(k * 7) % 100], "sentAt": bench.START_TS + k}
        for k in range(3_000)
    ]
    with mock_personalize(state_dir):
        events, runtime = bench.clients("personalize-events", "personalize-runtime")
        for user, sent in (("long", history), ("short", history[-100:])):
            for start in range(0, len(sent), 10):
                events.put_events(
                    trackingId=deployment.tracking_id, userId=user, sessionId=user, eventList=sent[start : start + 10]
                )
        answers = {
            user: runtime.get_recommendations(campaignArn=campaign, userId=user, numResults=50)["itemList"]
            for user in ("long", "short", "nobody")
        }
    assert [e["itemId"] for e in answers["long"]] == [e["itemId"] for e in answers["short"]]
    assert [e["score"] for e in answers["long"]] == pytest.approx([e["score"] for e in answers["short"]], abs=1e-6)
    assert [e["itemId"] for e in answers["long"]] != [e["itemId"] for e in answers["nobody"]]  # events count


def test_a_users_served_state_is_kept_only_while_their_newest_events_are_unchanged(state_dir: Path) -> None:
    """The second request of a user reuses what the first computed; a new event, also one older than the
    newest, changes the answer exactly as a fresh process (nothing kept) computes it."""
    deployment = bench.deploy(state_dir, recipes=("user-personalization",))
    campaign, items = deployment.campaigns["user-personalization"], deployment.items

    def sent(item: str, at: int) -> list[dict[str, Any]]:
        return [{"eventType": "click", "itemId": item, "sentAt": bench.START_TS + at}]

    def answer(runtime: Any) -> list[tuple[str, float]]:
        ranked = runtime.get_recommendations(campaignArn=campaign, userId="u", numResults=20)["itemList"]
        return [(e["itemId"], round(e["score"], 6)) for e in ranked]

    answers, fresh = [], []
    with mock_personalize(state_dir):
        events, runtime = bench.clients("personalize-events", "personalize-runtime")
        for k in range(150):
            events.put_events(
                trackingId=deployment.tracking_id, userId="u", sessionId="s", eventList=sent(items[k % 7], 10 * k)
            )
        answers += [answer(runtime), answer(runtime)]
        events.put_events(
            trackingId=deployment.tracking_id, userId="u", sessionId="s", eventList=sent(items[50], 10_000)
        )
        answers.append(answer(runtime))
        # older than the newest event, but among the newest 100: the window changes, its newest event does not
        events.put_events(
            trackingId=deployment.tracking_id, userId="u", sessionId="s", eventList=sent(items[60], 1_495)
        )
        answers.append(answer(runtime))
        with mock_personalize(state_dir):  # a mirror of its own: nothing kept
            (runtime_fresh,) = bench.clients("personalize-runtime")
            fresh.append(answer(runtime_fresh))
    assert answers[0] == answers[1]
    assert answers[2] != answers[1] and answers[3] != answers[2]
    assert answers[3] == fresh[0]
