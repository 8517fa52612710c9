"""The default template, synthesized by the cdk.json app command, deployed into moto's CloudFormation.

moto 5.x creates the KMS key and alias, both buckets (with their default encryption), the role and its
inline policy, and resolves the outputs and exports. What it does not model, and what these tests
therefore leave to the synthesized-template tests:

- ``AWS::S3::BucketPolicy`` is skipped ("No Moto CloudFormation support"), and of
  ``AWS::S3::Bucket`` only the name, ``BucketEncryption`` (without ``BucketKeyEnabled``) and tags are
  applied: versioning, logging, lifecycle and the public access block are not;
- moto keeps the key's CloudFormation ``KeyPolicy`` as an object, so ``DescribeKey`` and
  ``GetKeyPolicy`` fail on it (the key is checked through ListKeys, rotation status and aliases);
- moto returns a CloudFormation role's inline policy as the Python repr of the document;
- ``Tags`` on ``AWS::KMS::Key`` make moto fail (it passes CloudFormation's ``Key``/``Value`` tags to a
  tagger expecting ``TagKey``/``TagValue``), so the key's tags are dropped from the copy deployed here;
- ``AWS::Personalize::DatasetGroup`` is unknown to moto (createDatasetGroup=true fails on the
  ``DatasetGroupArn`` output), and removalPolicy=destroy needs the CDK asset bucket and a Lambda for
  autoDeleteObjects: only the default variant is deployed.
"""

from __future__ import annotations

import ast
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk")
boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")

from infra import outputs  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS..S3..BucketPolicy:UserWarning")

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
STACK = outputs.DEFAULT_STACK_NAME
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@dataclass
class Deployed:
    session: Any
    template: dict[str, Any]
    stack: dict[str, Any]
    outputs: dict[str, str]


def synthesize_with_cdk_json_app(outdir: Path) -> dict[str, Any]:
    """Run cdk.json's ``app`` command from the repository root, as the CDK CLI does, into ``outdir``."""
    command = shlex.split(json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))["app"])
    assert command[0] == "python", command
    result = subprocess.run(
        [sys.executable, *command[1:]],
        cwd=REPO_ROOT,
        env={**os.environ, **FAKE_AWS_ENV, "CDK_OUTDIR": str(outdir)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads((outdir / f"{STACK}.template.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    template = synthesize_with_cdk_json_app(tmp_path_factory.mktemp("cdk.out"))
    deployable = json.loads(json.dumps(template))
    for body in deployable["Resources"].values():
        if body["Type"] == "AWS::KMS::Key":
            body["Properties"].pop("Tags", None)
    with pytest.MonkeyPatch.context() as env:
        for name, value in FAKE_AWS_ENV.items():
            env.setenv(name, value)
        with moto.mock_aws():
            session = boto3.Session(region_name=REGION)
            # What `cdk bootstrap` leaves in an account, read by the template's BootstrapVersion parameter.
            session.client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="30", Type="String")
            cloudformation = session.client("cloudformation")
            cloudformation.create_stack(
                StackName=STACK, TemplateBody=json.dumps(deployable), Capabilities=["CAPABILITY_IAM"]
            )
            stack = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
            values = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
            yield Deployed(session=session, template=template, stack=stack, outputs=values)


def test_stack_reaches_create_complete(deployed: Deployed) -> None:
    assert deployed.stack["StackStatus"] == "CREATE_COMPLETE"


def test_outputs_resolve_and_are_exported(deployed: Deployed) -> None:
    assert sorted(deployed.outputs) == sorted(outputs.REQUIRED_OUTPUTS)
    exports = {e["Name"]: e["Value"] for e in deployed.session.client("cloudformation").list_exports()["Exports"]}
    assert exports == {outputs.export_name(STACK, key): value for key, value in deployed.outputs.items()}
    assert deployed.outputs[outputs.KMS_KEY_ARN].startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/")
    assert deployed.outputs[outputs.PERSONALIZE_ROLE_ARN].startswith(f"arn:aws:iam::{ACCOUNT}:role/{STACK}-")


def test_data_bucket_exists_and_is_encrypted_with_the_stack_key(deployed: Deployed) -> None:
    s3 = deployed.session.client("s3")
    bucket = deployed.outputs[outputs.DATA_BUCKET_NAME]
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket in names and len(names) == 2  # the data bucket and its access-log bucket
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": deployed.outputs[outputs.KMS_KEY_ARN],
    }
    (logs,) = [name for name in names if name != bucket]
    logs_rule = s3.get_bucket_encryption(Bucket=logs)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert logs_rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_key_exists_rotates_and_has_its_alias(deployed: Deployed) -> None:
    kms = deployed.session.client("kms")
    key_arn = deployed.outputs[outputs.KMS_KEY_ARN]
    # DescribeKey is not used: moto keeps a CloudFormation KeyPolicy as an object and fails to read it back.
    keys = {k["KeyArn"]: k["KeyId"] for k in kms.list_keys()["Keys"]}
    assert key_arn in keys
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases[f"alias/{STACK}"] == keys[key_arn]


def test_role_exists_with_its_trust_conditions_and_resolved_policy(deployed: Deployed) -> None:
    iam = deployed.session.client("iam")
    role_arn = deployed.outputs[outputs.PERSONALIZE_ROLE_ARN]
    role = iam.get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]
    assert role["Arn"] == role_arn
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "personalize.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:personalize:{REGION}:{ACCOUNT}:*"},
    }
    document = iam.get_role_policy(RoleName=role["RoleName"], PolicyName="PersonalizeDataAccess")["PolicyDocument"]
    if isinstance(document, str):
        # moto stores a CloudFormation role's inline policy as an object and returns its Python repr.
        document = ast.literal_eval(document)
    resources = {s["Sid"]: s["Resource"] for s in document["Statement"]}
    bucket_arn = f"arn:aws:s3:::{deployed.outputs[outputs.DATA_BUCKET_NAME]}"
    assert resources == {
        "ListDataAndOutputPrefixes": bucket_arn,
        "ReadData": f"{bucket_arn}/data/*",
        "WriteOutputs": [f"{bucket_arn}/batch-output/*", f"{bucket_arn}/export/*"],
        "UseDataKey": deployed.outputs[outputs.KMS_KEY_ARN],
    }


