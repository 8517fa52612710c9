"""The stack: wires the key, the buckets, the role and the optional dataset group, and exports their names."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, CfnResource, RemovalPolicy, Stack, Tags
from constructs import Construct

from infra import outputs
from infra.bucket import PersonalizeDataBucket
from infra.config import InfraConfig
from infra.dataset_group import PersonalizeDatasetGroup
from infra.key import PersonalizeKey
from infra.role import PersonalizeRole

#: Construct id of the Lambda provider CDK adds to the stack for ``autoDeleteObjects``.
AUTO_DELETE_PROVIDER_ID = "Custom::S3AutoDeleteObjectsCustomResourceProvider"


class PersonalizeKitStack(Stack):
    """Everything Amazon Personalize needs in an account, configured by :class:`~infra.config.InfraConfig`.

    Outputs (each exported as ``<stackName>-<key>``, see :mod:`infra.outputs`): ``DataBucketName``,
    ``PersonalizeRoleArn``, ``KmsKeyArn`` and, with ``createDatasetGroup``, ``DatasetGroupArn``.

    Example:
        >>> stack = PersonalizeKitStack(App(), "PersonalizeKit", config=InfraConfig())
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig, **kwargs: Any) -> None:
        kwargs.setdefault("stack_name", config.stack_name)
        kwargs.setdefault("description", "Amazon Personalize data bucket, KMS key and service role (personalize-kit)")
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        removal_policy = RemovalPolicy.DESTROY if config.destroy else RemovalPolicy.RETAIN

        self.key = PersonalizeKey(self, "EncryptionKey", alias=config.key_alias, removal_policy=removal_policy)
        self.data = PersonalizeDataBucket(
            self,
            "Data",
            encryption_key=self.key.key,
            data_prefix=config.data_prefix,
            output_prefixes=config.output_prefixes,
            removal_policy=removal_policy,
            bucket_name=config.data_bucket_name,
            access_logs_bucket_name=config.access_logs_bucket_name,
            noncurrent_version_days=config.noncurrent_version_days,
            access_logs_retention_days=config.access_logs_retention_days,
        )
        self.role = PersonalizeRole(
            self,
            "ServiceRole",
            bucket=self.data.bucket,
            key=self.key.key,
            data_prefix=config.data_prefix,
            output_prefixes=config.output_prefixes,
            role_name=config.role_name,
        )
        self.dataset_group: PersonalizeDatasetGroup | None = None
        if config.create_dataset_group:
            self.dataset_group = PersonalizeDatasetGroup(
                self,
                "DatasetGroup",
                name=config.dataset_group_name,
                key=self.key.key,
                role=self.role.role,
                domain=config.dataset_group_domain,
                removal_policy=removal_policy,
            )

        self._output(outputs.DATA_BUCKET_NAME, self.data.bucket_name, "Name of the Personalize data bucket")
        self._output(outputs.PERSONALIZE_ROLE_ARN, self.role.role_arn, "Role to pass to Amazon Personalize")
        self._output(outputs.KMS_KEY_ARN, self.key.key_arn, "KMS key of the data bucket and dataset group")
        if self.dataset_group is not None:
            self._output(outputs.DATASET_GROUP_ARN, self.dataset_group.dataset_group_arn, "ARN of the dataset group")
        Tags.of(self).add("project", "personalize-kit")
        self._annotate_cdk_provider()

    def _annotate_cdk_provider(self) -> None:
        # autoDeleteObjects (removalPolicy=destroy) adds CDK's own Lambda provider, whose handler both
        # references and DependsOn its role: cfn-lint's W3005 flags that redundancy, which is harmless.
        provider = self.node.try_find_child(AUTO_DELETE_PROVIDER_ID)
        handler = provider.node.try_find_child("Handler") if provider is not None else None
        if isinstance(handler, CfnResource):
            handler.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})

    def _output(self, key: str, value: str, description: str) -> None:
        CfnOutput(
            self,
            key,
            value=value,
            description=description,
            export_name=outputs.export_name(self.config.stack_name, key),
        )
