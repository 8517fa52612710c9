"""The IAM role Amazon Personalize assumes to read the data, write job outputs and use the KMS key."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra._personalize import SERVICE_PRINCIPAL, confused_deputy_conditions
from infra.bucket import prefix_condition

#: What the role may do with the key. CreateGrant stays in the key policy only, per the service guide.
ROLE_KEY_ACTIONS: tuple[str, ...] = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ListGrants",
)
#: Name of the role's inline policy.
POLICY_NAME = "PersonalizeDataAccess"


class PersonalizeRole(Construct):
    """The service role passed to Personalize (``roleArn`` of dataset groups, import, export and batch jobs).

    Trusted by ``personalize.amazonaws.com`` for this account's Personalize resources only
    (``aws:SourceAccount`` / ``aws:SourceArn``). One inline policy, exact actions, no ``*`` resource:

    - ``s3:ListBucket`` on the bucket, limited by ``s3:prefix`` to the data and output prefixes;
    - ``s3:GetObject`` on ``<data_prefix>*``; ``s3:PutObject`` on each ``<output_prefix>*``;
    - the KMS actions of :data:`ROLE_KEY_ACTIONS` on the key.

    Example:
        >>> role = PersonalizeRole(stack, "ServiceRole", bucket=data.bucket, key=key.key,
        ...                        data_prefix="data/", output_prefixes=["batch-output/", "export/"])
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        key: kms.IKey,
        data_prefix: str,
        output_prefixes: Sequence[str],
        role_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        object_arns = {prefix: bucket.arn_for_objects(f"{prefix}*") for prefix in (data_prefix, *output_prefixes)}
        policy = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="ListDataAndOutputPrefixes",
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={"StringLike": prefix_condition([data_prefix, *output_prefixes])},
                ),
                iam.PolicyStatement(
                    sid="ReadData",
                    actions=["s3:GetObject"],
                    resources=[object_arns[data_prefix]],
                ),
                iam.PolicyStatement(
                    sid="WriteOutputs",
                    actions=["s3:PutObject"],
                    resources=[object_arns[prefix] for prefix in output_prefixes],
                ),
                iam.PolicyStatement(
                    sid="UseDataKey",
                    actions=list(ROLE_KEY_ACTIONS),
                    resources=[key.key_arn],
                ),
            ]
        )
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description="Assumed by Amazon Personalize for imports, exports and batch jobs (personalize-kit)",
            assumed_by=iam.ServicePrincipal(SERVICE_PRINCIPAL, conditions=confused_deputy_conditions()),
            inline_policies={POLICY_NAME: policy},
        )
        stack = Stack.of(self)
        NagSuppressions.add_resource_suppressions(
            self.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason=f"Object-level S3 actions need an object ARN: '{prefix}*' is the narrowest "
                    f"resource that covers the files Personalize reads or writes under '{prefix}'.",
                    applies_to=[f"Resource::<{stack.get_logical_id(_cfn_bucket(bucket))}.Arn>/{prefix}*"],
                )
                for prefix in (data_prefix, *output_prefixes)
            ],
        )

    @property
    def role_arn(self) -> str:
        """ARN of the role."""
        return self.role.role_arn


def _cfn_bucket(bucket: s3.IBucket) -> s3.CfnBucket:
    child = bucket.node.default_child
    if not isinstance(child, s3.CfnBucket):
        raise TypeError(f"{bucket.node.path} is not a bucket defined in this app: pass an s3.Bucket")
    return child
