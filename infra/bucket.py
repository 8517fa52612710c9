"""The data bucket Amazon Personalize reads from and writes to, with its server access-log bucket."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra._personalize import SERVICE_PRINCIPAL, confused_deputy_conditions

#: Prefix of the data bucket's access logs inside the access-log bucket.
ACCESS_LOGS_PREFIX = "data-bucket/"
#: Days after which an unfinished multipart upload is aborted (both buckets).
ABORT_MULTIPART_DAYS = 7


def prefix_condition(prefixes: Sequence[str]) -> dict[str, list[str]]:
    """``s3:prefix`` values that let ``s3:ListBucket`` list inside ``prefixes`` only.

    Example:
        >>> prefix_condition(["data/"])
        {'s3:prefix': ['data/', 'data/*']}
    """
    values: list[str] = []
    for prefix in prefixes:
        values += [prefix, f"{prefix}*"]
    return {"s3:prefix": values}


class PersonalizeDataBucket(Construct):
    """An encrypted, private, SSL-only, versioned bucket for Personalize data, logging to its own bucket.

    - ``bucket``: SSE-KMS with ``encryption_key`` and an S3 bucket key, all public access blocked,
      TLS 1.2+ only, versioned, noncurrent versions expire after ``noncurrent_version_days``.
      Its policy lets the Personalize service principal (this account only) list and read
      ``data_prefix`` and write ``output_prefixes``.
    - ``access_logs_bucket``: SSE-S3 (server access logging cannot write to an SSE-KMS bucket),
      private, SSL-only; log objects expire after ``access_logs_retention_days``. cdk-nag's S1 accepts
      it without access logs of its own because it is the data bucket's log destination.

    With ``RemovalPolicy.DESTROY`` both buckets are emptied and deleted with the stack; with the
    default ``RETAIN`` they outlive it.

    Example:
        >>> data = PersonalizeDataBucket(stack, "Data", encryption_key=key.key, data_prefix="data/",
        ...                              output_prefixes=["batch-output/", "export/"])
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        data_prefix: str,
        output_prefixes: Sequence[str],
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        bucket_name: str | None = None,
        access_logs_bucket_name: str | None = None,
        noncurrent_version_days: int = 30,
        access_logs_retention_days: int = 365,
    ) -> None:
        super().__init__(scope, construct_id)
        destroy = removal_policy == RemovalPolicy.DESTROY
        self.data_prefix = data_prefix
        self.output_prefixes = tuple(output_prefixes)

        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=access_logs_bucket_name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(access_logs_retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(ABORT_MULTIPART_DAYS),
                )
            ],
            removal_policy=removal_policy,
            auto_delete_objects=destroy,
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=encryption_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix=ACCESS_LOGS_PREFIX,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireNoncurrentVersions",
                    noncurrent_version_expiration=Duration.days(noncurrent_version_days),
                    expired_object_delete_marker=True,
                    abort_incomplete_multipart_upload_after=Duration.days(ABORT_MULTIPART_DAYS),
                )
            ],
            removal_policy=removal_policy,
            auto_delete_objects=destroy,
        )
        self._allow_personalize()

    def objects_arn(self, prefix: str) -> str:
        """ARN of every object under ``prefix`` of the data bucket (``<bucket arn>/<prefix>*``)."""
        return self.bucket.arn_for_objects(f"{prefix}*")

    @property
    def bucket_name(self) -> str:
        """Name of the data bucket."""
        return self.bucket.bucket_name

    @property
    def bucket_arn(self) -> str:
        """ARN of the data bucket."""
        return self.bucket.bucket_arn

    def _allow_personalize(self) -> None:
        principal = iam.ServicePrincipal(SERVICE_PRINCIPAL)
        conditions = confused_deputy_conditions()
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PersonalizeListPrefixes",
                principals=[principal],
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={
                    **conditions,
                    "StringLike": prefix_condition([self.data_prefix, *self.output_prefixes]),
                },
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PersonalizeReadData",
                principals=[principal],
                actions=["s3:GetObject"],
                resources=[self.objects_arn(self.data_prefix)],
                conditions=conditions,
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PersonalizeWriteOutputs",
                principals=[principal],
                actions=["s3:PutObject"],
                resources=[self.objects_arn(prefix) for prefix in self.output_prefixes],
                conditions=conditions,
            )
        )
