"""Every operation of the three Personalize services is answered by the mirror, through the real client.

Each operation is called with no parameters (the client's own validation off, so that the request reaches
the mirror as a careless caller's would): the answer must be a success or one of the errors the
operation's model lists (or a generic one every AWS service may answer), never "not implemented" and never
an internal failure.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from personalize_kit.local import mock_personalize
from personalize_kit.local.mirror import SERVICES

MODELS = {name: botocore.session.get_session().get_service_model(name) for name in SERVICES}
OPERATIONS = [(service, name) for service, model in MODELS.items() for name in model.operation_names]
#: Errors any operation of an AWS JSON service may answer beside those its model lists.
COMMON_ERRORS = {"ValidationException", "InvalidParameterValueException", "MissingParameter"}


def test_the_mirror_implements_every_operation_of_the_three_models() -> None:
    for service, model in MODELS.items():
        missing = sorted(set(model.operation_names) - set(SERVICES[service]))
        assert missing == [], f"{service}: {missing}"


@pytest.mark.parametrize(("service", "operation"), OPERATIONS, ids=[f"{s}:{o}" for s, o in OPERATIONS])
def test_an_operation_called_carelessly_gets_one_of_its_modelled_errors(
    service: str, operation: str, tmp_path: Path
) -> None:
    model = MODELS[service].operation_model(operation)
    allowed = {shape.name for shape in model.error_shapes} | COMMON_ERRORS
    with mock_personalize(tmp_path):
        client = boto3.client(service, region_name="us-east-1", config=Config(parameter_validation=False))
        method = getattr(client, botocore.xform_name(operation))
        try:
            method()
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            assert code in allowed, f"{operation} answered {code}: {exc.response['Error'].get('Message')}"
