"""Access as the service checks it, through the real boto3 client: roles, bucket policies and KMS keys."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import BUCKET, ROLE_ARN, TERMINAL, make_group, train, wait_for

MISSING_ROLE = "arn:aws:iam::123456789012:role/NoSuchRole"


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


def _import(personalize: Any, arns: dict[str, str], role: str, key: str = "interactions.csv") -> str:
    return personalize.create_dataset_import_job(
        jobName=f"import-{role.rsplit('/', 1)[-1]}",
        datasetArn=arns["INTERACTIONS"],
        dataSource={"dataLocation": f"s3://{BUCKET}/{key}"},
        roleArn=role,
    )["datasetImportJobArn"]


def test_an_import_with_a_role_that_does_not_exist_is_refused(personalize: Any, s3: Any) -> None:
    arns = make_group(personalize)
    with pytest.raises(ClientError) as exc:
        _import(personalize, arns, MISSING_ROLE)
    assert _error(exc) == (
        "InvalidInputException",
        f"Role {MISSING_ROLE} does not exist or cannot be assumed by Amazon Personalize.",
    )


def test_an_import_whose_role_may_not_read_the_bucket_fails_with_the_services_reason(personalize: Any, s3: Any) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    trust = iam.get_role(RoleName="PersonalizeS3")["Role"]["AssumeRolePolicyDocument"]
    role = iam.create_role(RoleName="NoData", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    arns = make_group(personalize)
    job = _import(personalize, arns, role)
    described = wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"], TERMINAL
    )
    assert described["status"] == "CREATE FAILED"
    assert described["failureReason"].startswith("Insufficient privileges for accessing data in S3: role " + role)
    ok = _import(personalize, arns, ROLE_ARN)  # the stack's role, granted on the bucket, imports
    assert (
        wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=ok)["datasetImportJob"], TERMINAL)[
            "status"
        ]
        == "ACTIVE"
    )


def test_a_role_that_does_not_trust_personalize_is_refused(personalize: Any, s3: Any) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName="Ec2Only", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    arns = make_group(personalize)
    with pytest.raises(ClientError) as exc:
        _import(personalize, arns, role)
    code, message = _error(exc)
    assert code == "InvalidInputException" and "cannot assume the role " + role in message


def test_a_dataset_group_with_a_key_that_does_not_exist_is_refused(personalize: Any, s3: Any) -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    with pytest.raises(ClientError) as exc:
        personalize.create_dataset_group(name="enc", roleArn=ROLE_ARN, kmsKeyArn=key)
    assert _error(exc) == ("InvalidInputException", f"KMS key {key} does not exist or is not accessible.")
    kms = boto3.client("kms", region_name="us-east-1")
    created = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=created["KeyId"])
    disabled = created["Arn"]
    with pytest.raises(ClientError) as exc:
        personalize.create_dataset_group(name="enc", roleArn=ROLE_ARN, kmsKeyArn=disabled)
    assert "is not enabled" in _error(exc)[1]
    assert personalize.list_dataset_groups()["datasetGroups"] == []


def test_a_batch_job_with_a_missing_role_is_refused(personalize: Any, s3: Any) -> None:
    from conftest import import_data

    arns = make_group(personalize)
    import_data(personalize, arns)
    version = train(personalize, arns["group"])
    with pytest.raises(ClientError) as exc:
        personalize.create_batch_inference_job(
            jobName="batch",
            solutionVersionArn=version,
            roleArn=MISSING_ROLE,
            jobInput={"s3DataSource": {"path": f"s3://{BUCKET}/users.jsonl"}},
            jobOutput={"s3DataDestination": {"path": f"s3://{BUCKET}/out/"}},
        )
    assert _error(exc)[0] == "InvalidInputException" and MISSING_ROLE in _error(exc)[1]
