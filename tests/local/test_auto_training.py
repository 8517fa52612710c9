"""Automatic training against the mirror's clock: one AUTOMATIC version per interval when data is new."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import POPULARITY_ARN, TERMINAL, import_data, make_group, wait_for

from personalize_kit.local.control.auto_training import DAY, FIRST_SECONDS
from personalize_kit.local.resources import CLOCK


@pytest.fixture(autouse=True)
def clock() -> Iterator[Any]:
    yield CLOCK
    CLOCK.reset()


@pytest.fixture
def group(personalize: Any, s3: Any) -> dict[str, str]:
    arns = make_group(personalize)
    import_data(personalize, arns)
    return arns


def _solution(personalize: Any, group: str, **extra: Any) -> str:
    arn = personalize.create_solution(name="auto", datasetGroupArn=group, recipeArn=POPULARITY_ARN, **extra)[
        "solutionArn"
    ]
    wait_for(lambda: personalize.describe_solution(solutionArn=arn)["solution"], TERMINAL)
    return arn


def _versions(personalize: Any, solution: str) -> list[dict[str, Any]]:
    summaries = personalize.list_solution_versions(solutionArn=solution)["solutionVersions"]
    return [
        wait_for(
            lambda s=s: personalize.describe_solution_version(solutionVersionArn=s["solutionVersionArn"])[
                "solutionVersion"
            ],
            TERMINAL,
        )
        for s in summaries
    ]


def _automatic(personalize: Any, solution: str) -> list[dict[str, Any]]:
    return [v for v in _versions(personalize, solution) if v["trainingType"] == "AUTOMATIC"]


def _manual_version(personalize: Any, solution: str) -> None:
    arn = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"], TERMINAL)


def test_one_automatic_version_per_interval_and_none_before(personalize: Any, group: dict, mirror: Any) -> None:
    solution = _solution(
        personalize, group["group"], solutionConfig={"autoTrainingConfig": {"schedulingExpression": "rate(2 days)"}}
    )
    _manual_version(personalize, solution)  # within the first hour: the first automatic training is skipped
    mirror.advance_clock(FIRST_SECONDS + 2 * DAY - 60)
    import_data(personalize, group, name="again")
    assert _automatic(personalize, solution) == []
    mirror.advance_clock(120)
    automatic = _automatic(personalize, solution)
    assert len(automatic) == 1
    assert automatic[0]["trainingMode"] == "AUTOTRAIN" and automatic[0]["status"] == "ACTIVE"
    assert _automatic(personalize, solution) == automatic  # read again: nothing more is due
    import_data(personalize, group, name="third")
    mirror.advance_clock(2 * DAY)
    assert len(_automatic(personalize, solution)) == 2
    described = personalize.describe_solution(solutionArn=solution)["solution"]
    assert described["latestSolutionVersion"]["trainingType"] == "AUTOMATIC"


def test_the_first_automatic_training_comes_an_hour_after_the_solution(personalize: Any, group: dict) -> None:
    solution = _solution(personalize, group["group"])
    CLOCK.advance(FIRST_SECONDS - 60)
    assert _versions(personalize, solution) == []
    CLOCK.advance(120)
    assert [v["trainingType"] for v in _versions(personalize, solution)] == ["AUTOMATIC"]


def test_no_new_data_skips_the_interval(personalize: Any, group: dict) -> None:
    solution = _solution(personalize, group["group"])
    _manual_version(personalize, solution)
    CLOCK.advance(FIRST_SECONDS + 7 * DAY + 60)
    assert _automatic(personalize, solution) == []
    import_data(personalize, group, name="again")
    assert _automatic(personalize, solution) == []  # the skipped interval does not come back
    CLOCK.advance(7 * DAY)
    assert len(_automatic(personalize, solution)) == 1


def test_perform_auto_training_false_creates_none(personalize: Any, group: dict) -> None:
    solution = _solution(personalize, group["group"], performAutoTraining=False)
    import_data(personalize, group, name="again")
    CLOCK.advance(60 * DAY)
    assert _versions(personalize, solution) == []


def test_turning_auto_training_off_stops_it_and_on_starts_it_again(personalize: Any, group: dict) -> None:
    solution = _solution(personalize, group["group"])
    personalize.update_solution(solutionArn=solution, performAutoTraining=False)
    CLOCK.advance(30 * DAY)
    assert _versions(personalize, solution) == []
    personalize.update_solution(solutionArn=solution, performAutoTraining=True)
    CLOCK.advance(FIRST_SECONDS + 60)
    assert len(_automatic(personalize, solution)) == 1


@pytest.mark.parametrize("expression", ["rate(0 days)", "rate(31 days)"])
def test_a_rate_outside_1_to_30_days_is_refused(personalize: Any, group: dict, expression: str) -> None:
    config = {"autoTrainingConfig": {"schedulingExpression": expression}}
    with pytest.raises(ClientError) as exc:
        personalize.create_solution(
            name="bad", datasetGroupArn=group["group"], recipeArn=POPULARITY_ARN, solutionConfig=config
        )
    assert exc.value.response["Error"]["Code"] == "InvalidInputException"
    assert f"schedulingExpression '{expression}' is not valid" in exc.value.response["Error"]["Message"]
    solution = _solution(personalize, group["group"])
    with pytest.raises(ClientError) as exc:
        personalize.update_solution(solutionArn=solution, solutionUpdateConfig=config)
    assert exc.value.response["Error"]["Code"] == "InvalidInputException"


def test_the_clock_only_moves_forward() -> None:
    with pytest.raises(ValueError, match="only moves forward"):
        CLOCK.advance(-1)


def test_a_read_when_nothing_is_due_is_one_query(personalize: Any, group: dict, mirror: Any) -> None:
    _solution(personalize, group["group"])  # its first automatic training is an hour away
    backend = mirror.backend("us-east-1")
    backend.read()  # learns the generation and the earliest due time
    statements: list[str] = []
    backend.db.connection().set_trace_callback(statements.append)
    try:
        backend.read()
        backend.read()
    finally:
        backend.db.connection().set_trace_callback(None)
    assert len(statements) == 2, statements
