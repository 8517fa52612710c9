"""GetRecommendations of a User-Personalization campaign, through boto3, equals a plain computation of the
model (``serving_reference``) over the events the mirror recorded: with and without exploration, with a
filter, for a known user, an unknown user and a user known only through PutEvents, before and after events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TERMINAL, import_data, make_group, train, wait_for
from serving_reference import assert_same, reference

from personalize_kit.local import mock_personalize, store
from personalize_kit.local import runtime as served

UP_ARN = "arn:aws:personalize:::recipe/aws-user-personalization"
BOUGHT = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")'


@pytest.fixture
def mirror(state_dir: Path) -> Iterator[Any]:
    with mock_personalize(state_dir, profile="fast") as active:
        yield active


@pytest.fixture
def deployed(personalize: Any, s3: Any) -> dict[str, str]:
    arns = make_group(personalize)
    import_data(personalize, arns)
    arns["version"] = train(personalize, arns["group"], name="up", recipe=UP_ARN)
    for name, config in (("explore", {}), ("exploit", {"itemExplorationConfig": {"explorationWeight": "0"}})):
        arns[name] = personalize.create_campaign(name=name, solutionVersionArn=arns["version"], campaignConfig=config)[
            "campaignArn"
        ]
        wait_for(lambda name=name: personalize.describe_campaign(campaignArn=arns[name])["campaign"], TERMINAL)
    arns["filter"] = personalize.create_filter(name="unbought", datasetGroupArn=arns["group"], filterExpression=BOUGHT)[
        "filterArn"
    ]
    arns["tracker"] = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
    return arns


def test_served_answers_equal_the_plain_computation(
    mirror: Any, personalize: Any, runtime: Any, events: Any, deployed: dict[str, str]
) -> None:
    backend = mirror.backend("us-east-1")
    model = served.model_for(backend, deployed["version"], UP_ARN)
    group = deployed["group"].split("/")[1]
    bought: dict[str, set[str]] = {}
    answers: dict[tuple[str, str, bool], list[str]] = {}

    def check(user: str) -> None:
        frame = store.recent_events(backend.state, group, user, served.RECENT_EVENTS)
        for campaign, weight in (("explore", 0.3), ("exploit", 0.0)):
            for filtered in (False, True):
                extra = {"filterArn": deployed["filter"]} if filtered else {}
                answer = runtime.get_recommendations(campaignArn=deployed[campaign], userId=user, numResults=7, **extra)
                got = [(entry["itemId"], entry["score"]) for entry in answer["itemList"]]
                skip = tuple(sorted(bought.get(user, ()))) if filtered else ()
                want = reference(model, user, frame, 7, weight, exclude=skip)
                assert_same(got, want)
                answers[(user, campaign, filtered)] = [item for item, _ in want]

    for user in ("u05", "u40", "stranger", "newcomer"):
        check(user)
    now = time.time()
    for user, items in (("u05", ["i03", "i08", "i07", "i01"]), ("newcomer", ["i10", "i03", "i12", "i13"])):
        sent = [{"eventType": "purchase" if k % 2 else "click", "itemId": item, "sentAt": now + k}
                for k, item in enumerate(items)]  # fmt: skip
        events.put_events(trackingId=deployed["tracker"], userId=user, sessionId="s", eventList=sent)
        bought[user] = {event["itemId"] for event in sent if event["eventType"] == "purchase"}
        check(user)  # the answer follows the events at once
    check("u40")
    # the filter had something to do: what u05 bought is among its best items, and filtered out
    assert bought["u05"] & set(answers[("u05", "explore", False)])
    assert not bought["u05"] & set(answers[("u05", "explore", True)])