def test_the_synthesized_template_is_the_production_one(deployed: Deployed) -> None:
    # Only the key's tags were dropped for moto: the template itself carries them and the bucket policies.
    key = next(b for b in deployed.template["Resources"].values() if b["Type"] == "AWS::KMS::Key")
    assert {"Key": "project", "Value": "personalize-kit"} in key["Properties"]["Tags"]
    types = sorted(b["Type"] for b in deployed.template["Resources"].values())
    assert types == [
        "AWS::IAM::Role",
        "AWS::KMS::Alias",
        "AWS::KMS::Key",
        "AWS::S3::Bucket",
        "AWS::S3::Bucket",
        "AWS::S3::BucketPolicy",
        "AWS::S3::BucketPolicy",
    ]


def test_the_sdk_finds_the_stack_and_imports_into_the_mirror_with_its_bucket_role_and_key(
    deployed: Deployed, tmp_path: Path
) -> None:
    """The stack and the SDK fit together: outputs by stack name -> SSE-KMS upload -> encrypted dataset group
    -> import job read by the mirror from the stack's bucket."""
    from personalize_kit.data.prepare import prepare
    from personalize_kit.data.schemas import load_schema
    from personalize_kit.data.synthetic import SyntheticConfig, generate
    from personalize_kit.local import mirror_session
    from personalize_kit.sdk import (
        ensure_dataset,
        ensure_dataset_group,
        ensure_import_job,
        ensure_schema,
        stack_resources,
        upload,
    )

    session = mirror_session(tmp_path / "state")
    found = stack_resources(STACK, session=session)
    assert (found.bucket, found.role_arn, found.kms_key_arn) == (
        deployed.outputs[outputs.DATA_BUCKET_NAME],
        deployed.outputs[outputs.PERSONALIZE_ROLE_ARN],
        deployed.outputs[outputs.KMS_KEY_ARN],
    )
    _apply_bucket_policy(deployed, found.bucket, session)
    prepare(generate(SyntheticConfig(n_interactions=3000, seed=5)), tmp_path / "out")
    uri, uploaded = upload(
        tmp_path / "out" / "interaction.csv",
        found.bucket,
        "data/stack-demo/interaction.csv",
        kms_key_arn=found.kms_key_arn,
        session=session,
    )
    assert uploaded and uri == f"s3://{found.bucket}/data/stack-demo/interaction.csv"
    head = session.client("s3").head_object(Bucket=found.bucket, Key="data/stack-demo/interaction.csv")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", found.kms_key_arn)

    group = ensure_dataset_group("stack-demo", role_arn=found.role_arn, kms_key_arn=found.kms_key_arn, session=session)
    assert (group.description["kmsKeyArn"], group.description["roleArn"]) == (found.kms_key_arn, found.role_arn)
    schema = ensure_schema(
        "stack-demo-interactions", load_schema(tmp_path / "out" / "schemas" / "interactions.json"), session=session
    )
    dataset = ensure_dataset(group.arn, "INTERACTIONS", schema.arn, session=session)
    job = ensure_import_job(dataset.arn, uri, found.role_arn, name="stack-demo-interactions-1", session=session)
    assert job.action == "created" and job.description["status"] == "ACTIVE"
    assert job.description["roleArn"] == found.role_arn


def _apply_bucket_policy(deployed: Deployed, bucket: str, session: Any) -> None:
    """Put the stack's bucket policy on the bucket: moto's CloudFormation creates the bucket but does not apply
    its AWS::S3::BucketPolicy, and the mirror's access checks read it (the policy's content is the stack's own,
    checked statement by statement in test_infra_stack_default.py; here its Personalize part, as the SDK writes it
    for the zero-config path, keeps the import judged as AWS would judge it)."""
    from personalize_kit.sdk import policies

    account = session.client("sts").get_caller_identity()["Account"]
    policy = policies.bucket_policy(bucket, account, session.region_name, "data/")
    session.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
