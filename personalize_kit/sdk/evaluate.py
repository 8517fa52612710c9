"""Score any campaign, in the local mirror or on AWS, with Personalize's offline metrics against a holdout.

The held-out users of a :func:`personalize_kit.metrics.holdout_split` are asked for through
GetRecommendations; with ``tracking_id`` their input interactions are first sent through PutEvents (the
real-time protocol, for users the model did not see in training). The same numbers therefore compare the
mirror's campaign with the service's on the same data.

>>> from personalize_kit.metrics import holdout_split
>>> split = holdout_split(interactions)                                         # doctest: +SKIP
>>> evaluate_campaign(campaign_arn, split, catalogue_size=9742, session=s)      # doctest: +SKIP
{'coverage': 0.08, 'mean_reciprocal_rank_at_25': 0.21, ...}
"""

from __future__ import annotations

from typing import Any

import boto3

from personalize_kit.metrics import MAX_K, HoldoutSplit, evaluate_recommender
from personalize_kit.sdk._clients import client

#: PutEvents takes at most this many events a call.
EVENTS_PER_CALL = 10


def send_inputs(split: HoldoutSplit, tracking_id: str, *, session: boto3.Session | None = None) -> int:
    """PutEvents of every held-out user's input interactions, oldest first; returns how many were sent."""
    events = client("personalize-events", session)
    sent = 0
    for user, rows in split.test_input.sort_values("TIMESTAMP", kind="stable").groupby("USER_ID", sort=False):
        batch: list[dict[str, Any]] = []
        for row in rows.itertuples(index=False):
            event: dict[str, Any] = {
                "eventType": str(getattr(row, "EVENT_TYPE", None) or "watch"),
                "itemId": str(row.ITEM_ID),
                "sentAt": int(row.TIMESTAMP),
            }
            value = getattr(row, "EVENT_VALUE", None)
            if value is not None and value == value:  # not NaN
                event["eventValue"] = float(value)
            batch.append(event)
            if len(batch) == EVENTS_PER_CALL:
                events.put_events(trackingId=tracking_id, userId=str(user), sessionId=str(user), eventList=batch)
                sent, batch = sent + len(batch), []
        if batch:
            events.put_events(trackingId=tracking_id, userId=str(user), sessionId=str(user), eventList=batch)
            sent += len(batch)
    return sent


def evaluate_campaign(
    campaign_arn: str,
    split: HoldoutSplit,
    *,
    catalogue_size: int,
    session: boto3.Session | None = None,
    tracking_id: str | None = None,
    filter_arn: str | None = None,
    k: int = MAX_K,
) -> dict[str, float]:
    """The GetSolutionMetrics keys for ``campaign_arn`` over the split's held-out users.

    ``tracking_id`` first sends the held-out users' inputs through PutEvents (the real-time protocol).
    """
    if tracking_id is not None:
        send_inputs(split, tracking_id, session=session)
    runtime = client("personalize-runtime", session)

    def recommend(user: str, n: int) -> list[str]:
        params: dict[str, Any] = {"campaignArn": campaign_arn, "userId": str(user), "numResults": n}
        if filter_arn:
            params["filterArn"] = filter_arn
        return [item["itemId"] for item in runtime.get_recommendations(**params)["itemList"]]

    return evaluate_recommender(recommend, split, catalogue_size=catalogue_size, k=k)
