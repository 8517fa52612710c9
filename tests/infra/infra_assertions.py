"""Helpers for the infrastructure tests: synthesized-template lookups, cdk-nag findings and cfn-lint."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import Stack
from aws_cdk.assertions import Annotations, Match, Template

#: ``arn:<partition>:personalize:<region>:<account>:*`` as the template writes it.
PERSONALIZE_SOURCE_ARN = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":personalize:",
            {"Ref": "AWS::Region"},
            ":",
            {"Ref": "AWS::AccountId"},
            ":*",
        ],
    ]
}
#: The confused-deputy conditions every grant to the Personalize principal carries.
CONFUSED_DEPUTY = {
    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    "ArnLike": {"aws:SourceArn": PERSONALIZE_SOURCE_ARN},
}
PERSONALIZE = {"Service": "personalize.amazonaws.com"}


def only_resource(template: Template, resource_type: str) -> tuple[str, Mapping[str, Any]]:
    """The logical id and body of the single resource of ``resource_type``."""
    found = template.find_resources(resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def buckets(template: Template) -> tuple[str, str]:
    """Logical ids of (data bucket, access-log bucket): the data bucket is the SSE-KMS one."""
    found = template.find_resources("AWS::S3::Bucket")
    assert len(found) == 2, sorted(found)
    by_algorithm = {
        body["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
            "SSEAlgorithm"
        ]: logical_id
        for logical_id, body in found.items()
    }
    return by_algorithm["aws:kms"], by_algorithm["AES256"]


def bucket_policy_statements(template: Template, bucket_id: str) -> list[dict[str, Any]]:
    """Statements of the bucket policy attached to ``bucket_id``."""
    policies = [
        body["Properties"]["PolicyDocument"]["Statement"]
        for body in template.find_resources("AWS::S3::BucketPolicy").values()
        if body["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    assert len(policies) == 1, f"expected one policy on {bucket_id}"
    return policies[0]


def objects_arn(bucket_id: str, prefix: str) -> dict[str, Any]:
    """``<bucket arn>/<prefix>*`` as the template writes it."""
    return {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{prefix}*"]]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def nag_findings(stack: Stack) -> list[str]:
    """Unsuppressed AwsSolutions errors and warnings reported on ``stack``."""
    annotations = Annotations.from_stack(stack)
    pattern = Match.string_like_regexp("AwsSolutions-.*")
    found = annotations.find_error("*", pattern) + annotations.find_warning("*", pattern)
    return [f"{message.id}: {message.entry.data}" for message in found]


def nag_suppressions(template: Template) -> dict[str, list[dict[str, Any]]]:
    """Logical id -> cdk-nag suppressions written into the resource's metadata."""
    return {
        logical_id: body["Metadata"]["cdk_nag"]["rules_to_suppress"]
        for logical_id, body in template.to_json()["Resources"].items()
        if "cdk_nag" in body.get("Metadata", {})
    }


def cfn_lint(template: Template, directory: Path) -> list[str]:
    """cfn-lint's findings on the template, written to ``directory``, in every default region."""
    from cfnlint.api import ManualArgs, lint_file

    path = directory / "template.json"
    path.write_text(json.dumps(template.to_json(), indent=1), encoding="utf-8")
    matches = lint_file(path, config=ManualArgs(regions=["us-east-1", "eu-west-1", "ap-northeast-1"]))
    return [str(match) for match in matches]
