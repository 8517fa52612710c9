"""The customer managed KMS key that encrypts the data bucket and, optionally, the dataset group."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra._personalize import SERVICE_PRINCIPAL, confused_deputy_conditions

#: What Amazon Personalize needs on the key (CreateGrant only in the key policy, per the service guide;
#: GenerateDataKeyWithoutPlaintext for dataset exports of an encrypted dataset group).
PERSONALIZE_KEY_ACTIONS: tuple[str, ...] = (
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ListGrants",
)


class PersonalizeKey(Construct):
    """A KMS key with yearly rotation and an alias that Amazon Personalize may use for this account only.

    The key policy keeps CDK's account-root statement (so IAM policies in the account, such as the
    Personalize role's, can grant use of the key) and adds one statement for the Personalize service
    principal, limited by ``aws:SourceAccount`` and ``aws:SourceArn``.

    Example:
        >>> key = PersonalizeKey(stack, "EncryptionKey", alias="alias/PersonalizeKit")
        >>> key.key_arn  # a token resolved at deploy time
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alias: str,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            alias=alias,
            description="Encrypts the Amazon Personalize data bucket and dataset group (personalize-kit)",
            enable_key_rotation=True,
            # The longest waiting period when data is kept, the shortest when the stack is disposable.
            pending_window=Duration.days(30 if removal_policy == RemovalPolicy.RETAIN else 7),
            removal_policy=removal_policy,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowPersonalizeForThisAccount",
                principals=[iam.ServicePrincipal(SERVICE_PRINCIPAL)],
                actions=list(PERSONALIZE_KEY_ACTIONS),
                # In a key policy "*" means this key.
                resources=["*"],
                conditions=confused_deputy_conditions(),
            )
        )

    @property
    def key_arn(self) -> str:
        """ARN of the key."""
        return self.key.key_arn
