"""The IAM documents the CDK stack (``infra/``) deploys, as plain JSON for the local backend.

The offline backend creates the same role, bucket policy and key policy in moto, so the zero-config path is
judged by the same access rules as an account set up with ``cdk deploy``: the role trusted by Personalize for
this account's resources only, allowed to list and read the data prefix, write the output prefixes and use
the key; the bucket and the key letting the Personalize principal in under the same conditions.

>>> trust_policy("123456789012", "us-east-1")["Statement"][0]["Condition"]["StringEquals"]
{'aws:SourceAccount': '123456789012'}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: The service principal Amazon Personalize acts as.
SERVICE_PRINCIPAL = "personalize.amazonaws.com"
#: Where batch inference writes, and where dataset exports write (the stack's defaults).
BATCH_OUTPUT_PREFIX = "batch-output/"
EXPORT_PREFIX = "export/"
OUTPUT_PREFIXES = (BATCH_OUTPUT_PREFIX, EXPORT_PREFIX)
#: What the role may do with the key (CreateGrant stays in the key policy only, as in the stack).
ROLE_KEY_ACTIONS = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ListGrants",
)
#: What the key policy lets the Personalize principal do.
PERSONALIZE_KEY_ACTIONS = ("kms:CreateGrant", *ROLE_KEY_ACTIONS)
#: Name of the role's inline policy.
POLICY_NAME = "PersonalizeDataAccess"


def _conditions(account: str, region: str, partition: str = "aws") -> dict[str, dict[str, str]]:
    return {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": f"arn:{partition}:personalize:{region}:{account}:*"},
    }


def _prefixes(prefixes: Sequence[str]) -> list[str]:
    return [value for prefix in prefixes for value in (prefix, f"{prefix}*")]


def trust_policy(account: str, region: str) -> dict[str, Any]:
    """Personalize may assume the role, for this account's Personalize resources only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": SERVICE_PRINCIPAL},
                "Action": "sts:AssumeRole",
                "Condition": _conditions(account, region),
            }
        ],
    }


def role_policy(
    bucket: str, key_arn: str | None, data_prefix: str, output_prefixes: Sequence[str] = OUTPUT_PREFIXES
) -> dict[str, Any]:
    """List the data and output prefixes, read the data, write the outputs, use the key."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ListDataAndOutputPrefixes",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {"StringLike": {"s3:prefix": _prefixes([data_prefix, *output_prefixes])}},
        },
        {
            "Sid": "ReadData",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/{data_prefix}*",
        },
        {
            "Sid": "WriteOutputs",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*" for prefix in output_prefixes],
        },
    ]
    if key_arn:
        statements.append(
            {"Sid": "UseDataKey", "Effect": "Allow", "Action": list(ROLE_KEY_ACTIONS), "Resource": key_arn}
        )
    return {"Version": "2012-10-17", "Statement": statements}


def bucket_policy(
    bucket: str, account: str, region: str, data_prefix: str, output_prefixes: Sequence[str] = OUTPUT_PREFIXES
) -> dict[str, Any]:
    """The Personalize principal may list the prefixes, read the data and write the outputs.

    The stack's bucket also refuses plain HTTP (``aws:SecureTransport``); that statement is left out here
    because moto's S3 cannot evaluate the ``Bool`` operator and would refuse every request."""
    conditions = _conditions(account, region)
    principal = {"Service": SERVICE_PRINCIPAL}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PersonalizeListPrefixes",
                "Effect": "Allow",
                "Principal": principal,
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {**conditions, "StringLike": {"s3:prefix": _prefixes([data_prefix, *output_prefixes])}},
            },
            {
                "Sid": "PersonalizeReadData",
                "Effect": "Allow",
                "Principal": principal,
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/{data_prefix}*",
                "Condition": conditions,
            },
            {
                "Sid": "PersonalizeWriteOutputs",
                "Effect": "Allow",
                "Principal": principal,
                "Action": "s3:PutObject",
                "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*" for prefix in output_prefixes],
                "Condition": conditions,
            },
        ],
    }


def key_policy(account: str, region: str) -> dict[str, Any]:
    """The account administers the key (IAM policies decide for its principals); Personalize may use it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "AllowPersonalizeForThisAccount",
                "Effect": "Allow",
                "Principal": {"Service": SERVICE_PRINCIPAL},
                "Action": list(PERSONALIZE_KEY_ACTIONS),
                "Resource": "*",
                "Condition": _conditions(account, region),
            },
        ],
    }
