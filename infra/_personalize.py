"""What every resource policy for Amazon Personalize shares: its service principal and the
confused-deputy conditions that limit it to this account's Personalize resources."""

from __future__ import annotations

from aws_cdk import Aws

#: The service principal Amazon Personalize acts as.
SERVICE_PRINCIPAL = "personalize.amazonaws.com"


def personalize_source_arn() -> str:
    """ARN pattern of every Personalize resource of this account and region (``...:personalize:R:A:*``)."""
    return f"arn:{Aws.PARTITION}:personalize:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"


def confused_deputy_conditions() -> dict[str, dict[str, str]]:
    """Conditions that let the Personalize principal act only for this account's Personalize resources.

    Example:
        >>> sorted(confused_deputy_conditions())
        ['ArnLike', 'StringEquals']
    """
    return {
        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": personalize_source_arn()},
    }
