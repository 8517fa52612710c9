"""Every operation of the three Personalize services reaches the mirror over HTTP and is answered in its
protocol: boto3, pointed at a running ``serve`` and not validating its own input (as a careless client of
any SDK), calls each one with no parameters and gets one of the operation's modelled errors back, parsed
from the wire (JSON 1.1 ``__type``, REST-JSON ``x-amzn-errortype``), never an unknown operation, a 404 or
an internal failure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from server_helpers import Server, running_server

SERVICES = ("personalize", "personalize-runtime", "personalize-events")
MODELS = {name: botocore.session.get_session().get_service_model(name) for name in SERVICES}
OPERATIONS = [(service, name) for service, model in MODELS.items() for name in model.operation_names]
#: Errors any operation of an AWS JSON service may answer beside those its model lists.
COMMON_ERRORS = {"ValidationException", "InvalidParameterValueException", "MissingParameter"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    state = tmp_path_factory.mktemp("wire") / "state"
    state.mkdir()
    with running_server(state) as running:
        yield running


@pytest.fixture(scope="module")
def clients(server: Server) -> dict[str, Any]:
    config = Config(parameter_validation=False, retries={"max_attempts": 1})
    return {
        name: boto3.client(
            name,
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )
        for name in SERVICES
    }


@pytest.mark.parametrize(("service", "operation"), OPERATIONS, ids=[f"{s}:{o}" for s, o in OPERATIONS])
def test_every_operation_is_answered_over_http_with_one_of_its_modelled_errors(
    clients: dict[str, Any], service: str, operation: str
) -> None:
    model = MODELS[service].operation_model(operation)
    allowed = {shape.name for shape in model.error_shapes} | COMMON_ERRORS
    method = getattr(clients[service], botocore.xform_name(operation))
    try:
        method()
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        assert code in allowed, f"{operation} answered {code} (HTTP {status}): {exc.response['Error'].get('Message')}"
