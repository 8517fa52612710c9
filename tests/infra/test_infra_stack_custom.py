"""The stack with every context parameter set: disposable data, named resources, custom prefixes and
the CloudFormation-managed dataset group, synthesized once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("aws_cdk")
pytest.importorskip("cdk_nag")

from aws_cdk.assertions import Capture, Match, Template  # noqa: E402
from aws_cdk.aws_iam import CfnRole  # noqa: E402
from infra_assertions import (  # noqa: E402
    CONFUSED_DEPUTY,
    PERSONALIZE,
    bucket_policy_statements,
    buckets,
    cfn_lint,
    nag_findings,
    objects_arn,
    only_resource,
)

from infra import outputs  # noqa: E402
from infra.app import build_app  # noqa: E402
from infra.stack import PersonalizeKitStack  # noqa: E402

# Strings, as the CDK CLI passes ``-c key=value``.
CONTEXT = {
    "stackName": "PkTest",
    "removalPolicy": "destroy",
    "dataBucketName": "pk-test-data-bucket",
    "accessLogsBucketName": "pk-test-access-logs",
    "keyAlias": "alias/pk-test",
    "roleName": "PkTestPersonalizeRole",
    "dataPrefix": "in",
    "batchOutputPrefix": "out/batch/",
    "exportPrefix": "out/export/",
    "noncurrentVersionDays": "7",
    "accessLogsRetentionDays": "90",
    "createDatasetGroup": "true",
    "datasetGroupName": "movies-test",
    "datasetGroupDomain": "video_on_demand",
}


@dataclass
class Synth:
    stack: PersonalizeKitStack
    template: Template
    key_id: str
    data_bucket_id: str
    logs_bucket_id: str
    role_id: str
    group_id: str


@pytest.fixture(scope="module")
def synth() -> Synth:
    _, stack = build_app(CONTEXT)
    template = Template.from_stack(stack)
    role = stack.role.role.node.default_child
    assert isinstance(role, CfnRole)
    data_bucket_id, logs_bucket_id = buckets(template)
    return Synth(
        stack=stack,
        template=template,
        key_id=only_resource(template, "AWS::KMS::Key")[0],
        data_bucket_id=data_bucket_id,
        logs_bucket_id=logs_bucket_id,
        # The other role is the auto-delete provider's, which CDK adds with removalPolicy=destroy.
        role_id=stack.resolve(stack.get_logical_id(role)),
        group_id=only_resource(template, "AWS::Personalize::DatasetGroup")[0],
    )


def test_stack_takes_its_name_from_the_context(synth: Synth) -> None:
    assert synth.stack.stack_name == "PkTest"
    assert synth.stack.artifact_id == "PkTest"


def test_resources_carry_the_names_from_the_context(synth: Synth) -> None:
    resources = synth.template.to_json()["Resources"]
    assert resources[synth.data_bucket_id]["Properties"]["BucketName"] == "pk-test-data-bucket"
    assert resources[synth.logs_bucket_id]["Properties"]["BucketName"] == "pk-test-access-logs"
    synth.template.has_resource_properties("AWS::IAM::Role", {"RoleName": "PkTestPersonalizeRole"})
    synth.template.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/pk-test"})


def test_destroy_deletes_and_empties_buckets_and_shortens_the_key_wait(synth: Synth) -> None:
    for resource_type in ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Personalize::DatasetGroup"):
        synth.template.all_resources(resource_type, {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"})
    synth.template.has_resource_properties("AWS::KMS::Key", {"PendingWindowInDays": 7})
    emptied = {
        body["Properties"]["BucketName"]["Ref"]
        for body in synth.template.find_resources("Custom::S3AutoDeleteObjects").values()
    }
    assert emptied == {synth.data_bucket_id, synth.logs_bucket_id}
    # The auto-delete provider's handler is annotated for cfn-lint's W3005 only.
    handler = Capture()
    synth.template.has_resource(
        "AWS::Lambda::Function",
        {"Metadata": Match.object_equals({"cfn-lint": {"config": {"ignore_checks": handler}}})},
    )
    assert handler.as_array() == ["W3005"]


def test_prefixes_from_the_context_scope_the_role_and_the_bucket_policy(synth: Synth) -> None:
    policies = Capture()
    synth.template.has_resource_properties("AWS::IAM::Role", {"Policies": policies})
    statements = {s["Sid"]: s for s in policies.as_array()[0]["PolicyDocument"]["Statement"]}
    # "in" is normalised to the prefix "in/".
    assert statements["ReadData"]["Resource"] == objects_arn(synth.data_bucket_id, "in/")
    assert statements["WriteOutputs"]["Resource"] == [
        objects_arn(synth.data_bucket_id, "out/batch/"),
        objects_arn(synth.data_bucket_id, "out/export/"),
    ]
    assert statements["ListDataAndOutputPrefixes"]["Condition"] == {
        "StringLike": {"s3:prefix": ["in/", "in/*", "out/batch/", "out/batch/*", "out/export/", "out/export/*"]}
    }
    bucket_statements = {
        s["Sid"]: s
        for s in bucket_policy_statements(synth.template, synth.data_bucket_id)
        if s.get("Principal") == PERSONALIZE
    }
    assert bucket_statements["PersonalizeReadData"]["Resource"] == objects_arn(synth.data_bucket_id, "in/")
    assert bucket_statements["PersonalizeWriteOutputs"]["Condition"] == CONFUSED_DEPUTY


def test_lifecycle_days_come_from_the_context(synth: Synth) -> None:
    resources = synth.template.to_json()["Resources"]
    data_rule = resources[synth.data_bucket_id]["Properties"]["LifecycleConfiguration"]["Rules"][0]
    logs_rule = resources[synth.logs_bucket_id]["Properties"]["LifecycleConfiguration"]["Rules"][0]
    assert data_rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7}
    assert logs_rule["ExpirationInDays"] == 90


def test_dataset_group_uses_the_key_and_the_role(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::Personalize::DatasetGroup",
        {
            "Name": "movies-test",
            "Domain": "VIDEO_ON_DEMAND",
            "KmsKeyArn": {"Fn::GetAtt": [synth.key_id, "Arn"]},
            "RoleArn": {"Fn::GetAtt": [synth.role_id, "Arn"]},
        },
    )


def test_outputs_include_the_dataset_group(synth: Synth) -> None:
    synth.template.has_output(
        outputs.DATASET_GROUP_ARN,
        {
            "Value": {"Fn::GetAtt": [synth.group_id, "DatasetGroupArn"]},
            "Export": {"Name": "PkTest-DatasetGroupArn"},
        },
    )
    exported = {key: body["Export"]["Name"] for key, body in synth.template.to_json()["Outputs"].items()}
    assert exported == {key: f"PkTest-{key}" for key in outputs.ALL_OUTPUTS}


def test_cdk_nag_reports_nothing_unsuppressed(synth: Synth) -> None:
    assert nag_findings(synth.stack) == []


def test_cfn_lint_passes(synth: Synth, tmp_path: Path) -> None:
    assert cfn_lint(synth.template, tmp_path) == []
