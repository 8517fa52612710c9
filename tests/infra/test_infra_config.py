"""Context parameters, output names and the app's entry point, without synthesizing a template."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra import config as config_module
from infra.config import CONTEXT_KEYS, InfraConfig
from infra.outputs import (
    ALL_OUTPUTS,
    DATA_BUCKET_NAME,
    DATASET_GROUP_ARN,
    KMS_KEY_ARN,
    PERSONALIZE_ROLE_ARN,
    REQUIRED_OUTPUTS,
    export_name,
)
from personalize_kit.exceptions import InfraConfigError, PersonalizeKitError

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_safe_for_production() -> None:
    no_context: dict[str, object] = {}
    config = InfraConfig.from_context(no_context.get)
    assert config == InfraConfig()
    assert config.stack_name == "PersonalizeKit"
    assert config.removal_policy == "retain" and not config.destroy
    assert config.create_dataset_group is False
    assert (config.data_bucket_name, config.access_logs_bucket_name, config.role_name) == (None, None, None)
    assert config.key_alias == "alias/PersonalizeKit"
    assert config.dataset_group_name == "PersonalizeKit"
    assert (config.data_prefix, config.output_prefixes) == ("data/", ("batch-output/", "export/"))
    assert (config.noncurrent_version_days, config.access_logs_retention_days) == (30, 365)


def test_cdk_json_runs_the_app_module_and_documents_every_key_with_its_default() -> None:
    cdk_json = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))
    assert cdk_json["app"] == "python -m infra.app"
    context = cdk_json["context"]
    assert {key: context[key] for key in CONTEXT_KEYS} == {key: default for key, (_, default) in CONTEXT_KEYS.items()}
    assert InfraConfig.from_context(context.get) == InfraConfig()
    assert context["@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"] is True


def test_every_context_key_is_documented_in_the_module_docstring() -> None:
    doc = config_module.__doc__ or ""
    assert [key for key in CONTEXT_KEYS if f"``{key}``" not in doc] == []


def test_command_line_strings_are_parsed() -> None:
    config = InfraConfig.from_context(
        {
            "removalPolicy": "DESTROY",
            "createDatasetGroup": "yes",
            "noncurrentVersionDays": "7",
            "accessLogsRetentionDays": " 90 ",
            "dataPrefix": "raw/movielens",
            "datasetGroupDomain": "ecommerce",
            "stackName": "Staging",
        }.get
    )
    assert config.destroy is True
    assert config.create_dataset_group is True
    assert (config.noncurrent_version_days, config.access_logs_retention_days) == (7, 90)
    assert config.data_prefix == "raw/movielens/"
    assert config.dataset_group_domain == "ECOMMERCE"
    assert (config.key_alias, config.dataset_group_name) == ("alias/Staging", "Staging")


def test_empty_values_take_the_default() -> None:
    assert InfraConfig.from_context({"removalPolicy": "", "keyAlias": "  ", "dataBucketName": None}.get) == (
        InfraConfig()
    )


@pytest.mark.parametrize(
    ("context", "key", "hint"),
    [
        ({"removalPolicy": "delete"}, "removalPolicy", "retain, destroy"),
        ({"stackName": "1stack"}, "stackName", "starting with a letter"),
        ({"dataBucketName": "Bad_Bucket"}, "dataBucketName", "lowercase"),
        ({"dataBucketName": "same-name", "accessLogsBucketName": "same-name"}, "accessLogsBucketName", "separate"),
        ({"keyAlias": "my-key"}, "keyAlias", "'alias/'"),
        ({"keyAlias": "alias/aws/s3"}, "keyAlias", "reserved"),
        ({"roleName": "r" * 65}, "roleName", "1-64"),
        ({"dataPrefix": "/abs/"}, "dataPrefix", "relative"),
        ({"exportPrefix": "out/*"}, "exportPrefix", "relative"),
        ({"batchOutputPrefix": "data/batch/"}, "batchOutputPrefix", "must not overlap"),
        ({"noncurrentVersionDays": "0"}, "noncurrentVersionDays", "between 1 and 36500"),
        ({"noncurrentVersionDays": "thirty"}, "noncurrentVersionDays", "whole number"),
        ({"accessLogsRetentionDays": True}, "accessLogsRetentionDays", "whole number"),
        ({"createDatasetGroup": "maybe"}, "createDatasetGroup", "true or false"),
        ({"datasetGroupName": "-movies"}, "datasetGroupName", "starting with a letter or digit"),
        ({"datasetGroupDomain": "RETAIL"}, "datasetGroupDomain", "ECOMMERCE, VIDEO_ON_DEMAND"),
        ({"roleName": 42}, "roleName", "must be a string"),
    ],
)
def test_invalid_values_name_the_key_and_the_fix(context: dict[str, object], key: str, hint: str) -> None:
    with pytest.raises(InfraConfigError) as error:
        InfraConfig.from_context(context.get)
    assert f"'{key}'" in str(error.value)
    assert hint in str(error.value)
    assert isinstance(error.value, PersonalizeKitError) and isinstance(error.value, ValueError)


def test_output_names_and_exports() -> None:
    assert REQUIRED_OUTPUTS == ("DataBucketName", "PersonalizeRoleArn", "KmsKeyArn")
    assert (DATA_BUCKET_NAME, PERSONALIZE_ROLE_ARN, KMS_KEY_ARN, DATASET_GROUP_ARN) == ALL_OUTPUTS
    assert DATASET_GROUP_ARN == "DatasetGroupArn"
    assert export_name("Prod", KMS_KEY_ARN) == "Prod-KmsKeyArn"
    with pytest.raises(ValueError, match="unknown output key 'BucketName'"):
        export_name("Prod", "BucketName")


def _run(code_or_module: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *code_or_module],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_outputs_module_imports_without_aws_cdk() -> None:
    result = _run(["-c", "import sys, infra.outputs; print(sorted(m for m in sys.modules if 'aws_cdk' in m))"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_app_entry_point_rejects_a_bad_context_value_with_exit_code_2() -> None:
    # The CDK CLI hands -c values to the app through CDK_CONTEXT_JSON.
    result = _run(["-m", "infra.app"], CDK_CONTEXT_JSON=json.dumps({"removalPolicy": "delete"}))
    assert result.returncode == 2, result.stderr
    assert "context key 'removalPolicy' is 'delete'" in result.stderr
    assert "Traceback" not in result.stderr
