"""The stack with its default context (what ``cdk synth`` produces with cdk.json alone), synthesized once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("aws_cdk")
pytest.importorskip("cdk_nag")

from aws_cdk import App, Aspects  # noqa: E402
from aws_cdk.assertions import Capture, Match, Template  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402
from infra_assertions import (  # noqa: E402
    CONFUSED_DEPUTY,
    PERSONALIZE,
    as_list,
    bucket_policy_statements,
    buckets,
    cfn_lint,
    nag_findings,
    nag_suppressions,
    objects_arn,
    only_resource,
)

from infra import outputs  # noqa: E402
from infra.app import build_app  # noqa: E402
from infra.stack import PersonalizeKitStack  # noqa: E402

LIST_PREFIXES = ["data/", "data/*", "batch-output/", "batch-output/*", "export/", "export/*"]


@dataclass
class Synth:
    app: App
    stack: PersonalizeKitStack
    template: Template
    key_id: str
    data_bucket_id: str
    logs_bucket_id: str
    role_id: str


@pytest.fixture(scope="module")
def synth() -> Synth:
    app, stack = build_app()
    template = Template.from_stack(stack)
    data_bucket_id, logs_bucket_id = buckets(template)
    return Synth(
        app=app,
        stack=stack,
        template=template,
        key_id=only_resource(template, "AWS::KMS::Key")[0],
        data_bucket_id=data_bucket_id,
        logs_bucket_id=logs_bucket_id,
        role_id=only_resource(template, "AWS::IAM::Role")[0],
    )


def test_stack_name_is_the_default_the_sdk_looks_up(synth: Synth) -> None:
    assert synth.stack.stack_name == outputs.DEFAULT_STACK_NAME == "PersonalizeKit"


def test_data_bucket_uses_the_kms_key_with_a_bucket_key(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "BucketKeyEnabled": True,
                        "ServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": {"Fn::GetAtt": [synth.key_id, "Arn"]},
                        },
                    }
                ]
            }
        },
    )


def test_every_bucket_blocks_public_access_and_enforces_bucket_ownership(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::S3::Bucket", 2)
    synth.template.all_resources_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        },
    )


@pytest.mark.parametrize("which", ["data", "logs"])
def test_every_bucket_denies_requests_without_tls(synth: Synth, which: str) -> None:
    bucket_id = synth.data_bucket_id if which == "data" else synth.logs_bucket_id
    arn = {"Fn::GetAtt": [bucket_id, "Arn"]}
    statements = bucket_policy_statements(synth.template, bucket_id)
    assert {
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": [arn, {"Fn::Join": ["", [arn, "/*"]]}],
    } in statements
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"NumericLessThan": {"s3:TlsVersion": 1.2}} for s in statements
    )


def test_data_bucket_is_versioned_and_logs_to_the_separate_bucket(synth: Synth) -> None:
    destination = Capture()
    synth.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "LoggingConfiguration": {"DestinationBucketName": {"Ref": destination}, "LogFilePrefix": "data-bucket/"},
        },
    )
    assert destination.as_string() == synth.logs_bucket_id != synth.data_bucket_id
    logs = synth.template.to_json()["Resources"][synth.logs_bucket_id]["Properties"]
    # Server access logging delivers only to SSE-S3 buckets.
    assert logs["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert "LoggingConfiguration" not in logs


def test_log_bucket_lets_only_s3_logging_of_the_data_bucket_write(synth: Synth) -> None:
    statements = bucket_policy_statements(synth.template, synth.logs_bucket_id)
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Action": "s3:PutObject",
            "Condition": {
                "ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [synth.data_bucket_id, "Arn"]}},
                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
            },
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [synth.logs_bucket_id, "Arn"]}, "/data-bucket/*"]]},
        }
    ]


def test_lifecycle_expires_old_versions_and_old_logs(synth: Synth) -> None:
    resources = synth.template.to_json()["Resources"]
    assert resources[synth.data_bucket_id]["Properties"]["LifecycleConfiguration"] == {
        "Rules": [
            {
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                "ExpiredObjectDeleteMarker": True,
                "Id": "ExpireNoncurrentVersions",
                "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                "Status": "Enabled",
            }
        ]
    }
    assert resources[synth.logs_bucket_id]["Properties"]["LifecycleConfiguration"] == {
        "Rules": [
            {
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                "ExpirationInDays": 365,
                "Id": "ExpireAccessLogs",
                "Status": "Enabled",
            }
        ]
    }


def test_key_rotates_and_has_the_default_alias(synth: Synth) -> None:
    synth.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True, "PendingWindowInDays": 30})
    synth.template.has_resource_properties(
        "AWS::KMS::Alias",
        {"AliasName": "alias/PersonalizeKit", "TargetKeyId": {"Fn::GetAtt": [synth.key_id, "Arn"]}},
    )


def test_key_policy_lets_personalize_use_the_key_for_this_account_only(synth: Synth) -> None:
    statements = only_resource(synth.template, "AWS::KMS::Key")[1]["Properties"]["KeyPolicy"]["Statement"]
    personalize = [s for s in statements if s["Principal"] == PERSONALIZE]
    assert personalize == [
        {
            "Action": [
                "kms:CreateGrant",
                "kms:Decrypt",
                "kms:DescribeKey",
                "kms:GenerateDataKey",
                "kms:GenerateDataKeyWithoutPlaintext",
                "kms:ListGrants",
            ],
            "Condition": CONFUSED_DEPUTY,
            "Effect": "Allow",
            "Principal": PERSONALIZE,
            "Resource": "*",
            "Sid": "AllowPersonalizeForThisAccount",
        }
    ]
    # The only other statement is the account-root delegation that lets IAM policies grant the key.
    others = [s for s in statements if s["Principal"] != PERSONALIZE]
    assert [s["Principal"] for s in others] == [
        {"AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}}
    ]


def test_bucket_policy_lets_personalize_list_read_data_and_write_outputs_only(synth: Synth) -> None:
    statements = bucket_policy_statements(synth.template, synth.data_bucket_id)
    personalize = {s["Sid"]: s for s in statements if s.get("Principal") == PERSONALIZE}
    assert personalize == {
        "PersonalizeListPrefixes": {
            "Action": "s3:ListBucket",
            "Condition": {**CONFUSED_DEPUTY, "StringLike": {"s3:prefix": LIST_PREFIXES}},
            "Effect": "Allow",
            "Principal": PERSONALIZE,
            "Resource": {"Fn::GetAtt": [synth.data_bucket_id, "Arn"]},
            "Sid": "PersonalizeListPrefixes",
        },
        "PersonalizeReadData": {
            "Action": "s3:GetObject",
            "Condition": CONFUSED_DEPUTY,
            "Effect": "Allow",
            "Principal": PERSONALIZE,
            "Resource": objects_arn(synth.data_bucket_id, "data/"),
            "Sid": "PersonalizeReadData",
        },
        "PersonalizeWriteOutputs": {
            "Action": "s3:PutObject",
            "Condition": CONFUSED_DEPUTY,
            "Effect": "Allow",
            "Principal": PERSONALIZE,
            "Resource": [
                objects_arn(synth.data_bucket_id, "batch-output/"),
                objects_arn(synth.data_bucket_id, "export/"),
            ],
            "Sid": "PersonalizeWriteOutputs",
        },
    }
    # Nothing else is allowed to anyone: the remaining statements are the two TLS denies.
    assert [s["Effect"] for s in statements if s.get("Principal") != PERSONALIZE] == ["Deny", "Deny"]


def test_role_is_trusted_by_personalize_for_this_account_only(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Condition": CONFUSED_DEPUTY,
                        "Effect": "Allow",
                        "Principal": PERSONALIZE,
                    }
                ],
                "Version": "2012-10-17",
            },
            "ManagedPolicyArns": Match.absent(),
            "RoleName": Match.absent(),
        },
    )


def test_role_policy_has_exact_actions_on_scoped_resources(synth: Synth) -> None:
    policies = Capture()
    synth.template.has_resource_properties("AWS::IAM::Role", {"Policies": policies})
    (policy,) = policies.as_array()
    assert policy["PolicyName"] == "PersonalizeDataAccess"
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert statements == {
        "ListDataAndOutputPrefixes": {
            "Action": "s3:ListBucket",
            "Condition": {"StringLike": {"s3:prefix": LIST_PREFIXES}},
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [synth.data_bucket_id, "Arn"]},
            "Sid": "ListDataAndOutputPrefixes",
        },
        "ReadData": {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": objects_arn(synth.data_bucket_id, "data/"),
            "Sid": "ReadData",
        },
        "WriteOutputs": {
            "Action": "s3:PutObject",
            "Effect": "Allow",
            "Resource": [
                objects_arn(synth.data_bucket_id, "batch-output/"),
                objects_arn(synth.data_bucket_id, "export/"),
            ],
            "Sid": "WriteOutputs",
        },
        "UseDataKey": {
            "Action": [
                "kms:Decrypt",
                "kms:DescribeKey",
                "kms:GenerateDataKey",
                "kms:GenerateDataKeyWithoutPlaintext",
                "kms:ListGrants",
            ],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [synth.key_id, "Arn"]},
            "Sid": "UseDataKey",
        },
    }
    for statement in statements.values():
        assert all("*" not in action for action in as_list(statement["Action"]))
        assert "*" not in as_list(statement["Resource"])
    # No other identity policy exists in the stack.
    synth.template.resource_count_is("AWS::IAM::Policy", 0)
    synth.template.resource_count_is("AWS::IAM::ManagedPolicy", 0)


def test_outputs_and_exports_are_named_for_the_sdk(synth: Synth) -> None:
    expected = {
        outputs.DATA_BUCKET_NAME: {"Ref": synth.data_bucket_id},
        outputs.PERSONALIZE_ROLE_ARN: {"Fn::GetAtt": [synth.role_id, "Arn"]},
        outputs.KMS_KEY_ARN: {"Fn::GetAtt": [synth.key_id, "Arn"]},
    }
    for key, value in expected.items():
        synth.template.has_output(key, {"Value": value, "Export": {"Name": f"PersonalizeKit-{key}"}})
    assert sorted(synth.template.to_json()["Outputs"]) == sorted(outputs.REQUIRED_OUTPUTS)
    assert synth.template.find_outputs(outputs.DATASET_GROUP_ARN) == {}


def test_data_is_retained_by_default(synth: Synth) -> None:
    for resource_type in ("AWS::S3::Bucket", "AWS::KMS::Key"):
        synth.template.all_resources(resource_type, {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
    synth.template.resource_count_is("Custom::S3AutoDeleteObjects", 0)
    synth.template.resource_count_is("AWS::Lambda::Function", 0)
    assert not any(
        body["Type"] == "AWS::IAM::Role" or body["Type"].startswith("AWS::Lambda")
        for logical_id, body in synth.template.to_json()["Resources"].items()
        if logical_id != synth.role_id
    )


def test_no_dataset_group_unless_asked(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::Personalize::DatasetGroup", 0)


def test_cdk_nag_runs_on_the_app_and_reports_nothing_unsuppressed(synth: Synth) -> None:
    assert any(isinstance(aspect, AwsSolutionsChecks) for aspect in Aspects.of(synth.app).all)
    assert nag_findings(synth.stack) == []


def test_every_suppression_is_scoped_and_explained(synth: Synth) -> None:
    suppressions = nag_suppressions(synth.template)
    # Only the role's object-prefix wildcards are suppressed, one finding each.
    assert list(suppressions) == [synth.role_id]
    assert [(s["id"], s["applies_to"]) for s in suppressions[synth.role_id]] == [
        ("AwsSolutions-IAM5", [f"Resource::<{synth.data_bucket_id}.Arn>/{prefix}*"])
        for prefix in ("data/", "batch-output/", "export/")
    ]
    assert all(len(s["reason"]) >= 40 for s in suppressions[synth.role_id])


def test_cfn_lint_passes(synth: Synth, tmp_path: Path) -> None:
    assert cfn_lint(synth.template, tmp_path) == []
