"""The optional Amazon Personalize dataset group, for teams who want it managed by CloudFormation."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_personalize as personalize
from constructs import Construct


class PersonalizeDatasetGroup(Construct):
    """An ``AWS::Personalize::DatasetGroup`` encrypted with ``key``, using ``role`` to reach the key.

    Datasets, solutions and campaigns stay with the SDK: CloudFormation cannot delete a dataset group
    that still holds them, so the default ``RETAIN`` keeps it when the stack is deleted.

    Example:
        >>> group = PersonalizeDatasetGroup(stack, "DatasetGroup", name="movies", key=key.key, role=role.role)
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        key: kms.IKey,
        role: iam.IRole,
        domain: str | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dataset_group = personalize.CfnDatasetGroup(
            self,
            "Resource",
            name=name,
            kms_key_arn=key.key_arn,
            role_arn=role.role_arn,
            domain=domain,
        )
        # The role's policy is inline, so the RoleArn reference also orders the group after the policy
        # that Personalize checks while it creates the group.
        self.dataset_group.apply_removal_policy(removal_policy)

    @property
    def dataset_group_arn(self) -> str:
        """ARN of the dataset group."""
        return self.dataset_group.attr_dataset_group_arn
