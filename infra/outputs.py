"""Names of the stack's CloudFormation outputs and exports, shared by the stack and the SDK.

This module must not import ``aws_cdk``. The SDK's ``--backend aws`` finds a deployed stack's resources
by these keys (``personalize_kit.sdk.stack``).

Example:
    >>> import boto3
    >>> from infra.outputs import DATA_BUCKET_NAME
    >>> stack = boto3.client("cloudformation").describe_stacks(StackName="PersonalizeKit")["Stacks"][0]
    >>> bucket = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}[DATA_BUCKET_NAME]
"""

from __future__ import annotations

# The keys are defined on the side that reads them (the SDK), so stack and SDK cannot drift apart.
from personalize_kit.sdk.stack import (  # noqa: E402
    ALL_OUTPUTS,
    DATA_BUCKET_NAME,
    DATASET_GROUP_ARN,
    DEFAULT_STACK_NAME,
    KMS_KEY_ARN,
    PERSONALIZE_ROLE_ARN,
    REQUIRED_OUTPUTS,
)

__all__ = [
    "ALL_OUTPUTS",
    "DATASET_GROUP_ARN",
    "DATA_BUCKET_NAME",
    "DEFAULT_STACK_NAME",
    "KMS_KEY_ARN",
    "PERSONALIZE_ROLE_ARN",
    "REQUIRED_OUTPUTS",
    "export_name",
]


def export_name(stack_name: str, output_key: str) -> str:
    """Return the CloudFormation export name of ``output_key`` in the stack ``stack_name``.

    Example:
        >>> export_name("PersonalizeKit", DATA_BUCKET_NAME)
        'PersonalizeKit-DataBucketName'
    """
    if output_key not in ALL_OUTPUTS:
        raise ValueError(f"unknown output key {output_key!r}: expected one of {', '.join(ALL_OUTPUTS)}")
    return f"{stack_name}-{output_key}"
