"""The AWS backend's calls, checked against the real service models without reaching any endpoint.

``botocore.stub.Stubber`` answers each client from a queue and validates every request's parameters
against the installed botocore model; the queue is the expected call sequence, so a call out of order,
a missing key parameter (roleArn, kmsKeyArn, SSE-KMS on upload) or an extra call fails the test.

Retries are checked differently: a Stubber answers at ``before-call``, before botocore's retry handler,
so an error it returns is never retried (the first test shows it). Throttling is therefore answered at
``before-send`` with an HTTP 400 ``ThrottlingException``, which goes through the same retry logic as a
response from the network.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from personalize_kit.data.schemas import CSV_NAMES, SCHEMA_NAMES, load_schema
from personalize_kit.exceptions import ResourceFailedError
from personalize_kit.sdk import _clients, _s3, backend, pipeline, resources, stack
from personalize_kit.sdk.pipeline import prepare_data, run_pipeline
from personalize_kit.sdk.project import parse_project
from personalize_kit.sdk.resources import Options, ensure_dataset_group, ensure_solution_version, file_digest

REGION, ACCOUNT = "us-east-1", "123456789012"
BUCKET = "personalizekit-databucket-1a2b3c"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/PersonalizeKit-PersonalizeRole"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
PZ = f"arn:aws:personalize:{REGION}:{ACCOUNT}"
FILTER = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")'
WHEN = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
SERVICES = ("personalize", "s3", "sts", "cloudformation")


def _refuse(request: Any = None, **_: Any) -> None:
    raise AssertionError(f"a request reached the network layer: {request.url if request else '?'}")


class Script:
    """Stubbed clients for the SDK, the expected calls queued in order, and the calls made, in order."""

    def __init__(self, session: boto3.Session) -> None:
        self.clients = {name: session.client(name, config=_clients.CONFIG) for name in SERVICES}
        self.stubs = {name: Stubber(c) for name, c in self.clients.items()}
        self.expected: list[str] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        for client in self.clients.values():
            client.meta.events.register("before-parameter-build", self._record)
            client.meta.events.register("before-send", _refuse)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def client(self, service: str, session: Any = None, **_: Any) -> Any:
        return self.clients[service]

    def ok(self, service: str, operation: str, params: dict[str, Any] | None, response: dict[str, Any]) -> None:
        self.expected.append(operation)
        self.stubs[service].add_response(_snake(operation), response, params)

    def error(self, service: str, operation: str, params: dict[str, Any], code: str, status: int = 400) -> None:
        self.expected.append(operation)
        self.stubs[service].add_client_error(
            _snake(operation), service_error_code=code, http_status_code=status, expected_params=params
        )

    def identity(self) -> None:
        """The account is asked of STS once per session: later steps reuse it."""
        if "GetCallerIdentity" in self.expected:
            return
        self.ok(
            "sts",
            "GetCallerIdentity",
            {},
            {"UserId": "AIDATESTING", "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/tester"},
        )

    def missing(self, operation: str, params: dict[str, Any]) -> None:
        self.error("personalize", operation, params, "ResourceNotFoundException")

    @property
    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]

    def params(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]


def _snake(operation: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> Iterator[Script]:
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    here = Script(session)
    for module in (_clients, _s3, resources, pipeline, stack, backend):
        monkeypatch.setattr(module, "client", here.client)
    with ExitStack() as stack_:
        for stub in here.stubs.values():
            stack_.enter_context(stub)
        yield here


def test_a_stubbed_error_is_not_retried_which_is_why_throttling_is_sent_at_before_send(script):
    script.error("personalize", "CreateDatasetGroup", {"name": "movies"}, "ThrottlingException")
    script.ok("personalize", "CreateDatasetGroup", {"name": "movies"}, {"datasetGroupArn": f"{PZ}:dataset-group/x"})
    with pytest.raises(ClientError) as caught:
        script.clients["personalize"].create_dataset_group(name="movies")
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert script.operations == ["CreateDatasetGroup"]
    script.clients["personalize"].create_dataset_group(name="movies")  # the second answer is still queued


# ----------------------------------------------------------------------------- the pipeline's call sequence


def _stack_outputs(script: Script) -> None:
    outputs = {"DataBucketName": BUCKET, "PersonalizeRoleArn": ROLE, "KmsKeyArn": KEY}
    script.ok(
        "cloudformation",
        "DescribeStacks",
        {"StackName": "PersonalizeKit"},
        {
            "Stacks": [
                {
                    "StackName": "PersonalizeKit",
                    "CreationTime": WHEN,
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                }
            ]
        },
    )


def _expect_pipeline(script: Script, out: Path) -> None:
    group = f"{PZ}:dataset-group/movies"
    _stack_outputs(script)
    script.identity()
    script.missing("DescribeDatasetGroup", {"datasetGroupArn": group})
    script.ok(
        "personalize",
        "CreateDatasetGroup",
        {"name": "movies", "kmsKeyArn": KEY, "roleArn": ROLE, "tags": [{"tagKey": "team", "tagValue": "recs"}]},
        {"datasetGroupArn": group},
    )
    script.ok(
        "personalize",
        "DescribeDatasetGroup",
        {"datasetGroupArn": group},
        {"datasetGroup": {"name": "movies", "datasetGroupArn": group, "status": "CREATE PENDING"}},
    )
    script.ok(
        "personalize",
        "DescribeDatasetGroup",
        {"datasetGroupArn": group},
        {
            "datasetGroup": {
                "name": "movies",
                "datasetGroupArn": group,
                "status": "ACTIVE",
                "kmsKeyArn": KEY,
                "roleArn": ROLE,
                "creationDateTime": WHEN,
            }
        },
    )
    for kind in ("INTERACTIONS", "ITEMS", "USERS"):
        name, path = f"movies-{kind.lower()}", out / CSV_NAMES[kind]
        schema, dataset = f"{PZ}:schema/{name}", f"{PZ}:dataset/movies/{kind}"
        digest = file_digest(path)
        job_name = f"{name}-{digest[:16]}"
        job = f"{PZ}:dataset-import-job/{job_name}"
        key = f"data/movies/{path.name}"
        script.identity()
        script.missing("DescribeSchema", {"schemaArn": schema})
        script.ok(
            "personalize",
            "CreateSchema",
            {"name": name, "schema": json.dumps(load_schema(out / "schemas" / SCHEMA_NAMES[kind]))},
            {"schemaArn": schema},
        )
        script.missing("DescribeDataset", {"datasetArn": dataset})
        script.ok(
            "personalize",
            "CreateDataset",
            {"name": name, "schemaArn": schema, "datasetGroupArn": group, "datasetType": kind},
            {"datasetArn": dataset},
        )
        script.ok(
            "personalize",
            "DescribeDataset",
            {"datasetArn": dataset},
            {"dataset": {"name": name, "datasetArn": dataset, "status": "ACTIVE"}},
        )
        script.error("s3", "HeadObject", {"Bucket": BUCKET, "Key": key}, "404", 404)
        script.ok(
            "s3",
            "PutObject",
            {
                "Bucket": BUCKET,
                "Key": key,
                "Body": ANY,
                "Metadata": {"sha256": digest},
                "ServerSideEncryption": "aws:kms",
                "SSEKMSKeyId": KEY,
                "ChecksumAlgorithm": ANY,
            },
            {"ETag": '"0123"'},
        )
        script.identity()
        script.missing("DescribeDatasetImportJob", {"datasetImportJobArn": job})
        script.ok(
            "personalize",
            "CreateDatasetImportJob",
            {
                "jobName": job_name,
                "datasetArn": dataset,
                "dataSource": {"dataLocation": f"s3://{BUCKET}/{key}"},
                "roleArn": ROLE,
                "importMode": "FULL",
            },
            {"datasetImportJobArn": job},
        )
        script.ok(
            "personalize",
            "DescribeDatasetImportJob",
            {"datasetImportJobArn": job},
            {
                "datasetImportJob": {
                    "jobName": job_name,
                    "datasetImportJobArn": job,
                    "status": "ACTIVE",
                    "lastUpdatedDateTime": WHEN,
                }
            },
        )
    solution, version = f"{PZ}:solution/movies-popularity-count", f"{PZ}:solution/movies-popularity-count/0a1b2c3d"
    campaign, tracker, flt = (
        f"{PZ}:campaign/movies-popularity-count",
        f"{PZ}:event-tracker/movies-events",
        f"{PZ}:filter/unwatched",
    )
    recipe = "arn:aws:personalize:::recipe/aws-popularity-count"
    script.identity()
    script.missing("DescribeSolution", {"solutionArn": solution})
    script.ok(
        "personalize",
        "CreateSolution",
        {"name": "movies-popularity-count", "datasetGroupArn": group, "recipeArn": recipe},
        {"solutionArn": solution},
    )
    script.ok(
        "personalize",
        "DescribeSolution",
        {"solutionArn": solution},
        {"solution": {"name": "movies-popularity-count", "solutionArn": solution, "status": "ACTIVE"}},
    )
    script.ok("personalize", "ListSolutionVersions", {"solutionArn": solution}, {"solutionVersions": []})
    script.ok(
        "personalize",
        "CreateSolutionVersion",
        {"solutionArn": solution, "trainingMode": "FULL"},
        {"solutionVersionArn": version},
    )
    script.ok(
        "personalize",
        "DescribeSolutionVersion",
        {"solutionVersionArn": version},
        {
            "solutionVersion": {
                "solutionVersionArn": version,
                "status": "ACTIVE",
                "trainingMode": "FULL",
                "creationDateTime": LATER,
            }
        },
    )
    script.ok(
        "personalize",
        "GetSolutionMetrics",
        {"solutionVersionArn": version},
        {"solutionVersionArn": version, "metrics": {"precision_at_10": 0.05, "coverage": 0.02}},
    )
    script.identity()
    script.missing("DescribeCampaign", {"campaignArn": campaign})
    script.ok(
        "personalize",
        "CreateCampaign",
        {"name": "movies-popularity-count", "solutionVersionArn": version, "minProvisionedTPS": 1},
        {"campaignArn": campaign},
    )
    script.ok(
        "personalize",
        "DescribeCampaign",
        {"campaignArn": campaign},
        {"campaign": {"name": "movies-popularity-count", "campaignArn": campaign, "status": "ACTIVE"}},
    )
    script.ok("personalize", "ListEventTrackers", {"datasetGroupArn": group}, {"eventTrackers": []})
    script.ok(
        "personalize",
        "CreateEventTracker",
        {"name": "movies-events", "datasetGroupArn": group},
        {"eventTrackerArn": tracker, "trackingId": "0f1e2d3c-tracking"},
    )
    script.ok(
        "personalize",
        "DescribeEventTracker",
        {"eventTrackerArn": tracker},
        {
            "eventTracker": {
                "name": "movies-events",
                "eventTrackerArn": tracker,
                "status": "ACTIVE",
                "trackingId": "0f1e2d3c-tracking",
                "datasetGroupArn": group,
            }
        },
    )
    script.identity()
    script.missing("DescribeFilter", {"filterArn": flt})
    script.ok(
        "personalize",
        "CreateFilter",
        {"name": "unwatched", "datasetGroupArn": group, "filterExpression": FILTER},
        {"filterArn": flt},
    )
    script.ok(
        "personalize",
        "DescribeFilter",
        {"filterArn": flt},
        {"filter": {"name": "unwatched", "filterArn": flt, "status": "ACTIVE", "filterExpression": FILTER}},
    )


def test_the_pipeline_on_aws_makes_exactly_these_calls(script, tmp_path):
    project = parse_project(
        {
            "name": "movies",
            "data": {"source": "synthetic", "interactions": 3000, "out": str(tmp_path / "out")},
            "solutions": [{"recipe": "popularity-count"}],
            "filters": [{"name": "unwatched", "expression": FILTER}],
            "tags": {"team": "recs"},
        }
    )
    prepare_data(project)  # deterministic: the pipeline prepares the same files again; their digests name the jobs
    _expect_pipeline(script, tmp_path / "out")
    aws = backend.aws_backend(project, session=boto3.Session(region_name=REGION))
    assert (aws.bucket, aws.role_arn, aws.kms_key_arn) == (BUCKET, ROLE, KEY)

    result = run_pipeline(project, aws, samples=False)

    assert script.operations == script.expected
    for stub in script.stubs.values():
        stub.assert_no_pending_responses()
    assert [o.kind for o in result.created] == [
        "dataset_group",
        *["schema", "dataset", "dataset_import_job"] * 3,
        "solution",
        "solution_version",
        "campaign",
        "event_tracker",
        "filter",
    ]
    assert result.solutions[0].metrics == {"precision_at_10": 0.05, "coverage": 0.02}
    # the points the security review asks about, spelled out
    (group,) = script.params("CreateDatasetGroup")
    assert (group["kmsKeyArn"], group["roleArn"]) == (KEY, ROLE)
    assert {p["roleArn"] for p in script.params("CreateDatasetImportJob")} == {ROLE}
    assert [(p["ServerSideEncryption"], p["SSEKMSKeyId"]) for p in script.params("PutObject")] == [("aws:kms", KEY)] * 3


# ----------------------------------------------------------------------------- failures and retries


def test_a_solution_version_that_ends_create_failed_raises_with_the_service_reason(script):
    solution, version = f"{PZ}:solution/movies-sims", f"{PZ}:solution/movies-sims/9f8e7d6c"
    reason = "Dataset has fewer than 25 users with at least 2 interactions each."
    script.ok("personalize", "ListSolutionVersions", {"solutionArn": solution}, {"solutionVersions": []})
    script.ok(
        "personalize",
        "CreateSolutionVersion",
        {"solutionArn": solution, "trainingMode": "FULL"},
        {"solutionVersionArn": version},
    )
    script.ok(
        "personalize",
        "DescribeSolutionVersion",
        {"solutionVersionArn": version},
        {"solutionVersion": {"solutionVersionArn": version, "status": "CREATE IN_PROGRESS"}},
    )
    script.ok(
        "personalize",
        "DescribeSolutionVersion",
        {"solutionVersionArn": version},
        {"solutionVersion": {"solutionVersionArn": version, "status": "CREATE FAILED", "failureReason": reason}},
    )
    seen: list[str] = []
    with pytest.raises(ResourceFailedError) as caught:
        ensure_solution_version(solution, session=None, options=Options(progress=lambda k, a, s: seen.append(s)))
    assert (caught.value.arn, caught.value.status, caught.value.failure_reason) == (version, "CREATE FAILED", reason)
    assert reason in str(caught.value)
    assert seen == ["CREATE IN_PROGRESS", "CREATE FAILED"]
    assert script.operations == script.expected


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


class Wire:
    """Answers Personalize requests at ``before-send`` (after signing, inside botocore's retry loop)."""

    def __init__(self, answers: dict[str, list[tuple[int, dict[str, Any]]]]) -> None:
        self.answers = answers
        self.sent: list[str] = []

    def __call__(self, request: Any = None, **_: Any) -> AWSResponse:
        operation = request.headers["X-Amz-Target"].decode().split(".")[-1]
        self.sent.append(operation)
        status, body = self.answers[operation].pop(0)
        headers = {"x-amzn-requestid": f"req-{len(self.sent)}", "content-type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, status, headers, _Raw(json.dumps(body).encode()))


THROTTLED = (400, {"__type": "ThrottlingException", "message": "Rate exceeded"})


@pytest.fixture
def wire(script, monkeypatch):
    """Personalize answered on the wire, STS by the Stubber; botocore's retry sleeps are recorded, not slept."""
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    personalize = session.client("personalize", config=_clients.CONFIG)
    script.clients["personalize"] = personalize
    sleeps: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", sleeps.append)

    def install(answers: dict[str, list[tuple[int, dict[str, Any]]]]) -> tuple[Wire, list[float]]:
        handler = Wire(answers)
        personalize.meta.events.register_first("before-send", handler)
        return handler, sleeps

    return install


def test_the_clients_retry_in_standard_mode(script):
    retries = script.clients["personalize"].meta.config.retries
    # botocore counts max_attempts=10 as retries: 11 attempts in all
    assert retries == {"mode": "standard", "total_max_attempts": 11}


def test_a_throttled_create_is_retried_by_botocore_and_the_step_succeeds(script, wire):
    group = f"{PZ}:dataset-group/movies"
    handler, sleeps = wire(
        {
            "DescribeDatasetGroup": [
                (400, {"__type": "ResourceNotFoundException", "message": f"{group} does not exist"}),
                (200, {"datasetGroup": {"name": "movies", "datasetGroupArn": group, "status": "ACTIVE"}}),
            ],
            "CreateDatasetGroup": [THROTTLED, (200, {"datasetGroupArn": group})],
        }
    )
    script.identity()
    outcome = ensure_dataset_group("movies", session=None)
    assert (outcome.action, outcome.arn, outcome.description["status"]) == ("created", group, "ACTIVE")
    # the not-found answer is not retried; the throttled create is, once, after a backoff of at most 1 s
    assert handler.sent == ["DescribeDatasetGroup", "CreateDatasetGroup", "CreateDatasetGroup", "DescribeDatasetGroup"]
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 1


def test_throttling_that_does_not_stop_fails_after_eleven_attempts(script, wire):
    handler, sleeps = wire(
        {
            "DescribeDatasetGroup": [(400, {"__type": "ResourceNotFoundException", "message": "not found"})],
            "CreateDatasetGroup": [THROTTLED] * 11,
        }
    )
    script.identity()
    with pytest.raises(ClientError) as caught:
        ensure_dataset_group("movies", session=None)
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 10
    assert handler.sent == ["DescribeDatasetGroup"] + ["CreateDatasetGroup"] * 11
    assert len(sleeps) == 10
