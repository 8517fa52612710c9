"""The server's routing and wire protocols, in process (werkzeug's test client over the WSGI application).

Requests are built as the SDKs send them (JSON 1.1 with ``X-Amz-Target``, REST-JSON by method and path);
answers are read as the SDKs read them: ``__type`` for JSON 1.1 errors, ``x-amzn-errortype`` for REST-JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from werkzeug.test import Client

from personalize_kit.local._hooks import Mirror
from personalize_kit.server import protocols
from personalize_kit.server.app import ServerApp
from personalize_kit.server.faults import Faults, parse_faults
from personalize_kit.server.routing import route, service_model
from personalize_kit.server.runner import moto_application

JSON11 = "application/x-amz-json-1.1"
SIGNED_S3 = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"
SIGNED_P = SIGNED_S3.replace("/s3/", "/personalize/")


@pytest.fixture
def app(state_dir: Path) -> ServerApp:
    return ServerApp(Mirror(state_dir), moto_application())


@pytest.fixture
def client(app: ServerApp) -> Client:
    return Client(app)


def control(client: Client, operation: str, body: object) -> tuple[int, dict, dict]:
    """A JSON 1.1 call as a browser sends it: unsigned ``POST /`` with the target header."""
    data = body if isinstance(body, str) else json.dumps(body)
    response = client.post(
        "/", data=data, headers={"X-Amz-Target": f"AmazonPersonalize.{operation}", "Content-Type": JSON11}
    )
    return response.status_code, dict(response.headers), json.loads(response.get_data() or b"{}")


@pytest.mark.parametrize(
    ("method", "path", "headers", "expected"),
    [
        ("POST", "/", {"X-Amz-Target": "AmazonPersonalize.ListRecipes"}, ("personalize", "ListRecipes")),
        ("POST", "/recommendations", {}, ("personalize-runtime", "GetRecommendations")),
        (
            "POST",
            "/personalize-ranking",
            {"Authorization": SIGNED_P},
            ("personalize-runtime", "GetPersonalizedRanking"),
        ),
        ("POST", "/events", {"Authorization": SIGNED_P}, ("personalize-events", "PutEvents")),
        ("POST", "/users", {}, ("personalize-events", "PutUsers")),
        ("POST", "/users", {"Authorization": SIGNED_S3}, None),  # signed for S3: moto's
        ("GET", "/recommendations", {}, None),
        ("POST", "/", {"X-Amz-Target": "TrentService.CreateKey"}, None),  # KMS
        ("PUT", "/bucket/key", {"Authorization": SIGNED_S3}, None),
    ],
)
def test_requests_are_routed_as_the_real_endpoints_tell_them_apart(method, path, headers, expected):
    found = route(method, path, headers)
    assert (found.service, found.operation) == expected if expected else found is None


def test_json11_answers_with_the_declared_members_and_epoch_timestamps(client: Client):
    status, headers, body = control(client, "DescribeRecipe", {"recipeArn": "arn:aws:personalize:::recipe/aws-sims"})
    assert status == 200
    assert headers["Content-Type"] == JSON11
    recipe = body["recipe"]
    assert recipe["name"] == "aws-sims"
    assert isinstance(recipe["creationDateTime"], float)
    declared = set(service_model("personalize").shape_for("Recipe").members)
    assert set(recipe) <= declared


def test_json11_errors_carry_type_and_message(client: Client):
    arn = "arn:aws:personalize:us-east-1:123456789012:schema/missing"
    status, _, body = control(client, "DescribeSchema", {"schemaArn": arn})
    assert status == 400
    assert body == {"__type": "ResourceNotFoundException", "message": f"Resource Arn {arn} does not exist."}


@pytest.mark.parametrize(
    ("operation", "body", "code", "fragment"),
    [
        ("CreateSchema", {"name": "s"}, "InvalidInputException", "Value null at 'schema'"),
        ("CreateSchema", {"name": 3, "schema": "{}"}, "InvalidInputException", "Member must be of type string"),
        ("ListRecipes", "{not json", "SerializationException", "JSON"),
        ("NoSuchOperation", {}, "UnknownOperationException", "NoSuchOperation"),
    ],
)
def test_bad_requests_are_refused_as_the_service_refuses_them(client: Client, operation, body, code, fragment):
    status, _, answer = control(client, operation, body)
    assert status == 400
    assert answer["__type"] == code
    assert fragment in answer["message"]


def test_rest_json_errors_carry_the_error_type_header(client: Client):
    arn = "arn:aws:personalize:us-east-1:123456789012:campaign/missing"
    response = client.post("/recommendations", json={"campaignArn": arn, "userId": "u1"})
    assert response.headers["x-amzn-errortype"] == "ResourceNotFoundException"
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.get_data()) == {"message": f"Resource Arn {arn} does not exist."}
    assert response.status_code >= 400


def test_health_answers_version_services_and_state_dir(client: Client, state_dir: Path):
    from personalize_kit import __version__

    response = client.get("/_health")
    assert response.status_code == 200
    assert response.json == {
        "version": __version__,
        "services": ["personalize", "personalize-runtime", "personalize-events", "moto"],
        "stateDir": str(state_dir),
    }


def test_other_services_are_answered_by_moto(client: Client):
    signed = SIGNED_S3.replace("/s3/", "/kms/")  # moto tells services apart by the credential scope
    headers = {"X-Amz-Target": "TrentService.CreateKey", "Content-Type": JSON11, "Authorization": signed}
    response = client.post("/", data="{}", headers=headers)
    assert response.status_code == 200
    assert json.loads(response.get_data())["KeyMetadata"]["Arn"].startswith("arn:aws:kms:us-east-1:")


def test_throttling_is_injected_for_the_first_calls_only(state_dir: Path):
    app = ServerApp(Mirror(state_dir), moto_application(), faults=Faults(parse_faults("ListRecipes:2")))
    client = Client(app)
    answers = [control(client, "ListRecipes", {}) for _ in range(3)]
    assert [status for status, _, _ in answers] == [400, 400, 200]
    assert answers[0][2] == {"__type": "ThrottlingException", "message": "Rate exceeded"}


@pytest.mark.parametrize("text", ["ListRecipes", "ListRecipes:x", ":2", "A:1,B"])
def test_fault_settings_that_are_not_operation_count_are_refused(text):
    with pytest.raises(ValueError, match="OPERATION:COUNT"):
        parse_faults(text)


def test_fault_settings_parse():
    assert parse_faults(" CreateSolutionVersion:2, GetRecommendations:1 ,") == {
        "CreateSolutionVersion": 2,
        "GetRecommendations": 1,
    }
    assert parse_faults("") == {}


def test_output_keeps_declared_members_only():
    shape = service_model("personalize-runtime").operation_model("GetRecommendations").output_shape
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    result = {"itemList": [{"itemId": "a", "score": 0.5, "internal": 1}], "recommendationId": "r", "extra": when}
    status, headers, body = protocols.encode_result(
        service_model("personalize-runtime").operation_model("GetRecommendations"), result
    )
    assert status == 200
    assert json.loads(body) == {"itemList": [{"itemId": "a", "score": 0.5}], "recommendationId": "r"}
    assert protocols.to_wire(shape.members["itemList"], []) == []
    timestamp_shape = service_model("personalize").shape_for("Date")
    assert protocols.to_wire(timestamp_shape, when) == when.timestamp()


def test_pages_on_other_origins_may_call_the_apis(client: Client):
    preflight = client.options(
        "/recommendations",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type,x-amz-date"},
    )  # fmt: skip
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Headers"] == "content-type,x-amz-date"
    response = client.post("/", data="{}", headers={"X-Amz-Target": "AmazonPersonalize.ListRecipes"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "x-amzn-ErrorType" in response.headers["Access-Control-Expose-Headers"]
