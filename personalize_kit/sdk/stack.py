"""Find the bucket, role and key of a deployed ``infra/`` stack by its name, for ``--backend aws``.

The output keys are defined here, on the side that reads them; the CDK stack (``infra/outputs.py``)
imports them, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import boto3

from personalize_kit.exceptions import StackOutputsError
from personalize_kit.sdk._clients import client

#: Name of the stack when none is given.
DEFAULT_STACK_NAME = "PersonalizeKit"
#: Output key of the data bucket's name.
DATA_BUCKET_NAME = "DataBucketName"
#: Output key of the ARN of the IAM role that Amazon Personalize assumes.
PERSONALIZE_ROLE_ARN = "PersonalizeRoleArn"
#: Output key of the ARN of the KMS key that encrypts the data bucket (and the dataset group).
KMS_KEY_ARN = "KmsKeyArn"
#: Output key of the dataset group's ARN, present only when the stack creates the dataset group.
DATASET_GROUP_ARN = "DatasetGroupArn"
#: The output keys every deployment has.
REQUIRED_OUTPUTS: tuple[str, ...] = (DATA_BUCKET_NAME, PERSONALIZE_ROLE_ARN, KMS_KEY_ARN)
#: Every output key the stack can have.
ALL_OUTPUTS: tuple[str, ...] = (*REQUIRED_OUTPUTS, DATASET_GROUP_ARN)


@dataclass(frozen=True)
class StackResources:
    bucket: str
    role_arn: str
    kms_key_arn: str
    dataset_group_arn: str | None = None


def stack_resources(stack_name: str = DEFAULT_STACK_NAME, *, session: boto3.Session | None = None) -> StackResources:
    """Read the stack's outputs.

    >>> stack_resources("PersonalizeKit").bucket   # doctest: +SKIP
    'personalizekit-databucket-1a2b3c'
    """
    cloudformation = client("cloudformation", session)
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except cloudformation.exceptions.ClientError as exc:
        raise StackOutputsError(
            f"stack {stack_name!r} cannot be read ({exc.response['Error']['Message']}); deploy it with "
            "`npx --yes aws-cdk@2 deploy`, or name the bucket, role and key in the project file"
        ) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [key for key in REQUIRED_OUTPUTS if key not in outputs]
    if missing:
        raise StackOutputsError(
            f"stack {stack_name!r} has no output(s) {', '.join(missing)}; is it the personalize_kit stack "
            f"(status {stacks[0].get('StackStatus')})?"
        )
    return StackResources(
        outputs[DATA_BUCKET_NAME], outputs[PERSONALIZE_ROLE_ARN], outputs[KMS_KEY_ARN], outputs.get(DATASET_GROUP_ARN)
    )
