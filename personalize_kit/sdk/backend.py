"""Where a pipeline runs: the local mirror (moto + the offline Personalize) or a real AWS account.

Both give a ``boto3.Session`` plus the bucket, role and key the pipeline uses; everything after that is
the same code. Locally, the bucket, key and role are created in moto at each start (moto lives in the
process), while the mirror's Personalize resources persist in the state directory. On AWS they come from
the CDK stack's outputs, or from the project file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from personalize_kit.sdk import policies
from personalize_kit.sdk._clients import account_and_region, client
from personalize_kit.sdk.project import Project
from personalize_kit.sdk.stack import stack_resources


@dataclass
class Backend:
    kind: str
    session: Any
    bucket: str
    role_arn: str
    kms_key_arn: str | None
    prefix: str = "data/"
    state_dir: Path | None = None

    def s3_key(self, project: Project, file_name: str) -> str:
        return f"{self.prefix.rstrip('/')}/{project.name}/{file_name}"


def local_backend(project: Project, state_dir: str | Path | None = None, pace: str | None = None) -> Backend:
    """The mirror's session, with the KMS key, the encrypted bucket and the Personalize role made in moto as
    the CDK stack makes them (trust, role policy, bucket policy and key policy: see :mod:`.policies`), so the
    mirror's access checks judge the zero-config path as they would judge a deployed stack."""
    from personalize_kit.local import mirror_session
    from personalize_kit.local.state import resolve_state_dir

    session = mirror_session(state_dir, pace=pace or project.local.pace)
    _, account, region = account_and_region(session)
    bucket = f"{project.name.lower().replace('_', '-')}-data"
    key_arn = _local_key(project, session, account, region)
    _local_bucket(bucket, key_arn, session)
    role_arn = grant_personalize(
        session, bucket, role_name=f"{project.name}-personalize", data_prefix=project.aws.prefix, key_arn=key_arn
    )
    return Backend("local", session, bucket, role_arn, key_arn, project.aws.prefix, resolve_state_dir(state_dir))


def grant_personalize(
    session: Any,
    bucket: str,
    *,
    role_name: str = "PersonalizeS3",
    data_prefix: str = "",
    output_prefixes: tuple[str, ...] = policies.OUTPUT_PREFIXES,
    key_arn: str | None = None,
) -> str:
    """Let Personalize use ``bucket`` as the CDK stack does: the role it assumes (trust and role policy) and the
    bucket's policy; return the role's ARN. For the offline mirror, whose access checks judge them as AWS would
    (in moto; a test's own bucket: ``grant_personalize(boto3.Session(), "my-bucket", output_prefixes=("",))``).
    """
    _, account, region = account_and_region(session)
    iam = client("iam", session)
    trust = json.dumps(policies.trust_policy(account, region))
    try:
        role_arn = str(iam.get_role(RoleName=role_name)["Role"]["Arn"])
        iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=trust)
    except iam.exceptions.NoSuchEntityException:
        role_arn = str(iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust)["Role"]["Arn"])
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName=policies.POLICY_NAME,
        PolicyDocument=json.dumps(policies.role_policy(bucket, key_arn, data_prefix, output_prefixes)),
    )
    policy = policies.bucket_policy(bucket, account, region, data_prefix, output_prefixes)
    client("s3", session).put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    return role_arn


def _local_key(project: Project, session: Any, account: str, region: str) -> str:
    kms = client("kms", session)
    alias = f"alias/{project.name}"
    try:
        return kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
    except kms.exceptions.NotFoundException:
        key_arn = kms.create_key(
            Description=f"personalize_kit {project.name}", Policy=json.dumps(policies.key_policy(account, region))
        )["KeyMetadata"]["Arn"]
        kms.create_alias(AliasName=alias, TargetKeyId=key_arn)
        return key_arn


def _local_bucket(bucket: str, key_arn: str, session: Any) -> None:
    """The data bucket, encrypted with the key by default (its policy is written by :func:`grant_personalize`)."""
    s3 = client("s3", session)
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )


def aws_backend(project: Project, session: boto3.Session | None = None) -> Backend:
    """The standard credential chain, with bucket, role and key from the project file or the CDK stack."""
    session = session or boto3.Session()
    aws = project.aws
    if aws.bucket and aws.role_arn:
        return Backend("aws", session, aws.bucket, aws.role_arn, aws.kms_key_arn, aws.prefix)
    resources = stack_resources(aws.stack, session=session)
    return Backend(
        "aws",
        session,
        aws.bucket or resources.bucket,
        aws.role_arn or resources.role_arn,
        aws.kms_key_arn or resources.kms_key_arn,
        aws.prefix,
    )


def make_backend(
    kind: str, project: Project, *, state_dir: str | Path | None = None, pace: str | None = None
) -> Backend:
    """The pipeline's backend: ``local`` (the mirror, at ``pace`` or the project's ``local.pace``) or ``aws``."""
    if kind == "local":
        return local_backend(project, state_dir, pace)
    if kind == "aws":
        return aws_backend(project)
    raise ValueError(f"backend must be 'local' or 'aws', not {kind!r}")
